//! A short-lived in-process memory of who an API key is and which tenant a slug names, so
//! the MCP endpoint does not ask PostgreSQL twice on every request. Revoking a key through
//! [`Store::revoke_api_key`] evicts it at once on every node (Redis pub/sub); entries
//! expire after a few seconds anyway, so a lost message delays a revocation by at most
//! [`KEY_TTL`]. Unknown keys and slugs are remembered as unknown for [`MISS_TTL`], so a
//! flood of made-up ones does not reach PostgreSQL on every request; that memory is small
//! and cleared when full, so guessing cannot fill memory either.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::platform::{ApiKeyIdentity, TenantRef};

pub(crate) const KEY_TTL: Duration = Duration::from_secs(5);
const SLUG_TTL: Duration = Duration::from_secs(30);
/// Use of a key is written to PostgreSQL at most this often.
pub(crate) const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Beyond this many entries a map is cleared rather than grown.
const MAX_ENTRIES: usize = 100_000;
/// How long an unknown key or slug is remembered as unknown.
pub(crate) const MISS_TTL: Duration = Duration::from_secs(5);
const MAX_MISSES: usize = 10_000;

/// Something looked up and not found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Miss {
    Slug(String),
    Key([u8; 32]),
}

pub(crate) const REVOKED_CHANNEL: &str = "charter:api-key-revoked";

struct KeyEntry {
    fetched: Instant,
    identity: ApiKeyIdentity,
    touched: Instant,
}

#[derive(Default)]
pub struct IdentityCache {
    keys: Mutex<HashMap<[u8; 32], KeyEntry>>,
    slugs: Mutex<HashMap<String, (Instant, TenantRef)>>,
    misses: Mutex<HashMap<Miss, Instant>>,
}

impl IdentityCache {
    /// The remembered identity of a key hash, and whether its use is due to be recorded.
    pub(crate) fn key(&self, hash: &[u8; 32]) -> Option<(ApiKeyIdentity, bool)> {
        let mut keys = self.keys.lock().ok()?;
        let e = keys.get_mut(hash)?;
        if e.fetched.elapsed() > KEY_TTL {
            keys.remove(hash);
            return None;
        }
        let due = e.touched.elapsed() > TOUCH_EVERY;
        if due {
            e.touched = Instant::now();
        }
        Some((e.identity, due))
    }

    pub(crate) fn put_key(&self, hash: [u8; 32], identity: ApiKeyIdentity) {
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() >= MAX_ENTRIES {
                keys.clear();
            }
            let now = Instant::now();
            keys.insert(
                hash,
                KeyEntry {
                    fetched: now,
                    identity,
                    touched: now,
                },
            );
        }
    }

    pub(crate) fn evict_key(&self, key_id: Uuid) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.retain(|_, e| e.identity.key_id != key_id);
        }
    }

    pub(crate) fn slug(&self, slug: &str) -> Option<TenantRef> {
        let slugs = self.slugs.lock().ok()?;
        let (at, t) = slugs.get(slug)?;
        (at.elapsed() <= SLUG_TTL).then(|| t.clone())
    }

    pub(crate) fn put_slug(&self, t: TenantRef) {
        if let Ok(mut slugs) = self.slugs.lock() {
            if slugs.len() >= MAX_ENTRIES {
                slugs.clear();
            }
            slugs.insert(t.slug.clone(), (Instant::now(), t));
        }
    }

    /// Whether `m` was looked up and not found a moment ago.
    pub(crate) fn missed(&self, m: &Miss) -> bool {
        self.misses
            .lock()
            .ok()
            .and_then(|misses| misses.get(m).map(|at| at.elapsed() <= MISS_TTL))
            .unwrap_or(false)
    }

    pub(crate) fn put_miss(&self, m: Miss) {
        if let Ok(mut misses) = self.misses.lock() {
            if misses.len() >= MAX_MISSES {
                misses.clear();
            }
            misses.insert(m, Instant::now());
        }
    }

    /// Forgets that `m` was unknown (it has just been created on this node).
    pub(crate) fn forget_miss(&self, m: &Miss) {
        if let Ok(mut misses) = self.misses.lock() {
            misses.remove(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_slug_or_key_is_remembered_until_forgotten() {
        let cache = IdentityCache::default();
        let slug = Miss::Slug("nobody".into());
        let key = Miss::Key([7; 32]);
        assert!(!cache.missed(&slug));
        cache.put_miss(slug.clone());
        cache.put_miss(key.clone());
        assert!(cache.missed(&slug) && cache.missed(&key));
        assert!(!cache.missed(&Miss::Slug("somebody".into())));
        cache.forget_miss(&slug);
        assert!(!cache.missed(&slug) && cache.missed(&key));
    }

    #[test]
    fn guessing_cannot_grow_the_memory_of_misses_past_its_bound() {
        let cache = IdentityCache::default();
        for i in 0..(MAX_MISSES as u32 * 3) {
            cache.put_miss(Miss::Slug(format!("guess-{i}")));
        }
        assert!(cache.misses.lock().unwrap().len() <= MAX_MISSES);
    }
}
