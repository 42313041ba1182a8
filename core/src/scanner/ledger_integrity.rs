//! `ledger_integrity`: the log is what Charter signed. Read in seq order from where the
//! last scan stopped, each stored row must hold the record its hash was made from, link
//! to the record before it, carry a valid signature by the tenant's key, follow the
//! previous seq without a gap, and show in its queryable columns exactly what its signed
//! record says (otherwise a list could show ALLOWED for a record that says BLOCKED). The
//! Merkle tree over the hashes read so far must give every signed checkpoint's root.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::json;

use super::Finding;
use crate::ledger::export::failing_signatures;
use crate::ledger::merkle::{CompactTree, Hash, leaf_hash};
use crate::ledger::record::{Record, hash_bytes};
use crate::status::Severity;

pub const RULE: &str = "ledger_integrity";
pub const VERSION: u32 = 1;

/// The queryable columns of a stored row (lists and filters read these).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub kind: String,
    pub actor_type: String,
    pub actor_id: String,
    pub on_behalf_of: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub initiative: Option<String>,
    pub gate: Option<String>,
    pub decision: Option<String>,
    pub reason: Option<String>,
}

impl Columns {
    /// The columns a record's fields give.
    pub fn of(r: &Record) -> Columns {
        Columns {
            kind: r.kind.clone(),
            actor_type: r.actor.kind.as_str().to_string(),
            actor_id: r.actor.id.clone(),
            on_behalf_of: r.on_behalf_of.clone(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            initiative: r.initiative.clone(),
            gate: r.gate.clone(),
            decision: r.decision.clone(),
            reason: r.reason.clone(),
        }
    }

    /// The names of the columns that differ from `other`.
    pub fn differences(&self, other: &Columns) -> Vec<&'static str> {
        let pairs: [(&'static str, bool); 10] = [
            ("kind", self.kind == other.kind),
            ("actor_type", self.actor_type == other.actor_type),
            ("actor_id", self.actor_id == other.actor_id),
            ("on_behalf_of", self.on_behalf_of == other.on_behalf_of),
            ("action", self.action == other.action),
            ("resource", self.resource == other.resource),
            ("initiative", self.initiative == other.initiative),
            ("gate", self.gate == other.gate),
            ("decision", self.decision == other.decision),
            ("reason", self.reason == other.reason),
        ];
        pairs
            .iter()
            .filter(|(_, same)| !same)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// A ledger row as stored.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub seq: u64,
    pub columns: Columns,
    /// The canonical record text; None once retention removed it (the hash, signature and
    /// the record's place in the chain and the tree are still checked).
    pub record: Option<String>,
    pub hash: Hash,
    pub signature: [u8; 64],
    pub key_id: String,
}

/// A signed checkpoint as stored: the tree size and root it claims.
#[derive(Debug, Clone)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: Hash,
    /// Whether its note verifies with the tenant's key (checked by the reader).
    pub signature_valid: bool,
}

/// Where a scan stands: resumable from what the last one kept.
#[derive(Debug, Clone)]
pub struct Position {
    pub next_seq: u64,
    pub prev_hash: Hash,
    pub tree: CompactTree,
}

impl Position {
    pub fn start() -> Position {
        Position {
            next_seq: 0,
            prev_hash: crate::ledger::record::GENESIS_PREV_HASH,
            tree: CompactTree::new(),
        }
    }
}

/// Signatures are checked in batches of this many.
const BATCH: usize = 256;

/// A scan over rows in seq order.
pub struct Scan {
    tenant_id: String,
    at: Position,
    keys: HashMap<String, VerifyingKey>,
    checkpoints: HashMap<u64, StoredCheckpoint>,
    pending: Vec<(u64, Hash, Signature, VerifyingKey)>,
    findings: Vec<Finding>,
    read: u64,
}

fn finding(seq: u64, what: &str, details: serde_json::Value) -> Finding {
    Finding {
        rule: RULE,
        version: VERSION,
        severity: Severity::Critical,
        key: format!("{RULE}:{what}:{seq}"),
        subject: json!({"type": "ledger_record", "seq": seq}),
        details,
    }
}

impl Scan {
    /// Resumes at `at`; `checkpoints` are those whose size the rows to come will reach.
    pub fn resume(
        tenant_id: String,
        at: Position,
        keys: HashMap<String, VerifyingKey>,
        checkpoints: Vec<StoredCheckpoint>,
    ) -> Scan {
        let mut scan = Scan {
            tenant_id,
            keys,
            checkpoints: HashMap::new(),
            pending: Vec::new(),
            findings: Vec::new(),
            read: 0,
            at,
        };
        for cp in checkpoints {
            if !cp.signature_valid {
                scan.findings.push(Finding {
                    key: format!("{RULE}:checkpoint_signature:{}", cp.tree_size),
                    subject: json!({"type": "checkpoint", "tree_size": cp.tree_size}),
                    ..finding(
                        cp.tree_size,
                        "",
                        json!({"problem": "the checkpoint's signature does not verify with the tenant's key"}),
                    )
                });
            }
            if cp.tree_size == scan.at.tree.size() {
                scan.check_root(&cp);
            } else {
                scan.checkpoints.insert(cp.tree_size, cp);
            }
        }
        scan
    }

