//! The master key and per-tenant Ed25519 signing keys.
//!
//! Each tenant signs its ledger with its own Ed25519 key. The private half is stored only
//! sealed with AES-256-GCM under the master key; the associated data binds the
//! ciphertext to its tenant and key id, so a sealed key copied to another tenant's row
//! does not open. Opened keys live in [`ed25519_dalek::SigningKey`], which zeroizes on
//! drop; every intermediate buffer here is zeroized too.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Version tag of the sealed-key format, part of the associated data.
const SEAL_CONTEXT: &[u8] = b"charter/tenant-signing-key/v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the master key must be 32 bytes in standard base64 (44 characters)")]
    MalformedMasterKey,
    #[error(
        "cannot open the signing key {key_id} of tenant {tenant_id}: wrong master key or \
         tampered ciphertext"
    )]
    Unseal { tenant_id: String, key_id: String },
    #[error("the sealed key of tenant {tenant_id} ({key_id}) is truncated")]
    Truncated { tenant_id: String, key_id: String },
    #[error("the system random number generator failed: {0}")]
    Random(String),
    #[error("a public key must be 32 bytes, got {0}")]
    PublicKeyLength(usize),
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
}

/// The key that seals every tenant signing key and webhook secret. Zeroized on drop;
/// never printed. During a rotation it also carries the previous key, which opens what
/// was sealed before (sealing always uses the current key).
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct MasterKey([u8; 32], Option<[u8; 32]>);

impl MasterKey {
    pub fn generate() -> Result<MasterKey, KeyError> {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes)?;
        Ok(MasterKey(bytes, None))
    }

    /// This key, also opening what `previous` sealed (a master-key rotation in progress).
    pub fn with_previous(mut self, previous: Option<&MasterKey>) -> MasterKey {
        self.1 = previous.filter(|p| p.0 != self.0).map(|p| p.0);
        self
    }

    /// The previous key's fingerprint, while a rotation is in progress.
    pub fn previous_fingerprint(&self) -> Option<String> {
        self.1.map(|k| MasterKey(k, None).fingerprint())
    }

    pub fn from_base64(text: &str) -> Result<MasterKey, KeyError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| KeyError::MalformedMasterKey)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::MalformedMasterKey)?;
        Ok(MasterKey(bytes, None))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    /// A secret for one purpose, derived from the master key (domain-separated SHA-256 of
    /// a uniformly random key): rotating the master key rotates it too.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let digest = Sha256::new()
            .chain_update(b"charter/derived/v1/")
            .chain_update(purpose.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.0)
            .finalize();
        Zeroizing::new(digest.into())
    }

    /// A short public fingerprint, stored beside each sealed key so that an operator
    /// rotating the master key can tell which rows still use the old one.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"charter/master-key-fingerprint/v1")
            .chain_update(self.0)
            .finalize();
        hex::encode(&digest[..8])
    }

    fn cipher(&self) -> Aes256Gcm {
        cipher(&self.0)
    }

    /// The ciphers that may open a sealed value: the current key's, then the previous one's.
    fn openers(&self) -> impl Iterator<Item = Aes256Gcm> + '_ {
        std::iter::once(self.cipher()).chain(self.1.as_ref().map(cipher))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint())
    }
}

impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint() == other.fingerprint()
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    // A 32-byte slice is always a valid AES-256 key.
    match Aes256Gcm::new_from_slice(key) {
        Ok(c) => c,
        Err(_) => unreachable!("32-byte AES-256 key"),
    }
}

/// The key id of an Ed25519 public key: the first 8 bytes of SHA-256 of the raw 32-byte
/// key, as 16 lowercase hex digits. Derived, so a verifier can recompute it.
pub fn key_id(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    hex::encode(&digest[..8])
}

/// A freshly generated tenant key: the public half and the sealed private half, ready to
/// store. The plaintext private key never leaves this function.
#[derive(Debug, Clone)]
pub struct NewTenantKey {
    pub key_id: String,
    pub public_key: [u8; 32],
    pub sealed: Vec<u8>,
    pub master_fingerprint: String,
}

pub fn generate_tenant_key(master: &MasterKey, tenant_id: &str) -> Result<NewTenantKey, KeyError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    fill_random(secret.as_mut())?;
    let signing = SigningKey::from_bytes(&secret);
    let public = signing.verifying_key();
    let id = key_id(&public);
    let sealed = seal(master, tenant_id, &id, &signing)?;
    Ok(NewTenantKey {
        key_id: id,
        public_key: public.to_bytes(),
        sealed,
        master_fingerprint: master.fingerprint(),
    })
}

/// Seals a signing key: `nonce (12 bytes) ‖ AES-256-GCM(ciphertext ‖ tag)` with associated
/// data `context ‖ 0x00 ‖ tenant_id ‖ 0x00 ‖ key_id`.
pub fn seal(
    master: &MasterKey,
    tenant_id: &str,
    key_id: &str,
    key: &SigningKey,
) -> Result<Vec<u8>, KeyError> {
    let plaintext = Zeroizing::new(key.to_bytes());
    seal_bytes(
        master,
        &associated_data(SEAL_CONTEXT, tenant_id, key_id),
        plaintext.as_slice(),
    )
}

