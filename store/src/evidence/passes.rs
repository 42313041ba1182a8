//! The two passes over a bundle's range: `records.jsonl`, then `records.csv` with the
//! report's figures. Each page is written (and compressed) on a blocking thread while the
//! next page is read, so the database and the compression overlap on two cores.

use std::sync::{Arc, Mutex};

use charter_core::bundle::report::{self, Names, Stats};
use charter_core::bundle::writer::BundleWriter;
use charter_core::bundle::{self, Brief, Counts, Elided};
use sea_orm::QueryResult;

use super::bundle::{Scope, Sink};
use crate::ledger::append::to_hash;
use crate::{Result, StoreError, TenantTx};

/// Records read per query.
const PAGE: i64 = 5000;
/// Bytes gathered before they are handed to the sink.
const FLUSH_AT: usize = 1 << 20;

pub(super) type Writer = BundleWriter<Shared>;

/// The zip writer's output, drained into the sink between pages.
#[derive(Clone, Default)]
pub(super) struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("bundle buffer poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self, at_least: usize) -> Option<Vec<u8>> {
        let mut b = self.0.lock().ok()?;
        (b.len() >= at_least && !b.is_empty()).then(|| std::mem::take(&mut *b))
    }
}

pub(super) struct Drain<'a> {
    pub(super) buf: Shared,
    pub(super) sink: &'a mut dyn Sink,
    pub(super) bytes: u64,
}

impl Drain<'_> {
    pub(super) async fn drain(&mut self, at_least: usize) -> Result<()> {
        if let Some(b) = self.buf.take(at_least) {
            self.bytes += b.len() as u64;
            self.sink.put(b).await?;
        }
        Ok(())
    }
}

/// One page of the range: seq, hash, signature, and the body when it is in full.
pub(super) struct Row {
    seq: u64,
    hash: [u8; 32],
    signature: Vec<u8>,
    body: std::result::Result<String, Elided>,
}

pub(super) async fn page(tx: &TenantTx, scope: &Scope, from: u64, to: u64) -> Result<Vec<Row>> {
    let rows = tx
        .all(
            "SELECT seq, record_hash, signature,
                    CASE WHEN $4 OR charter_record_concerns(actor_type, actor_id, resource, record, $5, $6)
                         THEN record END AS body,
                    record IS NULL AS pruned
             FROM ledger_records WHERE tenant_id = $1 AND seq BETWEEN $2 AND $3
             ORDER BY seq LIMIT $7",
            vec![
                tx.tenant_id().into(),
                (from as i64).into(),
                (to as i64).into(),
                scope.all.into(),
                scope.agents.clone().into(),
                scope.resources.clone().into(),
                PAGE.into(),
            ],
        )
        .await?;
    rows.iter().map(row).collect()
}

fn row(r: &QueryResult) -> Result<Row> {
    let body: Option<String> = r.try_get("", "body")?;
    let pruned: bool = r.try_get("", "pruned")?;
    Ok(Row {
        seq: r.try_get::<i64>("", "seq")? as u64,
        hash: to_hash(&r.try_get::<Vec<u8>>("", "record_hash")?)?,
        signature: r.try_get("", "signature")?,
        body: match (body, pruned) {
            (_, true) => Err(Elided::Retention),
            (Some(b), false) => Ok(b),
            (None, false) => Err(Elided::Filter),
        },
    })
}

pub(super) fn io(e: std::io::Error) -> StoreError {
    StoreError::Internal(format!("writing the bundle: {e}"))
}

/// One pass over `a..=b`.
#[derive(Clone, Copy)]
pub(super) struct Pass<'a> {
    pub(super) tx: &'a TenantTx,
    pub(super) scope: &'a Scope,
    pub(super) a: u64,
    pub(super) b: u64,
}

type PageFn<S> = fn(&mut Writer, &mut S, &[Row]) -> Result<()>;

impl Pass<'_> {
    /// Hands each page to `write` (with the writer and the pass's state) on a blocking
    /// thread while the next page is read; drains the output and reports progress
    /// (`done_before` records of earlier passes) after each.
    pub(super) async fn run<S: Send + 'static>(
        self,
        mut w: Writer,
        mut state: S,
        out: &mut Drain<'_>,
        done_before: u64,
        write: PageFn<S>,
    ) -> Result<(Writer, S)> {
        let total = 2 * (self.b - self.a + 1);
        let mut rows = page(self.tx, self.scope, self.a, self.b).await?;
        while let Some(last) = rows.last().map(|r| r.seq) {
            let next = last + 1;
            let work = tokio::task::spawn_blocking(move || {
                let r = write(&mut w, &mut state, &rows);
                (w, state, r)
            });
            let fetch = async {
                if next <= self.b {
                    page(self.tx, self.scope, next, self.b).await
                } else {
                    Ok(Vec::new())
                }
            };
            let (done, fetched) = tokio::join!(work, fetch);
            let (w2, s2, written) =
                done.map_err(|e| StoreError::Internal(format!("writing the bundle: {e}")))?;
            (w, state) = (w2, s2);
            written?;
            out.drain(FLUSH_AT).await?;
            out.sink
                .progress(done_before + next - self.a, total)
                .await?;
            rows = fetched?;
        }
        Ok((w, state))
    }
}

/// A page of `records.jsonl`: full lines from the stored canonical bytes, elided lines.
pub(super) fn jsonl(w: &mut Writer, counts: &mut Counts, rows: &[Row]) -> Result<()> {
    for r in rows {
        let line = match &r.body {
            Ok(body) => {
                counts.full += 1;
                bundle::full_line(r.seq, &r.hash, &r.signature, body)
            }
            Err(why) => {
                match why {
                    Elided::Filter => counts.elided_filter += 1,
                    Elided::Retention => counts.elided_retention += 1,
                }
                bundle::elided_line(r.seq, &r.hash, *why)
            }
        };
        w.write(line.as_bytes()).map_err(io)?;
        counts.records += 1;
    }
    Ok(())
}

/// A page of `records.csv`, counted into the report's figures.
pub(super) fn csv(
    w: &mut Writer,
    (stats, names): &mut (Stats, Arc<Names>),
    rows: &[Row],
) -> Result<()> {
    for r in rows {
        let hash = hex::encode(r.hash);
        let line = match &r.body {
            Ok(body) => {
                let rec: Brief<'_> = serde_json::from_str(body).map_err(|e| {
                    StoreError::Internal(format!("stored record {} is unreadable: {e}", r.seq))
                })?;
                stats.add(&rec);
                report::csv_row(&rec, &hash, names)
            }
            Err(why) => {
                stats.add_elided(r.seq, *why);
                report::csv_elided_row(r.seq, &hash, *why)
            }
        };
        w.write(line.as_bytes()).map_err(io)?;
    }
    Ok(())
}
