// Charter's MCP scenario driven by the official TypeScript SDK client (v2).
// Usage: node scenario.mjs auto|legacy|sse
// Env: CHARTER_MCP_URL, CHARTER_SSE_URL, CHARTER_PRODUCER_KEY, CHARTER_REVIEWER_KEY,
//      CHARTER_TEMPLATE, CHARTER_GATE
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const mode = process.argv[2] ?? 'auto';
const env = (name) => {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
};
function fail(message) {
  console.error(`scenario.mjs (${mode}): ${message}`);
  process.exit(1);
}
function check(ok, message, detail) {
  if (!ok) fail(`${message}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
}

const TOOLS = [
  'get_context', 'list_workflow_templates', 'create_initiative', 'get_initiative',
  'register_artifact', 'submit_evidence', 'get_provenance', 'check_gates', 'request_review',
  'submit_review', 'promote_gate', 'list_review_requests', 'authorize_action', 'report_outcome',
  'await_decision', 'delegate_task', 'complete_task', 'request_scope_change', 'query_ledger',
  'verify_receipt', 'list_violations',
];

async function connect(key) {
  const authProvider = { token: async () => key };
  const transport = mode === 'sse'
    ? new SSEClientTransport(new URL(env('CHARTER_SSE_URL')), { authProvider })
    : new StreamableHTTPClientTransport(new URL(env('CHARTER_MCP_URL')), { authProvider });
  const client = new Client(
    { name: 'charter-scenario-ts', version: '1.0.0' },
    mode === 'auto' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  await client.connect(transport);
  return client;
}

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  return r;
}
async function ok(client, name, args) {
  const r = await call(client, name, args);
  check(r.isError !== true, `${name} failed`, r.structuredContent ?? r.content);
  check(r.structuredContent && typeof r.structuredContent === 'object', `${name} has no structuredContent`, r);
  return r.structuredContent;
}

const producer = await connect(env('CHARTER_PRODUCER_KEY'));
const reviewer = await connect(env('CHARTER_REVIEWER_KEY'));
const version = producer.getNegotiatedProtocolVersion();
if (mode === 'auto') check(version === '2026-07-28', 'auto mode did not negotiate 2026-07-28', version);
else check(version !== '2026-07-28', `${mode} mode negotiated the newest protocol`, version);

const { tools } = await producer.listTools();
const names = tools.map((t) => t.name).sort();
check(JSON.stringify(names) === JSON.stringify([...TOOLS].sort()), 'the 21 tools', names);
for (const t of tools) check(t.outputSchema, `${t.name} has no outputSchema`);

const template = env('CHARTER_TEMPLATE');
const gate = env('CHARTER_GATE');
const { initiative_id } = await ok(producer, 'create_initiative', { name: `ts-${mode}-${Date.now()}`, template, risk: 50 });
const digest = `sha256:${'cd'.repeat(32)}`;
const { artifact_id } = await ok(producer, 'register_artifact', { kind: 'code', digest, uri: 'git://x', initiative_id });
const { review_id } = await ok(producer, 'request_review', { artifact_id, gate });
const selfie = await call(producer, 'submit_review', { review_id, digest, approve: true });
check(selfie.isError === true && selfie.structuredContent?.reason === 'self_approval', 'self-approval refused', selfie);
await ok(reviewer, 'submit_review', { review_id, digest, approve: true });
await ok(producer, 'promote_gate', { initiative_id });
const receipt = await ok(producer, 'authorize_action', {
  action: 'deploy', resource_type: 'Service', resource_id: 'payments-api', initiative: initiative_id, spend: 1,
});
check(receipt.decision === 'ALLOWED', 'deploy allowed', receipt);
const verdict = await ok(producer, 'verify_receipt', {
  seq: receipt.seq, record_hash: receipt.record_hash, signature: receipt.signature, key_id: receipt.key_id,
});
check(verdict.valid === true, 'receipt verifies', verdict);
const blocked = await call(producer, 'authorize_action', { action: 'deploy', resource_type: 'Service', resource_id: 'billing-api' });
check(blocked.isError === true && blocked.structuredContent?.decision === 'BLOCKED'
  && blocked.structuredContent?.reason === 'out_of_scope', 'out-of-scope deploy blocked', blocked);

await producer.close();
await reviewer.close();
console.log(JSON.stringify({ ok: true, client: 'ts', mode, protocol: version, tools: names.length }));
