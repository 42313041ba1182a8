//! Group commit: concurrent appends share transactions, across tenants too.
//!
//! Each caller queues its work on a lane (chosen by tenant) and waits. Whoever finds the
//! lane without a leader spawns one — a task, so a caller that gives up cannot abort a
//! batch in flight. The leader takes everything queued and runs it in one transaction:
//! tenant by tenant, in ascending tenant id (so concurrent batches of several processes
//! lock heads in the same order and cannot deadlock), it switches the transaction's tenant
//! context and locks that tenant's head (one statement), runs each piece of state-changing
//! work in its own savepoint (one failure does not sink the others), and appends the
//! resulting records. Work of a [`Grouped`] kind is handed over as a whole run of
//! consecutive jobs, so it can read and write set-wise (one statement for the run instead
//! of one per job), and may leave its writes to the statement that appends the records.
//! After the one commit it answers every caller. Row-level security stays in force
//! throughout: every statement runs with exactly the tenant it concerns.
//!
//! Across processes the head row locks serialise writers of a tenant, so sequence numbers
//! stay gap-free.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, hash_map::DefaultHasher};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use charter_core::ledger::Entry;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::Receipt;
use super::append::{enter, execute_deferred, write};
use crate::{Result, Store, StoreError, TenantTx};

/// Work that changes state and produces the record describing it, inside the batch's
/// transaction (for example: reserve budget, then record the decision).
pub type Work = Box<dyn for<'a> FnOnce(&'a TenantTx) -> BoxFuture<'a, Result<Entry>> + Send>;

/// What a grouped run answers: per item, its record and output, or why it was refused;
/// and the run's writes, if it leaves them to the writer (see [`Deferred`]).
pub(crate) struct GroupRun<O> {
    pub results: Vec<Result<(Entry, O)>>,
    pub deferred: Option<Deferred>,
}

pub(crate) type GroupResults<O> = Result<GroupRun<O>>;

/// Writes a grouped run hands back instead of executing them: when nothing else of the
/// tenant's batch runs after it, they travel in the statement that appends the records,
/// one round trip fewer per tenant; otherwise they are executed before the next job reads.
/// `sql` is a comma-separated list of data-modifying CTEs (`name AS (INSERT …)`, names
/// starting `d_`) in which `$1` is the tenant and `$2`, `$3`, … are `values`.
pub(crate) struct Deferred {
    pub sql: &'static str,
    pub values: Vec<sea_orm::Value>,
}

/// Work that runs best together with its peers: every consecutive job of one kind queued
/// for a tenant goes to one [`Grouped::run`], inside one savepoint.
pub(crate) trait Grouped: Send + Sized + 'static {
    type Output: Send + 'static;

    /// Whether the run needs a savepoint of its own. A kind whose writes cannot fail on
    /// what callers send (only on a database failure, which fails the batch anyway) may
    /// go without and save two round trips per tenant.
    const SAVEPOINT: bool = true;

    /// Runs `items` in order and returns one result per item. Each `Ok` carries the record
    /// to append, and the `k`-th `Ok` gets sequence number `first_seq + k`. An `Err` for an
    /// item must leave nothing of that item written; an `Err` for the whole run rolls the
    /// run back and reaches every item's caller. Writes may be left [`Deferred`].
    fn run<'a>(
        store: &'a Store,
        tx: &'a TenantTx,
        first_seq: u64,
        items: Vec<Self>,
    ) -> BoxFuture<'a, GroupResults<Self::Output>>;
}

type AnyBox = Box<dyn Any + Send>;
type AnyResults = GroupResults<AnyBox>;
type ErasedRun = for<'a> fn(&'a Store, &'a TenantTx, u64, Vec<AnyBox>) -> BoxFuture<'a, AnyResults>;

struct GroupJob {
    kind: TypeId,
    savepoint: bool,
    run: ErasedRun,
    item: AnyBox,
    output: oneshot::Sender<AnyBox>,
}

/// [`Grouped::run`] over type-erased items (a run only ever holds items of one kind).
fn erased_run<'a, G: Grouped>(
    store: &'a Store,
    tx: &'a TenantTx,
    first_seq: u64,
    items: Vec<AnyBox>,
) -> BoxFuture<'a, AnyResults> {
    Box::pin(async move {
        let items = items
            .into_iter()
            .map(|i| i.downcast::<G>().map(|b| *b))
            .collect::<std::result::Result<Vec<G>, _>>()
            .map_err(|_| StoreError::Internal("a grouped run mixed kinds".into()))?;
        let run = G::run(store, tx, first_seq, items).await?;
        Ok(GroupRun {
            results: run
                .results
                .into_iter()
                .map(|r| r.map(|(e, o)| (e, Box::new(o) as AnyBox)))
                .collect(),
            deferred: run.deferred,
        })
    })
}

