//! `charter-bench bundles`: evidence bundles of 100,000 and 1,000,000 records (a tenant's
//! log grown as in the scanner bench, every record in full: the largest bundle a range
//! can give). Each export and each verification runs in a child process of its own, so
//! its peak RSS is its own: flat memory shows as the same peak at both sizes.

use std::io::{BufWriter, Write};
use std::process::Command;
use std::time::Instant;

use charter_core::bundle::Purpose;
use charter_core::bundle::verify::{VerifyOptions, verify_bundle};
use charter_core::ledger::Actor;
use charter_store::Store;
use charter_store::evidence::bundle::{BundleRequest, WriteSink};
use uuid::Uuid;

use super::scanner::{grow, open};
use super::{config, peak_rss_kb};

fn child(args: &[&str], master_key: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .env("BENCH_MASTER_KEY", master_key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub async fn bundles() {
    let (cfg, store, su) = super::bench_store().await;
    let key = cfg.master_key.as_ref().unwrap().to_base64().to_string();
    // BENCH_BUNDLE_SIZES (comma separated) for a quick check of the program itself.
    let sizes: Vec<u64> = std::env::var("BENCH_BUNDLE_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    for n in sizes {
        let mut log = open(&store, &su, &format!("bundle {n}")).await;
        grow(&su, &mut log, n).await;
        let file = std::env::temp_dir().join(format!("charter-bench-bundle-{n}.zip"));
        print!(
            "{}",
            child(
                &[
                    "bundle-export",
                    &log.tenant.to_string(),
                    file.to_str().unwrap()
                ],
                &key
            )
        );
        print!(
            "{}",
            child(&["bundle-verify", file.to_str().unwrap()], &key)
        );
        std::fs::remove_file(&file).ok();
    }
}

pub async fn export_one(tenant: &str, file: &str) {
    let cfg = config();
    let store = Store::connect(&cfg, cfg.master_key.clone().unwrap())
        .await
        .unwrap();
    let tenant: Uuid = tenant.parse().unwrap();
    let req = BundleRequest {
        export_id: Uuid::now_v7(),
        system: None,
        agents: vec![],
        from: chrono::Utc::now() - chrono::Duration::days(1),
        to: chrono::Utc::now() + chrono::Duration::minutes(1),
        purpose: Purpose::OperationMonitoring,
        requested_by: Actor::system(),
    };
    let mut sink = WriteSink(BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(file).unwrap(),
    ));
    let start = peak_rss_kb();
    let t = Instant::now();
    let o = store
        .ledger()
        .write_bundle(tenant, &req, &mut sink)
        .await
        .unwrap();
    sink.0.flush().unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "bundle export {:>8} records: {:>8.0} records/s ({:.1} s), {:.0} MB zip, peak RSS {} MB (at start {} MB)",
        o.counts.records,
        o.counts.records as f64 / secs,
        secs,
        o.bytes as f64 / 1e6,
        peak_rss_kb() / 1024,
        start / 1024
    );
}

pub fn verify_one(file: &str) {
    let start = peak_rss_kb();
    let t = Instant::now();
    let s = verify_bundle(
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).unwrap()),
        &VerifyOptions::default(),
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "bundle verify {:>8} records: {:>8.0} records/s on one core ({:.1} s), peak RSS {} MB (at start {} MB)",
        s.counts.records,
        s.counts.records as f64 / secs,
        secs,
        peak_rss_kb() / 1024,
        start / 1024
    );
}
