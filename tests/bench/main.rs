//! `charter-bench`: benchmark programs that print figures (never timed tests).
//!
//! ```sh
//! cargo run --release -p charter-tests --bin charter-bench -- ledger
//! ```
//!
//! `ledger` measures, in one run against one database (`charter_bench`, created and
//! migrated on the spot): the plain single-row INSERT rate of a comparable row (the
//! baseline), Charter's signed appends per second for 1 tenant and for 50 tenants with
//! concurrent writers (p50/p99 latency), and the offline verification rate of a
//! 1,000,000-record export with the verifier's peak memory (in a child process, next to a
//! 100,000-record export to show memory is flat).
//!
//! `bundles` measures Article 12 evidence bundles (see [`bundles`]): export rate and peak
//! memory at 100,000 and 1,000,000 records, and `charter verify`'s rate on them.
//!
//! `dashboard` measures the dashboard's pages with 1,000,000 records in the tenant (see
//! [`dashboard`]).
//!
//! `scanner` measures the forensic scanner's full and incremental passes (see
//! [`scanner`]), `webhooks` the webhook delivery rate (see [`webhooks`]), `soak` a
//! ten-minute run at half the peak against a `charter serve` process (see [`soak`]). `engine` measures in-process decisions; `mcp` measures `authorize_action` over the MCP
//! endpoint (stateless 2026-07-28 requests over HTTP) next to both, after `server/discover`
//! for the transport's own cost, and the rate the two costs would allow if they simply
//! added up; it prints the mean records per group-commit transaction, since batch size is
//! what decides the database's cost per decision.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use charter_core::config::Config;
use charter_core::keys::MasterKey;
use charter_core::ledger::checkpoint::Checkpoint;
use charter_core::ledger::export::{
    CheckpointLine, FORMAT, FORMAT_VERSION, Header, KeyLine, Line, VerifyOptions, line,
    record_line, verify_export,
};
use charter_core::ledger::merkle::{CompactTree, leaf_hash};
use charter_core::ledger::record::{GENESIS_PREV_HASH, Record, SealAt, SignedRecord, format_time};
use charter_core::ledger::{Actor, Entry};
use charter_store::Store;
use charter_store::ledger::writer::commit_counts;
use charter_store::provision::ProvisionRequest;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;
use uuid::Uuid;

mod bundles;
mod dashboard;
mod scanner;
mod soak;
mod webhooks;

const RUN: Duration = Duration::from_secs(8);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("ledger") => rt.block_on(ledger()),
        Some("engine") => rt.block_on(engine()),
        Some("mcp") => rt.block_on(mcp()),
        Some("scanner") => rt.block_on(scanner::scanner()),
        Some("webhooks") => rt.block_on(webhooks::webhooks()),
        Some("soak") => rt.block_on(soak::soak()),
        Some("verify-file") => verify_file(&args[1]),
        Some("bundles") => rt.block_on(bundles::bundles()),
        Some("dashboard") => rt.block_on(dashboard::dashboard()),
        Some("bundle-export") => rt.block_on(bundles::export_one(&args[1], &args[2])),
        Some("bundle-verify") => bundles::verify_one(&args[1]),
        Some("gen-export") => {
            generate_export(std::path::Path::new(&args[2]), args[1].parse().unwrap())
        }
        _ => {
            eprintln!(
                "usage: charter-bench ledger | engine | mcp | scanner | webhooks | soak | bundles | dashboard | gen-export N FILE | verify-file FILE"
            );
            std::process::exit(2);
        }
    }
}

fn bench_url() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/charter_bench".into())
}

/// The bench database as Charter's own pools reach it (no TLS over loopback), so the
/// baseline pays for the same transport.
fn baseline_url() -> String {
    charter_store::db::PgUrl::parse(&bench_url())
        .unwrap()
        .without_loopback_tls()
        .to_url()
}

