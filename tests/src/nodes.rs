//! Real `charter serve` and `charter worker` processes, and a load of concurrent
//! `authorize_action` calls against them, for the tests that break things on purpose.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use charter_core::config::Config;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::mcp::CURRENT;
use crate::{charter_cmd, free_port, succeeds};

/// A `charter serve` process, its base URL and the file its log (warnings and errors)
/// goes to.
pub struct Node {
    pub child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Node {
    /// Starts `charter serve` on a free port and waits until `/readyz` answers 200.
    pub async fn start(config: &Config, env: &[(&str, &str)]) -> Node {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("charter-serve-{port}.log"));
        let mut cmd = charter_cmd(config);
        cmd.arg("serve")
            .env("CHARTER_BIND", format!("127.0.0.1:{port}"))
            .env("CHARTER_RATE_LIMIT_PER_MINUTE", "1000000")
            .env("CHARTER_SHUTDOWN_TIMEOUT_SECS", "20")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let node = Node {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        node.wait_ready(Duration::from_secs(20)).await;
        node
    }

    pub async fn wait_ready(&self, within: Duration) {
        let ready = crate::answers(&format!("{}/readyz", self.base), within).await;
        assert!(ready, "charter serve at {} did not become ready", self.base);
    }

    /// What the node logged so far.
    pub fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn mcp_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/mcp", self.base)
    }
}

/// Starts `charter worker` with the given settings.
pub fn worker(config: &Config, env: &[(&str, &str)]) -> Child {
    let mut cmd = charter_cmd(config);
    cmd.arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// A decision's receipt as a client kept it.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub seq: i64,
    pub record_hash: String,
    pub decision: String,
}

/// What a load's clients saw: receipts, and every answer that was not one, by kind
/// (`http 503 unavailable`, `refusal unavailable`, `connect` …).
#[derive(Default)]
pub struct Seen {
    pub receipts: Vec<Receipt>,
    pub failures: HashMap<String, usize>,
    /// When each failed call was sent, and how it failed.
    pub failed: Vec<(std::time::Instant, String)>,
}

/// `clients` tasks calling `authorize_action` through `urls` in turn until stopped.
pub struct Load {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// One `authorize_action` call over stateless MCP.
pub async fn authorize(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    id: u64,
    resource: &str,
) -> Result<Receipt, String> {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "authorize_action",
        "arguments": {"action": "deploy", "resource_type": "Service", "resource_id": resource},
        "_meta": {"io.modelcontextprotocol/protocolVersion": CURRENT,
                  "io.modelcontextprotocol/clientCapabilities": {}},
    }});
    let res = client
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", format!("Bearer {key}"))
        .header("MCP-Protocol-Version", CURRENT)
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "authorize_action")
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                "connect".to_string()
            } else {
                "transport".to_string()
            }
        })?;
    let status = res.status();
    let v: Value = res.json().await.map_err(|_| "truncated".to_string())?;
    if !status.is_success() {
        return Err(format!(
            "http {} {}",
            status.as_u16(),
            v["code"].as_str().unwrap_or("?")
        ));
    }
    let s = &v["result"]["structuredContent"];
    match (
        s["seq"].as_i64(),
        s["record_hash"].as_str(),
        s["decision"].as_str(),
    ) {
        (Some(seq), Some(hash), Some(decision)) => Ok(Receipt {
            seq,
            record_hash: hash.to_string(),
            decision: decision.to_string(),
        }),
        _ => Err(format!("refusal {}", s["reason"].as_str().unwrap_or("?"))),
    }
}

impl Load {
    pub fn start(urls: Vec<String>, key: &str, clients: usize) -> Load {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|c| {
                let (seen, stop, urls) = (seen.clone(), stop.clone(), urls.clone());
                let key = key.to_string();
                tokio::spawn(async move {
                    let client = crate::http()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap();
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let url = &urls[(c + n as usize) % urls.len()];
                        let resource = format!("svc-{c}-{n}");
                        let sent = std::time::Instant::now();
                        match authorize(&client, url, &key, n, &resource).await {
                            Ok(r) => seen.lock().unwrap().receipts.push(r),
                            Err(kind) => {
                                {
                                    let mut seen = seen.lock().unwrap();
                                    *seen.failures.entry(kind.clone()).or_default() += 1;
                                    seen.failed.push((sent, kind));
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Load { seen, stop, tasks }
    }

    /// Receipts so far.
    pub fn receipts(&self) -> usize {
        self.seen.lock().unwrap().receipts.len()
    }

    /// Stops the clients (each finishes its call in flight) and returns what they saw.
    pub async fn finish(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Every receipt is in the tenant's ledger with the same hash, the tenant's sequence has
/// no gap, and an export of it verifies offline with `charter verify`.
pub async fn on_the_ledger(config: &Config, tenant: uuid::Uuid, slug: &str, receipts: &[Receipt]) {
    let db = sea_orm::Database::connect(config.database_url.expose())
        .await
        .unwrap();
    let rows = crate::query(
        &db,
        "SELECT seq, encode(record_hash, 'hex') AS h FROM ledger_records WHERE tenant_id = $1 ORDER BY seq",
        vec![tenant.into()],
    )
    .await
    .unwrap();
    let stored: Vec<(i64, String)> = rows
        .iter()
        .map(|r| (r.try_get("", "seq").unwrap(), r.try_get("", "h").unwrap()))
        .collect();
    for (i, (seq, _)) in stored.iter().enumerate() {
        assert_eq!(*seq, i as i64, "the ledger has a gap before seq {seq}");
    }
    let by_seq: HashMap<i64, &String> = stored.iter().map(|(s, h)| (*s, h)).collect();
    for r in receipts {
        assert_eq!(
            by_seq.get(&r.seq),
            Some(&&r.record_hash),
            "receipt {r:?} lost"
        );
    }
    let file = std::env::temp_dir().join(format!("ledger-{}.jsonl", uuid::Uuid::new_v4()));
    succeeds(
        charter_cmd(config)
            .args(["ledger", "export", "--tenant", slug, "--out"])
            .arg(&file),
    )
    .await;
    succeeds(charter_cmd(config).arg("verify").arg(&file)).await;
    let _ = std::fs::remove_file(file);
}

/// Sends SIGTERM to a child process.
pub fn terminate(child: &Child) {
    let pid = child.id().expect("the process is running");
    let status = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}
