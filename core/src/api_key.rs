//! Agent API keys: `chtr_ak_` followed by 64 hex digits (32 random bytes).
//!
//! The recognisable prefix lets secret scanners (Charter's own redaction included) find a
//! leaked key; the token is stored only as its SHA-256, which is safe for a 256-bit random
//! secret and makes the per-request look-up one indexed read.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::keys::{KeyError, fill_random};
use crate::secret::Secret;

pub const PREFIX: &str = "chtr_ak_";
const SECRET_HEX_LEN: usize = 64;
/// How many characters of a token are kept in clear for lists (`chtr_ak_` + 8 hex).
pub const DISPLAY_PREFIX_LEN: usize = PREFIX.len() + 8;

/// A token as shown once at creation.
#[derive(Debug)]
pub struct NewApiKey {
    pub token: Secret<String>,
    pub display_prefix: String,
    pub hash: [u8; 32],
}

pub fn generate() -> Result<NewApiKey, KeyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut())?;
    let token = format!("{PREFIX}{}", hex::encode(bytes.as_ref()));
    Ok(NewApiKey {
        display_prefix: token[..DISPLAY_PREFIX_LEN].to_string(),
        hash: hash(&token),
        token: Secret::new(token),
    })
}

/// Whether `text` has the shape of a Charter API key (cheap check before any look-up).
pub fn looks_like_key(text: &str) -> bool {
    text.len() == PREFIX.len() + SECRET_HEX_LEN
        && text.starts_with(PREFIX)
        && text[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_recognisable_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(looks_like_key(a.token.expose()));
        assert_ne!(a.token.expose(), b.token.expose());
        assert_eq!(a.hash, hash(a.token.expose()));
        assert!(a.token.expose().starts_with(&a.display_prefix));
        assert!(!looks_like_key("chtr_ak_xyz"));
        assert!(!looks_like_key(&a.token.expose().to_uppercase()));
    }
}
