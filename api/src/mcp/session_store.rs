//! rmcp's session store, kept by the store (`store.sessions()`): after a session's
//! `initialize`, its parameters are kept in Redis, so a request that reaches another API
//! node restores the session there instead of failing. (The session's tenant/agent
//! binding is separate, see [`super::auth`].)

use charter_store::Store;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

pub struct RedisSessionStore {
    store: Store,
}

impl RedisSessionStore {
    pub fn new(store: Store) -> RedisSessionStore {
        RedisSessionStore { store }
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        match self.store.sessions().mcp_session_state(session_id).await? {
            Some(json) => Ok(Some(serde_json::from_str(&json)?)),
            None => Ok(None),
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(state)?;
        self.store
            .sessions()
            .save_mcp_session_state(session_id, &json)
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.store
            .sessions()
            .forget_mcp_session_state(session_id)
            .await?;
        Ok(())
    }
}
