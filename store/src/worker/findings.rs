//! A finding becomes a violation once: the first time its key is seen it is inserted with
//! a signed `violation.found` record; after that only its last-seen time and count move.

use charter_core::ledger::{Actor, Entry};
use charter_core::scanner::Finding;
use serde_json::json;
use uuid::Uuid;

use crate::{Result, Store};

/// Records `f` for `tenant`; returns whether it was new.
pub(crate) async fn record(store: &Store, tenant: Uuid, f: Finding) -> Result<bool> {
    let tx = store.tenant_tx(tenant).await?;
    let seen = tx
        .exec(
            "UPDATE violations SET last_seen_at = now(), occurrences = occurrences + 1
             WHERE tenant_id = $1 AND dedup_key = $2",
            vec![tenant.into(), f.key.clone().into()],
        )
        .await?;
    tx.commit().await?;
    if seen > 0 {
        return Ok(false);
    }
    store
        .append_with(tenant, move |tx| {
            Box::pin(async move {
                let id = Uuid::now_v7();
                tx.exec(
                    "INSERT INTO violations (tenant_id, id, kind, severity, subject, details,
                                             rule_version, dedup_key, last_seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())",
                    vec![
                        tx.tenant_id().into(),
                        id.into(),
                        f.rule.into(),
                        f.severity.as_str().into(),
                        f.subject.clone().into(),
                        f.details.clone().into(),
                        (f.version as i32).into(),
                        f.key.clone().into(),
                    ],
                )
                .await?;
                crate::notifications::enqueue(
                    tx,
                    charter_core::webhook::Event::ViolationFound,
                    None,
                    json!({"violation_id": id, "kind": f.rule, "rule_version": f.version,
                           "severity": f.severity, "subject": f.subject}),
                )
                .await?;
                let e = Entry::new("violation.found", Actor::system()).payload(json!({
                    "violation_id": id, "rule": f.rule, "rule_version": f.version,
                    "severity": f.severity, "key": f.key, "subject": f.subject, "details": f.details,
                }));
                Ok((e, ()))
            })
        })
        .await?;
    Ok(true)
}
