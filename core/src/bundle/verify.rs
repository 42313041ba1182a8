//! `charter verify bundle.zip`: checks a bundle offline and names the first failure.
//! Memory stays flat in the number of records (the zip's directory aside).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Seek};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::files::{Hashing, check_hash, cp_err, file_err, read_small, record_error, utf8};
use super::*;
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::export::{
    BATCH, Key, Pending, decode_hashes, flush, note_body, open_checkpoint, parse_key, parse_time,
};
use crate::ledger::merkle::{CompactTree, Hash, leaf_hash, verify_consistency};
use crate::ledger::record::hash_bytes;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a readable bundle: {0}")]
    Zip(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("manifest.json: {0}")]
    Manifest(String),
    #[error("records.jsonl, seq {seq}: {message}")]
    Record { seq: u64, message: String },
    #[error("{0}")]
    Checkpoint(String),
    #[error("kept checkpoint (size {size}): {message}")]
    Kept { size: u64, message: String },
}

#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// A public key the auditor trusts: the manifest and the end checkpoint must be signed
    /// by it.
    pub pinned_key: Option<VerifyingKey>,
    /// A checkpoint the auditor kept earlier (signed note text).
    pub kept_checkpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    pub tenant_slug: String,
    pub purpose: Purpose,
    pub system: Option<String>,
    pub from_seq: u64,
    pub to_seq: u64,
    pub counts: Counts,
    pub tree_size: u64,
    pub root: Hash,
    pub files: usize,
    pub keys_pinned: bool,
    pub kept_checkpoint: Option<u64>,
}