enum Job {
    Entry(Box<Entry>),
    Work(Work),
    Grouped(GroupJob),
}

struct Pending {
    tenant: Uuid,
    job: Job,
    reply: oneshot::Sender<Result<Receipt>>,
}

#[derive(Default)]
struct Lane {
    pending: Mutex<Vec<Pending>>,
    leader: Arc<tokio::sync::Mutex<()>>,
}

/// Independent lanes run their batches in parallel; a tenant always uses the same lane,
/// so its records keep their submission order within a process.
const LANES: usize = 4;

/// The most records one transaction carries.
const MAX_BATCH: usize = 512;

pub struct LedgerWriter {
    lanes: Vec<Arc<Lane>>,
}

/// Transactions committed by the group commit of this process, and the records they
/// carried (their ratio is the mean batch size; the benchmark prints it).
static COMMITS: AtomicU64 = AtomicU64::new(0);
static COMMITTED_RECORDS: AtomicU64 = AtomicU64::new(0);

/// `(transactions, records)` committed by this process's group commit so far.
pub fn commit_counts() -> (u64, u64) {
    (
        COMMITS.load(Ordering::Relaxed),
        COMMITTED_RECORDS.load(Ordering::Relaxed),
    )
}

impl Default for LedgerWriter {
    fn default() -> Self {
        LedgerWriter {
            lanes: (0..LANES).map(|_| Arc::default()).collect(),
        }
    }
}

fn poisoned() -> StoreError {
    StoreError::Internal("ledger queue lock poisoned".into())
}

