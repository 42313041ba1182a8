//! The ledger export format and its offline verifier.
//!
//! An export is JSON Lines, each line an object with a `type`:
//! `header` (first), `key` (the tenant's public keys with validity), `checkpoint` (signed
//! notes: the final one, of the whole log at export time, last), `consistency` (from each
//! earlier checkpoint to the final one), `record` (the records, in seq order), `inclusion`
//! (for a partial range: proofs of the first and last record in the final checkpoint).
//! `docs/ledger-format.md` specifies every byte; [`verify_export`] checks all of it with no
//! database and no network, in memory independent of the export's size.

use std::collections::HashMap;
use std::io::BufRead;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

pub use super::batch::failing_signatures;
use super::checkpoint::{Checkpoint, NoteError, open_note};
use super::merkle::{CompactTree, Hash, leaf_hash, verify_consistency, verify_inclusion};
use super::record::{GENESIS_PREV_HASH, Record, hash_bytes};
use crate::keys::key_id;

pub const FORMAT: &str = "charter-ledger-export";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub tenant_id: String,
    pub tenant_slug: String,
    /// The checkpoint origin of this tenant's log.
    pub origin: String,
    /// First and last seq of the exported records (inclusive).
    pub from_seq: u64,
    pub to_seq: u64,
    /// Size of the log at export time: the final checkpoint's tree size.
    pub tree_size: u64,
    pub exported_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLine {
    pub key_id: String,
    pub algorithm: String,
    /// Raw 32-byte Ed25519 public key, standard base64.
    pub public_key: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointLine {
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyLine {
    pub from_size: u64,
    pub to_size: u64,
    /// Hex hashes.
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionLine {
    pub seq: u64,
    pub tree_size: u64,
    pub proof: Vec<String>,
}

/// Every line type of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    Key(KeyLine),
    Checkpoint(CheckpointLine),
    Consistency(ConsistencyLine),
    Record(Box<RecordLine>),
    /// A record whose body retention removed: its place in the chain and the tree.
    Elided(ElidedLine),
    Inclusion(InclusionLine),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElidedLine {
    pub seq: u64,
    /// Hex record hash.
    pub hash: String,
}

/// A record line. The record is written last and in canonical form, so the line is
/// `{"type":"record","hash":…,"signature":…,"record":<JCS bytes>}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLine {
    /// Lowercase hex SHA-256 of the record's canonical bytes.
    pub hash: String,
    /// Standard base64 of the 64-byte Ed25519 signature of the 32-byte hash.
    pub signature: String,
    pub record: Record,
}

/// Writes one record line from its stored canonical bytes (no re-serialisation).
pub fn record_line(canonical: &str, hash: &Hash, signature: &[u8]) -> String {
    format!(
        "{{\"type\":\"record\",\"hash\":\"{}\",\"signature\":\"{}\",\"record\":{canonical}}}",
        hex::encode(hash),
        STANDARD.encode(signature)
    )
}

pub fn line(line: &Line) -> String {
    match serde_json::to_string(line) {
        Ok(s) => s,
        Err(e) => unreachable!("export lines always serialise: {e}"),
    }
}

/// What went wrong, precisely enough to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("line {line}: {message}")]
    Format { line: u64, message: String },
    #[error("seq {seq}: {message}")]
    Record { seq: u64, message: String },
    #[error("key {key_id}: {message}")]
    Key { key_id: String, message: String },
    #[error("checkpoint (size {size}): {message}")]
    Checkpoint { size: u64, message: String },
    #[error("kept checkpoint (size {size}): {message}")]
    Kept { size: u64, message: String },
    #[error("{0}")]
    Export(String),
}

#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// A public key the auditor trusts: the final checkpoint must be signed by it.
    pub pinned_key: Option<VerifyingKey>,
    /// A checkpoint the auditor kept earlier (signed note text).
    pub kept_checkpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub tenant_id: String,
    pub origin: String,
    pub from_seq: u64,
    pub to_seq: u64,
    pub records: u64,
    /// Of `records`, how many are only `{seq, hash}` (bodies removed by retention): their
    /// place is proven, their content is not in the export.
    pub elided: u64,
    pub tree_size: u64,
    pub root: Hash,
    pub checkpoints: usize,
    pub keys_pinned: bool,
    pub kept_checkpoint: Option<u64>,
}

