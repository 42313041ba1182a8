//! The daily self-audit of every tenant (see `charter_store::worker::self_audit`).

use charter_store::Store;
use chrono::Utc;

use super::daily_due;
use crate::JobResult;

pub async fn run(store: Store, daily_hour: u32) -> JobResult {
    let now = Utc::now();
    let (mut done, mut flagged, mut failed) = (0usize, 0usize, 0usize);
    for (tenant, last) in store.worker().self_audit_tenants().await? {
        if !daily_due(last, now, daily_hour) {
            continue;
        }
        match store.worker().self_audit(tenant).await {
            Ok(a) => {
                done += 1;
                flagged += a.report["flagged"].as_array().map_or(0, Vec::len);
            }
            Err(e) => {
                failed += 1;
                tracing::error!(%tenant, error = %e, "self-audit failed");
            }
        }
    }
    Ok((done + failed > 0).then(|| {
        format!("{done} tenants audited, {flagged} items flagged for review, {failed} failed")
    }))
}
