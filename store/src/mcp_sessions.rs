//! MCP sessions of the older protocol versions, kept in Redis so any API node can serve
//! them: which tenant and agent each session belongs to (a session presented by anyone
//! else is unknown), and the session's own state for the MCP SDK. Redis being down makes
//! sessions unavailable (503); stateless requests do not need them.

use std::time::Duration;

use uuid::Uuid;

use crate::Result;

/// How long an idle session is kept.
pub const SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

fn binding_key(id: &str) -> String {
    format!("charter:mcp:session:{id}")
}

fn state_key(id: &str) -> String {
    format!("charter:mcp:state:{id}")
}

fn owner(tenant: Uuid, agent: Uuid) -> String {
    format!("{tenant}:{agent}")
}

impl crate::handles::Sessions<'_> {
    /// Binds session `id` to the tenant and agent that opened it.
    pub async fn bind_mcp_session(self, id: &str, tenant: Uuid, agent: Uuid) -> Result<()> {
        self.cache()
            .set_ex(&binding_key(id), &owner(tenant, agent), SESSION_TTL)
            .await
    }

    /// Whether session `id` belongs to this tenant and agent.
    pub async fn mcp_session_is(self, id: &str, tenant: Uuid, agent: Uuid) -> Result<bool> {
        let bound = self.cache().get(&binding_key(id)).await?;
        Ok(bound.as_deref() == Some(owner(tenant, agent).as_str()))
    }

    /// The SDK's state of session `id`, as it stored it (JSON).
    pub async fn mcp_session_state(self, id: &str) -> Result<Option<String>> {
        self.cache().get(&state_key(id)).await
    }

    pub async fn save_mcp_session_state(self, id: &str, json: &str) -> Result<()> {
        self.cache().set_ex(&state_key(id), json, SESSION_TTL).await
    }

    pub async fn forget_mcp_session_state(self, id: &str) -> Result<()> {
        self.cache().delete(&state_key(id)).await
    }
}
