//! Sign-up to a working MCP key; access tokens that are forged, expired or for someone
//! else; refresh rotation and reuse; failed-login limits; the error body.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use charter_core::access_token::{Claims, TokenKeys};
use charter_tests::rest::{Reply, call, login};
use charter_tests::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn unique() -> String {
    Uuid::new_v4().simple().to_string()[..10].to_string()
}

async fn sign_up(app: &charter_tests::TestApp, slug: &str, email: &str) -> Reply {
    call(
        app,
        None,
        "POST",
        "/api/v1/signup",
        Some(json!({
            "tenant_name": "Acme Robotics", "slug": slug, "email": email,
            "password": "a long enough password",
        })),
    )
    .await
}

#[tokio::test]
async fn sign_up_login_agent_key_and_the_key_works_on_mcp() {
    let app = spawn_app().await;
    let slug = format!("acme-{}", unique());
    let email = format!("founder-{}@acme.example", unique());
    let r = sign_up(&app, &slug, &email).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["plan"], "trial");
    assert!(
        r.body["mcp_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/t/{slug}/mcp"))
    );
    let ends: chrono::DateTime<chrono::Utc> =
        r.body["trial_ends_at"].as_str().unwrap().parse().unwrap();
    let days = (ends - chrono::Utc::now()).num_hours();
    assert!(
        (14 * 24 - 1..=14 * 24).contains(&days),
        "{days} hours of trial"
    );
    // Taken slug, taken e-mail, bad fields: clear and specific.
    assert_eq!(
        sign_up(&app, &slug, &format!("x{}@acme.example", unique()))
            .await
            .code(),
        "slug_taken"
    );
    // An address registered with another tenant is not revealed: the sign-up is answered
    // as any other (each tenant's people are its own).
    let again = sign_up(&app, &format!("other-{}", unique()), &email).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    let bad = sign_up(&app, "A!", &email).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body["message"].as_str().unwrap().starts_with("slug:"),
        "{:?}",
        bad.body
    );
    let short = call(
        &app,
        None,
        "POST",
        "/api/v1/signup",
        Some(json!({
        "tenant_name": "X", "email": format!("y{}@x.example", unique()), "password": "short"})),
    )
    .await;
    assert!(
        short.body["message"]
            .as_str()
            .unwrap()
            .starts_with("password:"),
        "{:?}",
        short.body
    );

    // Login, an agent, a key — and the key is accepted at the tenant's MCP endpoint.
    let s = login(&app, &slug, &email, "a long enough password").await;
    let token = s["access_token"].as_str().unwrap();
    let t = call(&app, Some(token), "GET", "/api/v1/tenant", None).await;
    // Billing is off in this server (no Stripe settings): the tenant is unlimited.
    assert_eq!(t.body["subscription_status"], "unlimited");
    assert_eq!(t.body["trial_days_left"], Value::Null);
    let agent = call(
        &app,
        Some(token),
        "POST",
        "/api/v1/agents",
        Some(json!({"name": "builder"})),
    )
    .await;
    assert_eq!(agent.status, StatusCode::CREATED, "{:?}", agent.body);
    let agent_id = agent.body["id"].as_str().unwrap().to_string();
    let key = call(
        &app,
        Some(token),
        "POST",
        &format!("/api/v1/agents/{agent_id}/keys"),
        Some(json!({"label": "laptop"})),
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    let api_key = key.body["api_key"].as_str().unwrap();
    assert!(api_key.starts_with(key.body["key"]["display_prefix"].as_str().unwrap()));
    let res = app
        .client
        .post(app.url(&format!("/t/{slug}/mcp")))
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", format!("Bearer {api_key}"))
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "get_context")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "get_context", "arguments": {},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(&agent_id) && text.contains("builder"),
        "{text}"
    );
}

fn forge(claims: &Value, alg: &str, kid: &str, secret: &[u8]) -> String {
    if alg == "none" {
        let header = B64.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
        return format!("{header}.{}.", B64.encode(claims.to_string()));
    }
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &jsonwebtoken::EncodingKey::from_secret(secret)).unwrap()
}

