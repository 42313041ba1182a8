//! Two `charter serve` nodes behind nginx (deploy/nginx/nginx.conf as shipped, but for
//! its addresses) and two `charter worker`s, on a PostgreSQL of the test's own and the
//! shared Redis, driven through the load balancer and both nodes at once: the ledger has
//! no gap and verifies; a session opened on one node continues on the other; an SSE
//! stream and its POSTs meet through the load balancer; a key revoked on one node is
//! refused by the other within 2 s; each scheduled job runs once per interval, not once
//! per worker.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use charter_tests::mcp::Client;
use charter_tests::nodes::{Load, Node, authorize, on_the_ledger, worker};
use charter_tests::postgres::Postgres;
use charter_tests::sse::SseClient;
use charter_tests::{free_port, query, tenant};
use serde_json::{Value, json};
use tokio::process::Child;

struct Nginx {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers (a SIGKILL would leave them behind).
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            for _ in 0..50 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nginx with the shipped configuration, its upstreams pointed at `nodes`.
async fn nginx(nodes: [&Node; 2]) -> Nginx {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (./scripts/test installs it)");
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/nginx.conf");
    let shipped = std::fs::read_to_string(shipped).unwrap();
    let port = free_port();
    let host = |n: &Node| n.base.trim_start_matches("http://").to_string();
    let conf = shipped
        .replace("serve-1:8080", &host(nodes[0]))
        .replace("serve-2:8080", &host(nodes[1]))
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
    assert_eq!(conf.matches("127.0.0.1:").count(), 5, "{conf}");
    let dir = std::env::temp_dir().join(format!("charter-nginx-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let globals = format!("daemon off; pid {}/nginx.pid;", dir.display());
    let child = tokio::process::Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .args(["-g", &globals])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = charter_tests::answers(&format!("{base}/healthz"), Duration::from_secs(5)).await;
    assert!(
        started,
        "nginx did not start: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
    Nginx { child, dir, base }
}

/// How many times each job has run, by name.
async fn job_runs(db: &sea_orm::DatabaseConnection) -> std::collections::HashMap<String, i64> {
    query(db, "SELECT job, runs FROM job_runs", vec![])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get("", "job").unwrap(),
                r.try_get("", "runs").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_nodes_and_two_workers_behind_nginx_act_as_one() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let (config, store) = pg.charter().await;
    let db = sea_orm::Database::connect(config.database_url.expose())
        .await
        .unwrap();
    let t = tenant(&store, "Cluster").await;
    let a = Node::start(&config, &[]).await;
    let b = Node::start(&config, &[]).await;
    let lb = nginx([&a, &b]).await;
    let every = [("CHARTER_CHECKPOINT_INTERVAL_SECS", "1")];
    let _workers = [worker(&config, &every), worker(&config, &every)];
    let key = t.api_key.expose();

    // Load through the load balancer and both nodes at once.
    let started = Instant::now();
    let urls = [&lb.base, &a.base, &b.base].map(|base| format!("{base}/t/{}/mcp", t.slug));
    let load = Load::start(urls.to_vec(), key, 12);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let runs_before = job_runs(&db).await;
    let window = Instant::now();

    // A (legacy, 2025-06-18) session opened on one node continues on the other, and
    // through the load balancer.
    let http = charter_tests::http().build().unwrap();
    let mut session = Client::at(&a.base, http, &t.slug, key);
    session.initialize().await;
    for base in [&b.base, &lb.base, &a.base] {
        session.base = base.to_string();
        let r = session
            .tool(
                "authorize_action",
                json!({"action": "deploy", "resource_type": "Service", "resource_id": "s"}),
            )
            .await;
        assert!(r["structuredContent"]["seq"].is_u64(), "{r}");
    }

    // The SSE transport's stream and its POSTs reach the same node through nginx.
    for _ in 0..4 {
        let mut sse = SseClient::connect(&lb.base, &t.slug, key).await;
        let init = sse
            .call(
                1,
                "initialize",
                json!({"protocolVersion": "2024-11-05", "capabilities": {},
                       "clientInfo": {"name": "charter-tests", "version": "1"}}),
            )
            .await;
        assert_eq!(init["result"]["serverInfo"]["name"], "charter", "{init}");
    }

    // A key revoked through one node is refused by the other within 2 s.
    let rest = charter_tests::http().build().unwrap();
    let login: Value = rest
        .post(format!("{}/api/v1/auth/login", a.base))
        .json(&json!({"tenant": t.slug, "email": t.owner_email,
                      "password": t.owner_password.expose()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let issued: Value = rest
        .post(format!("{}/api/v1/agents/{}/keys", a.base, t.agent_id))
        .bearer_auth(token)
        .json(&json!({"label": "soon revoked"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = issued["api_key"].as_str().unwrap();
    let mcp = charter_tests::http().build().unwrap();
    // Node B knows (and caches) the key.
    authorize(&mcp, &b.mcp_url(&t.slug), second, 1, "warm")
        .await
        .unwrap();
    let revoked = rest
        .delete(format!(
            "{}/api/v1/agents/{}/keys/{}",
            a.base,
            t.agent_id,
            issued["key"]["id"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let since = Instant::now();
    loop {
        match authorize(&mcp, &b.mcp_url(&t.slug), second, 2, "after").await {
            Err(kind) if kind.starts_with("http 401") => break,
            other => assert!(
                since.elapsed() < Duration::from_secs(2),
                "node B still accepts the revoked key after 2 s: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused_after = since.elapsed();

    // Each job ran once per interval across both workers.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(window.elapsed())).await;
    let runs_after = job_runs(&db).await;
    let seconds = window.elapsed().as_secs_f64();
    let ran = |job: &str| runs_after.get(job).unwrap_or(&0) - runs_before.get(job).unwrap_or(&0);
    // webhooks every 1 s, checkpoints every 250 ms (a quarter of the 1 s interval).
    let (webhooks, checkpoints) = (ran("webhooks"), ran("checkpoints"));
    assert!(
        (3..=seconds.ceil() as i64 + 1).contains(&webhooks),
        "webhooks ran {webhooks} times in {seconds:.1} s"
    );
    assert!(
        (8..=(seconds * 4.0).ceil() as i64 + 2).contains(&checkpoints),
        "checkpoints ran {checkpoints} times in {seconds:.1} s"
    );

    let seen = load.finish().await;
    eprintln!(
        "two nodes behind nginx: {} decisions in {:.1} s, failures {:?}; revoked key refused \
         on the other node after {} ms; in {seconds:.1} s webhooks ran {webhooks} times, \
         checkpoints {checkpoints}",
        seen.receipts.len(),
        started.elapsed().as_secs_f64(),
        seen.failures,
        refused_after.as_millis()
    );
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    assert!(seen.receipts.len() > 100, "{}", seen.receipts.len());
    on_the_ledger(&config, t.tenant_id, &t.slug, &seen.receipts).await;
    drop(pg);
}