pub(crate) struct Key {
    pub(crate) public: VerifyingKey,
    pub(crate) valid_from: DateTime<Utc>,
    pub(crate) valid_until: Option<DateTime<Utc>>,
}

/// Signatures are checked in batches of this many (batch verification is ~2.4× faster).
pub(crate) const BATCH: usize = 64;

pub(crate) struct Pending {
    pub(crate) seq: u64,
    pub(crate) hash: Hash,
    pub(crate) signature: Signature,
    pub(crate) key: VerifyingKey,
}

/// Verifies an export read line by line. Memory stays flat in the number of records.
pub fn verify_export(input: impl BufRead, opts: &VerifyOptions) -> Result<Summary, VerifyError> {
    let mut reader = LineReader {
        lines: input.lines(),
        n: 0,
    };
    let header = match reader.next()? {
        Some(l) => match serde_json::from_str::<Line>(&l) {
            Ok(Line::Header(h)) => h,
            _ => return Err(fmt_err(1, "the first line must be the export header")),
        },
        None => return Err(VerifyError::Export("the export is empty".into())),
    };
    if header.format != FORMAT || header.version != FORMAT_VERSION {
        return Err(fmt_err(
            1,
            &format!("unsupported format {} v{}", header.format, header.version),
        ));
    }
    if header.from_seq > header.to_seq || header.to_seq >= header.tree_size {
        return Err(fmt_err(1, "inconsistent seq range and tree size"));
    }
    let kept = match &opts.kept_checkpoint {
        Some(note) => {
            let cp = Checkpoint::parse_body(note_body(note)).map_err(|e| VerifyError::Kept {
                size: 0,
                message: e.to_string(),
            })?;
            if cp.origin != header.origin {
                return Err(VerifyError::Kept {
                    size: cp.size,
                    message: format!(
                        "it is for log `{}`, this export is of `{}`",
                        cp.origin, header.origin
                    ),
                });
            }
            Some((note.clone(), cp))
        }
        None => None,
    };

    let mut keys: HashMap<String, Key> = HashMap::new();
    let mut checkpoints: Vec<String> = Vec::new();
    let mut consistency: Vec<ConsistencyLine> = Vec::new();
    let mut inclusion: Vec<InclusionLine> = Vec::new();
    let full = header.from_seq == 0 && header.to_seq + 1 == header.tree_size;
    let mut tree = CompactTree::new();
    // Roots at the sizes the checkpoints in this export (and the kept one) need, when the
    // records cover them.
    let mut roots_at: HashMap<u64, Hash> = HashMap::new();
    let mut wanted_sizes: Vec<u64> = Vec::new();
    if let Some((_, cp)) = &kept {
        wanted_sizes.push(cp.size);
    }
    let mut expect_seq = header.from_seq;
    let mut prev_hash: Option<Hash> = (header.from_seq == 0).then_some(GENESIS_PREV_HASH);
    let mut first_hash: Option<Hash> = None;
    let mut last_hash: Option<Hash> = None;
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut records_started = false;
    let mut elided = 0u64;

    while let Some(text) = reader.next()? {
        if text.is_empty() {
            continue;
        }
        if text.starts_with("{\"type\":\"record\",") {
            records_started = true;
            let rec = match serde_json::from_str::<RawRecordLine>(&text) {
                Ok(raw) if raw.kind == "record" => RecordLine {
                    hash: raw.hash,
                    signature: raw.signature,
                    record: raw.record,
                },
                Ok(_) => return Err(fmt_err(reader.n, "not a record line")),
                Err(e) => {
                    return Err(VerifyError::Record {
                        seq: expect_seq,
                        message: format!("unreadable record line: {e}"),
                    });
                }
            };
            let seq = expect_seq;
            check_record(&header, &rec, seq, &mut prev_hash, &keys, &mut batch)?;
            if batch.len() >= BATCH {
                flush(&mut batch)?;
            }
            let hash = prev_hash.unwrap_or_default();
            let at = (header.from_seq == 0).then_some(&mut tree);
            place(
                hash,
                &mut first_hash,
                &mut last_hash,
                at,
                &wanted_sizes,
                &mut roots_at,
            );
            expect_seq += 1;
            continue;
        }
        let parsed: Line =
            serde_json::from_str(&text).map_err(|e| fmt_err(reader.n, &e.to_string()))?;
        match parsed {
            Line::Header(_) => return Err(fmt_err(reader.n, "a second header")),
            Line::Key(k) => {
                if records_started {
                    return Err(fmt_err(reader.n, "keys must come before the records"));
                }
                let (id, key) = parse_key(&k)?;
                keys.insert(id, key);
            }
            Line::Checkpoint(c) => {
                let size = Checkpoint::parse_body(note_body(&c.note))
                    .map(|cp| cp.size)
                    .map_err(|e| fmt_err(reader.n, &e.to_string()))?;
                if !records_started {
                    wanted_sizes.push(size);
                }
                checkpoints.push(c.note);
            }
            Line::Consistency(c) => consistency.push(c),
            Line::Inclusion(i) => inclusion.push(i),
            Line::Elided(e) => {
                records_started = true;
                elided += 1;
                if e.seq != expect_seq {
                    return Err(VerifyError::Record {
                        seq: expect_seq,
                        message: format!(
                            "found elided seq {} where seq {expect_seq} belongs",
                            e.seq
                        ),
                    });
                }
                let hash: Hash = hex::decode(&e.hash)
                    .ok()
                    .and_then(|h| h.try_into().ok())
                    .ok_or_else(|| fmt_err(reader.n, "an elided hash is not 32 bytes of hex"))?;
                // Its body is gone; the next record's prev_hash and the root still bind it.
                prev_hash = Some(hash);
                let at = (header.from_seq == 0).then_some(&mut tree);
                place(
                    hash,
                    &mut first_hash,
                    &mut last_hash,
                    at,
                    &wanted_sizes,
                    &mut roots_at,
                );
                expect_seq += 1;
            }
            Line::Record(_) => {
                return Err(fmt_err(
                    reader.n,
                    "record lines must start with {\"type\":\"record\",",
                ));
            }
        }
    }
    flush(&mut batch)?;

    if expect_seq != header.to_seq + 1 {
        return Err(VerifyError::Export(format!(
            "the header promises records {}..={}, the export ends after seq {} (records removed \
             from the end)",
            header.from_seq,
            header.to_seq,
            expect_seq.saturating_sub(1)
        )));
    }

    // The final checkpoint: the last checkpoint line, of the whole log.
    let final_note = checkpoints
        .last()
        .ok_or_else(|| VerifyError::Export("the export carries no checkpoint".into()))?;
    let (final_cp, _) = open_checkpoint(final_note, &keys, opts.pinned_key.as_ref())?;
    if final_cp.origin != header.origin {
        return Err(VerifyError::Checkpoint {
            size: final_cp.size,
            message: format!(
                "origin `{}` is not the export's `{}`",
                final_cp.origin, header.origin
            ),
        });
    }
    if final_cp.size != header.tree_size {
        return Err(VerifyError::Checkpoint {
            size: final_cp.size,
            message: format!("the header says the log has {} records", header.tree_size),
        });
    }
    let root = final_cp.root;
    if full {
        if tree.root() != root {
            return Err(VerifyError::Checkpoint {
                size: final_cp.size,
                message: "the Merkle root of the exported records does not match the signed \
                          checkpoint (records were added, removed or changed)"
                    .into(),
            });
        }
    } else {
        // A partial range: the first and last record are proven in the final checkpoint;
        // the hash chain binds every record between them.
        for (seq, hash) in [(header.from_seq, first_hash), (header.to_seq, last_hash)] {
            let hash = hash.ok_or_else(|| VerifyError::Export("no records".into()))?;
            let proof = inclusion
                .iter()
                .find(|p| p.seq == seq && p.tree_size == final_cp.size)
                .ok_or_else(|| VerifyError::Record {
                    seq,
                    message: "no inclusion proof in the final checkpoint".into(),
                })?;
            let hashes =
                decode_hashes(&proof.proof).map_err(|m| VerifyError::Record { seq, message: m })?;
            verify_inclusion(seq, final_cp.size, &leaf_hash(&hash), &hashes, &root).map_err(
                |e| VerifyError::Record {
                    seq,
                    message: format!("not included in the signed checkpoint: {e}"),
                },
            )?;
        }
    }

    // Every other checkpoint in the export: signed, and consistent with the final one.
    for note in &checkpoints[..checkpoints.len() - 1] {
        let (cp, _) = open_checkpoint(note, &keys, None)?;
        check_consistent(&cp, &final_cp, &roots_at, &consistency).map_err(|m| {
            VerifyError::Checkpoint {
                size: cp.size,
                message: m,
            }
        })?;
    }

    // The auditor's own kept checkpoint.
    let kept_size = match kept {
        Some((note, cp)) => {
            if cp.size > final_cp.size {
                return Err(VerifyError::Kept {
                    size: cp.size,
                    message: format!(
                        "the log now has only {} records: it was truncated below a checkpoint \
                         you kept",
                        final_cp.size
                    ),
                });
            }
            let key = opts.pinned_key.as_ref();
            open_checkpoint(&note, &keys, key).map_err(|e| VerifyError::Kept {
                size: cp.size,
                message: e.to_string(),
            })?;
            check_consistent(&cp, &final_cp, &roots_at, &consistency).map_err(|m| {
                VerifyError::Kept {
                    size: cp.size,
                    message: m,
                }
            })?;
            Some(cp.size)
        }
        None => None,
    };

    Ok(Summary {
        tenant_id: header.tenant_id,
        origin: header.origin,
        from_seq: header.from_seq,
        to_seq: header.to_seq,
        records: expect_seq - header.from_seq,
        elided,
        tree_size: final_cp.size,
        root,
        checkpoints: checkpoints.len(),
        keys_pinned: opts.pinned_key.is_some(),
        kept_checkpoint: kept_size,
    })
}

