//! The hosted MCP endpoint, `/t/{slug}/mcp`: Streamable HTTP through rmcp, for every
//! protocol version rmcp speaks (stateless 2026-07-28 requests, sessions for older
//! clients). Agents authenticate with their API key; see [`auth`].
//!
//! - [`auth`] — the key's tenant must be the path's; sessions stay with their tenant and
//!   agent.
//! - [`jsonrpc`] — body size and JSON-RPC framing checks before rmcp.
//! - [`params`] — tool arguments whose errors name the field.
//! - [`refusal`] — business refusals as tool results with a machine-readable `reason`.
//! - [`session_end`] — ending a session answers 204, as the SDKs expect.
//! - [`session_store`] — sessions kept in Redis, so any API node can continue one.
//! - [`sse`] — the deprecated HTTP+SSE transport (2024-11-05), `/t/{slug}/sse`.
//! - [`tools`] — the governance tools, one file each.

pub mod auth;
pub mod jsonrpc;
pub mod params;
pub mod refusal;
pub mod session_end;
pub mod session_store;
pub mod sse;
pub mod tools;

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpMessage;
use charter_store::Store;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, ServerHandler, tool_handler};
use rmcp_actix_web::transport::{StreamableHttpService, on_request_extensions};
use uuid::Uuid;

/// The authenticated agent of an MCP request (set by [`auth`], read by every tool).
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: Uuid,
    pub slug: String,
    pub agent_id: Uuid,
}

impl Caller {
    fn of(ext: &rmcp::model::Extensions) -> Result<Caller, ErrorData> {
        // The SSE transport puts the caller on the message; Streamable HTTP nests it in
        // the HTTP request's parts.
        ext.get::<Caller>()
            .or_else(|| on_request_extensions(ext).and_then(|e| e.get::<Caller>()))
            .cloned()
            // The auth middleware runs before every request reaches rmcp; without a caller
            // nothing is answered.
            .ok_or_else(|| ErrorData::internal_error("no authenticated caller", None))
    }
}

impl<C: AsRequestContext> FromContextPart<C> for Caller {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        Caller::of(&context.as_request_context().extensions)
    }
}

/// Tools by which agents act, besides `authorize_action` (whose decision checks the
/// subscription itself and is recorded): refused with `subscription_inactive` when the
/// trial or subscription has ended. Reading, reporting outcomes and closing tasks never
/// are.
const ACTING_TOOLS: &[&str] = &[
    "delegate_task",
    "create_initiative",
    "register_artifact",
    "submit_evidence",
    "request_review",
    "submit_review",
    "promote_gate",
    "request_scope_change",
];

/// The MCP server: one per session (or per stateless request), all sharing the store.
#[derive(Clone)]
pub struct CharterMcp {
    store: Store,
    /// Built once and shared: a stateless request gets a fresh service every time.
    router: Arc<ToolRouter<CharterMcp>>,
}

impl CharterMcp {
    pub fn new(store: Store) -> CharterMcp {
        CharterMcp::with_router(store, Arc::new(tools::router()))
    }

    fn with_router(store: Store, router: Arc<ToolRouter<CharterMcp>>) -> CharterMcp {
        CharterMcp { store, router }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

#[tool_handler(router = self.router)]
impl ServerHandler for CharterMcp {
    /// As generated, but an unknown tool's error names it.
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        if self.router.get(&request.name).is_none() {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{}` (tools/list names the tools)",
                    request.name
                ),
                None,
            ));
        }
        if ACTING_TOOLS.contains(&request.name.as_ref()) {
            let caller = Caller::of(&context.extensions)?;
            if let Err(e) = self.store.billing().may_act(caller.tenant_id).await {
                return refusal::Refusal::from(e).into_call_tool_result();
            }
        }
        let tcc = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        self.router.call(tcc).await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("charter", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Charter governs what you may do. Call authorize_action before every \
                 consequential action and act only on ALLOWED; report_outcome afterwards.",
            )
    }
}

/// The largest JSON-RPC body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Host names requests may address (DNS-rebinding protection): loopback, the public
/// URL's host and the configured `allowed_hosts`; others get 403.
pub fn hosts(config: &charter_core::config::Config) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]
        .into_iter()
        .map(String::from)
        .collect();
    hosts.push(charter_core::config::host_of(&config.public_url).to_ascii_lowercase());
    hosts.extend(config.allowed_hosts.iter().cloned());
    hosts
}

/// The actix service for `/t/{slug}/mcp`, built once and shared by every worker.
pub fn service(store: Store, allowed_hosts: Vec<String>) -> StreamableHttpService<CharterMcp> {
    StreamableHttpService::builder()
        .service_factory({
            let store = store.clone();
            let router = Arc::new(tools::router());
            Arc::new(move || Ok(CharterMcp::with_router(store.clone(), router.clone())))
        })
        .session_manager(Arc::new(LocalSessionManager::default()))
        .session_store(Arc::new(session_store::RedisSessionStore::new(
            store.clone(),
        )))
        .sse_keep_alive(Duration::from_secs(15))
        .max_request_body_bytes(MAX_BODY_BYTES)
        .allowed_hosts(allowed_hosts)
        .json_response(true)
        .on_request_fn(|req, ext| {
            if let Some(caller) = req.extensions().get::<Caller>() {
                ext.insert(caller.clone());
            }
        })
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_acting_tool_is_a_tool() {
        let router = super::tools::router();
        for name in super::ACTING_TOOLS {
            assert!(router.get(name).is_some(), "{name}");
        }
        assert!(!super::ACTING_TOOLS.contains(&"authorize_action"));
    }
}
