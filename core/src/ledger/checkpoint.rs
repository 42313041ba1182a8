//! Checkpoints in the C2SP `tlog-checkpoint` format, as C2SP `signed-note`s.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, standard base64>\n
//! \n
//! — <key name> <base64(key hash (4 bytes) ‖ Ed25519 signature (64 bytes))>\n
//! ```
//!
//! The signature covers the note text: the first three lines, each with its newline. The
//! key name is the origin; the key hash is the first four bytes of
//! `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)` (0x01: the Ed25519 signature type).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The em dash that starts every signature line.
const SIG_PREFIX: &str = "\u{2014} ";
const ED25519_TYPE: u8 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("the checkpoint has no signature by key `{0}` with the expected key hash")]
    NoSignature(String),
    #[error("the checkpoint's signature does not verify")]
    BadSignature,
}

/// The signed-note key hash of an Ed25519 key under a name.
pub fn key_hash(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([ED25519_TYPE])
        .chain_update(public.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key string of signed notes: `name+hex(key hash)+base64(0x01 ‖ key)`, the
/// form transparency-log tooling accepts.
pub fn verifier_key(name: &str, public: &VerifyingKey) -> String {
    let mut typed = vec![ED25519_TYPE];
    typed.extend_from_slice(public.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_hash(name, public)),
        STANDARD.encode(typed)
    )
}

/// Signs any note text (it must end with a newline) under `name`: the text, a blank line
/// and one signature line.
pub fn sign_note(text: &str, name: &str, key: &SigningKey) -> String {
    let sig = key.sign(text.as_bytes());
    let mut blob = key_hash(name, &key.verifying_key()).to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    format!("{text}\n{SIG_PREFIX}{name} {}\n", STANDARD.encode(blob))
}

/// Opens a signed note: finds the signature line by `name` whose key hash matches `public`
/// (others, e.g. witnesses', are ignored), verifies it with `verify_strict`, and returns the
/// signed text.
pub fn open_note<'a>(
    note: &'a str,
    name: &str,
    public: &VerifyingKey,
) -> Result<&'a str, NoteError> {
    let split = note
        .find("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the signature block must end with a newline".into(),
        ));
    }
    let want_hash = key_hash(name, public);
    for line in sigs.lines() {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| NoteError::Malformed(format!("bad signature line {line:?}")))?;
        let (sig_name, b64) = rest
            .rsplit_once(' ')
            .ok_or_else(|| NoteError::Malformed(format!("bad signature line {line:?}")))?;
        let blob = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not base64".into()))?;
        if sig_name != name || blob.len() != 68 || blob[..4] != want_hash {
            continue;
        }
        let sig = Signature::from_slice(&blob[4..]).map_err(|_| NoteError::BadSignature)?;
        return public
            .verify_strict(text.as_bytes(), &sig)
            .map(|_| text)
            .map_err(|_| NoteError::BadSignature);
    }
    Err(NoteError::NoSignature(name.to_string()))
}

impl Checkpoint {
    /// The signed text: origin, size, base64 root, each line ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// The complete signed note, signed by `key` under the origin as key name.
    pub fn sign(&self, key: &SigningKey) -> String {
        sign_note(&self.body(), &self.origin, key)
    }

    /// Parses a signed checkpoint and verifies its signature by `public` under the origin.
    pub fn verify(note: &str, public: &VerifyingKey) -> Result<Checkpoint, NoteError> {
        let origin = note.split('\n').next().unwrap_or_default();
        let text = open_note(note, origin, public)?;
        Checkpoint::parse_body(text)
    }

    /// Parses the three-line body (no signature check).
    pub fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines.next().unwrap_or_default();
        let root = lines.next().unwrap_or_default();
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(NoteError::Malformed("empty or invalid origin line".into()));
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(NoteError::Malformed(format!(
                "tree size {size:?} is not a decimal number"
            )));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| NoteError::Malformed("tree size out of range".into()))?;
        let root: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| NoteError::Malformed("root hash is not 32 bytes of base64".into()))?;
        // Optional extension lines are allowed by the format; the body ends with a newline.
        if !body.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the note text must end with a newline".into(),
            ));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn signed_note_round_trip() {
        let cp = Checkpoint {
            origin: "charter.example/t/acme".into(),
            size: 42,
            root: [7u8; 32],
        };
        let note = cp.sign(&key(1));
        let lines: Vec<&str> = note.split('\n').collect();
        assert_eq!(lines[0], "charter.example/t/acme");
        assert_eq!(lines[1], "42");
        assert_eq!(lines[2], STANDARD.encode([7u8; 32]));
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} charter.example/t/acme "));
        assert_eq!(lines[5], "");
        assert_eq!(
            Checkpoint::verify(&note, &key(1).verifying_key()).unwrap(),
            cp
        );
    }

    #[test]
    fn tampering_and_wrong_keys_are_refused() {
        let cp = Checkpoint {
            origin: "o/t/a".into(),
            size: 3,
            root: [1u8; 32],
        };
        let note = cp.sign(&key(1));
        assert!(matches!(
            Checkpoint::verify(&note, &key(2).verifying_key()),
            Err(NoteError::NoSignature(_))
        ));
        let edited = note.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(
            Checkpoint::verify(&edited, &key(1).verifying_key()),
            Err(NoteError::BadSignature)
        );
        assert!(Checkpoint::verify("garbage", &key(1).verifying_key()).is_err());
        assert!(Checkpoint::parse_body("o\n03\nAAAA\n").is_err());
    }

    /// The example key and note of the Go reference implementation
    /// (golang.org/x/mod/sumdb/note): our signer must produce its signature byte for byte.
    #[test]
    fn signed_note_known_answer() {
        let skey = STANDARD
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        assert_eq!(skey[0], 1);
        let key = SigningKey::from_bytes(&skey[1..].try_into().unwrap());
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let want = format!(
            "{text}\n\u{2014} PeterNeumann \
             x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        assert_eq!(sign_note(text, "PeterNeumann", &key), want);
        assert_eq!(
            verifier_key("PeterNeumann", &key.verifying_key()),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        assert_eq!(
            open_note(&want, "PeterNeumann", &key.verifying_key()).unwrap(),
            text
        );
    }

    #[test]
    fn key_hash_follows_the_signed_note_definition() {
        let k = key(9).verifying_key();
        let mut data = b"example.com/log\n".to_vec();
        data.push(1);
        data.extend_from_slice(k.as_bytes());
        let digest = Sha256::digest(&data);
        assert_eq!(key_hash("example.com/log", &k), digest[..4]);
        let vkey = verifier_key("example.com/log", &k);
        assert!(vkey.starts_with(&format!("example.com/log+{}+", hex::encode(&digest[..4]))));
    }
}
