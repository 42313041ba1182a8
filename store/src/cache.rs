//! Redis: rate limits, session routing, cross-node notifications and caches. Never the
//! source of truth for an enforcement decision: losing Redis must not allow anything.

use std::time::Duration;

use charter_core::config::Config;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Result, StoreError};

#[derive(Clone)]
pub struct Cache {
    client: redis::Client,
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
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), cfg)?;
        Ok(Cache { client, conn })
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

    pub async fn publish(&self, channel: &str, message: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Sets `key` to `value` for `ttl`.
    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        let mut conn = self.conn.clone();
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Counts one more hit on `key` (a fixed-window counter that expires after `ttl`) and
    /// returns the count, atomically.
    pub async fn hit(&self, key: &str, ttl: Duration) -> Result<i64> {
        let mut conn = self.conn.clone();
        let (count,): (i64,) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(key)
            .cmd("EXPIRE")
            .arg(key)
            .arg(ttl.as_secs().max(1))
            .arg("NX")
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// As [`Cache::hit`], with the seconds left before the counter expires.
    pub async fn hit_with_ttl(&self, key: &str, ttl: Duration) -> Result<(i64, u64)> {
        let mut conn = self.conn.clone();
        let (count, left): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(key)
            .cmd("EXPIRE")
            .arg(key)
            .arg(ttl.as_secs().max(1))
            .arg("NX")
            .ignore()
            .cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await?;
        Ok((count, left.max(1) as u64))
    }

    /// A counter's value (0 when absent) and the seconds until it expires.
    pub async fn counter(&self, key: &str) -> Result<(i64, i64)> {
        let mut conn = self.conn.clone();
        let (value, ttl): (Option<i64>, i64) = redis::pipe()
            .cmd("GET")
            .arg(key)
            .cmd("TTL")
            .arg(key)
            .query_async(&mut conn)
            .await?;
        Ok((value.unwrap_or(0), ttl.max(0)))
    }

    /// Takes one off a counter that exists (never below zero, never creating it).
    pub async fn decrement(&self, key: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::Script::new(
            "local v = tonumber(redis.call('GET', KEYS[1]) or '0')
             if v > 0 then return redis.call('DECR', KEYS[1]) end
             return 0",
        )
        .key(key)
        .invoke_async(&mut conn)
        .await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("GET").arg(key).query_async(&mut conn).await?)
    }

    /// Calls `on_message` for every message on `channel`, reconnecting after failures,
    /// for as long as the process runs.
    pub fn subscribe(&self, channel: &'static str, on_message: impl Fn(String) + Send + 'static) {
        let client = self.client.clone();
        tokio::spawn(async move {
            use futures::StreamExt;
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(channel).await.is_ok() {
                            let mut stream = pubsub.on_message();
                            while let Some(msg) = stream.next().await {
                                if let Ok(text) = msg.get_payload::<String>() {
                                    on_message(text);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, channel, "redis subscription unavailable")
                    }
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }
}