/// Notes a record's hash as the first/last of the export and, for an export from seq 0,
/// folds it into the tree, keeping the roots at the sizes checkpoints need.
fn place(
    hash: Hash,
    first: &mut Option<Hash>,
    last: &mut Option<Hash>,
    tree: Option<&mut CompactTree>,
    wanted: &[u64],
    roots_at: &mut HashMap<u64, Hash>,
) {
    first.get_or_insert(hash);
    *last = Some(hash);
    if let Some(tree) = tree {
        tree.push_leaf(leaf_hash(&hash));
        if wanted.contains(&tree.size()) {
            roots_at.insert(tree.size(), tree.root());
        }
    }
}

struct LineReader<R> {
    lines: std::io::Lines<R>,
    /// 1-based number of the line last read.
    n: u64,
}

impl<R: BufRead> LineReader<R> {
    fn next(&mut self) -> Result<Option<String>, VerifyError> {
        self.n += 1;
        match self.lines.next() {
            None => Ok(None),
            Some(Ok(l)) => Ok(Some(l)),
            Some(Err(e)) => Err(fmt_err(self.n, &format!("cannot read: {e}"))),
        }
    }
}

/// The signed text of a note: everything before the blank line, with its newline.
pub(crate) fn note_body(note: &str) -> &str {
    match note.find("\n\n") {
        Some(i) => &note[..i + 1],
        None => note,
    }
}