impl LedgerWriter {
    fn lane(&self, tenant: Uuid) -> Arc<Lane> {
        let mut h = DefaultHasher::new();
        tenant.hash(&mut h);
        self.lanes[(h.finish() as usize) % self.lanes.len()].clone()
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

    /// Queues `item` to run with the other queued items of its kind (see [`Grouped`]) and
    /// appends the record it produces in the same transaction.
    pub(crate) async fn append_grouped<G: Grouped>(
        &self,
        tenant: Uuid,
        item: G,
    ) -> Result<(Receipt, G::Output)> {
        let (output, out_rx) = oneshot::channel();
        let job = Job::Grouped(GroupJob {
            kind: TypeId::of::<G>(),
            savepoint: G::SAVEPOINT,
            run: erased_run::<G>,
            item: Box::new(item),
            output,
        });
        let receipt = self.submit(tenant, job).await?;
        let out = out_rx
            .await
            .map_err(|_| StoreError::Internal("work output lost".into()))?
            .downcast::<G::Output>()
            .map_err(|_| StoreError::Internal("grouped output of another kind".into()))?;
        Ok((receipt, *out))
    }

    async fn submit(&self, tenant: Uuid, job: Job) -> Result<Receipt> {
        let lane = self.ledger_writer().lane(tenant);
        let (reply, answer) = oneshot::channel();
        lane.pending
            .lock()
            .map_err(|_| poisoned())?
            .push(Pending { tenant, job, reply });
        if let Ok(guard) = lane.leader.clone().try_lock_owned() {
            let store = self.clone();
            self.runtime().spawn(async move {
                let mut guard = Some(guard);
                loop {
                    // A panic in a batch (a bug) must not leave callers waiting: those of
                    // the batch hear of it as their replies are dropped, and everyone
                    // still queued is answered here, at once.
                    let drained = std::panic::AssertUnwindSafe(drain(&store, &lane))
                        .catch_unwind()
                        .await;
                    if drained.is_err() {
                        tracing::error!("the ledger writer panicked; queued requests are refused");
                        answer_queued(&lane);
                    }
                    drop(guard.take());
                    // A caller may have queued after the last drain and before the release,
                    // and found the leader busy: take the lead again for it.
                    let more = lane.pending.lock().map(|p| !p.is_empty()).unwrap_or(false);
                    if !more {
                        break;
                    }
                    match lane.leader.clone().try_lock_owned() {
                        Ok(g) => guard = Some(g),
                        Err(_) => break, // another leader took over
                    }
                }
            });
        }
        // A reply dropped unanswered means the batch failed before reaching this job:
        // nothing of it was committed, and a retry may succeed.
        answer.await.map_err(|_| {
            StoreError::Unavailable(
                "the ledger batch failed before this request; nothing of it was committed".into(),
            )
        })?
    }
}

/// Refuses everything queued on `lane` (nothing of it ran).
fn answer_queued(lane: &Lane) {
    let queued: Vec<Pending> = match lane.pending.lock() {
        Ok(mut p) => p.drain(..).collect(),
        Err(p) => p.into_inner().drain(..).collect(),
    };
    for p in queued {
        let _ = p.reply.send(Err(StoreError::Unavailable(
            "the ledger writer failed before this request; nothing of it was committed".into(),
        )));
    }
}

async fn drain(store: &Store, lane: &Lane) {
    loop {
        // Let callers whose answers just went out queue their next append first, so
        // batches stay large instead of alternating large and tiny.
        tokio::task::yield_now().await;
        let batch: Vec<Pending> = match lane.pending.lock() {
            Ok(mut p) => {
                let n = p.len().min(MAX_BATCH);
                p.drain(..n).collect()
            }
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        run_batch(store, batch).await;
    }
}

type Reply = oneshot::Sender<Result<Receipt>>;

async fn run_batch(store: &Store, batch: Vec<Pending>) {
    // Group by tenant, in ascending tenant id (the lock order), keeping submission order.
    let mut groups: BTreeMap<Uuid, Vec<(Job, Reply)>> = BTreeMap::new();
    for p in batch {
        groups.entry(p.tenant).or_default().push((p.job, p.reply));
    }
    // With several tenants in the batch, each tenant's work runs in a savepoint of its own:
    // whatever fails in it (a tenant that does not exist, a statement the database refuses)
    // is rolled back and answered to that tenant's callers alone, and the other tenants'
    // work commits. One tenant alone needs no savepoint: its failure is the batch's.
    let isolate = groups.len() > 1;
    let mut answered: Vec<(Reply, Receipt)> = Vec::new();
    let outcome: Result<()> = async {
        let mut tx = TenantTx::begin_unentered(store.db()).await?;
        for (tenant, jobs) in groups {
            let mut jobs = jobs.into_iter();
            let mut waiting: Vec<Reply> = Vec::new();
            let mut group = match isolate {
                true => Some(tx.savepoint().await?),
                false => None,
            };
            let done = match group.as_mut() {
                Some(g) => run_tenant(store, g, tenant, &mut jobs, &mut waiting).await,
                None => run_tenant(store, &mut tx, tenant, &mut jobs, &mut waiting).await,
            }
            .and_then(|receipts| match receipts.len() == waiting.len() {
                true => Ok(receipts),
                false => Err(StoreError::Internal(format!(
                    "{} receipts for {} records",
                    receipts.len(),
                    waiting.len()
                ))),
            });
            // Replies still waiting here belong to jobs that never ran or to records that
            // were not written: they hear why, and the other tenants go on.
            let fail =
                |e: &StoreError, waiting: Vec<Reply>, jobs: std::vec::IntoIter<(Job, Reply)>| {
                    for reply in waiting.into_iter().chain(jobs.map(|(_, r)| r)) {
                        let _ = reply.send(Err(e.fan_out()));
                    }
                };
            match (done, group) {
                (Ok(receipts), group) => {
                    if let Some(g) = group {
                        g.commit().await?;
                    }
                    answered.extend(waiting.into_iter().zip(receipts));
                }
                (Err(e), Some(g)) => {
                    g.rollback().await?;
                    log_group_failure(tenant, &e);
                    fail(&e, waiting, jobs);
                }
                (Err(e), None) => {
                    fail(&e, waiting, jobs);
                    return Err(e);
                }
            }
            tx.entered(tenant);
        }
        tx.commit().await
    }
    .await;
    match outcome {
        Ok(()) => {
            COMMITS.fetch_add(1, Ordering::Relaxed);
            COMMITTED_RECORDS.fetch_add(answered.len() as u64, Ordering::Relaxed);
            for (reply, receipt) in answered {
                let _ = reply.send(Ok(receipt));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "ledger batch failed; nothing of it was committed");
            for (reply, _) in answered {
                let _ = reply.send(Err(e.fan_out()));
            }
        }
    }
}

/// A tenant's part of a batch failed and was rolled back; its callers were told why. A
/// tenant that does not exist is the callers' affair, anything else is worth a line.
fn log_group_failure(tenant: Uuid, e: &StoreError) {
    match e {
        StoreError::NotFound(_) => {
            tracing::debug!(%tenant, error = %e, "ledger work for no tenant")
        }
        _ => {
            tracing::warn!(%tenant, error = %e, "a tenant's ledger work failed; the rest of the batch went on")
        }
    }
}

/// One tenant's jobs of a batch: enter the tenant (locking its head), run the work, append
/// the records. Returns the receipts of the records written, in order; the callers of those
/// records are the last ones pushed onto `waiting`. Jobs not yet taken from `jobs` when it
/// fails never ran.
async fn run_tenant(
    store: &Store,
    tx: &mut TenantTx,
    tenant: Uuid,
    jobs: &mut std::vec::IntoIter<(Job, Reply)>,
    waiting: &mut Vec<Reply>,
) -> Result<Vec<Receipt>> {
    // Entering the tenant locks its head first, which makes other processes' batches for
    // this tenant wait, so the work below runs against a log no one else is extending.
    let locked = enter(tx, tenant).await?;
    let mut entries = Vec::with_capacity(jobs.len());
    let mut run: Vec<(GroupJob, Reply)> = Vec::new();
    // A grouped run's writes not yet executed: the next job that reads state must see
    // them, so they go first; or they ride along with the records.
    let mut deferred: Option<Deferred> = None;
    for (job, reply) in jobs.by_ref() {
        if !run.is_empty() && !matches!(&job, Job::Grouped(g) if g.kind == run[0].0.kind) {
            let first_seq = locked.tree_size + entries.len() as u64;
            let taken = std::mem::take(&mut run);
            match run_group(store, tx, first_seq, taken, &mut entries, waiting).await {
                Ok(d) => deferred = d,
                Err(e) => {
                    waiting.push(reply);
                    return Err(e);
                }
            }
        }
        if !matches!(job, Job::Entry(_))
            && run.is_empty()
            && let Some(d) = deferred.take()
            && let Err(e) = execute_deferred(tx, d).await
        {
            waiting.push(reply);
            return Err(e);
        }
        match job {
            Job::Grouped(g) => run.push((g, reply)),
            Job::Entry(e) => {
                entries.push(*e);
                waiting.push(reply);
            }
            Job::Work(work) => {
                let mut sp = match tx.savepoint().await {
                    Ok(sp) => sp,
                    Err(e) => {
                        waiting.push(reply);
                        return Err(e);
                    }
                };
                sp.set_next_seq(locked.tree_size + entries.len() as u64);
                match work(&sp).await {
                    Ok(e) => {
                        waiting.push(reply);
                        sp.commit().await?;
                        entries.push(e);
                    }
                    Err(err) => {
                        sp.rollback().await?;
                        let _ = reply.send(Err(err));
                    }
                }
            }
        }
    }
    if !run.is_empty() {
        let first_seq = locked.tree_size + entries.len() as u64;
        deferred = run_group(store, tx, first_seq, run, &mut entries, waiting).await?;
    }
    write(tx, store.master_key(), &locked, entries, deferred).await
}

/// Runs one run of grouped jobs in a savepoint; the records of those that succeed join
/// `entries` (and their callers `waiting`), the others are answered now. Only a failure of
/// the savepoint itself, or of a run without one, fails the batch. Returns the run's
/// deferred writes (a run in a savepoint executes them there, before it is released).
async fn run_group(
    store: &Store,
    tx: &TenantTx,
    first_seq: u64,
    run: Vec<(GroupJob, Reply)>,
    entries: &mut Vec<Entry>,
    waiting: &mut Vec<Reply>,
) -> Result<Option<Deferred>> {
    let (erased, savepoint) = (run[0].0.run, run[0].0.savepoint);
    let n = run.len();
    let (items, waiters): (Vec<AnyBox>, Vec<(oneshot::Sender<AnyBox>, Reply)>) = run
        .into_iter()
        .map(|(g, r)| (g.item, (g.output, r)))
        .unzip();
    let sp = match savepoint {
        true => Some(tx.savepoint().await?),
        false => None,
    };
    let results = erased(store, sp.as_ref().unwrap_or(tx), first_seq, items)
        .await
        .and_then(|r| match r.results.len() == n {
            true => Ok(r),
            false => Err(StoreError::Internal(format!(
                "a grouped run answered {} of {n} items",
                r.results.len()
            ))),
        });
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            let Some(sp) = sp else {
                // Nothing to roll back to: the batch fails, and these callers hear why.
                waiting.extend(waiters.into_iter().map(|(_, reply)| reply));
                return Err(e);
            };
            sp.rollback().await?;
            for (_, reply) in waiters {
                let _ = reply.send(Err(e.fan_out()));
            }
            return Ok(None);
        }
    };
    let GroupRun {
        results,
        mut deferred,
    } = results;
    if let Some(sp) = sp {
        if let Some(d) = deferred.take() {
            execute_deferred(&sp, d).await?;
        }
        sp.commit().await?;
    }
    for (result, (output, reply)) in results.into_iter().zip(waiters) {
        match result {
            Ok((entry, out)) => {
                let _ = output.send(out);
                entries.push(entry);
                waiting.push(reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }
    Ok(deferred)
}
