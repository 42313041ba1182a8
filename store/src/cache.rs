//! Redis: rate limits, session routing, cross-node notifications and caches. Never the
//! source of truth for an enforcement decision: losing Redis must not allow anything.

use std::time::Duration;

use charter_core::config::Config;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Result, StoreError};

#[derive(Clone)]
pub struct Cache {
    conn: ConnectionManager,
}

impl Cache {
    /// Connects lazily: the first command establishes the connection, and a Redis outage
    /// is reported by [`Cache::ping`] rather than preventing start-up.
    pub fn connect(config: &Config) -> Result<Cache> {
        let client = redis::Client::open(config.redis_url.expose().as_str())
            .map_err(|e| StoreError::Invalid(format!("redis_url: {e}")))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, cfg)?;
        Ok(Cache { conn })
    }

    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Redis(format!("unexpected PING reply {pong:?}")))
        }
    }
}