/// The bench's configuration; `BENCH_MASTER_KEY` passes the parent's master key to the
/// child processes that measure one thing each.
fn config() -> Config {
    let key = match std::env::var("BENCH_MASTER_KEY") {
        Ok(k) => MasterKey::from_base64(&k).unwrap(),
        Err(_) => MasterKey::generate().unwrap(),
    };
    Config::load(
        None,
        [
            ("CHARTER_DATABASE_URL".to_string(), bench_url()),
            (
                "CHARTER_MASTER_KEY".to_string(),
                key.to_base64().to_string(),
            ),
            (
                "CHARTER_DB_MAX_CONNECTIONS".to_string(),
                pool_size().to_string(),
            ),
            ("CHARTER_BIND".to_string(), "127.0.0.1:0".to_string()),
            (
                "CHARTER_RATE_LIMIT_PER_MINUTE".to_string(),
                "1000000".to_string(),
            ),
        ],
    )
    .unwrap()
}

/// A migrated bench database, Charter's store on it, and a plain connection for writing
/// rows directly.
async fn bench_store() -> (Config, Store, sea_orm::DatabaseConnection) {
    let cfg = config();
    charter_store::bootstrap::migrate(&cfg).await.unwrap();
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    let su = Database::connect(bench_url()).await.unwrap();
    (cfg, store, su)
}