/// Seals another secret of a tenant (e.g. a webhook endpoint's) the same way, with its own
/// context so that no sealed value opens as another kind.
pub fn seal_secret(
    master: &MasterKey,
    context: &str,
    tenant_id: &str,
    id: &str,
    secret: &[u8],
) -> Result<Vec<u8>, KeyError> {
    seal_bytes(
        master,
        &associated_data(context.as_bytes(), tenant_id, id),
        secret,
    )
}

/// Opens what [`seal_secret`] sealed.
pub fn open_secret(
    master: &MasterKey,
    context: &str,
    tenant_id: &str,
    id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    open_bytes(
        master,
        &associated_data(context.as_bytes(), tenant_id, id),
        sealed,
    )
    .map_err(|e| e.for_key(tenant_id, id))
}

fn seal_bytes(master: &MasterKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let ciphertext = master
        .cipher()
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| KeyError::Random("AES-GCM encryption failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens `nonce ‖ ciphertext`; errors name no key yet (the caller adds it).
fn open_bytes(
    master: &MasterKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if sealed.len() <= NONCE_LEN {
        return Err(KeyError::Truncated {
            tenant_id: String::new(),
            key_id: String::new(),
        });
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    master
        .openers()
        .find_map(|cipher| {
            let payload = Payload {
                msg: ciphertext,
                aad,
            };
            cipher.decrypt(&Nonce::from(nonce_bytes), payload).ok()
        })
        .map(Zeroizing::new)
        .ok_or(KeyError::Unseal {
            tenant_id: String::new(),
            key_id: String::new(),
        })
}

impl KeyError {
    fn for_key(self, tenant_id: &str, key_id: &str) -> KeyError {
        let (tenant_id, key_id) = (tenant_id.to_string(), key_id.to_string());
        match self {
            KeyError::Truncated { .. } => KeyError::Truncated { tenant_id, key_id },
            KeyError::Unseal { .. } => KeyError::Unseal { tenant_id, key_id },
            other => other,
        }
    }
}

/// The key a tenant's argument digests are keyed with, derived from its first signing
/// key's secret (kept sealed for good, so the digest key survives key and master-key
/// rotations and is never stored).
pub fn digest_key(first_signing_key: &SigningKey) -> Zeroizing<[u8; 32]> {
    let digest = Sha256::new()
        .chain_update(b"charter/args-digest/v1/")
        .chain_update(first_signing_key.to_bytes())
        .finalize();
    Zeroizing::new(digest.into())
}

/// Opens a sealed signing key. A wrong master key, another tenant's or key's row, or any
/// altered byte gives [`KeyError::Unseal`].
pub fn open(
    master: &MasterKey,
    tenant_id: &str,
    key_id: &str,
    sealed: &[u8],
) -> Result<SigningKey, KeyError> {
    let plaintext = open_bytes(
        master,
        &associated_data(SEAL_CONTEXT, tenant_id, key_id),
        sealed,
    )
    .map_err(|e| e.for_key(tenant_id, key_id))?;
    let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(plaintext.as_slice().try_into().map_err(
        |_| KeyError::Unseal {
            tenant_id: tenant_id.into(),
            key_id: key_id.into(),
        },
    )?);
    Ok(SigningKey::from_bytes(&bytes))
}

fn associated_data(context: &[u8], tenant_id: &str, key_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(context.len() + tenant_id.len() + key_id.len() + 2);
    aad.extend_from_slice(context);
    aad.push(0);
    aad.extend_from_slice(tenant_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key_id.as_bytes());
    aad
}

/// Parses a raw 32-byte Ed25519 public key.
pub fn verifying_key(bytes: &[u8]) -> Result<VerifyingKey, KeyError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KeyError::PublicKeyLength(bytes.len()))?;
    VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::InvalidPublicKey)
}

/// Parses a public key as an auditor may hold it: a signed-note verifier key
/// (`name+hash+base64(0x01 ‖ key)`), 64 hex digits, or standard base64 of the 32 bytes.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let text = text.trim();
    // A verifier key is `name+hash+base64`; the name holds no '+', base64 may.
    let parts: Vec<&str> = text.splitn(3, '+').collect();
    let note_key = match parts.as_slice() {
        [_, hash, b64] if hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(*b64)
        }
        _ => None,
    };
    let bytes = if let Some(b64) = note_key {
        let typed = STANDARD
            .decode(b64)
            .map_err(|_| KeyError::InvalidPublicKey)?;
        match typed.split_first() {
            Some((1, key)) => key.to_vec(),
            _ => return Err(KeyError::InvalidPublicKey),
        }
    } else if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| KeyError::InvalidPublicKey)?
    } else {
        STANDARD
            .decode(text)
            .map_err(|_| KeyError::InvalidPublicKey)?
    };
    verifying_key(&bytes)
}

