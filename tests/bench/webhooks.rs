//! `charter-bench webhooks`: the webhook delivery rate. A tenant with one endpoint (a
//! receiver on loopback answering 200) gets N events in its outbox at once
//! (`BENCH_WEBHOOK_EVENTS`, default 5,000); the worker's webhooks job then fans them out,
//! signs and sends each, and records each attempt. Printed: events delivered per second,
//! end to end. Receiver, worker and PostgreSQL share the machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use charter_core::webhook::target::Targets;
use charter_store::webhooks::endpoints::NewEndpoint;
use charter_tests::receiver::{Behaviour, Receiver};
use charter_worker::jobs::webhooks::{Sender, run_tenant};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::provision;

pub async fn webhooks() {
    let (_, store, su) = super::bench_store().await;
    let n: usize = std::env::var("BENCH_WEBHOOK_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let p = provision(&store, "webhooks").await;
    let rx = Receiver::start(Behaviour::Ok).await;
    store
        .admin()
        .create_webhook(
            p.tenant_id,
            p.owner_id,
            NewEndpoint {
                url: rx.url.clone(),
                description: "bench".into(),
                events: vec!["violation.found".into()],
            },
        )
        .await
        .unwrap();
    su.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO notifications (tenant_id, id, kind, payload)
         SELECT $1, gen_random_uuid(), 'violation.found',
                jsonb_build_object('violation_id', gen_random_uuid(), 'kind', 'stale_job',
                                   'severity', 'medium', 'n', g)
         FROM generate_series(1, $2) g",
        [p.tenant_id.into(), (n as i64).into()],
    ))
    .await
    .unwrap();
    let sender = Arc::new(Sender::new(Targets::Any, Duration::from_secs(10)).unwrap());
    let t = Instant::now();
    let mut delivered = 0;
    while delivered < n {
        let tally = run_tenant(
            &store,
            &sender,
            p.tenant_id,
            Instant::now() + Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert!(tally.retrying == 0 && tally.dead == 0, "{tally:?}");
        delivered += tally.delivered;
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rx.seen().len(), n);
    println!(
        "webhook delivery, {n} events to one endpoint on loopback: {:.0} events/s ({secs:.1} s, fan-out, signing, sending and recording each attempt)",
        n as f64 / secs
    );
}