/// Connections per pool, for Charter and for the baseline alike (BENCH_POOL, default 16).
fn pool_size() -> u32 {
    std::env::var("BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

struct Stats {
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }
}

/// Runs `writers` tasks calling `op(task index)` in a loop for [`RUN`].
async fn drive<F, Fut>(writers: usize, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let op = op.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op(w).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Stats {
        ops: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

fn payload(i: usize) -> serde_json::Value {
    json!({
        "tool": "deploy",
        "arguments": {"service": "payments-api", "version": format!("v{}.{}.{}", i % 7, i % 13, i % 101), "region": "eu-west-1"},
        "budget": {"spend": 12.5, "dispatches": 1},
        "note": "benchmark payload of roughly three hundred bytes, like a decision's context",
    })
}

async fn ledger() {
    let cfg = config();
    charter_store::bootstrap::migrate(&cfg).await.unwrap();
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    println!(
        "charter-bench ledger — {} s per measurement, PostgreSQL defaults (fsync on)",
        RUN.as_secs()
    );
    println!();
    let base_rate = baseline().await;

    // Signed appends, 1 tenant.
    let one = provision(&store, "bench-one").await.tenant_id;
    for writers in [16, 64] {
        let s = store.clone();
        let mut st = drive(writers, move |w| {
            let s = s.clone();
            async move {
                s.append(
                    one,
                    Entry::new("bench.decision", Actor::system()).payload(payload(w)),
                )
                .await
                .unwrap();
            }
        })
        .await;
        println!(
            "charter   signed appends, 1 tenant, {writers:>3} writers: {:>9.0} rec/s    p50 {:>6.2} ms  p99 {:>6.2} ms   {:.2}× baseline",
            st.rate(),
            ms(st.pct(0.50)),
            ms(st.pct(0.99)),
            st.rate() / base_rate
        );
    }

    // Signed appends, 50 tenants.
    let mut tenants = Vec::new();
    for i in 0..50 {
        tenants.push(provision(&store, &format!("bench-{i}")).await.tenant_id);
    }
    let tenants = Arc::new(tenants);
    for writers in [100, 200] {
        let s = store.clone();
        let ts = tenants.clone();
        let mut st = drive(writers, move |w| {
            let s = s.clone();
            let t = ts[w % ts.len()];
            async move {
                s.append(
                    t,
                    Entry::new("bench.decision", Actor::system()).payload(payload(w)),
                )
                .await
                .unwrap();
            }
        })
        .await;
        println!(
            "charter   signed appends, 50 tenants, {writers:>3} writers: {:>7.0} rec/s    p50 {:>6.2} ms  p99 {:>6.2} ms   {:.2}× baseline",
            st.rate(),
            ms(st.pct(0.50)),
            ms(st.pct(0.99)),
            st.rate() / base_rate
        );
    }
    println!();

    // Offline verification of synthetic exports (generated in-process with the same code
    // paths as the store: seal, JCS, sign, Merkle, checkpoint), in a child process each.
    let dir = std::env::temp_dir().join("charter-bench");
    std::fs::create_dir_all(&dir).unwrap();
    for n in [100_000u64, 1_000_000] {
        let path = dir.join(format!("export-{n}.jsonl"));
        let t = Instant::now();
        generate_export(&path, n);
        let size = std::fs::metadata(&path).unwrap().len();
        println!(
            "export    generated {n} records ({:.0} MB) in {:.1} s",
            size as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["verify-file", path.to_str().unwrap()])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_file(&path);
    }
    println!("peak RSS of this process: {} MB", peak_rss_kb() / 1024);
}

/// In-process decisions (scope + budget + breaker + signed ledger append) per second,
/// next to the plain-INSERT baseline of the same run.
async fn engine() {
    let cfg = config();
    charter_store::bootstrap::migrate(&cfg).await.unwrap();
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    let base_rate = baseline().await;
    let request = charter_store::engine::ActionRequest {
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: "payments-api".into(),
        spend: 1,
        idempotency_key: None,
        arguments: json!({"version": "v1.2.3"}),
        initiative: None,
        task: None,
    };
    for (tenants, writers) in [(1usize, 64usize), (1, 512), (50, 200), (50, 1000)] {
        let mut ids = Vec::new();
        for i in 0..tenants {
            let p = decision_tenant(&store, &format!("engine {i}")).await;
            ids.push((p.tenant_id, p.agent_id));
        }
        let ids = Arc::new(ids);
        let s = store.clone();
        let r = request.clone();
        let mut st = drive(writers, move |w| {
            let s = s.clone();
            let (t, a) = ids[w % ids.len()];
            let r = r.clone();
            async move {
                let ans = s.engine().authorize(t, a, r).await.unwrap();
                assert!(ans.decision.is_allowed());
            }
        })
        .await;
        println!(
            "engine    decisions, {tenants:>2} tenant(s), {writers:>3} writers: {:>8.0} /s   p50 {:>6.2} ms  p99 {:>6.2} ms   {:.2}× baseline",
            st.rate(),
            ms(st.pct(0.50)),
            ms(st.pct(0.99)),
            st.rate() / base_rate
        );
    }
}

/// The plain single-row INSERT baseline (one writer per pooled connection).
async fn baseline() -> f64 {
    let su = Database::connect(baseline_url()).await.unwrap();
    su.execute_unprepared(
        "DROP TABLE IF EXISTS bench_baseline;
         CREATE TABLE bench_baseline (tenant_id uuid NOT NULL, seq bigserial, recorded_at timestamptz NOT NULL DEFAULT now(),
             record jsonb NOT NULL, signature bytea NOT NULL, PRIMARY KEY (tenant_id, seq))",
    )
    .await
    .unwrap();
    let pool = {
        let mut o = sea_orm::ConnectOptions::new(baseline_url());
        o.max_connections(pool_size()).sqlx_logging(false);
        Arc::new(Database::connect(o).await.unwrap())
    };
    let row = serde_json::to_string(&payload(1)).unwrap();
    let sig = vec![7u8; 64];
    let base_tenant = Uuid::now_v7();
    let mut st = drive(pool_size() as usize, move |_| {
        let pool = pool.clone();
        let row = row.clone();
        let sig = sig.clone();
        async move {
            pool.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO bench_baseline (tenant_id, record, signature) VALUES ($1, $2::jsonb, $3)",
                [base_tenant.into(), row.into(), sig.into()],
            ))
            .await
            .unwrap();
        }
    })
    .await;
    println!(
        "baseline  plain INSERT, {:>3} writers:           {:>9.0} rows/s   p50 {:>6.2} ms  p99 {:>6.2} ms",
        pool_size(),
        st.rate(),
        ms(st.pct(0.50)),
        ms(st.pct(0.99))
    );
    st.rate()
}

/// Records per group-commit transaction since `before` (a [`commit_counts`] reading).
fn per_commit(before: (u64, u64)) -> String {
    let (tx, records) = commit_counts();
    let (tx, records) = (tx - before.0, records - before.1);
    format!("{:.1} records/commit", records as f64 / tx.max(1) as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn provision(store: &Store, name: &str) -> charter_store::provision::Provisioned {
    store
        .admin()
        .provision_tenant(
            ProvisionRequest {
                name: format!("{name} {}", &Uuid::new_v4().simple().to_string()[..8]),
                slug: None,
                owner_email: None,
                agent_name: "bench".into(),
                is_demo: false,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap()
}

fn generate_export(path: &std::path::Path, n: u64) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[11u8; 32]);
    let public = key.verifying_key();
    let key_id = charter_core::keys::key_id(&public);
    let tenant = Uuid::now_v7();
    let origin = format!("bench.example/t/{tenant}");
    let now = chrono::Utc::now();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    // Records first into a second file, since the checkpoint (which needs the root) comes
    // before them in the export.
    let body_path = path.with_extension("body");
    let mut body =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&body_path).unwrap());
    let mut tree = CompactTree::new();
    let mut prev = GENESIS_PREV_HASH;
    for seq in 0..n {
        let r = Record::seal(
            Entry::new("bench.decision", Actor::agent(tenant)).payload(payload(seq as usize)),
            &SealAt {
                tenant_id: tenant,
                seq,
                recorded_at: now,
                prev_hash: prev,
                key_id: &key_id,
            },
        );
        let s = SignedRecord::sign(r, &key);
        prev = s.hash;
        tree.push_leaf(leaf_hash(&s.hash));
        writeln!(
            body,
            "{}",
            record_line(
                std::str::from_utf8(&s.canonical).unwrap(),
                &s.hash,
                &s.signature
            )
        )
        .unwrap();
    }
    body.flush().unwrap();
    drop(body);
    let header = Line::Header(Header {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        tenant_id: tenant.to_string(),
        tenant_slug: "bench".into(),
        origin: origin.clone(),
        from_seq: 0,
        to_seq: n - 1,
        tree_size: n,
        exported_at: format_time(now),
    });
    writeln!(w, "{}", line(&header)).unwrap();
    let key_line = Line::Key(KeyLine {
        key_id: key_id.clone(),
        algorithm: "ed25519".into(),
        public_key: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            public.as_bytes(),
        ),
        valid_from: format_time(now - chrono::Duration::seconds(1)),
        valid_until: None,
    });
    writeln!(w, "{}", line(&key_line)).unwrap();
    let note = Checkpoint {
        origin,
        size: n,
        root: tree.root(),
    }
    .sign(&key);
    writeln!(w, "{}", line(&Line::Checkpoint(CheckpointLine { note }))).unwrap();
    std::io::copy(&mut std::fs::File::open(&body_path).unwrap(), &mut w).unwrap();
    w.flush().unwrap();
    let _ = std::fs::remove_file(&body_path);
}

