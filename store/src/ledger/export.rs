//! Writing a self-contained export (format: `charter_core::ledger::export`).

use std::io::Write;

use charter_core::ledger::export::{
    CheckpointLine, ConsistencyLine, ElidedLine, FORMAT, FORMAT_VERSION, Header, InclusionLine,
    Line, line, record_line,
};
use charter_core::ledger::record::format_time;
use charter_core::ledger::{Actor, Entry};
use serde_json::json;
use uuid::Uuid;

use super::checkpoints::{self, between, issue};
use super::read::{consistency_proof, inclusion_proof, records_between};
use crate::{Result, StoreError, signing_keys, tenants};

/// Earlier checkpoints carried in one export, at most (the newest ones in the range).
const MAX_CHECKPOINTS: u64 = 1000;
const PAGE: u64 = 5000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub from_seq: u64,
    pub to_seq: u64,
    pub tree_size: u64,
    pub records: u64,
}

impl crate::handles::Ledger<'_> {
    /// Writes records `from..=to` (default: the whole log) with the keys, checkpoints and
    /// proofs that make the file verifiable offline. A fresh checkpoint is issued first so
    /// the export is covered by a signed checkpoint. The export itself is then recorded in
    /// the ledger.
    pub async fn export_ledger(
        self,
        tenant_id: Uuid,
        from: Option<u64>,
        to: Option<u64>,
        actor: Actor,
        out: &mut (impl Write + Send),
    ) -> Result<ExportSummary> {
        let tx = self.tenant_tx(tenant_id).await?;
        let final_cp = issue(&tx, self.0).await?;
        tx.commit().await?;

        // A fresh transaction sees the checkpoint; records below it never change.
        let tx = self.tenant_tx(tenant_id).await?;
        let n = final_cp.tree_size;
        let from = from.unwrap_or(0);
        let to = to.unwrap_or(n.saturating_sub(1));
        if n == 0 || from > to || to >= n {
            return Err(StoreError::Invalid(format!(
                "the range {from}..={to} is not within the log's {n} records"
            )));
        }
        let tenant = tenants::get(&tx).await?;
        let io = |e: std::io::Error| StoreError::Internal(format!("writing the export: {e}"));
        let mut emit = |l: &str| -> Result<()> {
            out.write_all(l.as_bytes()).map_err(io)?;
            out.write_all(b"\n").map_err(io)
        };
        emit(&line(&Line::Header(Header {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            tenant_id: tenant_id.to_string(),
            tenant_slug: tenant.slug.clone(),
            origin: checkpoints::origin(self.origin_prefix(), &tenant.slug),
            from_seq: from,
            to_seq: to,
            tree_size: n,
            exported_at: format_time(chrono::Utc::now()),
        })))?;
        for k in signing_keys::list_public(&tx).await? {
            emit(&line(&Line::Key(k.key_line())))?;
        }
        // Earlier checkpoints within the range, each with a consistency proof to the final.
        let earlier = between(&tx, from + 1, n - 1, MAX_CHECKPOINTS).await?;
        for cp in &earlier {
            emit(&line(&Line::Checkpoint(CheckpointLine {
                note: cp.note.clone(),
            })))?;
            let proof = consistency_proof(&tx, cp.tree_size, n).await?;
            emit(&line(&Line::Consistency(ConsistencyLine {
                from_size: cp.tree_size,
                to_size: n,
                proof: proof.iter().map(hex::encode).collect(),
            })))?;
        }
        emit(&line(&Line::Checkpoint(CheckpointLine {
            note: final_cp.note.clone(),
        })))?;

        let mut next = from;
        let mut count = 0u64;
        while next <= to {
            let page = records_between(&tx, next, to, PAGE).await?;
            let Some(last) = page.last() else { break };
            next = last.seq + 1;
            for r in &page {
                match &r.record {
                    Some(body) => emit(&record_line(body, &r.record_hash, &r.signature))?,
                    None => emit(&line(&Line::Elided(ElidedLine {
                        seq: r.seq,
                        hash: hex::encode(r.record_hash),
                    })))?,
                }
                count += 1;
            }
        }
        if from > 0 || to + 1 < n {
            let ends = if from == to {
                vec![from]
            } else {
                vec![from, to]
            };
            for seq in ends {
                let proof = inclusion_proof(&tx, seq, n).await?;
                emit(&line(&Line::Inclusion(InclusionLine {
                    seq,
                    tree_size: n,
                    proof: proof.iter().map(hex::encode).collect(),
                })))?;
            }
        }
        tx.commit().await?;
        out.flush().map_err(io)?;

        self.append(
            tenant_id,
            Entry::new("ledger.exported", actor).payload(json!({
                "from_seq": from, "to_seq": to, "tree_size": n, "records": count,
            })),
        )
        .await?;
        Ok(ExportSummary {
            from_seq: from,
            to_seq: to,
            tree_size: n,
            records: count,
        })
    }
}
