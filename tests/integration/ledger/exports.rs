//! Exports: `charter verify` catches every class of tampering, partial exports verify with
//! inclusion proofs, and the CLI export round-trips after a key rotation.

use super::*;

/// Builds a valid export and checks that each tampering is caught with a precise message.
#[tokio::test]
async fn charter_verify_catches_every_tamper_class() {
    let store = store().await;
    let t = tenant(&store, "Tamper").await;
    append_n(&store, t.tenant_id, 0..6).await;
    // An auditor keeps the checkpoint at size 9 (3 provisioning records + 6).
    let kept = store.ledger().checkpoint(t.tenant_id).await.unwrap();
    let kept_file = write(&[kept.note.trim_end().to_string()], "kept.note");
    std::fs::write(&kept_file, &kept.note).unwrap();
    append_n(&store, t.tenant_id, 6..10).await;
    let good = export(&store, t.tenant_id, None, None).await;
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let public = signing_keys::list_public(&tx).await.unwrap();
    let (_, key) = signing_keys::open_current(&tx, store.master_key())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let pub_hex = hex::encode(public[0].public_key);

    let (ok, out) = verify_cli(
        &write(&good, "good.jsonl"),
        &[
            "--key",
            &pub_hex,
            "--checkpoint",
            kept_file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("consistent with your kept checkpoint of size 9"),
        "{out}"
    );

    let check =
        |name: &'static str, lines: Vec<String>, expect: &'static str, extra: Vec<String>| {
            let kept_file = kept_file.clone();
            async move {
                let mut args: Vec<String> = extra;
                args.push("--checkpoint".into());
                args.push(kept_file.to_str().unwrap().to_string());
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let (ok, out) = verify_cli(&write(&lines, &format!("{name}.jsonl")), &refs).await;
                assert!(!ok, "{name}: tampering not caught:\n{out}");
                assert!(
                    out.contains(expect),
                    "{name}: expected {expect:?} in:\n{out}"
                );
            }
        };

    // A field edited (the stored hash kept).
    let mut edited = good.clone();
    let i = record_index(&edited, 5);
    edited[i] = edited[i].replace("\"payload\":{\"i\":2}", "\"payload\":{\"i\":999}");
    assert!(edited[i].contains("999"), "the edit applied");
    check(
        "edited",
        edited,
        "seq 5: the record's content does not match its hash",
        vec![],
    )
    .await;

    // A record deleted.
    let mut deleted = good.clone();
    deleted.remove(record_index(&deleted, 4));
    check(
        "deleted",
        deleted,
        "seq 4: found seq 5 where seq 4 belongs",
        vec![],
    )
    .await;

    // Two records swapped.
    let mut swapped = good.clone();
    let (a, b) = (record_index(&swapped, 5), record_index(&swapped, 6));
    swapped.swap(a, b);
    check(
        "swapped",
        swapped,
        "seq 5: found seq 6 where seq 5 belongs",
        vec![],
    )
    .await;

    // A record inserted (a forged copy of seq 2 after seq 2).
    let mut inserted = good.clone();
    let i = record_index(&inserted, 2);
    inserted.insert(i + 1, inserted[i].clone());
    check(
        "inserted",
        inserted,
        "seq 3: found seq 2 again after seq 2",
        vec![],
    )
    .await;

    // The tail truncated below the kept checkpoint: a new, honest-looking export of only
    // the first 5 records, with a checkpoint re-signed at size 5.
    let mut truncated: Vec<String> = Vec::new();
    let records: Vec<SignedRecord> = good
        .iter()
        .filter(|l| l.starts_with("{\"type\":\"record\""))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let record: Record = serde_json::from_value(v["record"].clone()).unwrap();
            SignedRecord::sign(record, &key)
        })
        .collect();
    let fake_cp = |recs: &[SignedRecord], origin: &str| {
        let mut tree = charter_core::ledger::merkle::CompactTree::new();
        for r in recs {
            tree.push_leaf(leaf_hash(&r.hash));
        }
        Checkpoint {
            origin: origin.to_string(),
            size: recs.len() as u64,
            root: tree.root(),
        }
        .sign(&key)
    };
    let header: Value = serde_json::from_str(&good[0]).unwrap();
    let origin = header["origin"].as_str().unwrap().to_string();
    let mut h = header.clone();
    h["to_seq"] = json!(4);
    h["tree_size"] = json!(5);
    truncated.push(h.to_string());
    truncated.extend(
        good.iter()
            .filter(|l| l.starts_with("{\"type\":\"key\""))
            .cloned(),
    );
    truncated
        .push(json!({"type": "checkpoint", "note": fake_cp(&records[..5], &origin)}).to_string());
    for r in &records[..5] {
        truncated.push(charter_core::ledger::export::record_line(
            std::str::from_utf8(&r.canonical).unwrap(),
            &r.hash,
            &r.signature,
        ));
    }
    check(
        "truncated",
        truncated,
        "it was truncated below a checkpoint you kept",
        vec![],
    )
    .await;

    // A signature replaced (by the signature of another record).
    let mut resigned = good.clone();
    let (a, b) = (record_index(&resigned, 2), record_index(&resigned, 8));
    let sig_of = |l: &str| {
        serde_json::from_str::<Value>(l).unwrap()["signature"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (sa, sb) = (sig_of(&resigned[a]), sig_of(&resigned[b]));
    resigned[a] = resigned[a].replace(&sa, &sb);
    check(
        "signature",
        resigned,
        "seq 2: the signature does not verify",
        vec![],
    )
    .await;

    // The key swapped for another one.
    let mut swapped_key = good.clone();
    let k = swapped_key
        .iter()
        .position(|l| l.starts_with("{\"type\":\"key\""))
        .unwrap();
    let other = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]).verifying_key();
    let mut kv: Value = serde_json::from_str(&swapped_key[k]).unwrap();
    kv["public_key"] = json!(STANDARD.encode(other.as_bytes()));
    swapped_key[k] = kv.to_string();
    check(
        "key",
        swapped_key,
        "the key id does not match its public key",
        vec![],
    )
    .await;

    // A fork: the same key (a compromised or dishonest operator) signs a different history
    // with its own valid checkpoint; the auditor's kept checkpoint exposes it.
    let mut forked_records = records.clone();
    let mut r3 = forked_records[3].record.clone();
    r3.payload = json!({"i": "forked"});
    forked_records[3] = SignedRecord::sign(r3, &key);
    for i in 4..forked_records.len() {
        let mut r = forked_records[i].record.clone();
        r.prev_hash = hex::encode(forked_records[i - 1].hash);
        forked_records[i] = SignedRecord::sign(r, &key);
    }
    let mut forked = vec![good[0].clone()];
    forked.extend(
        good.iter()
            .filter(|l| l.starts_with("{\"type\":\"key\""))
            .cloned(),
    );
    forked
        .push(json!({"type": "checkpoint", "note": fake_cp(&forked_records, &origin)}).to_string());
    for r in &forked_records {
        forked.push(charter_core::ledger::export::record_line(
            std::str::from_utf8(&r.canonical).unwrap(),
            &r.hash,
            &r.signature,
        ));
    }
    // The forked export is internally valid…
    let (ok, out) = verify_cli(&write(&forked, "forked-alone.jsonl"), &[]).await;
    assert!(ok, "a self-consistent fork verifies on its own: {out}");
    // …but not against the checkpoint the auditor kept.
    check("fork", forked, "the log was rewritten or forked", vec![]).await;

    // A pinned key that did not sign the checkpoint.
    let other_hex = hex::encode(other.as_bytes());
    check(
        "pinned",
        good.clone(),
        "not signed by the pinned key",
        vec!["--key".into(), other_hex],
    )
    .await;
}