/// A record line read directly (no buffering through the tagged enum).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecordLine {
    #[serde(rename = "type")]
    kind: String,
    hash: String,
    signature: String,
    record: Record,
}

fn fmt_err(line: u64, message: &str) -> VerifyError {
    VerifyError::Format {
        line,
        message: message.to_string(),
    }
}

pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub(crate) fn parse_key(k: &KeyLine) -> Result<(String, Key), VerifyError> {
    let err = |m: &str| VerifyError::Key {
        key_id: k.key_id.clone(),
        message: m.to_string(),
    };
    if k.algorithm != "ed25519" {
        return Err(err("unsupported algorithm"));
    }
    let bytes = STANDARD
        .decode(&k.public_key)
        .map_err(|_| err("public key is not base64"))?;
    let public = crate::keys::verifying_key(&bytes).map_err(|e| err(&e.to_string()))?;
    if public.is_weak() || !public.to_edwards().is_torsion_free() {
        return Err(err("weak public key (small order or torsion component)"));
    }
    if key_id(&public) != k.key_id {
        return Err(err(
            "the key id does not match its public key (the key was swapped)",
        ));
    }
    let valid_from = parse_time(&k.valid_from).ok_or_else(|| err("bad valid_from"))?;
    let valid_until = match &k.valid_until {
        Some(t) => Some(parse_time(t).ok_or_else(|| err("bad valid_until"))?),
        None => None,
    };
    Ok((
        k.key_id.clone(),
        Key {
            public,
            valid_from,
            valid_until,
        },
    ))
}

