//! Group commit: concurrent appends to one tenant share a transaction.
//!
//! Each caller queues its work and waits. Whoever finds the tenant's queue without a
//! leader spawns one (a task, so a caller that gives up cannot abort a batch in flight);
//! the leader takes everything queued, runs it in one transaction — each piece of work in
//! its own savepoint, so one failure does not sink the others — appends the resulting
//! records, commits, and only then answers each caller. Across processes, the head row lock
//! serialises batches, so sequence numbers stay gap-free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use charter_core::ledger::Entry;
use futures::future::BoxFuture;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::Receipt;
use super::append::write;
use crate::{Result, Store, StoreError, TenantTx};

/// Work that changes state and produces the record describing it, inside the batch's
/// transaction (for example: reserve budget, then record the decision).
pub type Work = Box<dyn for<'a> FnOnce(&'a TenantTx) -> BoxFuture<'a, Result<Entry>> + Send>;

enum Job {
    Entry(Box<Entry>),
    Work(Work),
}

struct Pending {
    job: Job,
    reply: oneshot::Sender<Result<Receipt>>,
}

#[derive(Default)]
struct TenantQueue {
    pending: Mutex<Vec<Pending>>,
    leader: Arc<tokio::sync::Mutex<()>>,
}

/// Per-process queues, one per tenant that appended.
#[derive(Default)]
pub struct LedgerWriter {
    queues: Mutex<HashMap<Uuid, Arc<TenantQueue>>>,
}

/// The most records one transaction carries.
const MAX_BATCH: usize = 256;

fn poisoned() -> StoreError {
    StoreError::Internal("ledger queue lock poisoned".into())
}

impl LedgerWriter {
    fn queue(&self, tenant: Uuid) -> Result<Arc<TenantQueue>> {
        let mut queues = self.queues.lock().map_err(|_| poisoned())?;
        Ok(queues.entry(tenant).or_default().clone())
    }
}

impl Store {
    /// Appends one record; returns its receipt once it is durable.
    pub async fn append(&self, tenant: Uuid, entry: Entry) -> Result<Receipt> {
        self.submit(tenant, Job::Entry(Box::new(entry))).await
    }

    /// Runs `work` in a group-commit transaction and appends the record it returns, in the
    /// same transaction: the state change and its record commit together or not at all.
    /// `T` is whatever else the work wants to hand back.
    pub async fn append_with<T, F>(&self, tenant: Uuid, work: F) -> Result<(Receipt, T)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a TenantTx) -> BoxFuture<'a, Result<(Entry, T)>> + Send + 'static,
    {
        let (out_tx, out_rx) = oneshot::channel();
        let job: Work = Box::new(move |tx: &TenantTx| {
            Box::pin(async move {
                let (entry, out) = work(tx).await?;
                let _ = out_tx.send(out);
                Ok(entry)
            })
        });
        let receipt = self.submit(tenant, Job::Work(job)).await?;
        let out = out_rx
            .await
            .map_err(|_| StoreError::Internal("work output lost".into()))?;
        Ok((receipt, out))
    }

    async fn submit(&self, tenant: Uuid, job: Job) -> Result<Receipt> {
        let queue = self.ledger_writer().queue(tenant)?;
        let (reply, answer) = oneshot::channel();
        queue
            .pending
            .lock()
            .map_err(|_| poisoned())?
            .push(Pending { job, reply });
        if let Ok(guard) = queue.leader.clone().try_lock_owned() {
            let store = self.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut guard = Some(guard);
                loop {
                    drain(&store, tenant, &queue).await;
                    drop(guard.take());
                    // A caller may have queued after the last drain and before the release,
                    // and found the leader busy: take the lead again for it.
                    let more = queue.pending.lock().map(|p| !p.is_empty()).unwrap_or(false);
                    if !more {
                        break;
                    }
                    match queue.leader.clone().try_lock_owned() {
                        Ok(g) => guard = Some(g),
                        Err(_) => break, // another leader took over
                    }
                }
            });
        }
        answer
            .await
            .map_err(|_| StoreError::Internal("the ledger writer stopped".into()))?
    }
}

async fn drain(store: &Store, tenant: Uuid, queue: &TenantQueue) {
    loop {
        let batch: Vec<Pending> = match queue.pending.lock() {
            Ok(mut p) => {
                let n = p.len().min(MAX_BATCH);
                p.drain(..n).collect()
            }
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        run_batch(store, tenant, batch).await;
    }
}

async fn run_batch(store: &Store, tenant: Uuid, batch: Vec<Pending>) {
    let mut replies: Vec<oneshot::Sender<Result<Receipt>>> = Vec::with_capacity(batch.len());
    let outcome: Result<Vec<Receipt>> = async {
        let tx = store.tenant_tx(tenant).await?;
        // Take the head lock first: batches of other processes wait here, and work runs
        // against a log no one else is extending.
        let locked = super::append::lock(&tx).await?;
        let mut entries = Vec::with_capacity(batch.len());
        for pending in batch {
            match pending.job {
                Job::Entry(e) => {
                    entries.push(*e);
                    replies.push(pending.reply);
                }
                Job::Work(work) => {
                    let sp = tx.savepoint().await?;
                    match work(&sp).await {
                        Ok(e) => {
                            sp.commit().await?;
                            entries.push(e);
                            replies.push(pending.reply);
                        }
                        Err(err) => {
                            sp.rollback().await?;
                            let _ = pending.reply.send(Err(err));
                        }
                    }
                }
            }
        }
        let receipts = write(&tx, store.master_key(), &locked, entries).await?;
        tx.commit().await?;
        Ok(receipts)
    }
    .await;
    match outcome {
        Ok(receipts) => {
            for (reply, receipt) in replies.into_iter().zip(receipts) {
                let _ = reply.send(Ok(receipt));
            }
        }
        Err(e) => {
            tracing::warn!(%tenant, error = %e, "ledger batch failed; nothing of it was committed");
            for reply in replies {
                let _ = reply.send(Err(e.fan_out()));
            }
        }
    }
}
