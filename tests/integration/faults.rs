//! Faults on purpose, against a real `charter serve` process under a load of concurrent
//! `authorize_action` calls: a node killed with SIGKILL loses no decision whose answer
//! reached a client (each is in the ledger with the same hash, and an export of the
//! ledger verifies offline), and a node stopped with SIGTERM answers what it took in and
//! exits 0.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use charter_tests::mcp::CURRENT;
use charter_tests::{charter_cmd, query, store_with, superuser, tenant, test_config};
use serde_json::{Value, json};
use tokio::process::Child;

/// A decision's receipt as a client kept it.
#[derive(Debug, Clone)]
struct Receipt {
    seq: i64,
    record_hash: String,
}

async fn serve(config: &charter_core::config::Config) -> (Child, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = charter_cmd(config)
        .arg("serve")
        .env("CHARTER_BIND", format!("127.0.0.1:{port}"))
        .env("CHARTER_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("CHARTER_SHUTDOWN_TIMEOUT_SECS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = charter_tests::http().build().unwrap();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("charter serve did not become ready");
}

/// `clients` tasks calling `authorize_action` until `stop`; the receipts they got.
fn load(
    base: &str,
    slug: &str,
    key: &str,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Arc<Mutex<Vec<Receipt>>>, Vec<tokio::task::JoinHandle<()>>) {
    let got: Arc<Mutex<Vec<Receipt>>> = Arc::default();
    let tasks = (0..clients)
        .map(|c| {
            let (got, stop) = (got.clone(), stop.clone());
            let url = format!("{base}/t/{slug}/mcp");
            let key = key.to_string();
            tokio::spawn(async move {
                let client = charter_tests::http()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    let body = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {
                        "name": "authorize_action",
                        "arguments": {"action": "deploy", "resource_type": "Service",
                                      "resource_id": format!("svc-{c}-{n}")},
                        "_meta": {"io.modelcontextprotocol/protocolVersion": CURRENT,
                                  "io.modelcontextprotocol/clientCapabilities": {}},
                    }});
                    let sent = client
                        .post(&url)
                        .header("Accept", "application/json, text/event-stream")
                        .header("Authorization", format!("Bearer {key}"))
                        .header("MCP-Protocol-Version", CURRENT)
                        .header("Mcp-Method", "tools/call")
                        .header("Mcp-Name", "authorize_action")
                        .json(&body)
                        .send()
                        .await;
                    let Ok(res) = sent else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let Ok(v) = res.json::<Value>().await else {
                        continue;
                    };
                    let s = &v["result"]["structuredContent"];
                    if let (Some(seq), Some(hash)) = (s["seq"].as_i64(), s["record_hash"].as_str())
                    {
                        got.lock().unwrap().push(Receipt {
                            seq,
                            record_hash: hash.to_string(),
                        });
                    }
                }
            })
        })
        .collect();
    (got, tasks)
}

/// Every receipt is in the tenant's ledger with the same hash, and an export verifies.
async fn on_the_ledger(
    config: &charter_core::config::Config,
    tenant: uuid::Uuid,
    slug: &str,
    receipts: &[Receipt],
) {
    let rows = query(
        &superuser().await,
        "SELECT seq, encode(record_hash, 'hex') AS h FROM ledger_records WHERE tenant_id = $1",
        vec![tenant.into()],
    )
    .await
    .unwrap();
    let stored: std::collections::HashMap<i64, String> = rows
        .iter()
        .map(|r| (r.try_get("", "seq").unwrap(), r.try_get("", "h").unwrap()))
        .collect();
    for r in receipts {
        assert_eq!(
            stored.get(&r.seq),
            Some(&r.record_hash),
            "receipt {r:?} lost"
        );
    }
    let file = std::env::temp_dir().join(format!("faults-{}.jsonl", uuid::Uuid::new_v4()));
    let out = charter_cmd(config)
        .args(["ledger", "export", "--tenant", slug, "--out"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = charter_cmd(config)
        .arg("verify")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_node_killed_under_load_loses_no_acknowledged_decision() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let t = tenant(&store, "Kill -9").await;
    let (mut node, base) = serve(&config).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (got, tasks) = load(&base, &t.slug, t.api_key.expose(), 16, stop.clone());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    node.start_kill().unwrap();
    node.wait().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let receipts = got.lock().unwrap().clone();
    assert!(
        receipts.len() > 50,
        "only {} decisions before the kill",
        receipts.len()
    );
    on_the_ledger(&config, t.tenant_id, &t.slug, &receipts).await;
}

#[tokio::test]
async fn a_node_stopped_under_load_answers_what_it_took_and_exits_0() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let t = tenant(&store, "SIGTERM").await;
    let (node, base) = serve(&config).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (got, tasks) = load(&base, &t.slug, t.api_key.expose(), 16, stop.clone());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let before = got.lock().unwrap().len();
    let pid = node.id().unwrap();
    let status = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), node.wait_with_output())
        .await
        .expect("the node stopped within its grace period")
        .unwrap();
    assert!(exit.status.success(), "exit {:?}", exit.status);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let receipts = got.lock().unwrap().clone();
    assert!(
        before > 10 && receipts.len() >= before,
        "{before} then {}",
        receipts.len()
    );
    eprintln!(
        "SIGTERM under load: {before} decisions before, {} in all",
        receipts.len()
    );
    on_the_ledger(&config, t.tenant_id, &t.slug, &receipts).await;
}
