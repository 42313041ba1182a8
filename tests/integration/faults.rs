//! Faults on purpose, against a real `charter serve` process under a load of concurrent
//! `authorize_action` calls: a node killed with SIGKILL loses no decision whose answer
//! reached a client (each is in the ledger with the same hash, and an export of the
//! ledger verifies offline), and a node stopped with SIGTERM answers what it took in and
//! exits 0.

use std::time::Duration;

use charter_tests::nodes::{Load, Node, on_the_ledger, terminate};
use charter_tests::{store_with, tenant, test_config};

#[tokio::test]
async fn a_node_killed_under_load_loses_no_acknowledged_decision() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let t = tenant(&store, "Kill -9").await;
    let mut node = Node::start(&config, &[]).await;
    let load = Load::start(vec![node.mcp_url(&t.slug)], t.api_key.expose(), 16);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    node.child.start_kill().unwrap();
    node.child.wait().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = load.finish().await;
    assert!(
        seen.receipts.len() > 50,
        "only {} decisions before the kill",
        seen.receipts.len()
    );
    // After a restart on the same database, the ledger holds every receipt.
    let _again = Node::start(&config, &[]).await;
    on_the_ledger(&config, t.tenant_id, &t.slug, &seen.receipts).await;
}

#[tokio::test]
async fn a_node_stopped_under_load_answers_what_it_took_and_exits_0() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let t = tenant(&store, "SIGTERM").await;
    let node = Node::start(&config, &[]).await;
    let load = Load::start(vec![node.mcp_url(&t.slug)], t.api_key.expose(), 16);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let before = load.receipts();
    terminate(&node.child);
    let exit = tokio::time::timeout(Duration::from_secs(30), node.child.wait_with_output())
        .await
        .expect("the node stopped within its grace period")
        .unwrap();
    assert!(exit.status.success(), "exit {:?}", exit.status);
    let seen = load.finish().await;
    assert!(
        before > 10 && seen.receipts.len() >= before,
        "{before} then {}",
        seen.receipts.len()
    );
    eprintln!(
        "SIGTERM under load: {before} decisions before, {} in all",
        seen.receipts.len()
    );
    on_the_ledger(&config, t.tenant_id, &t.slug, &seen.receipts).await;
}