/// Child process: verify one export, print the rate and this process's peak memory.
fn verify_file(path: &str) {
    let n_before = peak_rss_kb();
    let t = Instant::now();
    let file = std::fs::File::open(path).unwrap();
    let summary = verify_export(
        std::io::BufReader::with_capacity(1 << 20, file),
        &VerifyOptions::default(),
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "verify    {:>8} records: {:>8.0} entries/s on one core, peak RSS {} MB (at start {} MB)",
        summary.records,
        summary.records as f64 / secs,
        peak_rss_kb() / 1024,
        n_before / 1024
    );
}

/// A size in kB from `/proc/{process}/status` (`VmRSS`, `VmHWM`, …); 0 if it cannot be read.
fn status_kb(process: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn peak_rss_kb() -> u64 {
    status_kb("self", "VmHWM")
}

/// A tenant whose agent may deploy `payments-*` services, for the decision benchmarks.
async fn decision_tenant(store: &Store, name: &str) -> charter_store::provision::Provisioned {
    let p = provision(store, name).await;
    let scope = charter_core::policy::Scope {
        grants: vec![charter_core::policy::Grant {
            actions: vec!["deploy".into()],
            resource_type: "Service".into(),
            id_pattern: "payments-*".into(),
        }],
        may_direct: vec![],
        spend_limit: Some(i64::MAX / 4),
        dispatch_limit: None,
    };
    store
        .engine()
        .set_scope(p.tenant_id, p.agent_id, scope, p.owner_id)
        .await
        .unwrap();
    p
}

/// `authorize_action` over MCP HTTP: N concurrent clients at full speed, then an open-loop
/// run at half that rate for its latency, next to the in-process rate and the baseline.
async fn mcp() {
    // BENCH_CLIENTS concurrent clients (default 64) over 8 tenants.
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    const TENANTS: usize = 8;
    let cfg = config();
    charter_store::bootstrap::migrate(&cfg).await.unwrap();
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    println!(
        "charter-bench mcp — {} s per measurement, {clients} clients over {TENANTS} tenants",
        RUN.as_secs()
    );
    let base_rate = baseline().await;
    let mut tenants = Vec::new();
    for i in 0..TENANTS {
        tenants.push(decision_tenant(&store, &format!("mcp {i}")).await);
    }
    let request = charter_store::engine::ActionRequest {
        action: "deploy".into(),
        resource_type: "Service".into(),
        resource_id: "payments-api".into(),
        spend: 1,
        idempotency_key: None,
        arguments: json!({"version": "v1.2.3"}),
        initiative: None,
        task: None,
    };
    let ids: Arc<Vec<(Uuid, Uuid)>> =
        Arc::new(tenants.iter().map(|t| (t.tenant_id, t.agent_id)).collect());
    let (s, r, i) = (store.clone(), request.clone(), ids.clone());
    let counts = commit_counts();
    let mut st = drive(clients, move |w| {
        let s = s.clone();
        let (t, a) = i[w % i.len()];
        let r = r.clone();
        async move {
            assert!(
                s.engine()
                    .authorize(t, a, r)
                    .await
                    .unwrap()
                    .decision
                    .is_allowed()
            );
        }
    })
    .await;
    let engine_rate = st.rate();
    println!(
        "engine    in-process decisions, {clients} tasks:      {:>8.0} /s   p50 {:>6.2} ms  p99 {:>6.2} ms   {:.2}× baseline  {}",
        engine_rate,
        ms(st.pct(0.50)),
        ms(st.pct(0.99)),
        engine_rate / base_rate,
        per_commit(counts)
    );

    // The clients get threads of their own, as agents in other processes would: on the
    // server's runtime their tasks would queue ahead of the ledger writer's.
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = charter_api::Application::build(cfg.clone(), store.clone()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = charter_tests::http()
        .pool_max_idle_per_host(clients * 2)
        .build()
        .unwrap();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let authorize = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "authorize_action",
        "arguments": {"action": "deploy", "resource_type": "Service",
                      "resource_id": "payments-api", "spend": 1,
                      "arguments": {"version": "v1.2.3"}},
        "_meta": meta}});
    let discover =
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}});
    let targets = mcp_targets(&base, &tenants);
    // One stateless request per call: `method`, and `name` for a tool call; the answer
    // must contain `expect`.
    let request = |body: serde_json::Value,
                   method: &'static str,
                   name: Option<&'static str>,
                   expect: &'static str| {
        let client = client.clone();
        let targets = targets.clone();
        let body = Arc::new(serde_json::to_vec(&body).unwrap());
        move |w: usize| {
            let client = client.clone();
            let (url, auth) = targets[w % targets.len()].clone();
            let body = body.clone();
            async move {
                let mut req = client
                    .post(url)
                    .header("Authorization", auth)
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json, text/event-stream")
                    .header("MCP-Protocol-Version", "2026-07-28")
                    .header("Mcp-Method", method);
                if let Some(name) = name {
                    req = req.header("Mcp-Name", name);
                }
                let res = req.body(body.to_vec()).send().await.unwrap();
                let text = res.text().await.unwrap();
                assert!(text.contains(expect), "{text}");
            }
        }
    };
    // The transport's own cost: `server/discover` through the same authentication, rate
    // limit and rmcp, with no decision behind it.
    let mut st = clients_rt
        .spawn(drive(
            clients,
            request(discover, "server/discover", None, "\"result\""),
        ))
        .await
        .unwrap();
    let transport_rate = st.rate();
    println!(
        "mcp       server/discover over HTTP, {clients} clients: {:>7.0} /s   p50 {:>6.2} ms  p99 {:>6.2} ms",
        transport_rate,
        ms(st.pct(0.50)),
        ms(st.pct(0.99)),
    );
    // Client, transport and engine share these cores: were their costs per request simply
    // added (no batching lost to the extra latency), this is the rate they would allow.
    let bound = 1.0 / (1.0 / engine_rate + 1.0 / transport_rate);
    println!(
        "bound     in-process + transport costs added:   {:>8.0} /s                                {:.2}× baseline",
        bound,
        bound / base_rate
    );
    let call = request(
        authorize,
        "tools/call",
        Some("authorize_action"),
        "\"ALLOWED\"",
    );
    let counts = commit_counts();
    let mut st = clients_rt
        .spawn(drive(clients, call.clone()))
        .await
        .unwrap();
    let peak = st.rate();
    println!(
        "mcp       authorize_action over HTTP, {clients} clients: {:>7.0} /s   p50 {:>6.2} ms  p99 {:>6.2} ms   {:.2}× baseline  {:.2}× in-process  {}",
        peak,
        ms(st.pct(0.50)),
        ms(st.pct(0.99)),
        peak / base_rate,
        peak / engine_rate,
        per_commit(counts)
    );

    // Open loop at half the peak: requests start on schedule whatever the previous ones
    // do, and latency counts from the scheduled start (no coordinated omission).
    let target = peak / 2.0;
    let counts = commit_counts();
    let mut st = clients_rt.spawn(open_loop(target, call)).await.unwrap();
    println!(
        "mcp       open loop at half the peak ({:.0} /s):   {:>7.0} /s   p50 {:>6.2} ms  p99 {:>6.2} ms  {}",
        target,
        st.rate(),
        ms(st.pct(0.50)),
        ms(st.pct(0.99)),
        per_commit(counts)
    );
    clients_rt.shutdown_background();
}

/// Each tenant's MCP URL at `base` and its agent's `Authorization` header.
fn mcp_targets(
    base: &str,
    tenants: &[charter_store::provision::Provisioned],
) -> Arc<Vec<(String, String)>> {
    Arc::new(
        tenants
            .iter()
            .map(|t| {
                (
                    format!("{base}/t/{}/mcp", t.slug),
                    format!("Bearer {}", t.api_key.expose()),
                )
            })
            .collect(),
    )
}

/// Calls `call` at `rate` per second for [`RUN`], each on schedule whatever the previous
/// ones do; latency counts from the scheduled start (no coordinated omission).
async fn open_loop<F, Fut>(rate: f64, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < RUN {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let (call, tx) = (call.clone(), tx.clone());
        tokio::spawn(async move {
            call(n).await;
            let _ = tx.send(due.elapsed());
        });
        n += 1;
    }
    drop(tx);
    let mut latencies = Vec::new();
    while let Some(l) = rx.recv().await {
        latencies.push(l);
    }
    Stats {
        ops: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}
