//! `charter-bench dashboard`: how long the dashboard takes to answer with 1,000,000 records
//! in the tenant (`BENCH_DASHBOARD_RECORDS`). The tenant is seeded with the demo example
//! (agents, a pending review and approval), its log grown with signed decision records as
//! in the scanner bench, and the real server started in-process; a logged-in client then
//! asks each page `BENCH_DASHBOARD_REQUESTS` times (default 200), one request at a time,
//! and the p50/p95 of the whole answer (session check, store reads, rendering, transport)
//! are printed: the overview, the approvals inbox, and the ledger explorer's first page, a
//! filtered page ("which agent authorized deploy on this service?"), a deep keyset page
//! and a deep filtered one, filters whose few matches lie at the far end of the log (a
//! decision, a principal, a time window without records) and one record with its proof.

use std::time::{Duration, Instant};

use super::scanner::{grow, open_tenant};
use super::{ms, provision};

pub async fn dashboard() {
    let (cfg, store, su) = super::bench_store().await;
    let records: u64 = std::env::var("BENCH_DASHBOARD_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let requests: usize = std::env::var("BENCH_DASHBOARD_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let p = provision(&store, "dashboard").await;
    store
        .admin()
        .seed_demo(p.tenant_id, p.owner_id, p.agent_id)
        .await
        .unwrap();
    let t = Instant::now();
    let mut log = open_tenant(&store, &su, p.tenant_id).await;
    grow(&su, &mut log, records).await;
    let size = store
        .ledger()
        .checkpoint(p.tenant_id)
        .await
        .unwrap()
        .tree_size;
    println!(
        "dashboard: tenant with {size} records (grown in {:.0} s)",
        t.elapsed().as_secs_f64()
    );

    let app = charter_api::Application::build(cfg.clone(), store.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = charter_tests::http()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("tenant", &p.slug)
        .append_pair("email", &p.owner_email)
        .append_pair("password", p.owner_password.expose())
        .finish();
    let login = client
        .post(format!("{base}/app/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "login");
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    // The grown records' actor is the tenant id (see `scanner::grow`); one service in a
    // hundred matches the filter.
    let actor = p.tenant_id;
    let middle = size / 2;
    let pages = [
        ("overview", "/app".to_string()),
        ("approvals inbox", "/app/inbox".into()),
        ("ledger, first page", "/app/ledger".into()),
        (
            "ledger, filtered (agent, action, resource)",
            format!("/app/ledger?actor_id={actor}&action=deploy&resource=Service%3Apayments-7"),
        ),
        (
            "ledger, deep keyset page",
            format!("/app/ledger?before={middle}"),
        ),
        (
            "ledger, deep filtered page",
            format!("/app/ledger?action=deploy&resource=Service%3Apayments-7&before={middle}"),
        ),
        (
            "ledger, rare decision (PENDING_APPROVAL)",
            "/app/ledger?decision=PENDING_APPROVAL".into(),
        ),
        (
            "ledger, rare principal (the owner's)",
            format!("/app/ledger?principal={}", p.owner_id),
        ),
        (
            "ledger, a one-hour window without records",
            "/app/ledger?since=2026-01-01T00%3A00&until=2026-01-01T01%3A00".into(),
        ),
        (
            "ledger, one record with its proof",
            format!("/app/ledger/{middle}"),
        ),
    ];
    for (name, path) in pages {
        let url = format!("{base}{path}");
        let mut times: Vec<Duration> = Vec::with_capacity(requests);
        for i in 0..requests + 10 {
            let t = Instant::now();
            let r = client
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let html = r.text().await.unwrap();
            assert!(html.contains("</html>"));
            if i >= 10 {
                times.push(t.elapsed());
            }
        }
        times.sort_unstable();
        let pct =
            |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "dashboard: {name:<45} p50 {:>7.2} ms  p95 {:>7.2} ms  ({requests} requests)",
            ms(pct(0.50)),
            ms(pct(0.95))
        );
    }
}
