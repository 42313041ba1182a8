//! `charter-bench soak`: a long run at half the peak rate of `authorize_action` over HTTP,
//! against a real `charter serve` process (the release binary beside this one), to see
//! that nothing drifts: throughput, p50/p99 per window, the serve process's RSS, the
//! database connections and Redis's memory, printed every `BENCH_SOAK_WINDOW` seconds
//! (default 30) for `BENCH_SOAK_SECS` (default 600). The peak is measured first with 64
//! closed-loop clients for 8 s (or given as `BENCH_SOAK_RATE`). The load generator runs on
//! the same two cores as the server and PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use charter_store::Store;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;

use super::{RUN, Stats, bench_url, config, decision_tenant, drive, mcp_targets, ms, status_kb};

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

fn rss_kb(pid: u32) -> u64 {
    status_kb(&pid.to_string(), "VmRSS")
}

async fn redis_used_memory(client: &redis::Client) -> u64 {
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// One finished call: when it finished, its latency from its scheduled start, and why it
/// failed (anything but the expected ALLOWED), if it did.
type Done = (Instant, Duration, Option<String>);

pub async fn soak() {
    let secs = env_secs("BENCH_SOAK_SECS", 600);
    let window = env_secs("BENCH_SOAK_WINDOW", 30);
    let cfg = config();
    charter_store::bootstrap::migrate(&cfg).await.unwrap();
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    let mut tenants = Vec::new();
    for i in 0..8 {
        tenants.push(decision_tenant(&store, &format!("soak {i}")).await);
    }
    drop(store);

    // The server: `charter serve` from the same build, in its own process.
    let bin = std::env::current_exe().unwrap().with_file_name("charter");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p charter",
        bin.display()
    );
    let port = charter_tests::free_port();
    let mut server = std::process::Command::new(&bin)
        .arg("serve")
        .env_clear()
        .env("CHARTER_DATABASE_URL", bench_url())
        .env(
            "CHARTER_MASTER_KEY",
            cfg.master_key.as_ref().unwrap().to_base64().as_str(),
        )
        .env("CHARTER_BIND", format!("127.0.0.1:{port}"))
        .env("CHARTER_RATE_LIMIT_PER_MINUTE", "1000000")
        .env(
            "CHARTER_DB_MAX_CONNECTIONS",
            cfg.db_max_connections.to_string(),
        )
        .env("CHARTER_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = charter_tests::http()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ready = charter_tests::answers(&format!("{base}/readyz"), Duration::from_secs(10)).await;
    assert!(ready, "charter serve did not become ready");
    let rss_boot = rss_kb(pid);

    let targets = mcp_targets(&base, &tenants);
    let body = Arc::new(
        serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "authorize_action",
            "arguments": {"action": "deploy", "resource_type": "Service",
                          "resource_id": "payments-api", "spend": 1},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .unwrap(),
    );
    let call = {
        let (client, targets, body) = (client.clone(), targets.clone(), body.clone());
        move |n: usize| {
            let (client, body) = (client.clone(), body.clone());
            let (url, auth) = targets[n % targets.len()].clone();
            async move {
                let res = client
                    .post(url)
                    .header("Authorization", auth)
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json, text/event-stream")
                    .header("MCP-Protocol-Version", "2026-07-28")
                    .header("Mcp-Method", "tools/call")
                    .header("Mcp-Name", "authorize_action")
                    .body(body.to_vec())
                    .send()
                    .await;
                let res = match res {
                    Ok(r) => r,
                    Err(e) => return Some(format!("transport: {e:?}")),
                };
                let status = res.status();
                match res.text().await {
                    Ok(t) if t.contains("\"ALLOWED\"") => None,
                    Ok(t) => Some(format!(
                        "{status}: {}",
                        t.chars().take(300).collect::<String>()
                    )),
                    Err(e) => Some(format!("reading the answer: {e:?}")),
                }
            }
        }
    };

    // The clients get threads of their own, as agents in other processes would.
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rate = match std::env::var("BENCH_SOAK_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(r) => r,
        None => {
            let c = call.clone();
            let mut st: Stats = clients_rt
                .spawn(drive(64, move |w| {
                    let f = c(w);
                    async move {
                        f.await;
                    }
                }))
                .await
                .unwrap();
            println!(
                "peak      authorize_action over HTTP, 64 clients, {} s: {:.0} /s   p50 {:.2} ms  p99 {:.2} ms",
                RUN.as_secs(),
                st.rate(),
                ms(st.pct(0.50)),
                ms(st.pct(0.99))
            );
            st.rate() / 2.0
        }
    };

    let su = Database::connect(bench_url()).await.unwrap();
    let redis = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let connections = || async {
        let row = su
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                    .to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    println!(
        "soak      {:.0} /s (half the peak) for {} s, open loop (latency from each call's scheduled start)",
        rate,
        secs.as_secs()
    );
    println!(
        "   t (s)    calls/s    p50 ms    p99 ms   failed   serve RSS MiB   db conns   redis MiB"
    );
    let rss_start = rss_kb(pid);
    let done: Arc<Mutex<Vec<Done>>> = Arc::default();
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate);
    // The schedule: calls start on time whatever earlier ones do (no coordinated omission).
    let schedule = {
        let (done, call) = (done.clone(), call.clone());
        clients_rt.spawn(async move {
            let mut n = 0usize;
            while started.elapsed() < secs {
                let due = started + interval.mul_f64(n as f64);
                tokio::time::sleep_until(due.into()).await;
                let (done, call) = (done.clone(), call.clone());
                tokio::spawn(async move {
                    let failure = call(n).await;
                    done.lock()
                        .unwrap()
                        .push((Instant::now(), due.elapsed(), failure));
                });
                n += 1;
            }
        })
    };
    let mut totals = (0usize, 0usize);
    let mut rss_end;
    let mut reasons: Vec<String> = Vec::new();
    let mut next = started + window;
    loop {
        tokio::time::sleep_until(next.into()).await;
        let mut batch: Vec<Done> = std::mem::take(&mut *done.lock().unwrap());
        batch.sort_by_key(|d| d.1);
        let failed = batch.iter().filter(|d| d.2.is_some()).count();
        reasons.extend(batch.iter().filter_map(|d| d.2.clone()));
        let pct = |p: f64| {
            batch
                .get(((batch.len() as f64 * p) as usize).min(batch.len().saturating_sub(1)))
                .map_or(0.0, |d| ms(d.1))
        };
        rss_end = rss_kb(pid);
        println!(
            "{:>8.0} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>15.1} {:>10} {:>11.1}",
            started.elapsed().as_secs_f64(),
            batch.len() as f64 / window.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            failed,
            rss_end as f64 / 1024.0,
            connections().await,
            redis_used_memory(&redis).await as f64 / (1024.0 * 1024.0),
        );
        totals.0 += batch.len();
        totals.1 += failed;
        if next >= started + secs {
            break;
        }
        next += window;
    }
    schedule.await.unwrap();
    println!(
        "total     {} calls, {} failed; serve RSS {:.1} MiB after start-up, {:.1} MiB when the soak began, {:.1} MiB at its end ({:+.1} MiB)",
        totals.0,
        totals.1,
        rss_boot as f64 / 1024.0,
        rss_start as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        (rss_end as f64 - rss_start as f64) / 1024.0
    );
    for reason in reasons.iter().take(10) {
        println!("failed    {reason}");
    }
    clients_rt.shutdown_background();
    let _ = server.kill();
    let _ = server.wait();
}
