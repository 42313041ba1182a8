//! The ledger: entries with filters and keyset pages, one entry with its inclusion proof
//! into a signed checkpoint, the checkpoints, consistency proofs.

use actix_web::{HttpResponse, get, web};
use charter_store::engine::views::LedgerFilter;
use charter_store::ledger::Receipt;
use charter_store::ledger::checkpoints::StoredCheckpoint;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::Errors;
use super::extract::{Authorized, Query};
use super::permissions::Read;
use crate::AppState;
use crate::error::ApiError;

pub fn services(cfg: &mut ServiceConfig) {
    cfg.service(entries)
        .service(entry)
        .service(checkpoints)
        .service(consistency);
}

/// Where a change is recorded in the tenant's ledger.
#[derive(Serialize, ToSchema)]
pub struct Recorded {
    /// The record's position in the log.
    pub seq: u64,
    /// SHA-256 of the record's canonical form, hex.
    pub record_hash: String,
    /// Ed25519 signature over the record hash, hex.
    pub signature: String,
    /// The tenant key that signed it.
    pub key_id: String,
}

impl From<Receipt> for Recorded {
    fn from(r: Receipt) -> Self {
        Recorded {
            seq: r.seq,
            record_hash: hex::encode(r.record_hash),
            signature: hex::encode(r.signature),
            key_id: r.key_id,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryFilter {
    /// Only records of this kind (e.g. `decision`, `review.approved`).
    pub kind: Option<String>,
    /// Only records by this actor (an agent's or person's id).
    pub actor_id: Option<String>,
    /// Only records about this action.
    pub action: Option<String>,
    /// Only records about this initiative.
    pub initiative: Option<String>,
    /// Only `ALLOWED`, `BLOCKED` or `PENDING_APPROVAL`.
    pub decision: Option<String>,
    /// Only records that concern this AI system: by its agents (now), about them (an
    /// approval of their action, a breaker reset), or about the system itself.
    pub system: Option<uuid::Uuid>,
    /// Only records before this seq (the previous page's `next_before_seq`).
    #[param(minimum = 0)]
    pub before_seq: Option<i64>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Ledger records, newest first, a page at a time.
#[utoipa::path(operation_id = "ledger_entries", tag = "ledger", security(("bearer" = ["read"])), params(EntryFilter),
    responses((status = 200, body = crate::wire::views::LedgerPage), Errors))]
#[get("/ledger/entries")]
pub async fn entries(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    Query(f): Query<EntryFilter>,
) -> Result<HttpResponse, ApiError> {
    if f.before_seq.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "before_seq: must not be negative",
        ));
    }
    if f.limit.is_some_and(|l| !(1..=200).contains(&l)) {
        return Err(ApiError::bad_request("invalid_query", "limit: 1 to 200"));
    }
    let page = state
        .store()
        .engine()
        .query_ledger(
            auth.tenant_id,
            LedgerFilter {
                kind: f.kind,
                actor_id: f.actor_id,
                action: f.action,
                initiative: f.initiative,
                decision: f.decision,
                system: f.system,
                before_seq: f.before_seq,
                limit: f.limit.unwrap_or(50),
                ..LedgerFilter::default()
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(crate::wire::views::LedgerPage::from(page)))
}

#[derive(Serialize, ToSchema)]
pub struct CheckpointView {
    /// The number of records the checkpoint covers.
    pub tree_size: u64,
    /// The Merkle root at that size, hex.
    pub root_hash: String,
    /// The signed note (C2SP tlog-checkpoint), verifiable with the tenant's public key.
    pub note: String,
    pub key_id: String,
    pub issued_at: DateTime<Utc>,
}