pub fn verify_bundle<R: Read + Seek>(
    input: R,
    opts: &VerifyOptions,
) -> Result<BundleSummary, BundleError> {
    let mut zip = ZipArchive::new(input).map_err(|e| BundleError::Zip(e.to_string()))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| BundleError::Zip(e.to_string()))?;
    let distinct: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    // The archive's index keeps one entry per name: duplicates must be asked for, and the
    // local headers checked against the directory, or another copy could be shown.
    if zip.has_duplicate_names() || distinct.len() != names.len() {
        return Err(BundleError::Zip("a file name appears twice".into()));
    }
    zip.validate_header_consistency()
        .map_err(|e| BundleError::Zip(format!("local headers disagree with the directory: {e}")))?;

    // The manifest and its signature.
    let none = HashMap::new();
    let manifest_bytes = read_small(&mut zip, MANIFEST, &none)?;
    let sig_text = read_small(&mut zip, MANIFEST_SIG, &none)?;
    let m: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BundleError::Manifest(format!("unreadable: {e}")))?;
    if m.format != FORMAT || m.version != FORMAT_VERSION {
        return Err(BundleError::Manifest(format!(
            "unsupported format {} v{}",
            m.format, m.version
        )));
    }
    let listed: HashMap<&str, &FileEntry> = m.files.iter().map(|f| (f.path.as_str(), f)).collect();
    if listed.len() != m.files.len() {
        return Err(BundleError::Manifest("a file is listed twice".into()));
    }
    for name in &names {
        if name != MANIFEST && name != MANIFEST_SIG && !listed.contains_key(name.as_str()) {
            return Err(file_err(
                name,
                "is not listed in the manifest (a file was added)",
            ));
        }
    }
    for f in &m.files {
        if !distinct.contains(f.path.as_str()) {
            return Err(file_err(&f.path, "is listed in the manifest but missing"));
        }
    }

    // Keys, then the manifest's signature by the tenant key it names.
    let keys_file: Keys = serde_json::from_slice(&read_small(&mut zip, KEYS, &listed)?)
        .map_err(|e| file_err(KEYS, format!("unreadable: {e}")))?;
    if keys_file.tenant_id != m.tenant.id || keys_file.origin != m.origin {
        return Err(file_err(KEYS, "belongs to another tenant or log"));
    }
    let mut keys: HashMap<String, Key> = HashMap::new();
    for k in &keys_file.keys {
        let (id, key) = parse_key(k).map_err(|e| file_err(KEYS, e.to_string()))?;
        keys.insert(id, key);
    }
    let signer = keys.get(&m.key_id).ok_or_else(|| {
        BundleError::Manifest(format!(
            "signed by key {} which keys.json does not carry",
            m.key_id
        ))
    })?;
    if opts.pinned_key.is_some_and(|p| p != signer.public) {
        return Err(BundleError::Manifest(
            "not signed by the pinned key (a bundle made or re-signed by someone else)".into(),
        ));
    }
    let made =
        parse_time(&m.created_at).ok_or_else(|| BundleError::Manifest("bad created_at".into()))?;
    if made < signer.valid_from || signer.valid_until.is_some_and(|u| made > u) {
        return Err(BundleError::Manifest(format!(
            "made at {} outside the validity of key {}",
            m.created_at, m.key_id
        )));
    }
    let sig: [u8; 64] = STANDARD
        .decode(String::from_utf8_lossy(&sig_text).trim_end_matches('\n'))
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| file_err(MANIFEST_SIG, "not 64 bytes of base64"))?;
    signer
        .public
        .verify_strict(&manifest_bytes, &Signature::from_bytes(&sig))
        .map_err(|_| {
            file_err(
                MANIFEST_SIG,
                "the manifest's signature does not verify (the manifest was edited, or signed by \
                 another key)",
            )
        })?;

    // The end checkpoint, of the whole log.
    let pinned = opts.pinned_key.as_ref();
    let end_note = utf8(
        END_CHECKPOINT,
        read_small(&mut zip, END_CHECKPOINT, &listed)?,
    )?;
    let (end, end_key) =
        open_checkpoint(&end_note, &keys, pinned).map_err(|e| cp_err("end checkpoint", e))?;
    // The manifest is signed with the key of the end checkpoint, both made at export time:
    // a key added to keys.json cannot sign a bundle of this log.
    if end_key != signer.public {
        return Err(BundleError::Manifest(
            "not signed by the key that signed the end checkpoint (the manifest was re-signed)"
                .into(),
        ));
    }
    if end.origin != m.origin {
        return Err(BundleError::Checkpoint(format!(
            "end checkpoint: it is of log `{}`, the bundle of `{}`",
            end.origin, m.origin
        )));
    }
    if end.size != m.tree_size || m.checkpoints.end.tree_size != end.size {
        return Err(BundleError::Checkpoint(format!(
            "end checkpoint: size {} is not the manifest's {}",
            end.size, m.tree_size
        )));
    }

    // The range proof: the frontier left of the range.
    let range: RangeProof = serde_json::from_slice(&read_small(&mut zip, RANGE_PROOF, &listed)?)
        .map_err(|e| file_err(RANGE_PROOF, format!("unreadable: {e}")))?;
    let (a, b) = (m.range.from_seq, m.range.to_seq);
    if range.from_seq != a
        || range.to_seq != b
        || range.tree_size != end.size
        || a > b
        || b >= end.size
    {
        return Err(file_err(RANGE_PROOF, "does not match the manifest's range"));
    }
    let left = decode_hashes(&range.left).map_err(|e| file_err(RANGE_PROOF, e))?;
    let mut tree = CompactTree::from_frontier(a, &left)
        .ok_or_else(|| file_err(RANGE_PROOF, "the left frontier has the wrong shape"))?;

    // The auditor's kept checkpoint, when the bundle's leaves reach its size.
    let kept = match &opts.kept_checkpoint {
        Some(note) => {
            let cp = Checkpoint::parse_body(note_body(note)).map_err(|e| BundleError::Kept {
                size: 0,
                message: e.to_string(),
            })?;
            let kept_err = |message: String| BundleError::Kept {
                size: cp.size,
                message,
            };
            if cp.origin != m.origin {
                return Err(kept_err(format!(
                    "it is of log `{}`, the bundle of `{}`",
                    cp.origin, m.origin
                )));
            }
            // The auditor fetched it, so any of the tenant's keys may have signed it; but
            // unless a key is pinned, it must be the key that signed this bundle — else a
            // key added to keys.json could sign a forged continuation of the log.
            let (_, key) =
                open_checkpoint(note, &keys, None).map_err(|e| kept_err(e.to_string()))?;
            if pinned.is_none() && key != end_key {
                return Err(kept_err(
                    "signed by another key than this bundle's end checkpoint: pin the tenant's \
                     key with --key (its keys were rotated since)"
                        .into(),
                ));
            }
            if cp.size > end.size {
                return Err(kept_err(format!(
                    "the log now has only {} records: it was truncated below a checkpoint you kept",
                    end.size
                )));
            }
            Some(cp)
        }
        None => None,
    };
    let mut kept_root: Option<Hash> = kept.as_ref().filter(|cp| cp.size == a).map(|_| tree.root());

    // The records, hashed as they are read.
    let entry = listed
        .get(RECORDS)
        .ok_or_else(|| file_err(RECORDS, "is not listed in the manifest"))?;
    let file = zip
        .by_name(RECORDS)
        .map_err(|_| file_err(RECORDS, "missing from the bundle"))?;
    let mut reader = BufReader::with_capacity(
        1 << 16,
        Hashing {
            inner: file,
            hasher: Sha256::new(),
            size: 0,
        },
    );
    let scope = ScopeCheck::new(&m);
    let mut counts = Counts::default();
    let mut prev: Option<Hash> = None;
    let mut seq = a;
    let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| BundleError::Record {
                seq,
                message: format!("unreadable: {e}"),
            })?;
        if n == 0 {
            break;
        }
        let rec_err = |message: String| BundleError::Record { seq, message };
        if seq > b {
            return Err(rec_err(format!(
                "a record after the range's last seq {b} (records were added)"
            )));
        }
        let l: RecordsLine = serde_json::from_str(line.trim_end_matches('\n'))
            .map_err(|e| rec_err(format!("unreadable line: {e}")))?;
        if l.seq != seq {
            return Err(rec_err(if l.seq > seq {
                format!(
                    "found seq {} where seq {seq} belongs: record {seq} was removed",
                    l.seq
                )
            } else {
                format!(
                    "found seq {} again: a record was inserted or duplicated",
                    l.seq
                )
            }));
        }
        let hash: Hash = hex::decode(l.hash.as_bytes())
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| rec_err("the hash is not 32 bytes of hex".into()))?;
        match (l.record, l.signature, l.elided) {
            (Some(raw), Some(sig), None) => {
                // The bytes as written are the signed bytes: hashed as they are, never
                // re-serialised.
                if hash_bytes(raw.get().as_bytes()) != hash {
                    return Err(rec_err(
                        "the record's content does not match its hash (the record was edited)"
                            .into(),
                    ));
                }
                let r: Brief<'_> = serde_json::from_str(raw.get())
                    .map_err(|e| rec_err(format!("unreadable record: {e}")))?;
                if r.v != crate::ledger::record::FORMAT_VERSION
                    || r.seq != seq
                    || r.tenant_id != m.tenant.id
                {
                    return Err(rec_err(
                        "the record's version, seq or tenant is not its line's".into(),
                    ));
                }
                if prev.is_some_and(|p| r.prev_hash != hex::encode(p)) {
                    return Err(rec_err(format!(
                        "prev_hash is not the hash of seq {} (the chain is broken: a record was replaced or its hash changed)",
                        seq - 1
                    )));
                }
                if !scope.concerns(&r) {
                    return Err(rec_err(
                        "in full, but it does not concern the bundle's scope".into(),
                    ));
                }
                let key = keys.get(r.key_id.as_ref()).ok_or_else(|| {
                    rec_err(format!(
                        "signed with key {} which keys.json does not carry",
                        r.key_id
                    ))
                })?;
                let at =
                    parse_time(&r.recorded_at).ok_or_else(|| rec_err("bad recorded_at".into()))?;
                if at < key.valid_from || key.valid_until.is_some_and(|u| at > u) {
                    return Err(rec_err(format!(
                        "recorded outside the validity of key {}",
                        r.key_id
                    )));
                }
                let sig: [u8; 64] = STANDARD
                    .decode(sig.as_bytes())
                    .ok()
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| rec_err("the signature is not 64 bytes of base64".into()))?;
                batch.push(Pending {
                    seq,
                    hash,
                    signature: Signature::from_bytes(&sig),
                    key: key.public,
                });
                if batch.len() >= BATCH {
                    flush(&mut batch).map_err(record_error)?;
                }
                counts.full += 1;
            }
            (None, None, Some(why)) => match why {
                Elided::Filter => counts.elided_filter += 1,
                Elided::Retention => counts.elided_retention += 1,
            },
            _ => {
                return Err(rec_err(
                    "a line is either a full record (signature and record) or elided".into(),
                ));
            }
        }
        prev = Some(hash);
        tree.push_leaf(leaf_hash(&hash));
        if let Some(cp) = &kept
            && cp.size == tree.size()
        {
            kept_root = Some(tree.root());
        }
        seq += 1;
    }
    flush(&mut batch).map_err(record_error)?;
    if seq != b + 1 {
        return Err(BundleError::Record {
            seq,
            message: format!(
                "the range ends at seq {b}, the records stop before (records were removed from the end)"
            ),
        });
    }
    let (size, digest) = {
        let h = reader.into_inner();
        (h.size, h.hasher.finalize().into())
    };
    counts.records = counts.full + counts.elided_filter + counts.elided_retention;
    if counts != m.counts {
        return Err(BundleError::Manifest(format!(
            "the counts do not match the records ({} full, {} elided by the filter, {} by retention)",
            counts.full, counts.elided_filter, counts.elided_retention
        )));
    }

    // The range's root at b + 1, proven into the end checkpoint.
    let right = decode_hashes(&range.right).map_err(|e| file_err(RANGE_PROOF, e))?;
    let proven = if b + 1 == end.size {
        (tree.root() == end.root)
            .then_some(())
            .ok_or_else(|| "the root differs".to_string())
    } else {
        verify_consistency(b + 1, end.size, &tree.root(), &end.root, &right)
            .map_err(|e| e.to_string())
    };
    proven.map_err(|e| {
        BundleError::Checkpoint(format!(
            "the records are not the log's seq {a} to {b} under the signed end checkpoint ({e}): \
             records were added, removed or changed, or the checkpoint is of another log"
        ))
    })?;

    // Record by record and the root said what is wrong when something is; the file's
    // hash catches anything else (a reordered key, a blank line).
    check_hash(RECORDS, entry, size, &digest)?;

    // The start checkpoint and its consistency with the end.
    if let Some(start_ref) = &m.checkpoints.start {
        let note = utf8(
            START_CHECKPOINT,
            read_small(&mut zip, START_CHECKPOINT, &listed)?,
        )?;
        let (start, _) =
            open_checkpoint(&note, &keys, None).map_err(|e| cp_err("start checkpoint", e))?;
        if start.origin != m.origin || start.size != start_ref.tree_size || start.size > a {
            return Err(BundleError::Checkpoint(
                "start checkpoint: not the manifest's".into(),
            ));
        }
        let c: Consistency = serde_json::from_slice(&read_small(&mut zip, CONSISTENCY, &listed)?)
            .map_err(|e| file_err(CONSISTENCY, format!("unreadable: {e}")))?;
        let proof = decode_hashes(&c.proof).map_err(|e| file_err(CONSISTENCY, e))?;
        if c.from_size != start.size || c.to_size != end.size {
            return Err(file_err(
                CONSISTENCY,
                "is not from the start to the end checkpoint",
            ));
        }
        verify_consistency(start.size, end.size, &start.root, &end.root, &proof).map_err(|e| {
            BundleError::Checkpoint(format!(
                "the start checkpoint is not consistent with the end checkpoint ({e}): the log was rewritten or forked"
            ))
        })?;
        if kept.as_ref().is_some_and(|k| k.size == start.size) {
            kept_root = Some(start.root);
        }
    }
    let kept_size = match &kept {
        Some(cp) => {
            let root = if cp.size == end.size {
                Some(end.root)
            } else {
                kept_root
            };
            match root {
                Some(r) if r == cp.root => Some(cp.size),
                Some(_) => {
                    return Err(BundleError::Kept {
                        size: cp.size,
                        message: "the log at that size is not the one you kept: it was rewritten or forked".into(),
                    });
                }
                None => {
                    return Err(BundleError::Kept {
                        size: cp.size,
                        message: format!(
                            "the bundle carries no proof from size {} (its records cover sizes {a} to {}); \
                             make a bundle whose range includes seq {}",
                            cp.size,
                            b + 1,
                            cp.size.saturating_sub(1)
                        ),
                    });
                }
            }
        }
        None => None,
    };

    // Every other listed file: hash only.
    for f in &m.files {
        if [
            RECORDS,
            KEYS,
            END_CHECKPOINT,
            RANGE_PROOF,
            START_CHECKPOINT,
            CONSISTENCY,
        ]
        .contains(&f.path.as_str())
        {
            continue;
        }
        let file = zip
            .by_name(&f.path)
            .map_err(|_| file_err(&f.path, "missing from the bundle"))?;
        let mut h = Hashing {
            inner: file,
            hasher: Sha256::new(),
            size: 0,
        };
        std::io::copy(&mut h, &mut std::io::sink())
            .map_err(|e| file_err(&f.path, format!("unreadable: {e}")))?;
        check_hash(&f.path, f, h.size, &h.hasher.finalize().into())?;
    }
    if m.checkpoints.start.is_none()
        && let Some(extra) = [START_CHECKPOINT, CONSISTENCY]
            .into_iter()
            .find(|f| distinct.contains(f))
    {
        return Err(file_err(
            extra,
            "present, but the manifest names no start checkpoint",
        ));
    }

    Ok(BundleSummary {
        tenant_slug: m.tenant.slug.clone(),
        purpose: m.purpose,
        system: m
            .scope
            .system
            .as_ref()
            .and_then(|s| s.get("name"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
        from_seq: a,
        to_seq: b,
        counts,
        tree_size: end.size,
        root: end.root,
        files: names.len(),
        keys_pinned: opts.pinned_key.is_some(),
        kept_checkpoint: kept_size,
    })
}
