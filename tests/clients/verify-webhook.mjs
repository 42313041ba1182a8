// Checks webhook messages Charter sent with the Standard Webhooks reference library (an
// implementation independent of Charter's). Reads {"secret", "messages": [{"headers",
// "body"}]} on stdin; prints one line per message: "ok <type>" or "bad <why>".
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, messages } = JSON.parse(input);
const wh = new Webhook(secret);
let bad = 0;
for (const m of messages) {
  try {
    const payload = wh.verify(m.body, m.headers);
    console.log(`ok ${payload.type}`);
  } catch (e) {
    bad += 1;
    console.log(`bad ${e.message}`);
  }
}
process.exit(bad ? 1 : 0);