fn check_record(
    header: &Header,
    line: &RecordLine,
    seq: u64,
    prev_hash: &mut Option<Hash>,
    keys: &HashMap<String, Key>,
    batch: &mut Vec<Pending>,
) -> Result<(), VerifyError> {
    let err = |m: String| VerifyError::Record { seq, message: m };
    let r = &line.record;
    if r.seq != seq {
        return Err(err(if r.seq > seq {
            format!(
                "found seq {} where seq {seq} belongs: record {seq} is missing or records are out of order",
                r.seq
            )
        } else {
            format!(
                "found seq {} again after seq {}: a record was inserted or duplicated",
                r.seq,
                seq - 1
            )
        }));
    }
    if r.tenant_id != header.tenant_id {
        return Err(err(format!(
            "belongs to tenant {}, not {}",
            r.tenant_id, header.tenant_id
        )));
    }
    let canonical = r.canonical();
    let hash = hash_bytes(&canonical);
    if hex::encode(hash) != line.hash {
        return Err(err(
            "the record's content does not match its hash (the record was edited)".into(),
        ));
    }
    if let Some(prev) = prev_hash
        && r.prev_hash != hex::encode(*prev)
    {
        return Err(err(format!(
            "prev_hash does not match the hash of seq {} (the chain is broken: records were \
             removed, inserted or reordered)",
            seq.wrapping_sub(1)
        )));
    }
    let key = keys.get(&r.key_id).ok_or_else(|| {
        err(format!(
            "signed with key {} which the export does not carry",
            r.key_id
        ))
    })?;
    let at = parse_time(&r.recorded_at).ok_or_else(|| err("bad recorded_at".into()))?;
    if at < key.valid_from || key.valid_until.is_some_and(|u| at > u) {
        return Err(err(format!(
            "recorded at {} outside the validity of key {}",
            r.recorded_at, r.key_id
        )));
    }
    let sig_bytes: [u8; 64] = STANDARD
        .decode(&line.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err("the signature is not 64 bytes of base64".into()))?;
    batch.push(Pending {
        seq,
        hash,
        signature: Signature::from_bytes(&sig_bytes),
        key: key.public,
    });
    *prev_hash = Some(hash);
    Ok(())
}

