//! A client of the deprecated HTTP+SSE transport (`GET /t/{slug}/sse`): the stream's
//! events, and the POST endpoint its first event names.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

pub struct SseClient {
    stream: reqwest::Response,
    buf: String,
    http: reqwest::Client,
    /// The stream's response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Where its messages are POSTed (`{base}/t/{slug}/sse/messages?sessionId=…`).
    pub post_url: String,
    key: String,
}

impl SseClient {
    /// Opens a stream at `base` with the agent's `key` and reads its `endpoint` event.
    pub async fn connect(base: &str, slug: &str, key: &str) -> SseClient {
        let http = crate::http().build().unwrap();
        let stream = http
            .get(format!("{base}/t/{slug}/sse"))
            .header("Authorization", format!("Bearer {key}"))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        let mut c = SseClient {
            headers: stream.headers().clone(),
            stream,
            buf: String::new(),
            http,
            post_url: String::new(),
            key: key.into(),
        };
        let (name, data) = c.next_event().await;
        assert_eq!(name, "endpoint");
        assert!(
            data.starts_with(&format!("/t/{slug}/sse/messages?sessionId=")),
            "{data}"
        );
        c.post_url = format!("{base}{data}");
        c
    }

    /// The next event with data, as (name, data); comments (keep-alives) are skipped.
    pub async fn next_event(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.to_string();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if !data.is_empty() {
                    return (name, data);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.chunk())
                .await
                .expect("an SSE event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// POSTs a message to the stream's endpoint with `key`.
    pub async fn post(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(&self.post_url)
            .header("Authorization", format!("Bearer {key}"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Sends a request and reads its answer from the stream.
    pub async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let key = self.key.clone();
        let res = self
            .post(
                &key,
                &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        loop {
            let (name, data) = self.next_event().await;
            let msg: Value = serde_json::from_str(&data).unwrap();
            if name == "message" && msg["id"] == id {
                return msg;
            }
        }
    }
}