pub fn fill_random(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    const TENANT: &str = "0195f7a4-0000-7000-8000-000000000001";

    #[test]
    fn seal_open_round_trip_signs_with_the_same_key() {
        let master = MasterKey::generate().unwrap();
        let new = generate_tenant_key(&master, TENANT).unwrap();
        let key = open(&master, TENANT, &new.key_id, &new.sealed).unwrap();
        assert_eq!(key.verifying_key().to_bytes(), new.public_key);
        let sig = key.sign(b"hello");
        let public = verifying_key(&new.public_key).unwrap();
        public.verify_strict(b"hello", &sig).unwrap();
        assert_eq!(key_id(&public), new.key_id);
        assert_eq!(new.master_fingerprint, master.fingerprint());
    }

    #[test]
    fn wrong_master_key_is_a_clear_error() {
        let master = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let new = generate_tenant_key(&master, TENANT).unwrap();
        let err = open(&other, TENANT, &new.key_id, &new.sealed).unwrap_err();
        assert!(matches!(err, KeyError::Unseal { .. }));
        assert!(
            err.to_string()
                .contains("wrong master key or tampered ciphertext")
        );
    }

    #[test]
    fn during_a_rotation_the_previous_key_opens_and_the_new_one_seals() {
        let old = MasterKey::generate().unwrap();
        let sealed_before = generate_tenant_key(&old, TENANT).unwrap();
        let new = MasterKey::generate().unwrap();
        // Alone, the new key opens nothing sealed under the old one.
        assert!(open(&new, TENANT, &sealed_before.key_id, &sealed_before.sealed).is_err());
        let rotating = new.clone().with_previous(Some(&old));
        assert_eq!(rotating.previous_fingerprint(), Some(old.fingerprint()));
        assert_eq!(rotating.fingerprint(), new.fingerprint());
        let key = open(
            &rotating,
            TENANT,
            &sealed_before.key_id,
            &sealed_before.sealed,
        )
        .unwrap();
        // What it seals opens under the new key alone, not under the old one.
        let resealed = seal(&rotating, TENANT, &sealed_before.key_id, &key).unwrap();
        assert!(open(&new, TENANT, &sealed_before.key_id, &resealed).is_ok());
        assert!(open(&old, TENANT, &sealed_before.key_id, &resealed).is_err());
        // The same key as its own previous is no rotation.
        assert_eq!(
            new.clone().with_previous(Some(&new)).previous_fingerprint(),
            None
        );
    }

    #[test]
    fn tampered_or_moved_ciphertext_fails_cleanly() {
        let master = MasterKey::generate().unwrap();
        let new = generate_tenant_key(&master, TENANT).unwrap();
        for i in 0..new.sealed.len() {
            let mut bad = new.sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                open(&master, TENANT, &new.key_id, &bad).is_err(),
                "byte {i}"
            );
        }
        // Bound to its tenant and key id.
        assert!(open(&master, "another-tenant", &new.key_id, &new.sealed).is_err());
        assert!(open(&master, TENANT, "0000000000000000", &new.sealed).is_err());
        // Truncated input is an error, not a panic.
        for len in 0..new.sealed.len() {
            assert!(open(&master, TENANT, &new.key_id, &new.sealed[..len]).is_err());
        }
    }

    #[test]
    fn public_keys_parse_in_every_accepted_form() {
        let key = SigningKey::from_bytes(&[5u8; 32]).verifying_key();
        // Find a key whose base64 holds a '+', the case a naive split gets wrong.
        let plus = (0u8..=255)
            .map(|i| SigningKey::from_bytes(&[i; 32]).verifying_key())
            .find(|k| {
                crate::ledger::checkpoint::verifier_key("n", k)
                    .splitn(3, '+')
                    .nth(2)
                    .is_some_and(|b| b.contains('+'))
            })
            .unwrap();
        let vkey = crate::ledger::checkpoint::verifier_key("example.com/t/acme", &plus);
        assert_eq!(parse_public_key(&vkey).unwrap(), plus);
        let forms = [
            hex::encode(key.as_bytes()),
            STANDARD.encode(key.as_bytes()),
            crate::ledger::checkpoint::verifier_key("example.com/t/acme", &key),
        ];
        for f in forms {
            assert_eq!(parse_public_key(&f).unwrap(), key, "{f}");
        }
        assert!(parse_public_key("nope").is_err());
    }

    #[test]
    fn master_key_base64_round_trip_and_errors() {
        let master = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&master.to_base64()).unwrap();
        assert_eq!(master, again);
        assert_eq!(
            MasterKey::from_base64("abc"),
            Err(KeyError::MalformedMasterKey)
        );
        assert_eq!(
            MasterKey::from_base64(&STANDARD.encode([0u8; 31])),
            Err(KeyError::MalformedMasterKey)
        );
        assert!(!format!("{master:?}").contains(master.to_base64().as_str()));
    }
}