#[tokio::test]
async fn forged_expired_and_foreign_access_tokens_are_refused() {
    let app = spawn_app().await;
    let t = charter_tests::tenant(&app.store, "Tokens").await;
    let s = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let good = s["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&app, Some(&good), "GET", "/api/v1/me", None)
            .await
            .status,
        StatusCode::OK
    );
    let header: Value =
        serde_json::from_slice(&B64.decode(good.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let kid = header["kid"].as_str().unwrap().to_string();
    let claims: Value =
        serde_json::from_slice(&B64.decode(good.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let _: Claims = serde_json::from_value(claims.clone()).unwrap();
    let secret = app
        .config
        .master_key
        .as_ref()
        .unwrap()
        .derive("access-token/hs256");

    let mut refused = Vec::new();
    // Expired, by the server's own key.
    let keys = TokenKeys::new(app.config.master_key.as_ref().unwrap(), None);
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    refused.push((
        "expired",
        keys.issue(t.owner_id, t.tenant_id, vec![], past).unwrap().0,
    ));
    // Right key, wrong audience or issuer.
    let mut c = claims.clone();
    c["aud"] = json!("someone-else");
    refused.push(("aud", forge(&c, "HS256", &kid, secret.as_slice())));
    let mut c = claims.clone();
    c["iss"] = json!("evil");
    refused.push(("iss", forge(&c, "HS256", &kid, secret.as_slice())));
    // alg none, and another key under the same kid.
    refused.push(("none", forge(&claims, "none", &kid, b"")));
    refused.push(("other key", forge(&claims, "HS256", &kid, &[7u8; 32])));
    // Another master key altogether (another deployment).
    let other = TokenKeys::new(&charter_core::keys::MasterKey::generate().unwrap(), None);
    refused.push((
        "other kid",
        other
            .issue(t.owner_id, t.tenant_id, vec![], chrono::Utc::now())
            .unwrap()
            .0,
    ));
    // Tampered: the payload names another tenant.
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    let mut c = claims.clone();
    c["tid"] = json!(Uuid::now_v7());
    parts[1] = B64.encode(c.to_string());
    refused.push(("tampered", parts.join(".")));
    refused.push(("garbage", "not.a.jwt".into()));
    for (what, token) in refused {
        let r = call(&app, Some(&token), "GET", "/api/v1/me", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", r.body);
        assert!(
            r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
}

#[tokio::test]
async fn refresh_rotates_reuse_revokes_the_family_and_logout_ends_it() {
    let app = spawn_app().await;
    let t = charter_tests::tenant(&app.store, "Refresh").await;
    let first = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let refresh = |token: &str| {
        call(
            &app,
            None,
            "POST",
            "/api/v1/auth/refresh",
            Some(json!({"refresh_token": token})),
        )
    };
    let second = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let new_access = second.body["access_token"].as_str().unwrap();
    assert_eq!(
        call(&app, Some(new_access), "GET", "/api/v1/me", None)
            .await
            .status,
        StatusCode::OK
    );
    // The used token again: refused, and the family is gone — the newest token too.
    let reuse = refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (reuse.status, reuse.code()),
        (StatusCode::UNAUTHORIZED, "refresh_reuse")
    );
    let after = refresh(second.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // Logout ends a session.
    let s = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let r = call(
        &app,
        None,
        "POST",
        "/api/v1/auth/logout",
        Some(json!({"refresh_token": s["refresh_token"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(s["refresh_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
    // All of it is on the ledger, by the owner.
    let owner = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let page = call(
        &app,
        owner["access_token"].as_str(),
        "GET",
        &format!("/api/v1/ledger/entries?actor_id={}&limit=200", t.owner_id),
        None,
    )
    .await;
    let kinds: Vec<&str> = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "session.started",
        "session.refreshed",
        "session.refresh_reused",
        "session.ended",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_per_address() {
    // A client on its own loopback address, so other tests' logins do not count here.
    let addr: std::net::IpAddr = format!(
        "127.{}.{}.{}",
        1 + rand_byte() % 200,
        rand_byte(),
        1 + rand_byte() % 250
    )
    .parse()
    .unwrap();
    let mut app = spawn_app().await;
    app.client = charter_tests::http().local_address(addr).build().unwrap();
    let t = charter_tests::tenant(&app.store, "Limits").await;
    let attempt = |pw: &str| {
        call(
            &app,
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"tenant": t.slug, "email": t.owner_email, "password": pw})),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong password!!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked, even with the right password; Retry-After says for how long.
    let r = attempt(t.owner_password.expose()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait));
    // Per address: many accounts from one address (30 failures in all, with the 5 above).
    for i in 0..25 {
        let r = call(&app, None, "POST", "/api/v1/auth/login",
            Some(json!({"tenant": t.slug, "email": format!("nobody{i}@x.example"), "password": "whatever password"}))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let other = charter_tests::tenant(&app.store, "Limits 2").await;
    let r = call(&app, None, "POST", "/api/v1/auth/login",
        Some(json!({"tenant": other.slug, "email": other.owner_email, "password": other.owner_password.expose()}))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

fn rand_byte() -> u8 {
    Uuid::new_v4().as_bytes()[0]
}

#[tokio::test]
async fn errors_share_one_body_and_bad_requests_are_named() {
    let app = spawn_app().await;
    let t = charter_tests::tenant(&app.store, "Errors").await;
    let s = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let token = s["access_token"].as_str().unwrap();
    let check = |r: &Reply, status: StatusCode, code: &str| {
        assert_eq!((r.status, r.code()), (status, code), "{:?}", r.body);
        assert!(!r.body["message"].as_str().unwrap().is_empty());
        assert_eq!(
            r.body["request_id"].as_str().unwrap(),
            r.headers["x-request-id"].to_str().unwrap()
        );
    };
    check(
        &call(&app, Some(token), "GET", "/api/v1/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    check(
        &call(
            &app,
            Some(token),
            "GET",
            &format!("/api/v1/agents/{}", Uuid::new_v4()),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    check(
        &call(&app, Some(token), "GET", "/api/v1/agents/not-a-uuid", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Unknown field, wrong type: the field is named.
    let r = call(
        &app,
        Some(token),
        "POST",
        "/api/v1/agents",
        Some(json!({"name": "x", "colour": "red"})),
    )
    .await;
    check(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert!(
        r.body["message"].as_str().unwrap().contains("colour"),
        "{:?}",
        r.body
    );
    let r = call(
        &app,
        Some(token),
        "POST",
        "/api/v1/users",
        Some(json!({"email": "a@b.example", "roles": ["viewer", 7]})),
    )
    .await;
    assert!(
        r.body["message"].as_str().unwrap().starts_with("roles[1]"),
        "{:?}",
        r.body
    );
    let r = call(
        &app,
        Some(token),
        "POST",
        "/api/v1/users",
        Some(json!({"email": "a@b.example", "roles": ["root"]})),
    )
    .await;
    assert!(
        r.body["message"].as_str().unwrap().starts_with("roles[0]"),
        "{:?}",
        r.body
    );
    // A reference to nothing is named, not an internal error.
    let r = call(
        &app,
        Some(token),
        "POST",
        "/api/v1/artifacts",
        Some(json!({"kind": "doc", "digest": "sha256:x", "derived_from": [Uuid::new_v4()]})),
    )
    .await;
    check(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("derived_from[0]"),
        "{:?}",
        r.body
    );
    let r = call(
        &app,
        Some(token),
        "POST",
        &format!("/api/v1/initiatives/{}/evidence", Uuid::new_v4()),
        Some(json!({"gate": "release", "kind": "unit_test"})),
    )
    .await;
    check(&r, StatusCode::NOT_FOUND, "not_found");
    // Not JSON, malformed JSON, too large.
    let raw = |ct: &str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/agents"))
            .bearer_auth(token)
            .header("Content-Type", ct.to_string())
            .body(body)
            .send()
    };
    let to_reply = |res: reqwest::Response| async move {
        let status = res.status();
        let headers = res.headers().clone();
        Reply {
            status,
            headers,
            body: res.json().await.unwrap_or(Value::Null),
        }
    };
    check(
        &to_reply(raw("text/plain", b"name=x".to_vec()).await.unwrap()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    check(
        &to_reply(
            raw("application/json", b"{\"name\":".to_vec())
                .await
                .unwrap(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(300 * 1024)).into_bytes();
    check(
        &to_reply(raw("application/json", huge).await.unwrap()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // A bad query parameter is named.
    let r = call(
        &app,
        Some(token),
        "GET",
        "/api/v1/ledger/entries?limit=lots",
        None,
    )
    .await;
    check(&r, StatusCode::BAD_REQUEST, "invalid_query");
    assert!(
        r.body["message"].as_str().unwrap().starts_with("limit"),
        "{:?}",
        r.body
    );
    // The interactive page and its assets are served from the binary.
    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text().await.unwrap().contains("swagger"),
        "the docs page"
    );
    let css = app
        .client
        .get(app.url("/api/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    // No CORS unless configured: a preflight gets no allow-origin.
    let pre = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/me"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(pre.headers().get("access-control-allow-origin").is_none());
}
