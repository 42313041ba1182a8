//! Bearer tokens that name their tenant: refresh tokens, tenant API tokens, invitations.
//!
//! Format: a kind prefix, the tenant id (32 hex, not secret: it tells the server which
//! tenant's table to look in, so no cross-tenant look-up is needed), then 64 hex of
//! randomness. Only a SHA-256 hash of the whole token is ever stored.

use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keys::{KeyError, fill_random};
use crate::secret::Secret;

/// What a token is for; each kind has its own prefix, so one kind never passes for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Continues a principal's session (rotated on every use).
    Refresh,
    /// A tenant API token for automation, scoped to roles.
    Api,
    /// A one-time invitation to set a password.
    Invite,
    /// A person's dashboard session (the cookie's value).
    WebSession,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Refresh => "chtr_rt_",
            Kind::Api => "chtr_at_",
            Kind::Invite => "chtr_inv_",
            Kind::WebSession => "chtr_ws_",
        }
    }
}

pub struct NewToken {
    pub token: Secret<String>,
    pub hash: [u8; 32],
    /// The prefix shown in listings (kind, tenant and 8 random characters).
    pub display_prefix: String,
}

pub fn generate(kind: Kind, tenant: Uuid) -> Result<NewToken, KeyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut())?;
    let token = format!(
        "{}{}{}",
        kind.prefix(),
        tenant.simple(),
        hex::encode(bytes.as_ref())
    );
    let shown = kind.prefix().len() + 32 + 8;
    Ok(NewToken {
        hash: hash(&token),
        display_prefix: token[..shown].to_string(),
        token: Secret::new(token),
    })
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` has the shape of a token of `kind` (says nothing of its validity).
pub fn is_kind(kind: Kind, token: &str) -> bool {
    tenant_of(kind, token).is_some()
}

/// The tenant a well-formed token of `kind` names; `None` for anything else.
pub fn tenant_of(kind: Kind, token: &str) -> Option<Uuid> {
    let rest = token.strip_prefix(kind.prefix())?;
    let ok = rest.len() == 32 + 64
        && rest
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !ok {
        return None;
    }
    Uuid::parse_str(&rest[..32]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_tenant_and_kind_and_hash_stably() {
        let t = Uuid::now_v7();
        let a = generate(Kind::Refresh, t).unwrap();
        let b = generate(Kind::Refresh, t).unwrap();
        assert_ne!(a.token.expose(), b.token.expose());
        assert_eq!(tenant_of(Kind::Refresh, a.token.expose()), Some(t));
        assert_eq!(tenant_of(Kind::Api, a.token.expose()), None);
        assert_eq!(hash(a.token.expose()), a.hash);
        assert!(a.token.expose().starts_with(&a.display_prefix));
        assert_eq!(tenant_of(Kind::Refresh, "chtr_rt_short"), None);
        assert_eq!(
            tenant_of(Kind::Refresh, &a.token.expose().to_uppercase()),
            None
        );
        let i = generate(Kind::Invite, t).unwrap();
        assert!(is_kind(Kind::Invite, i.token.expose()));
        assert!(!is_kind(Kind::Api, i.token.expose()));
    }
}
