//! Ledger records: what callers submit ([`Entry`]), what is sealed ([`Record`]), and the
//! signed form stored and exported ([`SignedRecord`]).
//!
//! `record_hash = SHA-256(JCS(record))` (RFC 8785), `signature = Ed25519(key, record_hash)`,
//! `prev_hash` is the previous record's hash (32 zero bytes for seq 0). Every field is
//! always present (absent values are `null`), so the canonical form has one shape.

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::jcs;
use super::merkle::Hash;
use super::redact::{Redaction, redact_str, redact_value};

/// The record format version.
pub const FORMAT_VERSION: u32 = 1;

/// The `prev_hash` of the first record.
pub const GENESIS_PREV_HASH: Hash = [0u8; 32];

/// Who acted: an agent, a principal (human), a principal's tenant API token, or Charter
/// itself. `on_behalf_of` (the token's creator) is present for API tokens only, so every
/// other actor keeps its two-field form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Agent,
    Principal,
    ApiToken,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Agent => "agent",
            ActorKind::Principal => "principal",
            ActorKind::ApiToken => "api_token",
            ActorKind::System => "system",
        }
    }
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            id: "charter".into(),
            on_behalf_of: None,
        }
    }

    pub fn agent(id: Uuid) -> Actor {
        Actor {
            kind: ActorKind::Agent,
            id: id.to_string(),
            on_behalf_of: None,
        }
    }

    pub fn principal(id: Uuid) -> Actor {
        Actor {
            kind: ActorKind::Principal,
            id: id.to_string(),
            on_behalf_of: None,
        }
    }

    /// A tenant API token, acting for the person who created it.
    pub fn api_token(id: Uuid, creator: Uuid) -> Actor {
        Actor {
            kind: ActorKind::ApiToken,
            id: id.to_string(),
            on_behalf_of: Some(creator.to_string()),
        }
    }
}

/// What a caller asks the ledger to record; the ledger adds position, time, chain and key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    pub kind: String,
    pub actor: Option<Actor>,
    pub on_behalf_of: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub initiative: Option<String>,
    pub gate: Option<String>,
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub payload: Value,
}

impl Entry {
    pub fn new(kind: impl Into<String>, actor: Actor) -> Entry {
        Entry {
            kind: kind.into(),
            actor: Some(actor),
            payload: Value::Object(Default::default()),
            ..Entry::default()
        }
    }

    pub fn payload(mut self, payload: Value) -> Entry {
        self.payload = payload;
        self
    }
}

/// A sealed record: exactly the object that is canonicalised and hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub v: u32,
    pub tenant_id: String,
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds and `Z`.
    pub recorded_at: String,
    pub kind: String,
    pub actor: Actor,
    pub on_behalf_of: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub initiative: Option<String>,
    pub gate: Option<String>,
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub payload: Value,
    /// What secret scanning replaced before sealing (paths and rules, never secrets).
    pub redactions: Vec<Redaction>,
    /// Lowercase hex of the previous record's hash.
    pub prev_hash: String,
    pub key_id: String,
}

/// The position and key a record is sealed at.
#[derive(Debug, Clone)]
pub struct SealAt<'a> {
    pub tenant_id: Uuid,
    pub seq: u64,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Hash,
    pub key_id: &'a str,
}

