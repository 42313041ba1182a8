//! Principal passwords: rules and argon2id hashing (PHC string format).

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use zeroize::Zeroizing;

use crate::keys::fill_random;
use crate::secret::Secret;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password is {MIN_LEN} to {MAX_LEN} characters long")]
    Length,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks the rules and hashes with argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let n = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(PasswordError::Length);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A well-formed argon2id hash of a random password, with the default parameters: checked
/// against when a login names an unknown address, so that it costs what a real check does.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1Jx1hQ6mTOUnmKqEjDfF9ZbB+Y1k0Zy1h7W3r3r3sXk";

/// Constant-time verification against a stored PHC string; a malformed hash is `false`.
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// A random password for generated accounts (demo owner, `tenant create`): 24 characters
/// from an alphabet without look-alikes.
pub fn generate() -> Result<Secret<String>, PasswordError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = Zeroizing::new([0u8; 24]);
    fill_random(bytes.as_mut()).map_err(|e| PasswordError::Hash(e.to_string()))?;
    // 256 % 56 != 0 leaves a negligible bias for a generated password of 24 characters.
    let text = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterx", &h));
        assert!(!verify("anything", "not a phc string"));
        assert_eq!(hash("short"), Err(PasswordError::Length));
        // The dummy hash parses, with the parameters real hashes get (so checking it costs
        // the same), and matches nothing.
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        let real = argon2::PasswordHash::new(&h).unwrap();
        assert_eq!(dummy.params, real.params);
        assert!(!verify("anything", DUMMY_HASH));
        let g = generate().unwrap();
        assert_eq!(g.expose().len(), 24);
    }
}
