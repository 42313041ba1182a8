//! PostgreSQL restarted and stopped under load, on a server of the test's own (so the rest
//! of the suite is untouched): no decision is ALLOWED without its record, every failed
//! call says `unavailable` (retryable), never `internal`; `/readyz` answers 503 while the
//! database is down, and the node serves again by itself within seconds of its return.

use std::time::{Duration, Instant};

use charter_tests::nodes::{Load, Node, on_the_ledger};
use charter_tests::postgres::Postgres;
use charter_tests::tenant;

/// Failures allowed while the database is away: each says the request may be retried.
fn retryable(kind: &str) -> bool {
    kind.ends_with(" unavailable") || kind == "refusal unavailable"
}

#[tokio::test]
async fn decisions_fail_closed_while_postgres_restarts_and_resume_by_themselves() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let (config, store) = pg.charter().await;
    let t = tenant(&store, "PG restart").await;
    let node = Node::start(&config, &[("CHARTER_DB_CONNECT_TIMEOUT_SECS", "2")]).await;
    let client = charter_tests::http().build().unwrap();

    // 1. A restart (`pg_ctl restart -m fast`) in the middle of 16 clients' load.
    let load = Load::start(vec![node.mcp_url(&t.slug)], t.api_key.expose(), 16);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = load.receipts();
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .unwrap();
    let back = Instant::now();
    let after_restart = load.receipts();
    let mut resumed = None;
    while back.elapsed() < Duration::from_secs(10) {
        if load.receipts() > after_restart + 20 {
            resumed = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = load.finish().await;
    let resumed = resumed.expect("decisions resumed within 10 s of the restart");
    eprintln!(
        "PostgreSQL restart under load: {before} decisions before, {} in all, failures {:?}, \
         serving again {} ms after the server was back",
        seen.receipts.len(),
        seen.failures,
        resumed.as_millis()
    );
    assert!(resumed < Duration::from_secs(5), "{resumed:?}");
    // Connections the restart killed are dropped as they fail: no call sent once the
    // server was back failed.
    let late: Vec<&String> = seen
        .failed
        .iter()
        .filter(|(sent, _)| *sent > back)
        .map(|(_, kind)| kind)
        .collect();
    assert!(
        late.is_empty(),
        "calls sent after the restart failed: {late:?}"
    );
    for (kind, n) in &seen.failures {
        assert!(
            retryable(kind),
            "{n} calls failed as {kind}; the node logged:\n{}",
            node.logged()
        );
    }
    // Nothing acknowledged is missing, ALLOWED or not.
    on_the_ledger(&config, t.tenant_id, &t.slug, &seen.receipts).await;

    // 2. Stopped for a while: not ready, decisions refused as unavailable; started again:
    //    ready and deciding without a restart of the node.
    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    let r = client
        .get(format!("{}/readyz", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let mcp = charter_tests::http().build().unwrap();
    let refused =
        charter_tests::nodes::authorize(&mcp, &node.mcp_url(&t.slug), t.api_key.expose(), 1, "x")
            .await
            .unwrap_err();
    assert!(retryable(&refused), "{refused}");
    let started = Instant::now();
    let pg = tokio::task::spawn_blocking(move || {
        pg.start_again();
        pg
    })
    .await
    .unwrap();
    node.wait_ready(Duration::from_secs(10)).await;
    let receipt = loop {
        match charter_tests::nodes::authorize(
            &mcp,
            &node.mcp_url(&t.slug),
            t.api_key.expose(),
            2,
            "y",
        )
        .await
        {
            Ok(r) => break r,
            Err(kind) => {
                assert!(retryable(&kind), "{kind}");
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "not serving again"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    eprintln!(
        "PostgreSQL stopped and started: deciding again {} ms after the start",
        started.elapsed().as_millis()
    );
    let mut all = seen.receipts;
    all.push(receipt);

    // 3. A restart while the node is idle: its pooled connections are all dead, and the
    //    next calls are decided anyway (each dead connection is dropped as it fails, and
    //    work that failed to begin begins again on another).
    let burst = Load::start(vec![node.mcp_url(&t.slug)], t.api_key.expose(), 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    all.extend(burst.finish().await.receipts);
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart();
        pg
    })
    .await
    .unwrap();
    let after = Load::start(vec![node.mcp_url(&t.slug)], t.api_key.expose(), 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = after.finish().await;
    assert!(
        seen.failures.is_empty(),
        "after an idle restart: {:?}",
        seen.failures
    );
    all.extend(seen.receipts);
    on_the_ledger(&config, t.tenant_id, &t.slug, &all).await;
    drop(node);
    drop(pg);
}
