//! Policies name the line and column of an error, and ledger entries prove themselves.

use super::*;

#[tokio::test]
async fn policies_name_line_and_column_and_ledger_entries_prove_themselves() {
    let app = spawn_app().await;
    let s = staff(&app, "Ledger").await;
    let owner = s.owner();
    let catalog = json!({"resource_types": ["Service"], "actions": [["deploy", []]]});
    let bad = call(
        &app,
        Some(owner),
        "POST",
        "/api/v1/policies/validate",
        Some(json!({
        "catalog": catalog, "policies": "forbid(principal, action, resource)\nwhen { nonsense ;"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let msg = bad.body["message"].as_str().unwrap();
    assert!(msg.contains("line ") && msg.contains("column "), "{msg}");
    let put = call(
        &app,
        Some(owner),
        "PUT",
        "/api/v1/policies",
        Some(json!({"catalog": catalog, "policies": ""})),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let seq = put.body["seq"].as_u64().unwrap();
    assert_eq!(
        call(&app, Some(owner), "GET", "/api/v1/policies", None)
            .await
            .body["catalog"],
        catalog
    );

    // The entry, its signature and its inclusion in a signed checkpoint, checked here.
    let e = call(
        &app,
        Some(s.token(Role::Viewer)),
        "GET",
        &format!("/api/v1/ledger/entries/{seq}"),
        None,
    )
    .await;
    assert_eq!(e.status, StatusCode::OK, "{:?}", e.body);
    let record = e.body["record"].as_str().unwrap();
    let hash: [u8; 32] = sha2_digest(record.as_bytes());
    assert_eq!(hex::encode(hash), e.body["record_hash"]);
    let keys: serde_json::Value = app
        .client
        .get(app.url(&format!("/t/{}/keys", s.tenant.slug)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pk = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == e.body["key_id"])
        .unwrap();
    use base64::Engine;
    let pk: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(pk["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let pk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(
        &hex::decode(e.body["signature"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    pk.verify_strict(&hash, &sig).unwrap();
    let cp = &e.body["checkpoint"];
    let proof: Vec<[u8; 32]> = e.body["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex_32(h.as_str().unwrap()))
        .collect();
    merkle::verify_inclusion(
        seq,
        cp["tree_size"].as_u64().unwrap(),
        &merkle::leaf_hash(&hash),
        &proof,
        &hex_32(cp["root_hash"].as_str().unwrap()),
    )
    .unwrap();
    // Consistency between two checkpoints' sizes.
    let first = cp["tree_size"].as_u64().unwrap();
    call(
        &app,
        Some(owner),
        "PUT",
        "/api/v1/limits",
        Some(json!({"cycle_secs": 3600})),
    )
    .await;
    let last = call(
        &app,
        Some(owner),
        "GET",
        "/api/v1/ledger/entries?limit=1",
        None,
    )
    .await
    .body["entries"][0]["seq"]
        .as_u64()
        .unwrap();
    let c = call(
        &app,
        Some(owner),
        "GET",
        &format!(
            "/api/v1/ledger/consistency?first={first}&second={}",
            last + 1
        ),
        None,
    )
    .await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    let proof: Vec<[u8; 32]> = c.body["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex_32(h.as_str().unwrap()))
        .collect();
    merkle::verify_consistency(
        first,
        last + 1,
        &hex_32(c.body["first_root"].as_str().unwrap()),
        &hex_32(c.body["second_root"].as_str().unwrap()),
        &proof,
    )
    .unwrap();
    let bad = call(
        &app,
        Some(owner),
        "GET",
        &format!("/api/v1/ledger/consistency?first=2&second={}", last + 100),
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let cps = call(&app, Some(owner), "GET", "/api/v1/ledger/checkpoints", None).await;
    assert!(
        cps.body["checkpoints"][0]["note"]
            .as_str()
            .unwrap()
            .contains(&s.tenant.slug)
    );
    // Keyset pages walk the whole log without overlap.
    let mut seen = Vec::new();
    let mut next: Option<u64> = None;
    loop {
        let q = next.map(|n| format!("&before_seq={n}")).unwrap_or_default();
        let p = call(
            &app,
            Some(owner),
            "GET",
            &format!("/api/v1/ledger/entries?limit=3{q}"),
            None,
        )
        .await;
        seen.extend(
            p.body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        match p.body["next_before_seq"].as_u64() {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    let expected: Vec<u64> = (0..=last).rev().collect();
    assert_eq!(seen, expected);
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn hex_32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}
