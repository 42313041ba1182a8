//! A bundle for one AI system, made by `charter export art12` and checked by `charter
//! verify`: exactly the system's records in full, every other record of the range
//! elided; records.csv parses; report.html opens in headless Chromium with the counts.

use std::process::Command;

use charter_core::bundle::{Brief, Manifest, Purpose, ScopeCheck};
use charter_tests::browser::Browser;
use charter_tests::{charter_cmd, runs, store, store_with, succeeds, test_config};
use chrono::{Duration, Utc};
use serde_json::Value;

use super::{file, fixture, make, request, verify};

#[tokio::test]
async fn a_system_bundle_holds_its_records_in_full_and_accounts_for_the_rest() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let f = fixture(&store).await;
    let dir = std::env::temp_dir().join(format!("charter-bundle-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("triage.zip");
    let from = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let to = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    succeeds(charter_cmd(&config).args([
        "export",
        "art12",
        "--tenant",
        &f.t.slug,
        "--system",
        &f.triage.to_string(),
        "--from",
        &from,
        "--to",
        &to,
        "--purpose",
        "risk_situations",
        "--out",
        out.to_str().unwrap(),
    ]))
    .await;
    // Bad input names what is wrong and writes nothing.
    for (flag, value, said) in [
        (
            "--purpose",
            "marketing",
            "--purpose: one of risk_situations",
        ),
        ("--from", "soon", "--from: a date"),
        (
            "--system",
            &uuid::Uuid::new_v4().to_string(),
            "system_id: no such AI system",
        ),
    ] {
        let bad = dir.join("bad.zip");
        let mut args = vec![
            "export",
            "art12",
            "--tenant",
            &f.t.slug,
            "--from",
            &from,
            "--to",
            &to,
            "--purpose",
            "risk_situations",
            "--out",
            bad.to_str().unwrap(),
        ];
        match args.iter().position(|a| *a == flag) {
            Some(i) => args[i + 1] = value,
            None => args.extend([flag, value]),
        }
        let out = charter_cmd(&config).args(&args).output().await.unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{flag} {value}: {err}");
        assert!(!bad.exists() && !dir.join("bad.zip.partial").exists());
    }

    let ok = succeeds(charter_cmd(&config).args(["verify", out.to_str().unwrap()])).await;
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.starts_with("OK: evidence bundle of"), "{said}");
    assert!(said.contains("AI system \"Triage\""), "{said}");

    let zip = std::fs::read(&out).unwrap();
    let manifest: Manifest = serde_json::from_str(&file(&zip, "manifest.json")).unwrap();
    assert_eq!(manifest.purpose, Purpose::RiskSituations);
    assert_eq!(manifest.scope.agents, vec![f.agent_a.to_string()]);
    let scope = ScopeCheck::new(&manifest);
    let lines: Vec<Value> = file(&zip, "records.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, manifest.counts.records);
    assert!(manifest.counts.elided_filter > 0 && manifest.counts.full > 0);

    // Each record of the range: in full exactly when it concerns the system, as stored.
    let tx = store.tenant_tx(f.t.tenant_id).await.unwrap();
    for l in &lines {
        let seq = l["seq"].as_u64().unwrap();
        let stored = charter_store::ledger::read::record(&tx, seq).await.unwrap();
        let rec: Brief<'_> = serde_json::from_str(stored.body()).unwrap();
        assert_eq!(l["hash"], hex::encode(stored.record_hash));
        if scope.concerns(&rec) {
            assert_eq!(
                l["record"]["kind"],
                rec.kind.as_ref(),
                "seq {seq} must be in full"
            );
        } else {
            assert_eq!(l["elided"], "filter", "seq {seq} must be elided: {l}");
            assert!(l.get("record").is_none() && l.get("signature").is_none());
        }
    }
    tx.rollback().await.unwrap();
    for seq in &f.triage_seqs {
        assert!(
            lines
                .iter()
                .any(|l| l["seq"] == *seq && l.get("record").is_some())
        );
    }
    // The owner's approval of A's action is in full and an oversight act; B's reset is not.
    let csv_path = dir.join("records.csv");
    std::fs::write(&csv_path, file(&zip, "records.csv")).unwrap();
    let parsed = runs(Command::new("python3").args([
        "-c",
        "import csv,json,sys; rows=list(csv.DictReader(open(sys.argv[1], newline=''))); \
         print(json.dumps(rows))",
        csv_path.to_str().unwrap(),
    ]));
    let rows: Vec<Value> = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(rows.len() as u64, manifest.counts.records);
    let oversight: Vec<&Value> = rows.iter().filter(|r| r["oversight"] == "yes").collect();
    assert_eq!(oversight.len(), 1, "{oversight:?}");
    assert_eq!(oversight[0]["kind"], "action_approval.approved");
    assert!(
        rows.iter()
            .any(|r| r["reason"] == "<script>alert(1)</script>")
    );
    assert_eq!(
        rows.iter().filter(|r| r["elided"] == "filter").count() as u64,
        manifest.counts.elided_filter
    );

    // report.html in a real browser: the counts, the oversight act by name, the markup
    // as text (no script element, none ran).
    std::fs::write(dir.join("report.html"), file(&zip, "report.html")).unwrap();
    let browser = Browser::start().await;
    browser
        .goto(&format!("file://{}", dir.join("report.html").display()))
        .await;
    assert!(browser.title().await.contains("Triage"));
    assert_eq!(
        browser.text("#count-records").await,
        manifest.counts.records.to_string()
    );
    assert_eq!(
        browser.text("#count-full").await,
        manifest.counts.full.to_string()
    );
    assert_eq!(
        browser.text("#count-elided-filter").await,
        manifest.counts.elided_filter.to_string()
    );
    let oversight = browser.text("#oversight").await;
    assert!(
        oversight.contains("action_approval.approved"),
        "{oversight}"
    );
    assert!(
        oversight.contains(&f.t.owner_email.split('@').next().unwrap().to_string())
            || oversight.contains(&f.t.owner_id.to_string())
    );
    let decisions = browser.text("#decisions").await;
    assert!(
        decisions.contains("<script>alert(1)</script>"),
        "{decisions}"
    );
    let scripts = browser
        .execute("return document.querySelectorAll('script').length", vec![])
        .await;
    assert_eq!(scripts, 0);
    browser.quit().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_bundle_of_the_whole_tenant_has_nothing_elided_and_agents_can_be_chosen() {
    let store = store().await;
    let f = fixture(&store).await;
    let (zip, outcome) = make(
        &store,
        f.t.tenant_id,
        &request(None, Purpose::OperationMonitoring),
    )
    .await;
    let s = verify(&zip).unwrap();
    assert_eq!(s.counts.elided_filter, 0);
    assert_eq!(s.counts.full, outcome.counts.records);
    // The export is itself a record, with the manifest's hash, the requester and purpose.
    let page = store
        .engine()
        .query_ledger(
            f.t.tenant_id,
            charter_store::engine::views::LedgerFilter {
                kind: Some("export.created".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1);
    let tx = store.tenant_tx(f.t.tenant_id).await.unwrap();
    let rec = charter_store::ledger::read::record(&tx, page.entries[0].seq as u64)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let rec: Value = serde_json::from_str(rec.body()).unwrap();
    assert_eq!(
        rec["payload"]["manifest_sha256"],
        outcome.manifest_sha256.as_str()
    );
    assert_eq!(rec["payload"]["purpose"], "operation_monitoring");
    assert_eq!(rec["actor"]["type"], "system");

    // The other system's bundle elides the first's records.
    let (zip, _) = make(
        &store,
        f.t.tenant_id,
        &request(Some(f.billing), Purpose::RiskSituations),
    )
    .await;
    verify(&zip).unwrap();
    let lines = file(&zip, "records.jsonl");
    for seq in &f.triage_seqs {
        let l: Value = lines
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["seq"] == *seq)
            .unwrap();
        assert_eq!(l["elided"], "filter", "{l}");
    }

    let mut by_agent = request(None, Purpose::PostMarketMonitoring);
    by_agent.agents = vec![f.agent_b];
    let (zip, _) = make(&store, f.t.tenant_id, &by_agent).await;
    let s = verify(&zip).unwrap();
    assert!(s.counts.full >= 3 && s.counts.elided_filter >= 4, "{s:?}");
}
