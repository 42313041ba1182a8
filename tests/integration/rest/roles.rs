//! The role matrix: for every operation, exactly the roles docs/permissions.md grants get
//! through, and every other role gets 403 — and the document lists every operation served.
//! On the way, every successful change is checked to be a ledger record, and nothing else.

use std::collections::BTreeMap;

use charter_core::tenant::Role;
use charter_tests::rest::{call, staff};
use charter_tests::spawn_app;
use reqwest::StatusCode;

use super::samples::{Ids, operations};

/// `"METHOD /path" → roles allowed`, read from the table in docs/permissions.md.
fn documented() -> BTreeMap<String, Vec<Role>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/permissions.md"
    ))
    .unwrap();
    let mut out = BTreeMap::new();
    let mut columns: Vec<Role> = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.first() == Some(&"route") {
            columns = cells[2..].iter().map(|c| c.parse().unwrap()).collect();
            continue;
        }
        if columns.is_empty() || cells.len() != columns.len() + 2 || !cells[0].starts_with('`') {
            continue;
        }
        let route = cells[0].trim_matches('`').to_string();
        let allowed = columns
            .iter()
            .zip(&cells[2..])
            .filter(|(_, c)| **c == "yes")
            .map(|(r, _)| *r)
            .collect();
        out.insert(route, allowed);
    }
    assert_eq!(columns, Role::ALL.to_vec(), "the table's role columns");
    out
}

#[tokio::test]
async fn every_route_admits_exactly_the_documented_roles() {
    let app = spawn_app().await;
    let s = staff(&app, "Roles").await;
    let doc = documented();
    let ops: Vec<_> = operations(&app)
        .await
        .into_iter()
        .filter(|o| !o.public())
        .collect();
    let served: Vec<String> = ops.iter().map(|o| o.key()).collect();
    for key in doc.keys() {
        assert!(
            served.contains(key),
            "docs/permissions.md lists {key}, which is not served"
        );
    }
    let ids = Ids::random();
    let mut checked = 0;
    let mut changes = 0;
    for op in &ops {
        let allowed = doc
            .get(&op.key())
            .unwrap_or_else(|| panic!("{} is not in docs/permissions.md", op.key()));
        for role in Role::ALL {
            let before = log_size(&app, &s).await;
            let r = call(
                &app,
                Some(s.token(role)),
                &op.method,
                &op.url(&ids),
                op.body(&ids),
            )
            .await;
            // Every change is on the ledger; reads, refusals, validation and simulation
            // are not changes.
            let grew = log_size(&app, &s).await > before;
            let changes_state = r.status.is_success()
                && op.method != "GET"
                && !["/api/v1/policies/validate", "/api/v1/simulate"].contains(&op.path.as_str());
            assert_eq!(
                grew,
                changes_state,
                "{} as {role}: {} — recorded: {grew}",
                op.key(),
                r.status
            );
            changes += usize::from(grew);
            if allowed.contains(&role) {
                assert!(
                    r.status != StatusCode::FORBIDDEN && r.status != StatusCode::UNAUTHORIZED,
                    "{} as {role}: {} {:?}",
                    op.key(),
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{} as {role}: {:?}",
                    op.key(),
                    r.body
                );
                assert_eq!(r.code(), "forbidden");
            }
            assert!(
                !r.status.is_server_error(),
                "{} as {role}: {:?}",
                op.key(),
                r.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 250, "{checked} checks");
    assert!(
        changes >= 12,
        "only {changes} successful changes were tried"
    );
    // Without credentials every one of them is 401.
    for op in &ops {
        let r = call(&app, None, &op.method, &op.url(&ids), op.body(&ids)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", op.key());
        assert!(r.headers.contains_key("www-authenticate"));
    }
}

async fn log_size(app: &charter_tests::TestApp, s: &charter_tests::rest::Staff) -> u64 {
    let tx = app.store.tenant_tx(s.tenant.tenant_id).await.unwrap();
    let n = charter_store::ledger::read::tree_size(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    n
}
