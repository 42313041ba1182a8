//! rmcp's session store in Redis: after a session's `initialize`, its parameters are kept
//! in Redis, so a request that reaches another API node restores the session there
//! instead of failing. (The session's tenant/agent binding is separate, see [`super::auth`].)

use charter_store::cache::Cache;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use super::auth::SESSION_TTL;

pub struct RedisSessionStore {
    cache: Cache,
}

impl RedisSessionStore {
    pub fn new(cache: Cache) -> RedisSessionStore {
        RedisSessionStore { cache }
    }
}

fn key(id: &str) -> String {
    format!("charter:mcp:state:{id}")
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        match self.cache.get(&key(session_id)).await? {
            Some(json) => Ok(Some(serde_json::from_str(&json)?)),
            None => Ok(None),
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(state)?;
        self.cache
            .set_ex(&key(session_id), &json, SESSION_TTL)
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        self.cache.delete(&key(session_id)).await?;
        Ok(())
    }
}
