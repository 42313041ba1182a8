//! Every tampering with a bundle is refused, and the message names what was done.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use charter_core::bundle::Purpose;
use charter_core::bundle::verify::{BundleError, VerifyOptions, verify_bundle};
use charter_tests::store;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;

use super::{file, fixture, make, repack, request, verify};

/// Rewrites one line of records.jsonl (by seq) or drops it (`None`).
fn edit_line(zip: &[u8], seq: u64, change: impl Fn(&str) -> Option<String>) -> Vec<u8> {
    repack(
        zip,
        |name, bytes| {
            if name != "records.jsonl" {
                return Some(bytes);
            }
            let text = String::from_utf8(bytes).unwrap();
            let mut out = String::new();
            for l in text.lines() {
                let v: Value = serde_json::from_str(l).unwrap();
                let line = if v["seq"] == seq {
                    change(l)
                } else {
                    Some(l.to_string())
                };
                if let Some(line) = line {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            Some(out.into_bytes())
        },
        &[],
    )
}

fn refused(zip: &[u8]) -> String {
    match verify(zip) {
        Ok(s) => panic!("accepted a tampered bundle: {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn every_tampering_is_refused_with_its_reason() {
    let store = store().await;
    let f = fixture(&store).await;
    let (zip, _) = make(
        &store,
        f.t.tenant_id,
        &request(Some(f.triage), Purpose::RiskSituations),
    )
    .await;
    verify(&zip).unwrap();
    let lines: Vec<Value> = file(&zip, "records.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decision = lines
        .iter()
        .find(|l| l["record"]["kind"] == "decision")
        .unwrap()["seq"]
        .as_u64()
        .unwrap();
    let elided_before_full = lines
        .windows(2)
        .find(|w| w[0].get("elided").is_some() && w[1].get("record").is_some())
        .map(|w| w[0]["seq"].as_u64().unwrap())
        .unwrap();
    let last_elided = lines
        .iter()
        .rev()
        .find(|l| l.get("elided").is_some())
        .unwrap()["seq"]
        .as_u64()
        .unwrap();

    // A record edited: its hash no longer matches.
    let seq = decision;
    let e = refused(&edit_line(&zip, seq, |l| {
        Some(l.replace("\"deploy\"", "\"read\""))
    }));
    assert!(
        e.contains(&format!("seq {seq}")) && e.contains("was edited"),
        "{e}"
    );

    // A full record dropped, an elided one dropped.
    let e = refused(&edit_line(&zip, seq, |_| None));
    assert!(e.contains(&format!("record {seq} was removed")), "{e}");
    let e = refused(&edit_line(&zip, last_elided, |_| None));
    assert!(
        e.contains(&format!("record {last_elided} was removed"))
            || e.contains("removed from the end"),
        "{e}"
    );

    // An elided record turned into another hash: the next record's chain breaks.
    let e = refused(&edit_line(&zip, elided_before_full, |l| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v["hash"] = Value::String("ab".repeat(32));
        Some(v.to_string())
    }));
    assert!(e.contains("chain is broken"), "{e}");
    // … and where no full record follows, the Merkle root no longer matches.
    let e = refused(&edit_line(&zip, last_elided, |l| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v["hash"] = Value::String("cd".repeat(32));
        Some(v.to_string())
    }));
    assert!(
        e.contains("signed end checkpoint") || e.contains("chain is broken"),
        "{e}"
    );

    // A file the manifest does not list.
    let e = refused(&repack(&zip, |_, b| Some(b), &[("notes.txt", b"trust me")]));
    assert!(
        e.contains("notes.txt") && e.contains("not listed in the manifest"),
        "{e}"
    );

    // A second report.html, doctored, before the genuine one (the name patched in place).
    let doubled = repack(
        &zip,
        |_, b| Some(b),
        &[("report.htmX", b"<h1>All fine</h1>")],
    );
    let needle = b"report.htmX";
    let mut doubled = doubled;
    let mut i = 0;
    while i + needle.len() <= doubled.len() {
        if &doubled[i..i + needle.len()] == needle {
            doubled[i + needle.len() - 1] = b'l';
        }
        i += 1;
    }
    let e = refused(&doubled);
    assert!(e.contains("appears twice") || e.contains("disagree"), "{e}");

    // report.html edited.
    let e = refused(&repack(
        &zip,
        |name, b| {
            Some(if name == "report.html" {
                String::from_utf8(b)
                    .unwrap()
                    .replace("Triage", "Other")
                    .into_bytes()
            } else {
                b
            })
        },
        &[],
    ));
    assert!(
        e.starts_with("report.html:") && e.contains("SHA-256"),
        "{e}"
    );

    // The manifest edited (the purpose changed).
    let edit_manifest = |b: Vec<u8>| {
        String::from_utf8(b)
            .unwrap()
            .replace("\"risk_situations\"", "\"post_market_monitoring\"")
            .into_bytes()
    };
    let e = refused(&repack(
        &zip,
        |name, b| {
            Some(if name == "manifest.json" {
                edit_manifest(b)
            } else {
                b
            })
        },
        &[],
    ));
    assert!(e.contains("manifest's signature does not verify"), "{e}");

    // The manifest edited and signed by another key, added to keys.json.
    let other = SigningKey::from_bytes(&[42u8; 32]);
    let other_id = charter_core::keys::key_id(&other.verifying_key());
    let mut manifest: Value = serde_json::from_str(&file(&zip, "manifest.json")).unwrap();
    manifest["purpose"] = "post_market_monitoring".into();
    manifest["key_id"] = other_id.clone().into();
    let mut keys: Value = serde_json::from_str(&file(&zip, "keys.json")).unwrap();
    let valid_from = keys["keys"][0]["valid_from"].clone();
    keys["keys"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "key_id": other_id, "algorithm": "ed25519",
            "public_key": STANDARD.encode(other.verifying_key().as_bytes()),
            "valid_from": valid_from, "valid_until": null,
        }));
    let keys_bytes = serde_json::to_vec_pretty(&keys).unwrap();
    for f in manifest["files"].as_array_mut().unwrap() {
        if f["path"] == "keys.json" {
            f["size"] = keys_bytes.len().into();
            f["sha256"] = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&keys_bytes)).into();
        }
    }
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    let sig = format!(
        "{}\n",
        STANDARD.encode(other.sign(&manifest_bytes).to_bytes())
    );
    let forged = repack(
        &zip,
        |name, b| {
            Some(match name {
                "manifest.json" => manifest_bytes.clone(),
                "manifest.sig" => sig.clone().into_bytes(),
                "keys.json" => keys_bytes.clone(),
                _ => b,
            })
        },
        &[],
    );
    let e = refused(&forged);
    assert!(
        e.contains("not signed by the key that signed the end checkpoint"),
        "{e}"
    );
    // With the tenant's key pinned the verdict names the key.
    let tenant_key = STANDARD
        .decode(keys["keys"][0]["public_key"].as_str().unwrap())
        .unwrap();
    let pinned = charter_core::keys::verifying_key(&tenant_key).unwrap();
    let e = verify_bundle(
        std::io::Cursor::new(&forged),
        &VerifyOptions {
            pinned_key: Some(pinned),
            kept_checkpoint: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, BundleError::Manifest(ref m) if m.contains("pinned key")),
        "{e}"
    );

    // The end checkpoint replaced by another log's.
    let other_log = fixture(&store).await;
    let other_cp = store
        .ledger()
        .checkpoint(other_log.t.tenant_id)
        .await
        .unwrap();
    let e = refused(&repack(
        &zip,
        |name, b| {
            Some(if name == "checkpoints/end.txt" {
                other_cp.note.clone().into_bytes()
            } else {
                b
            })
        },
        &[],
    ));
    assert!(e.starts_with("checkpoints/end.txt:"), "{e}");

    // A kept checkpoint of another log, or one the bundle cannot reach, is refused; this
    // log's latest is accepted.
    let kept = |note: String| {
        verify_bundle(
            std::io::Cursor::new(&zip),
            &VerifyOptions {
                pinned_key: None,
                kept_checkpoint: Some(note),
            },
        )
    };
    let e = kept(other_cp.note.clone()).unwrap_err();
    assert!(matches!(e, BundleError::Kept { .. }), "{e}");
    let end = file(&zip, "checkpoints/end.txt");
    assert!(kept(end).unwrap().kept_checkpoint.is_some());
}
