//! Business refusals — BLOCKED, not found, invalid arguments, not allowed — are tool
//! results with `isError` and a machine-readable `reason`, never protocol errors: an
//! agent reads them like any answer. Internal failures say "unavailable, retry" and never
//! anything that could pass for an allowance.

use charter_core::code::Code;
use charter_store::StoreError;
use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A refused tool call: `reason` (a stable snake_case code), `message`, and any details.
#[derive(Debug)]
pub struct Refusal(Map<String, Value>);

impl Refusal {
    pub fn new(reason: &str, message: impl Into<String>) -> Refusal {
        let mut m = Map::new();
        m.insert("reason".into(), reason.into());
        m.insert("message".into(), Value::String(message.into()));
        Refusal(m)
    }

    /// A refusal whose body is a whole answer (a BLOCKED decision with its receipt).
    pub fn with_body(body: &impl Serialize) -> Refusal {
        match serde_json::to_value(body) {
            Ok(Value::Object(m)) => Refusal(m),
            _ => Refusal::new("internal", "the answer could not be encoded"),
        }
    }

    pub fn reason(&self) -> Option<&str> {
        self.0.get("reason").and_then(Value::as_str)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::NotFound(what) => Refusal::new("not_found", format!("no such {what}")),
            e if e.is_retryable() => {
                tracing::warn!(error = %e, "MCP tool: dependency unavailable");
                Refusal::new(
                    "unavailable",
                    "Charter cannot decide safely right now; nothing was allowed. Retry shortly.",
                )
            }
            e if e.code() == Code::Internal => {
                tracing::error!(error = %e, "MCP tool failed");
                Refusal::new(
                    "internal",
                    "an internal error occurred; nothing was allowed. Retry shortly.",
                )
            }
            e => Refusal::new(e.code().as_str(), e.into_message()),
        }
    }
}

impl IntoCallToolResult for Refusal {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResult::structured_error(Value::Object(self.0)).into())
    }
}

/// The structured error body, for tests and logs.
pub fn body(reason: &str, message: &str) -> Value {
    json!({"reason": reason, "message": message})
}
