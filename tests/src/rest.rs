//! A small typed client for the REST admin API: a tenant's people logged in with each
//! role, and requests that return the status and the JSON body.

use charter_core::tenant::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::TestApp;

/// A response: status and body (JSON, or `Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Reads a response whole.
    pub async fn read(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    /// The body's `code` (error responses).
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

/// Sends `method path` with a bearer `token` and an optional JSON body. The future owns
/// what it needs, so closures can return it.
pub fn call(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> impl std::future::Future<Output = Reply> + use<> {
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    async move { Reply::read(req.send().await.unwrap()).await }
}

/// The signed record (its canonical JSON, parsed) at `seq`.
pub async fn signed_record(app: &TestApp, token: &str, seq: u64) -> Value {
    let r = call(
        app,
        Some(token),
        "GET",
        &format!("/api/v1/ledger/entries/{seq}"),
        None,
    )
    .await;
    serde_json::from_str(r.body["record"].as_str().unwrap()).unwrap()
}

/// Logs in; panics unless it works. Returns the whole token response.
pub async fn login(app: &TestApp, slug: &str, email: &str, password: &str) -> Value {
    let r = call(
        app,
        None,
        "POST",
        "/api/v1/auth/login",
        Some(json!({"tenant": slug, "email": email, "password": password})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "login: {:?}", r.body);
    r.body
}

/// A tenant with one logged-in person per role (the owner is the provisioned one).
pub struct Staff {
    pub tenant: crate::Provisioned,
    /// Access tokens by role, in `Role::ALL` order.
    pub tokens: Vec<(Role, String)>,
    /// Principal ids by role, same order.
    pub ids: Vec<(Role, uuid::Uuid)>,
}

impl Staff {
    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub fn id(&self, role: Role) -> uuid::Uuid {
        self.ids.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub fn owner(&self) -> &str {
        self.token(Role::Owner)
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Provisions a tenant and adds, through the API, one person for each other role.
pub async fn staff(app: &TestApp, name: &str) -> Staff {
    let t = crate::tenant(&app.store, name).await;
    let owner = login(app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let owner_token = owner["access_token"].as_str().unwrap().to_string();
    let mut tokens = vec![(Role::Owner, owner_token.clone())];
    let mut ids = vec![(Role::Owner, t.owner_id)];
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Owner) {
        let email = format!("{}@{}.example", role.as_str().replace('_', "-"), t.slug);
        let r = call(
            app,
            Some(&owner_token),
            "POST",
            "/api/v1/users",
            Some(json!({"email": email, "roles": [role.as_str()], "password": PASSWORD})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push((
            role,
            r.body["user"]["id"].as_str().unwrap().parse().unwrap(),
        ));
        let s = login(app, &t.slug, &email, PASSWORD).await;
        tokens.push((role, s["access_token"].as_str().unwrap().to_string()));
    }
    Staff {
        tenant: t,
        tokens,
        ids,
    }
}