/// Formats a time the way records carry it (millisecond precision, UTC).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Record {
    /// Seals an entry at a position: redacts secrets from the payload and the free-text
    /// fields, fills every field.
    pub fn seal(entry: Entry, at: &SealAt<'_>) -> Record {
        let mut redactions = Vec::new();
        let mut payload = entry.payload;
        redact_value(&mut payload, "/payload", &mut redactions);
        let mut text = |name: &str, v: Option<String>| {
            v.map(|s| {
                let (clean, hits) = redact_str(&s);
                for rule in hits {
                    redactions.push(Redaction {
                        path: format!("/{name}"),
                        rule: rule.to_string(),
                    });
                }
                clean
            })
        };
        let reason = text("reason", entry.reason);
        let resource = text("resource", entry.resource);
        let action = text("action", entry.action);
        let initiative = text("initiative", entry.initiative);
        let gate = text("gate", entry.gate);
        Record {
            v: FORMAT_VERSION,
            tenant_id: at.tenant_id.to_string(),
            seq: at.seq,
            recorded_at: format_time(at.recorded_at),
            kind: entry.kind,
            actor: entry.actor.unwrap_or_else(Actor::system),
            on_behalf_of: entry.on_behalf_of,
            action,
            resource,
            initiative,
            gate,
            decision: entry.decision,
            reason,
            payload,
            redactions,
            prev_hash: hex::encode(at.prev_hash),
            key_id: at.key_id.to_string(),
        }
    }

    /// The RFC 8785 canonical bytes, written member by member in their sorted order (the
    /// record's shape is fixed; `payload` goes through the generic canonicaliser).
    pub fn canonical(&self) -> Vec<u8> {
        fn opt(out: &mut Vec<u8>, v: &Option<String>) {
            match v {
                Some(s) => jcs::write_str(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"action\":");
        opt(&mut out, &self.action);
        out.extend_from_slice(b",\"actor\":{\"id\":");
        jcs::write_str(&mut out, &self.actor.id);
        if let Some(creator) = &self.actor.on_behalf_of {
            out.extend_from_slice(b",\"on_behalf_of\":");
            jcs::write_str(&mut out, creator);
        }
        out.extend_from_slice(b",\"type\":");
        jcs::write_str(&mut out, self.actor.kind.as_str());
        out.extend_from_slice(b"},\"decision\":");
        opt(&mut out, &self.decision);
        out.extend_from_slice(b",\"gate\":");
        opt(&mut out, &self.gate);
        out.extend_from_slice(b",\"initiative\":");
        opt(&mut out, &self.initiative);
        out.extend_from_slice(b",\"key_id\":");
        jcs::write_str(&mut out, &self.key_id);
        out.extend_from_slice(b",\"kind\":");
        jcs::write_str(&mut out, &self.kind);
        out.extend_from_slice(b",\"on_behalf_of\":");
        opt(&mut out, &self.on_behalf_of);
        out.extend_from_slice(b",\"payload\":");
        jcs::write_value(&mut out, &self.payload);
        out.extend_from_slice(b",\"prev_hash\":");
        jcs::write_str(&mut out, &self.prev_hash);
        out.extend_from_slice(b",\"reason\":");
        opt(&mut out, &self.reason);
        out.extend_from_slice(b",\"recorded_at\":");
        jcs::write_str(&mut out, &self.recorded_at);
        out.extend_from_slice(b",\"redactions\":[");
        for (i, r) in self.redactions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"path\":");
            jcs::write_str(&mut out, &r.path);
            out.extend_from_slice(b",\"rule\":");
            jcs::write_str(&mut out, &r.rule);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"resource\":");
        opt(&mut out, &self.resource);
        out.extend_from_slice(b",\"seq\":");
        jcs::write_u64(&mut out, self.seq);
        out.extend_from_slice(b",\"tenant_id\":");
        jcs::write_str(&mut out, &self.tenant_id);
        out.extend_from_slice(b",\"v\":");
        jcs::write_u64(&mut out, u64::from(self.v));
        out.push(b'}');
        out
    }
}

pub fn hash_bytes(canonical: &[u8]) -> Hash {
    Sha256::digest(canonical).into()
}

/// A record with its hash and signature, as stored and exported.
#[derive(Debug, Clone)]
pub struct SignedRecord {
    pub record: Record,
    /// The exact canonical bytes that were hashed.
    pub canonical: Vec<u8>,
    pub hash: Hash,
    pub signature: [u8; 64],
}

impl SignedRecord {
    pub fn sign(record: Record, key: &SigningKey) -> SignedRecord {
        let mut s = SignedRecord::hashed(record);
        s.signature = key.sign(&s.hash).to_bytes();
        s
    }

    /// Canonical form and hash, not yet signed (signature all zero): a chain is hashed in
    /// order, its signatures can then be made in parallel with [`SignedRecord::sign_all`].
    pub fn hashed(record: Record) -> SignedRecord {
        let canonical = record.canonical();
        let hash = hash_bytes(&canonical);
        SignedRecord {
            record,
            canonical,
            hash,
            signature: [0; 64],
        }
    }

    /// Signs every record's hash, on two threads when there are enough to be worth it
    /// (signing is most of an append's CPU time).
    pub fn sign_all(records: &mut [SignedRecord], key: &SigningKey) {
        let sign = |part: &mut [SignedRecord]| {
            for s in part {
                s.signature = key.sign(&s.hash).to_bytes();
            }
        };
        if records.len() < 32 {
            return sign(records);
        }
        let (a, b) = records.split_at_mut(records.len() / 2);
        std::thread::scope(|scope| {
            scope.spawn(|| sign(a));
            sign(b);
        });
    }
}