/// Verifies the pending signatures as one batch; on failure finds the first bad one with
/// `verify_strict` so the message names its seq.
pub(crate) fn flush(batch: &mut Vec<Pending>) -> Result<(), VerifyError> {
    let items: Vec<(Hash, Signature, VerifyingKey)> =
        batch.iter().map(|p| (p.hash, p.signature, p.key)).collect();
    if let Some(&i) = failing_signatures(&items).first() {
        return Err(VerifyError::Record {
            seq: batch[i].seq,
            message: "the signature does not verify (signature replaced, or record and \
                      hash both edited)"
                .into(),
        });
    }
    batch.clear();
    Ok(())
}

pub(crate) fn open_checkpoint(
    note: &str,
    keys: &HashMap<String, Key>,
    pinned: Option<&VerifyingKey>,
) -> Result<(Checkpoint, VerifyingKey), VerifyError> {
    let origin = note.split('\n').next().unwrap_or_default();
    let size = Checkpoint::parse_body(note_body(note)).map_or(0, |c| c.size);
    let err = |m: String| VerifyError::Checkpoint { size, message: m };
    let candidates: Vec<VerifyingKey> = match pinned {
        Some(k) => vec![*k],
        None => keys.values().map(|k| k.public).collect(),
    };
    let mut last = NoteError::NoSignature(origin.to_string());
    for key in candidates {
        match open_note(note, origin, &key) {
            Ok(text) => {
                let cp = Checkpoint::parse_body(text).map_err(|e| err(e.to_string()))?;
                return Ok((cp, key));
            }
            Err(e) => last = e,
        }
    }
    Err(err(match (pinned, last) {
        (Some(_), NoteError::NoSignature(_)) => "not signed by the pinned key".into(),
        (_, NoteError::BadSignature) => {
            "the signature does not verify (the checkpoint was edited or forged)".into()
        }
        (_, e) => e.to_string(),
    }))
}

/// `earlier` must be a prefix of `final_cp`: by the root computed from the records when
/// the export covers it, else by a consistency proof carried in the export.
fn check_consistent(
    earlier: &Checkpoint,
    final_cp: &Checkpoint,
    roots_at: &HashMap<u64, Hash>,
    proofs: &[ConsistencyLine],
) -> Result<(), String> {
    if earlier.size > final_cp.size {
        return Err(format!(
            "larger than the final checkpoint ({})",
            final_cp.size
        ));
    }
    if let Some(root) = roots_at.get(&earlier.size) {
        return if *root == earlier.root {
            Ok(())
        } else {
            Err(
                "its root differs from the root of the exported records at that size: the log \
                 was rewritten or forked after this checkpoint was issued"
                    .into(),
            )
        };
    }
    if earlier.size == final_cp.size {
        return if earlier.root == final_cp.root {
            Ok(())
        } else {
            Err("same size as the final checkpoint but a different root: the log was forked".into())
        };
    }
    let proof = proofs
        .iter()
        .find(|p| p.from_size == earlier.size && p.to_size == final_cp.size)
        .ok_or_else(|| {
            format!(
                "the export carries no consistency proof from size {} (export the whole log, or a \
                 range that includes seq {})",
                earlier.size,
                earlier.size.saturating_sub(1)
            )
        })?;
    let hashes = decode_hashes(&proof.proof)?;
    verify_consistency(
        earlier.size,
        final_cp.size,
        &earlier.root,
        &final_cp.root,
        &hashes,
    )
    .map_err(|e| {
        format!("not consistent with the final checkpoint ({e}): the log was rewritten or forked")
    })
}

pub(crate) fn decode_hashes(hex_hashes: &[String]) -> Result<Vec<Hash>, String> {
    hex_hashes
        .iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("proof hash {h:?} is not 32 bytes of hex"))
        })
        .collect()
}
