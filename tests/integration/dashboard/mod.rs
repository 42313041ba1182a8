//! The dashboard, driven in a real browser (Debian's Chromium through chromedriver): the
//! flows people use, its security rules tried against, and a screenshot of every page under
//! `target/screenshots/` for review.

mod billing;
mod inbox;
mod ledger;
mod onboarding;
mod pages;
mod security;
mod settings;

use std::time::Duration;

use charter_core::secret::Secret;
use charter_core::tenant::{Email, Role};
use charter_store::admin::users::NewUser;
use charter_tests::TestApp;
use charter_tests::browser::Browser;
use uuid::Uuid;

pub const PASSWORD: &str = "a long enough password";

/// Adds a person with `role` and [`PASSWORD`] to `tenant`; returns their e-mail address.
pub async fn person(app: &TestApp, tenant: Uuid, owner: Uuid, role: Role) -> String {
    let email = format!(
        "{}-{}@example.test",
        role.as_str().replace('_', "-"),
        Uuid::new_v4().simple()
    );
    let hash = charter_store::passwords::hash(Secret::new(PASSWORD.to_string()))
        .await
        .unwrap();
    app.store
        .admin()
        .add_user(
            tenant,
            owner,
            NewUser {
                email: Email::parse(&email).unwrap(),
                display_name: format!("{} person", role.as_str()),
                roles: vec![role],
                password_hash: Some(hash),
            },
        )
        .await
        .unwrap();
    email
}

/// Logs in through the login page and waits for the overview.
pub async fn log_in(b: &Browser, app: &TestApp, slug: &str, email: &str, password: &str) {
    b.goto(&app.url("/app/login")).await;
    b.fill("#tenant", slug).await;
    b.fill("#email", email).await;
    b.fill("#password", password).await;
    b.follow("form[action='/app/login'] button[type=submit]")
        .await;
    b.wait_text("h1", "Overview", Duration::from_secs(10)).await;
}

/// Logs out with the header's button.
pub async fn log_out(b: &Browser) {
    b.follow("form[action='/app/logout'] button").await;
    b.wait_text("h1", "Log in", Duration::from_secs(10)).await;
}

/// Submits a form built in the page (as a forged or hand-made request would be): `fields`
/// as hidden inputs, the session's CSRF token added when `with_csrf`. The browser then
/// shows the answer.
pub async fn post_form(b: &Browser, action: &str, fields: &[(&str, &str)], with_csrf: bool) {
    let fields: Vec<serde_json::Value> = fields
        .iter()
        .map(|(k, v)| serde_json::json!([k, v]))
        .collect();
    b.execute(
        "const [action, fields, withCsrf] = arguments;
         const f = document.createElement('form');
         f.method = 'post'; f.action = action;
         const add = (k, v) => { const i = document.createElement('input');
             i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); };
         if (withCsrf) add('csrf', document.querySelector('input[name=csrf]').value);
         for (const [k, v] of fields) add(k, v);
         document.body.appendChild(f);
         setTimeout(() => f.submit(), 0);",
        vec![
            serde_json::json!(action),
            serde_json::json!(fields),
            serde_json::json!(with_csrf),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The status of a `fetch` POST from the page (same origin, the session's cookie).
pub async fn fetch_status(b: &Browser, action: &str, body: &str) -> u64 {
    b.execute(
        "return fetch(arguments[0], {method: 'POST', body: arguments[1], redirect: 'manual',
             headers: {'Content-Type': 'application/x-www-form-urlencoded'}}).then(r => r.status);",
        vec![serde_json::json!(action), serde_json::json!(body)],
    )
    .await
    .as_u64()
    .unwrap()
}

/// The CSRF token on the page shown.
pub async fn csrf(b: &Browser) -> String {
    b.execute(
        "return document.querySelector('input[name=csrf]').value;",
        vec![],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}