/// Verifies a record signature over its hash with `verify_strict`.
pub fn verify_signature(public: &VerifyingKey, hash: &Hash, signature: &[u8; 64]) -> bool {
    public
        .verify_strict(hash, &Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signing_in_parallel_signs_each_record_as_alone() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let records: Vec<Record> = (0..40)
            .map(|i| {
                Record::seal(
                    Entry::new("decision", Actor::system()).payload(json!({"i": i})),
                    &SealAt {
                        seq: i,
                        ..at("00112233aabbccdd")
                    },
                )
            })
            .collect();
        let mut hashed: Vec<SignedRecord> =
            records.iter().cloned().map(SignedRecord::hashed).collect();
        SignedRecord::sign_all(&mut hashed, &key);
        for (r, h) in records.into_iter().zip(&hashed) {
            let one = SignedRecord::sign(r, &key);
            assert_eq!((one.hash, one.signature), (h.hash, h.signature));
            assert!(verify_signature(
                &key.verifying_key(),
                &h.hash,
                &h.signature
            ));
        }
    }

    fn at(key_id: &str) -> SealAt<'_> {
        SealAt {
            tenant_id: Uuid::nil(),
            seq: 0,
            recorded_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap(),
            prev_hash: GENESIS_PREV_HASH,
            key_id,
        }
    }

    #[test]
    fn canonical_form_has_every_field_sorted() {
        let r = Record::seal(
            Entry::new("decision", Actor::system()).payload(json!({"b": 1, "a": [true, null]})),
            &at("00112233aabbccdd"),
        );
        let text = String::from_utf8(r.canonical()).unwrap();
        assert_eq!(
            text,
            "{\"action\":null,\"actor\":{\"id\":\"charter\",\"type\":\"system\"},\"decision\":null,\
             \"gate\":null,\"initiative\":null,\"key_id\":\"00112233aabbccdd\",\"kind\":\"decision\",\
             \"on_behalf_of\":null,\"payload\":{\"a\":[true,null],\"b\":1},\
             \"prev_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\
             \"reason\":null,\"recorded_at\":\"2025-11-24T16:00:00.123Z\",\"redactions\":[],\
             \"resource\":null,\"seq\":0,\"tenant_id\":\"00000000-0000-0000-0000-000000000000\",\"v\":1}"
        );
        // Parsing the canonical text back and re-canonicalising is the identity, and the
        // hand-ordered writer agrees with a generic RFC 8785 implementation.
        let back: Record = serde_json::from_slice(&r.canonical()).unwrap();
        assert_eq!(back.canonical(), r.canonical());
        assert_eq!(serde_jcs::to_vec(&r).unwrap(), r.canonical());
        let mut e =
            Entry::new("k", Actor::agent(Uuid::nil())).payload(json!({"z": [1.5, "é"], "a": null}));
        e.reason = Some("quote \" and \\".into());
        e.on_behalf_of = Some("p".into());
        let r = Record::seal(e, &at("x"));
        assert_eq!(serde_jcs::to_vec(&r).unwrap(), r.canonical());
        // An API token's act names the token and the person it acts for.
        let e = Entry::new("k", Actor::api_token(Uuid::nil(), Uuid::max()));
        let r = Record::seal(e, &at("x"));
        assert_eq!(serde_jcs::to_vec(&r).unwrap(), r.canonical());
        let back: Record = serde_json::from_slice(&r.canonical()).unwrap();
        assert_eq!(back.actor, Actor::api_token(Uuid::nil(), Uuid::max()));
    }

    #[test]
    fn sealing_redacts_and_notes_it() {
        let mut e = Entry::new("decision", Actor::system())
            .payload(json!({"cmd": "curl -H 'Authorization: Bearer abcdefghijklmnop12345'"}));
        e.reason = Some("password=hunter2hunter2".into());
        let r = Record::seal(e, &at("k"));
        assert!(!serde_json::to_string(&r).unwrap().contains("hunter2"));
        assert!(
            !serde_json::to_string(&r)
                .unwrap()
                .contains("abcdefghijklmnop12345")
        );
        let paths: Vec<_> = r
            .redactions
            .iter()
            .map(|x| (x.path.as_str(), x.rule.as_str()))
            .collect();
        assert!(
            paths.contains(&("/payload/cmd", "bearer_token")),
            "{paths:?}"
        );
        assert!(paths.contains(&("/reason", "password")), "{paths:?}");
    }

    #[test]
    fn signatures_verify_strictly_and_bind_the_hash() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let s = SignedRecord::sign(
            Record::seal(Entry::new("x", Actor::system()), &at("k")),
            &key,
        );
        assert!(verify_signature(
            &key.verifying_key(),
            &s.hash,
            &s.signature
        ));
        let mut other = s.hash;
        other[0] ^= 1;
        assert!(!verify_signature(
            &key.verifying_key(),
            &other,
            &s.signature
        ));
        assert_eq!(s.hash, hash_bytes(&s.canonical));
    }
}
