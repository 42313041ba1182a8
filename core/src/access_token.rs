//! Access tokens for the REST admin API: short-lived JWTs (RFC 7519).
//!
//! - The algorithm is pinned to HS256; a token naming any other (`none` included) is
//!   refused before its signature is looked at.
//! - The HMAC key is derived from the master key ([`MasterKey::derive`]), so there is no
//!   further secret to manage, and rotating the master key rotates it. Its `kid` is a
//!   fingerprint of the key: tokens signed under the previous master key keep verifying
//!   while it is still configured as previous, and only then.
//! - `iss`, `aud`, `exp`, `iat`, `sub` are required and checked, with no leeway beyond
//!   [`LEEWAY_SECS`].

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keys::MasterKey;

pub const ISSUER: &str = "charter";
pub const AUDIENCE: &str = "charter-api";
/// How long an access token lives; refresh tokens (stored, rotated) outlive it.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Clock skew tolerated on `exp`.
pub const LEEWAY_SECS: u64 = 5;

const PURPOSE: &str = "access-token/hs256";

/// What an access token says: who (`sub`, a principal), in which tenant (`tid`), with
/// which roles, for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub tid: Uuid,
    pub roles: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token, for logs and revocation lists.
    pub jti: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token uses an algorithm other than HS256")]
    WrongAlgorithm,
    #[error("the token was signed with a key Charter does not hold")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is for another issuer or audience")]
    WrongAudience,
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

struct Key {
    kid: String,
    secret: Zeroizing<[u8; 32]>,
}

fn key(master: &MasterKey) -> Key {
    let secret = master.derive(PURPOSE);
    let kid = hex::encode(&Sha256::digest(secret.as_slice())[..8]);
    Key { kid, secret }
}

/// The keys tokens are signed and checked with: the current master key's, and the
/// previous master key's while a rotation is under way.
pub struct TokenKeys {
    current: Key,
    previous: Option<Key>,
}

impl TokenKeys {
    pub fn new(current: &MasterKey, previous: Option<&MasterKey>) -> TokenKeys {
        TokenKeys {
            current: key(current),
            previous: previous.map(key),
        }
    }

    /// Signs a token for `principal` in `tenant`, valid from `now` for [`ACCESS_TTL_SECS`].
    pub fn issue(
        &self,
        principal: Uuid,
        tenant: Uuid,
        roles: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<(String, Claims), TokenError> {
        let claims = Claims {
            sub: principal,
            tid: tenant,
            roles,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TTL_SECS,
            jti: Uuid::new_v4(),
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(self.current.secret.as_slice()),
        )
        .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Checks a presented token; the claims if every check passes.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::WrongAlgorithm);
        }
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| header.kid.as_deref() == Some(k.kid.as_str()))
            .ok_or(TokenError::UnknownKey)?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECS;
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key.secret.as_slice()), &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                _ => TokenError::Malformed,
            })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use super::*;

    fn keys() -> (MasterKey, TokenKeys) {
        let m = MasterKey::generate().unwrap();
        let k = TokenKeys::new(&m, None);
        (m, k)
    }

    fn issue(k: &TokenKeys) -> (String, Claims) {
        k.issue(
            Uuid::now_v7(),
            Uuid::now_v7(),
            vec!["owner".into()],
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn a_fresh_token_verifies_and_carries_its_claims() {
        let (_, k) = keys();
        let (token, claims) = issue(&k);
        assert_eq!(k.verify(&token).unwrap(), claims);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid.unwrap().len(), 16);
    }

    #[test]
    fn expired_wrong_audience_or_issuer_are_refused() {
        let (_, k) = keys();
        let past = Utc::now() - chrono::Duration::seconds(ACCESS_TTL_SECS + 60);
        let (old, _) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), vec![], past)
            .unwrap();
        assert_eq!(k.verify(&old), Err(TokenError::Expired));
        let (_, mut c) = issue(&k);
        c.aud = "someone-else".into();
        assert_eq!(
            k.verify(&k.sign(&c).unwrap()),
            Err(TokenError::WrongAudience)
        );
        let (_, mut c) = issue(&k);
        c.iss = "evil".into();
        assert_eq!(
            k.verify(&k.sign(&c).unwrap()),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let (_, k) = keys();
        let (token, _) = issue(&k);
        let payload = token.split('.').nth(1).unwrap();
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        for alg in ["none", "HS512", "RS256", "EdDSA"] {
            let header = B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#));
            for sig in ["", "AAAA"] {
                let forged = format!("{header}.{payload}.{sig}");
                assert!(k.verify(&forged).is_err(), "{alg} accepted");
            }
        }
    }

    #[test]
    fn another_key_or_a_tampered_token_is_refused() {
        let (_, k) = keys();
        let (_, other) = keys();
        let (token, _) = issue(&other);
        assert_eq!(k.verify(&token), Err(TokenError::UnknownKey));
        // Same kid, other secret: the signature fails.
        let (token, claims) = issue(&k);
        let forged_key = EncodingKey::from_secret(&[7u8; 32]);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = jsonwebtoken::decode_header(&token).unwrap().kid;
        let forged = jsonwebtoken::encode(&header, &claims, &forged_key).unwrap();
        assert_eq!(k.verify(&forged), Err(TokenError::BadSignature));
        // A payload edited to claim another role.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut c = claims.clone();
        c.roles = vec!["owner".into(), "admin".into()];
        parts[1] = B64.encode(serde_json::to_vec(&c).unwrap());
        assert_eq!(k.verify(&parts.join(".")), Err(TokenError::BadSignature));
        assert_eq!(k.verify("not.a.token"), Err(TokenError::Malformed));
    }

    #[test]
    fn tokens_survive_a_master_key_rotation_only_while_the_old_key_is_kept() {
        let old = MasterKey::generate().unwrap();
        let new = MasterKey::generate().unwrap();
        let (token, _) = issue(&TokenKeys::new(&old, None));
        assert!(TokenKeys::new(&new, Some(&old)).verify(&token).is_ok());
        assert_eq!(
            TokenKeys::new(&new, None).verify(&token),
            Err(TokenError::UnknownKey)
        );
    }
}
