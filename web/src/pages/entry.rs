//! `/app/ledger/{seq}`: one record — its canonical JSON, hash, signature and key, and its
//! inclusion proof into the latest signed checkpoint — with a **Verify** button that checks
//! all of it in the browser (`static/verify.js`, WebCrypto), without asking the server.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use charter_core::permission::Read;
use serde_json::json;

use crate::error::PageError;
use crate::layout::Flash;
use crate::session::{Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "entry.html")]
pub struct EntryPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    seq: u64,
    /// The stored record, pretty-printed for reading (the proof carries its exact text).
    pretty: Option<String>,
    record_hash: String,
    hash_valid: bool,
    signature: String,
    key_id: String,
    tree_size: u64,
    note: String,
    proof_len: usize,
    /// Everything the browser needs to verify, as JSON (in a `data-` attribute).
    proof: String,
}

pub async fn show(
    page: Page<Read>,
    dash: web::Data<Dashboard>,
    path: web::Path<u64>,
) -> Result<EntryPage, PageError> {
    let seq = path.into_inner();
    if seq > i64::MAX as u64 {
        return Err(PageError::not_found("ledger record"));
    }
    let tenant = page.me.tenant_id;
    let ledger = dash.store().ledger();
    let e = ledger.ledger_entry(tenant, seq).await?;
    let keys: serde_json::Map<String, serde_json::Value> = ledger
        .public_keys(tenant)
        .await?
        .into_iter()
        .map(|k| {
            (
                k.key_id.clone(),
                json!({"public_key": STANDARD.encode(k.public_key), "valid_from": k.valid_from,
                       "valid_until": k.valid_until}),
            )
        })
        .collect();
    let record_hash = hex::encode(e.record.record_hash);
    let signature = hex::encode(&e.record.signature);
    let proof = json!({
        "seq": seq,
        "record": e.record.record,
        "record_hash": record_hash,
        "signature": signature,
        "keys": keys,
        "checkpoint_key_id": e.checkpoint.key_id,
        "note": e.checkpoint.note,
        "inclusion_proof": e.inclusion_proof.iter().map(hex::encode).collect::<Vec<_>>(),
    });
    let pretty = e.record.record.as_deref().map(|t| {
        serde_json::from_str::<serde_json::Value>(t)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| t.to_string())
    });
    Ok(EntryPage {
        active: "/app/ledger",
        flash: None,
        seq,
        hash_valid: e.record.hash_matches(),
        pretty,
        record_hash,
        signature,
        key_id: e.record.key_id,
        tree_size: e.checkpoint.tree_size,
        note: e.checkpoint.note,
        proof_len: e.inclusion_proof.len(),
        proof: proof.to_string(),
        me: page.me,
    })
}