    fn check_root(&mut self, cp: &StoredCheckpoint) {
        if cp.tree_size == 0 || self.at.tree.root() == cp.root {
            return;
        }
        self.findings.push(Finding {
            key: format!("{RULE}:checkpoint_root:{}", cp.tree_size),
            subject: json!({"type": "checkpoint", "tree_size": cp.tree_size}),
            ..finding(
                cp.tree_size,
                "",
                json!({"problem": "the Merkle root of the stored records does not match this signed checkpoint (records were changed, removed or inserted, or the checkpoint is inconsistent with earlier ones)",
                       "tree_size": cp.tree_size}),
            )
        });
    }

    /// Checks the next stored row; returns its record when it can be read (the other
    /// rules look at its payload without parsing it again).
    pub fn push(&mut self, row: &StoredRow) -> Option<Record> {
        self.read += 1;
        let seq = row.seq;
        if seq != self.at.next_seq {
            let (from, to) = (self.at.next_seq, seq);
            self.findings.push(finding(
                from,
                "seq_gap",
                json!({"problem": if to > from { "records are missing: the log skips from one seq to a later one" } else { "a seq appears again or out of order" },
                       "expected_seq": from, "found_seq": to}),
            ));
        }
        let record = match row.record.as_deref().map(|text| {
            if hash_bytes(text.as_bytes()) != row.hash {
                self.findings.push(finding(
                    seq,
                    "edited",
                    json!({"problem": "the record's text does not match its hash: the record was edited after it was signed"}),
                ));
            }
            serde_json::from_str::<Record>(text)
        }) {
            None => None,
            Some(Ok(r)) => {
                self.check_record(row, &r);
                Some(r)
            }
            Some(Err(e)) => {
                self.findings.push(finding(
                    seq,
                    "unreadable",
                    json!({"problem": format!("the stored record cannot be read: {e}")}),
                ));
                None
            }
        };
        match self.keys.get(&row.key_id) {
            Some(k) => {
                self.pending
                    .push((seq, row.hash, Signature::from_bytes(&row.signature), *k));
            }
            None => self.findings.push(finding(
                seq,
                "unknown_key",
                json!({"problem": format!("signed with key {}, which is not one of the tenant's", row.key_id)}),
            )),
        }
        self.at.next_seq = seq + 1;
        self.at.prev_hash = row.hash;
        self.at.tree.push_leaf(leaf_hash(&row.hash));
        if let Some(cp) = self.checkpoints.remove(&self.at.tree.size()) {
            self.check_root(&cp);
        }
        record
    }

    fn check_record(&mut self, row: &StoredRow, r: &Record) {
        let seq = row.seq;
        if r.seq != seq || r.tenant_id != self.tenant_id {
            self.findings.push(finding(
                seq,
                "misplaced",
                json!({"problem": "the record names another position or tenant than the row it is stored in",
                       "record_seq": r.seq}),
            ));
        }
        if r.prev_hash != hex::encode(self.at.prev_hash) {
            self.findings.push(finding(
                seq,
                "chain",
                json!({"problem": "the record does not link to the hash of the record before it: the chain is broken (records removed, inserted or reordered)"}),
            ));
        }
        if r.key_id != row.key_id {
            self.findings.push(finding(
                seq,
                "key_column",
                json!({"problem": "the row's key_id column differs from the key its record names"}),
            ));
        }
        let differ = Columns::of(r).differences(&row.columns);
        if !differ.is_empty() {
            self.findings.push(finding(
                seq,
                "columns",
                json!({"problem": "the row's queryable columns differ from its signed record; lists show the signed record", "columns": differ}),
            ));
        }
    }

    /// The signatures of the rows pushed since the last call, to verify apart (on another
    /// thread while the next rows are read, say); [`SignatureBatch::verify`] gives the
    /// findings. Those not taken are verified by [`Scan::finish`].
    pub fn take_signatures(&mut self) -> SignatureBatch {
        SignatureBatch(std::mem::take(&mut self.pending))
    }

    /// Ends the scan: where it stands, the rows read, and what it found.
    pub fn finish(mut self) -> (Position, u64, Vec<Finding>) {
        let bad = self.take_signatures().verify();
        self.findings.extend(bad);
        (self.at, self.read, self.findings)
    }
}

/// Signatures of stored rows awaiting verification.
pub struct SignatureBatch(Vec<(u64, Hash, Signature, VerifyingKey)>);

impl SignatureBatch {
    /// A finding for each signature that does not verify (checked in batches).
    pub fn verify(self) -> Vec<Finding> {
        let mut out = Vec::new();
        for chunk in self.0.chunks(BATCH) {
            let items: Vec<(Hash, Signature, VerifyingKey)> =
                chunk.iter().map(|(_, h, s, k)| (*h, *s, *k)).collect();
            for i in failing_signatures(&items) {
                out.push(finding(
                    chunk[i].0,
                    "signature",
                    json!({"problem": "the signature does not verify with the tenant's key (signature replaced, or record and hash both edited)"}),
                ));
            }
        }
        out
    }
}
