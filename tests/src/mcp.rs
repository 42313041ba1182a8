//! A client of the MCP endpoint for tests: legacy sessions (2025-06-18) or stateless
//! requests (2026-07-28), JSON or SSE replies, tool calls that return the result.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestApp;

pub const LEGACY: &str = "2025-06-18";
pub const CURRENT: &str = "2026-07-28";

/// A client of one tenant's endpoint with one agent's key.
pub struct Client<'a> {
    /// The server's base URL (a test app's, or any node's).
    pub base: String,
    pub http: reqwest::Client,
    pub slug: String,
    pub key: String,
    pub session: Option<String>,
    pub next_id: u64,
    /// Stateless 2026-07-28 requests (protocol version in `_meta`, no session).
    pub stateless: bool,
    _app: std::marker::PhantomData<&'a TestApp>,
}

impl<'a> Client<'a> {
    pub fn new(app: &'a TestApp, slug: &str, key: &str) -> Client<'a> {
        Client::at(&app.url(""), app.client.clone(), slug, key)
    }

    /// A client of the server at `base` (a `charter serve` process, a load balancer).
    pub fn at(base: &str, http: reqwest::Client, slug: &str, key: &str) -> Client<'a> {
        Client {
            base: base.to_string(),
            http,
            slug: slug.into(),
            key: key.into(),
            session: None,
            next_id: 1,
            stateless: false,
            _app: std::marker::PhantomData,
        }
    }

    pub fn stateless(app: &'a TestApp, slug: &str, key: &str) -> Client<'a> {
        Client {
            stateless: true,
            ..Client::new(app, slug, key)
        }
    }

    pub async fn post(&mut self, body: &Value) -> reqwest::Response {
        let version = if self.stateless { CURRENT } else { LEGACY };
        let mut r = self
            .http
            .post(format!("{}/t/{}/mcp", self.base, self.slug))
            .header("Accept", "application/json, text/event-stream")
            .header("Authorization", format!("Bearer {}", self.key))
            .header("MCP-Protocol-Version", version);
        if self.stateless {
            r = r.header("Mcp-Method", body["method"].as_str().unwrap_or_default());
            if let Some(name) = body["params"]["name"].as_str() {
                r = r.header("Mcp-Name", name);
            }
        }
        let mut r = r.json(body);
        if let Some(s) = &self.session {
            r = r.header("Mcp-Session-Id", s);
        }
        r.send().await.unwrap()
    }

    /// A JSON-RPC request; the response message (from JSON or an SSE stream).
    pub async fn call(&mut self, method: &str, mut params: Value) -> (StatusCode, Value) {
        if self.stateless {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": CURRENT,
                "io.modelcontextprotocol/clientCapabilities": {},
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let res = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let status = res.status();
        if let Some(s) = res.headers().get("mcp-session-id") {
            self.session = Some(s.to_str().unwrap().to_string());
        }
        let text = res.text().await.unwrap();
        (status, message(&text, id))
    }

    pub async fn initialize(&mut self) {
        if self.stateless {
            return;
        }
        let (status, init) = self
            .call(
                "initialize",
                json!({"protocolVersion": LEGACY, "capabilities": {},
                       "clientInfo": {"name": "charter-tests", "version": "1"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{init}");
        assert_eq!(init["result"]["serverInfo"]["name"], "charter");
        assert!(self.session.is_some(), "a legacy client gets a session");
        let res = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }

    pub async fn tool(&mut self, name: &str, arguments: Value) -> Value {
        let (status, msg) = self
            .call("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        assert_eq!(status, StatusCode::OK, "{msg}");
        msg["result"].clone()
    }
}

/// The JSON-RPC message with `id` in a JSON body or an SSE stream.
pub fn message(text: &str, id: u64) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no message {id} in {text:?}"))
}

/// A tool's structured answer, whether it succeeded or was refused (`isError`).
pub fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

/// Whether a tool result is a refusal, and its `reason`.
pub fn refusal(result: &Value) -> Option<&str> {
    (result["isError"] == true)
        .then(|| result["structuredContent"]["reason"].as_str().unwrap_or(""))
}
