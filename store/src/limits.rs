//! Rate limits and attempt counters, kept in Redis so every node counts together. Redis is
//! never the source of truth for a decision: when it is unreachable, each node counts on
//! its own (the same limits, per node), so nothing becomes unlimited and nothing that does
//! not need Redis stops working.
//!
//! Every key is built here; callers name what they count, not how it is stored.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::{Result, Store};

/// Failed logins allowed per account, and per client address, in [`LOGIN_WINDOW`].
pub const LOGIN_ATTEMPTS_PER_ACCOUNT: i64 = 5;
pub const LOGIN_ATTEMPTS_PER_ADDRESS: i64 = 30;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The window of the sign-up limits (per address, per e-mail domain; settings).
pub const SIGN_UP_WINDOW: Duration = Duration::from_secs(3600);

/// Counters of this node, for when Redis cannot be reached.
#[derive(Default)]
pub struct LocalCounters {
    counts: Mutex<HashMap<String, (i64, Instant)>>,
}

impl LocalCounters {
    fn hit(&self, key: &str, window: Duration) -> (i64, u64) {
        let now = Instant::now();
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 100_000 {
            m.retain(|_, (_, until)| *until > now);
        }
        let e = m.entry(key.to_string()).or_insert((0, now + window));
        if e.1 <= now {
            *e = (0, now + window);
        }
        e.0 += 1;
        (e.0, e.1.saturating_duration_since(now).as_secs().max(1))
    }

    fn forget(&self, key: &str) {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(key);
    }
}

/// The store's rate limits: `store.limits()`.
pub struct Limits<'a>(pub(crate) &'a Store);

/// `Some(seconds to wait)` when over the limit.
pub type Wait = Option<u64>;

impl Limits<'_> {
    /// Counts one hit on `key` in a fixed window; the count and the seconds left in the
    /// window.
    async fn hit(&self, key: &str, window: Duration) -> (i64, u64) {
        match self.0.cache().hit_with_ttl(key, window).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "redis unavailable; counting on this node");
                self.0.local_counters().hit(key, window)
            }
        }
    }

    async fn over(&self, key: &str, window: Duration, max: i64) -> Wait {
        let (count, left) = self.hit(key, window).await;
        (count > max).then_some(left)
    }

    /// One request from `address` to a route that needs no credentials (sign-up, login,
    /// refresh, invitations, the public keys and checkpoint), `per_minute` allowed.
    pub async fn unauthenticated(&self, address: &str, per_minute: u32) -> Wait {
        let minute = Duration::from_secs(60);
        self.over(
            &format!("charter:anon:{address}"),
            minute,
            i64::from(per_minute),
        )
        .await
    }

    /// A login attempt, counted *before* the password is checked, so parallel guesses
    /// cannot get past the limit while earlier ones are being verified; once the account's
    /// limit is reached, even the right password waits for the window to end. An attempt
    /// on a locked account does not count against the address.
    pub async fn login_attempt(&self, tenant: &str, email: &str, address: &str) -> Wait {
        let account = self
            .over(
                &account_key(tenant, email),
                LOGIN_WINDOW,
                LOGIN_ATTEMPTS_PER_ACCOUNT,
            )
            .await;
        if account.is_some() {
            return account;
        }
        self.over(
            &address_key(address),
            LOGIN_WINDOW,
            LOGIN_ATTEMPTS_PER_ADDRESS,
        )
        .await
    }

    /// A successful login clears the account's count and takes its attempt off the
    /// address's (people behind one address do not use each other's attempts up).
    pub async fn login_succeeded(&self, tenant: &str, email: &str, address: &str) -> Result<()> {
        let key = account_key(tenant, email);
        self.0.local_counters().forget(&key);
        let cache = self.0.cache();
        let done = async {
            cache.delete(&key).await?;
            cache.decrement(&address_key(address)).await
        };
        if let Err(e) = done.await {
            tracing::debug!(error = %e, "redis unavailable; login counts kept");
        }
        Ok(())
    }

    /// A sign-up from `address` for an e-mail address at `domain`: at most `per_address`
    /// and `per_domain` an hour.
    pub async fn sign_up(
        &self,
        address: &str,
        domain: &str,
        per_address: u32,
        per_domain: u32,
    ) -> Wait {
        let from = self
            .over(
                &format!("charter:signup:ip:{address}"),
                SIGN_UP_WINDOW,
                i64::from(per_address),
            )
            .await;
        if from.is_some() {
            return from;
        }
        self.over(
            &format!("charter:signup:domain:{}", domain.to_ascii_lowercase()),
            SIGN_UP_WINDOW,
            i64::from(per_domain),
        )
        .await
    }

    /// One MCP request counted against an API key, `per_minute` allowed.
    pub async fn mcp_request(&self, key: Uuid, per_minute: u32) -> Wait {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let (count, _) = self
            .hit(
                &format!("charter:rl:{key}:{}", now / 60),
                Duration::from_secs(120),
            )
            .await;
        (count > i64::from(per_minute)).then(|| 60 - now % 60)
    }
}

fn address_key(address: &str) -> String {
    format!("charter:login:ip:{address}")
}

fn account_key(tenant: &str, email: &str) -> String {
    format!("charter:login:acct:{tenant}:{}", email.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counters_count_per_window() {
        let c = LocalCounters::default();
        assert_eq!(c.hit("a", Duration::from_secs(60)).0, 1);
        assert_eq!(c.hit("a", Duration::from_secs(60)).0, 2);
        assert_eq!(c.hit("b", Duration::from_secs(60)).0, 1);
        c.forget("a");
        assert_eq!(c.hit("a", Duration::from_secs(60)).0, 1);
        assert_eq!(c.hit("z", Duration::from_millis(1)).0, 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.hit("z", Duration::from_secs(60)).0, 1, "a new window");
    }
}