impl From<StoredCheckpoint> for CheckpointView {
    fn from(c: StoredCheckpoint) -> Self {
        CheckpointView {
            tree_size: c.tree_size,
            root_hash: hex::encode(c.root),
            note: c.note,
            key_id: c.key_id,
            issued_at: c.issued_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProvenEntryView {
    pub seq: u64,
    /// The record, as canonical JSON (RFC 8785): hash these bytes to check `record_hash`.
    /// Null once retention removed the body (the hash, signature and proof remain).
    pub record: Option<String>,
    /// SHA-256 of `record`, hex.
    pub record_hash: String,
    /// False when `record` does not hash to `record_hash`: the stored record was edited
    /// after it was signed and must not be trusted (the scanner reports it).
    pub hash_valid: bool,
    /// Ed25519 signature over the record hash, hex.
    pub signature: String,
    pub key_id: String,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: CheckpointView,
    /// RFC 6962 audit path from the record's leaf to the checkpoint's root, hex.
    pub inclusion_proof: Vec<String>,
}

/// One record with everything needed to check it offline.
#[utoipa::path(operation_id = "ledger_entry", tag = "ledger", security(("bearer" = ["read"])),
    responses((status = 200, body = ProvenEntryView), Errors))]
#[get("/ledger/entries/{seq}")]
pub async fn entry(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    path: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let seq = path.into_inner();
    if seq > i64::MAX as u64 {
        return Err(ApiError::not_found("ledger record"));
    }
    let e = state
        .store()
        .ledger()
        .ledger_entry(auth.tenant_id, seq)
        .await?;
    Ok(HttpResponse::Ok().json(ProvenEntryView {
        seq: e.record.seq,
        hash_valid: e.record.hash_matches(),
        record: e.record.record,
        record_hash: hex::encode(e.record.record_hash),
        signature: hex::encode(&e.record.signature),
        key_id: e.record.key_id,
        checkpoint: e.checkpoint.into(),
        inclusion_proof: e.inclusion_proof.iter().map(hex::encode).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointFilter {
    /// Only checkpoints of smaller trees (the previous page's `next_before_size`).
    #[param(minimum = 0)]
    pub before_size: Option<u64>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckpointPage {
    /// Newest first.
    pub checkpoints: Vec<CheckpointView>,
    /// Pass as `before_size` for the next page; absent on the last.
    pub next_before_size: Option<u64>,
}

/// The tenant's signed checkpoints, newest first.
#[utoipa::path(operation_id = "ledger_checkpoints", tag = "ledger", security(("bearer" = ["read"])), params(CheckpointFilter),
    responses((status = 200, body = CheckpointPage), Errors))]
#[get("/ledger/checkpoints")]
pub async fn checkpoints(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    Query(f): Query<CheckpointFilter>,
) -> Result<HttpResponse, ApiError> {
    if f.limit.is_some_and(|l| !(1..=200).contains(&l)) {
        return Err(ApiError::bad_request("invalid_query", "limit: 1 to 200"));
    }
    let (list, more) = state
        .store()
        .ledger()
        .checkpoints(auth.tenant_id, f.before_size, f.limit.unwrap_or(50))
        .await?;
    let next = more.then(|| list.last().map(|c| c.tree_size)).flatten();
    Ok(HttpResponse::Ok().json(CheckpointPage {
        checkpoints: list.into_iter().map(CheckpointView::from).collect(),
        next_before_size: next,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size.
    #[param(minimum = 0)]
    pub first: u64,
    /// The newer tree size (at most the current size).
    #[param(minimum = 0)]
    pub second: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyView {
    pub first: u64,
    pub second: u64,
    /// The root at `first`, hex.
    pub first_root: String,
    /// The root at `second`, hex.
    pub second_root: String,
    /// RFC 6962 consistency proof, hex.
    pub proof: Vec<String>,
}

/// Proof that the log at `second` extends the log at `first` (nothing rewritten).
#[utoipa::path(operation_id = "ledger_consistency", tag = "ledger", security(("bearer" = ["read"])), params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyView), Errors))]
#[get("/ledger/consistency")]
pub async fn consistency(
    auth: Authorized<Read>,
    state: web::Data<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let (a, b, proof) = state
        .store()
        .ledger()
        .consistency(auth.tenant_id, q.first, q.second)
        .await?;
    Ok(HttpResponse::Ok().json(ConsistencyView {
        first: q.first,
        second: q.second,
        first_root: hex::encode(a),
        second_root: hex::encode(b),
        proof: proof.iter().map(hex::encode).collect(),
    }))
}