#[tokio::test]
async fn partial_exports_verify_with_inclusion_proofs() {
    let store = store().await;
    let t = tenant(&store, "Partial").await;
    append_n(&store, t.tenant_id, 0..30).await;
    let kept = store.ledger().checkpoint(t.tenant_id).await.unwrap();
    append_n(&store, t.tenant_id, 0..10).await;
    let lines = export(&store, t.tenant_id, Some(10), Some(35)).await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("{\"type\":\"inclusion\""))
    );
    let file = write(&lines, "partial.jsonl");
    let kept_file = file.with_file_name("kept.note");
    std::fs::write(&kept_file, &kept.note).unwrap();
    let (ok, out) = verify_cli(&file, &["--checkpoint", kept_file.to_str().unwrap()]).await;
    assert!(ok, "{out}");
    assert!(out.contains("26 records (seq 10..=35)"), "{out}");
    // Remove the last record of the range: caught.
    let mut cut = lines.clone();
    cut.remove(record_index(&cut, 35));
    let (ok, out) = verify_cli(&write(&cut, "cut.jsonl"), &[]).await;
    assert!(!ok);
    assert!(out.contains("records removed from the end"), "{out}");
    // The export itself was recorded.
    let tx = store.tenant_tx(t.tenant_id).await.unwrap();
    let size = read::tree_size(&tx).await.unwrap();
    let last = read::record(&tx, size - 1).await.unwrap();
    assert!(
        last.body().contains("\"kind\":\"ledger.exported\""),
        "{}",
        last.body()
    );
}

#[tokio::test]
async fn charter_ledger_export_cli_round_trip_after_rotation() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let t = tenant(&store, "Cli").await;
    let out = charter_cmd(&config)
        .args(["tenant", "rotate-key", "--tenant", &t.slug])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    store.append(t.tenant_id, entry(1)).await.unwrap();
    let dir = std::env::temp_dir().join(format!("charter-cli-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    let out = charter_cmd(&config)
        .args([
            "ledger",
            "export",
            "--tenant",
            &t.slug,
            "--out",
            file.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("{\"type\":\"key\""))
            .count(),
        2
    );
    let (ok, out) = verify_cli(&file, &[]).await;
    assert!(ok, "{out}");
    // Provisioning (3), the rotation, one entry.
    assert!(
        out.contains(&format!("{} records", PROVISIONED + 2)),
        "{out}"
    );
}
