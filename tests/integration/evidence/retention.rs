//! Retention on a PostgreSQL of the test's own whose clock is first set 400 days back
//! (libfaketime), so the records are really old: past retention they lose their bodies —
//! except a held system's — and every bundle and export over them still verifies.

use charter_core::bundle::Purpose;
use charter_core::ledger::export::{VerifyOptions, verify_export};
use charter_store::StoreError;
use charter_tests::postgres::Postgres;
use chrono::{Duration, Utc};

use super::{fixture, make, request, verify};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_bodies_are_pruned_unless_held_and_everything_still_verifies() {
    let pg = Postgres::start();
    pg.restart_with_clock(Some("-400d"));
    let (config, store) = pg.charter().await;
    let f = fixture(&store).await;
    let old_size = store
        .ledger()
        .checkpoint(f.t.tenant_id)
        .await
        .unwrap()
        .tree_size;
    drop(store);

    // Today again.
    pg.restart_with_clock(None);
    let store = charter_store::Store::connect(&config, config.master_key.clone().unwrap())
        .await
        .unwrap();
    let (admin, worker) = (store.admin(), store.worker());

    // Ten years by default: nothing is old enough.
    assert_eq!(worker.prune(f.t.tenant_id).await.unwrap().records, 0);
    // The floor holds.
    let e = admin
        .set_retention(f.t.tenant_id, f.t.owner_id, 182)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.starts_with("retention_days:")),
        "{e}"
    );
    admin
        .set_retention(f.t.tenant_id, f.t.owner_id, 183)
        .await
        .unwrap();
    // A hold on the whole tenant keeps everything; released, it keeps nothing.
    let all = admin
        .place_legal_hold(f.t.tenant_id, f.t.owner_id, None, "audit".into())
        .await
        .unwrap();
    assert_eq!(worker.prune(f.t.tenant_id).await.unwrap().records, 0);
    admin
        .release_legal_hold(f.t.tenant_id, f.t.owner_id, all.id)
        .await
        .unwrap();
    admin
        .place_legal_hold(
            f.t.tenant_id,
            f.t.owner_id,
            Some(f.triage),
            "litigation".into(),
        )
        .await
        .unwrap();

    let pruned = worker.prune_ledgers().await.unwrap();
    assert!(pruned > 0);
    let again = worker.prune(f.t.tenant_id).await.unwrap();
    assert_eq!(again.records, 0, "a second pass finds nothing");

    // The held system's records keep their bodies; the others' are gone, hash and
    // signature kept.
    let tx = store.tenant_tx(f.t.tenant_id).await.unwrap();
    let mut bodiless = 0;
    for seq in 0..old_size {
        let r = charter_store::ledger::read::record(&tx, seq).await.unwrap();
        if f.triage_seqs.contains(&seq) {
            assert!(r.record.is_some(), "held record {seq} was pruned");
        }
        bodiless += u64::from(r.record.is_none());
    }
    tx.rollback().await.unwrap();
    assert_eq!(bodiless as i64, pruned);
    let page = store
        .engine()
        .query_ledger(
            f.t.tenant_id,
            charter_store::engine::views::LedgerFilter {
                kind: Some("ledger.pruned".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1, "one pruning, one record");
    let listed = store
        .engine()
        .query_ledger(
            f.t.tenant_id,
            charter_store::engine::views::LedgerFilter {
                limit: 200,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        listed.entries.iter().filter(|l| l.pruned).count() as u64,
        bodiless
    );

    // Nobody edits a record another way, not even a superuser without the function.
    let su = sea_orm::Database::connect(pg.url("charter")).await.unwrap();
    let edit = charter_tests::execute(
        &su,
        "UPDATE ledger_records SET record = NULL, pruned_at = now(), reason = NULL
         WHERE tenant_id = $1 AND seq = $2",
        vec![f.t.tenant_id.into(), (f.triage_seqs[0] as i64).into()],
    )
    .await;
    assert!(edit.is_err(), "the append-only guard let an edit through");

    // Bundles over the pruned range verify; pruned records appear elided.
    let mut all = request(None, Purpose::PostMarketMonitoring);
    all.from = Utc::now() - Duration::days(500);
    let (zip, outcome) = make(&store, f.t.tenant_id, &all).await;
    let s = verify(&zip).unwrap();
    assert_eq!(s.counts.elided_retention, bodiless);
    assert_eq!(outcome.counts.elided_retention, bodiless);
    let report = super::file(&zip, "report.html");
    assert!(report.contains("Retention removed the bodies"));
    let mut triage = request(Some(f.triage), Purpose::RiskSituations);
    triage.from = all.from;
    let (zip, _) = make(&store, f.t.tenant_id, &triage).await;
    let s = verify(&zip).unwrap();
    assert!(s.counts.full >= f.triage_seqs.len() as u64);

    // The engineers' export too.
    let mut out = Vec::new();
    store
        .ledger()
        .export_ledger(
            f.t.tenant_id,
            None,
            None,
            charter_core::ledger::Actor::system(),
            &mut out,
        )
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.matches("{\"type\":\"elided\"").count() as u64,
        bodiless
    );
    let s = verify_export(text.as_bytes(), &VerifyOptions::default()).unwrap();
    assert_eq!(s.elided, bodiless);
}
