//! The forensic scanner's schedule: every tenant, incrementally from its watermark at each
//! run, and a full pass (re-verifying the whole log) once a day at the daily jobs' hour —
//! or whenever a tenant has not had one for two days (a worker that was down at that hour
//! does not skip it). One tenant's failure is logged and the others are still scanned.

use std::collections::BTreeMap;

use charter_store::Store;
use chrono::Utc;

use super::daily_due;
use crate::JobResult;

pub async fn run(store: Store, daily_hour: u32) -> JobResult {
    let now = Utc::now();
    let mut records = 0u64;
    let mut full = 0usize;
    let mut new: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut failed = 0usize;
    for (tenant, last_full) in store.worker().scan_tenants().await? {
        let is_full = daily_due(last_full, now, daily_hour);
        match store.worker().scan_tenant(tenant, is_full).await {
            Ok(None) => {}
            Ok(Some(r)) => {
                records += r.records;
                full += usize::from(is_full);
                for (rule, found) in &r.new {
                    *new.entry(rule).or_default() += found.len();
                    for f in found {
                        tracing::warn!(%tenant, rule, severity = %f.severity, key = f.key, "scanner found a violation");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                tracing::error!(%tenant, error = %e, "scan failed");
            }
        }
    }
    let found: usize = new.values().sum();
    if records == 0 && found == 0 && full == 0 && failed == 0 {
        return Ok(None);
    }
    let by_rule: Vec<String> = new.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    Ok(Some(format!(
        "{records} records scanned ({full} full passes), {found} new violations{}{}",
        if by_rule.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_rule.join(", "))
        },
        if failed > 0 {
            format!(", {failed} tenants failed")
        } else {
            String::new()
        },
    )))
}
