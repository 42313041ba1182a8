//! The dashboard's rules, tried against: a viewer sees no controls it cannot use and its
//! forged POSTs get 403; forms without the session's CSRF token, or from another site, are
//! refused; agent-supplied text renders as text; the cookie's attributes, security headers,
//! session rotation, logout and both timeouts.

use charter_core::tenant::Role;
use charter_tests::browser::Browser;
use charter_tests::mcp::Client;
use charter_tests::{execute, spawn_app, superuser, tenant};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::json;

use super::{PASSWORD, csrf, fetch_status, log_in, person};

#[tokio::test]
async fn a_viewer_sees_no_controls_and_its_forged_posts_are_refused() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Viewer").await;
    let viewer = person(&app, t.tenant_id, t.owner_id, Role::Viewer).await;
    let b = Browser::start().await;
    b.window(1280, 900).await;
    log_in(&b, &app, &t.slug, &viewer, PASSWORD).await;
    // Read everything, change nothing: no form but logout on any page.
    for page in [
        "/app".to_string(),
        "/app/inbox".into(),
        "/app/agents".into(),
        format!("/app/agents/{}", t.agent_id),
        "/app/violations".into(),
        "/app/breakers".into(),
        "/app/settings".into(),
        "/app/billing".into(),
    ] {
        b.goto(&app.url(&page)).await;
        let forms = b
            .count("form[method=post]:not([action='/app/logout'])")
            .await;
        assert_eq!(forms, 0, "{page} offers a viewer {forms} forms");
    }
    // What the REST API shows only to those who manage it is not shown either.
    b.goto(&app.url("/app/webhooks")).await;
    assert_eq!(b.text("h1").await, "Not allowed");
    b.goto(&app.url("/app/settings")).await;
    assert_eq!(b.count("#tokens").await, 0);
    b.console_errors().await; // the 403's
    b.goto(&app.url(&format!("/app/agents/{}", t.agent_id)))
        .await;
    b.screenshot("viewer-agent").await;
    // A forged POST with the viewer's own valid CSRF token: 403, nothing changed.
    let token = csrf(&b).await;
    let status = fetch_status(&b, "/app/agents", &format!("csrf={token}&name=sneaky")).await;
    assert_eq!(status, 403);
    let status = fetch_status(
        &b,
        &format!("/app/agents/{}/suspend", t.agent_id),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(status, 403);
    let agents = app.store.admin().agents(t.tenant_id).await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].status.as_str(), "active");
    b.quit().await;
}

#[tokio::test]
async fn forms_need_the_sessions_token_and_this_origin() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Csrf").await;
    let b = Browser::start().await;
    log_in(&b, &app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    b.goto(&app.url("/app/agents")).await;
    // No token, a wrong token: refused.
    assert_eq!(fetch_status(&b, "/app/agents", "name=no-token").await, 403);
    assert_eq!(
        fetch_status(
            &b,
            "/app/agents",
            &format!("csrf={}&name=bad", "0".repeat(64))
        )
        .await,
        403
    );
    // The right token: accepted (a redirect to the new agent).
    let token = csrf(&b).await;
    let ok = fetch_status(&b, "/app/agents", &format!("csrf={token}&name=good")).await;
    assert!(ok == 0 || ok == 303, "{ok}"); // an opaque redirect is status 0 to fetch
    let names: Vec<String> = app
        .store
        .admin()
        .agents(t.tenant_id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(names.contains(&"good".to_string()) && !names.contains(&"bad".to_string()));
    b.quit().await;

    // Another site's page posting with the victim's cookie and even the right token.
    let (cookie, _) = login(&app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    let page = get(&app, "/app/agents", &cookie).await;
    let token = token_in(&page.text().await.unwrap());
    let forged = client()
        .post(app.url("/app/agents"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("csrf", token.as_str()), ("name", "cross-site")]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let same = client()
        .post(app.url("/app/agents"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, app.address.as_str())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("csrf", token.as_str()), ("name", "same-site")]))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn agent_supplied_text_is_shown_as_text() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Escape").await;
    let evil = "<script>alert(1)</script>";
    app.store
        .admin()
        .create_agent(
            t.tenant_id,
            t.owner_id,
            evil.into(),
            format!("{evil} <img src=x onerror=alert(2)>"),
            t.owner_id,
        )
        .await
        .unwrap();
    let mut agent = Client::new(&app, &t.slug, t.api_key.expose());
    agent.initialize().await;
    let r = agent
        .tool(
            "authorize_action",
            json!({"action": "send", "resource_type": "Message", "resource_id": evil,
                   "arguments": {"body": evil}}),
        )
        .await;
    let seq = r["structuredContent"]["seq"].as_u64().unwrap();
    let b = Browser::start().await;
    log_in(&b, &app, &t.slug, &t.owner_email, t.owner_password.expose()).await;
    for page in [
        "/app/agents".to_string(),
        "/app/ledger".into(),
        format!("/app/ledger/{seq}"),
        "/app".into(),
    ] {
        b.goto(&app.url(&page)).await;
        assert!(
            b.text("main").await.contains(evil),
            "{page} does not show the text"
        );
        let inline = b
            .execute(
                "return document.querySelectorAll('script:not([src]), img[src=x]').length",
                vec![],
            )
            .await;
        assert_eq!(inline, json!(0), "{page} rendered markup from the data");
    }
    b.screenshot("escaped-names").await;
    assert!(b.console_errors().await.is_empty());
    b.quit().await;
}

/// Logs in with a plain HTTP client: the `Cookie` header to send, and the response headers.
async fn login(
    app: &charter_tests::TestApp,
    slug: &str,
    email: &str,
    password: &str,
) -> (String, HeaderMap) {
    let r = client()
        .post(app.url("/app/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("tenant", slug),
            ("email", email),
            ("password", password),
            ("next", "/app"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let headers = r.headers().clone();
    let set = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    (set.split(';').next().unwrap().to_string(), headers)
}

async fn get(app: &charter_tests::TestApp, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// An urlencoded form body.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Sees redirects rather than following them.
fn client() -> reqwest::Client {
    charter_tests::own_address()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn token_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + 64].to_string()
}

#[tokio::test]
async fn sessions_cookies_headers_and_timeouts() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Sessions").await;
    let (pw, email) = (t.owner_password.expose().to_string(), t.owner_email.clone());
    let (cookie, headers) = login(&app, &t.slug, &email, &pw).await;
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    for part in [
        "charter_session=chtr_ws_",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http here: {set}");

    let page = get(&app, "/app", &cookie).await;
    assert_eq!(page.status(), StatusCode::OK);
    let h = page.headers();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "same-origin");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    // Other methods: 405 naming the ones served; unknown pages: 404 (both with the headers).
    let wrong = client()
        .delete(app.url("/app/inbox"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers()[header::ALLOW], "GET");
    assert!(
        wrong
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    let none = get(&app, "/app/no-such-page", &cookie).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    // Without a session: to the login page, coming back afterwards.
    let anon = client().get(app.url("/app/inbox")).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anon.headers()[header::LOCATION],
        "/app/login?next=%2Fapp%2Finbox"
    );

    // A new login rotates the cookie and ends the session the browser had.
    let again = client()
        .post(app.url("/app/login"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("tenant", t.slug.as_str()),
            ("email", &email),
            ("password", &pw),
        ]))
        .send()
        .await
        .unwrap();
    let rotated = again.headers()[header::SET_COOKIE].to_str().unwrap();
    let rotated = rotated.split(';').next().unwrap().to_string();
    assert_ne!(rotated, cookie);
    assert_eq!(
        get(&app, "/app", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(get(&app, "/app", &rotated).await.status(), StatusCode::OK);

    // Idle: a session unused for longer than the idle timeout (30 min) is over.
    let su = superuser().await;
    let age = |column: &str, by: &str| {
        format!(
            "UPDATE web_sessions SET {column} = now() - interval '{by}'
             WHERE tenant_id = '{}' AND ended_at IS NULL",
            t.tenant_id
        )
    };
    execute(&su, &age("last_seen_at", "31 minutes"), vec![])
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/app", &rotated).await.status(),
        StatusCode::SEE_OTHER
    );
    // Absolute: however active, it ends at its end.
    let (cookie, _) = login(&app, &t.slug, &email, &pw).await;
    execute(&su, &age("expires_at", "1 second"), vec![])
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/app", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );

    // Logout ends it on the server: the old cookie no longer works.
    let (cookie, _) = login(&app, &t.slug, &email, &pw).await;
    let page = get(&app, "/app", &cookie).await.text().await.unwrap();
    let out = client()
        .post(app.url("/app/logout"))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &token_in(&page))]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        get(&app, "/app", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
    // Sessions that are over are deleted a day later by the worker's job.
    execute(
        &su,
        &format!(
            "UPDATE web_sessions SET ended_at = now() - interval '25 hours'
             WHERE tenant_id = '{}' AND ended_at IS NOT NULL",
            t.tenant_id
        ),
        vec![],
    )
    .await
    .unwrap();
    let pruned = charter_worker::jobs::prune_sessions(app.store.clone())
        .await
        .unwrap();
    assert!(pruned.is_some_and(|s| s.contains("dashboard sessions deleted")));
    let left = charter_tests::query(
        &su,
        "SELECT count(*) AS n FROM web_sessions WHERE tenant_id = $1 AND ended_at IS NOT NULL",
        vec![t.tenant_id.into()],
    )
    .await
    .unwrap();
    assert_eq!(left[0].try_get::<i64>("", "n").unwrap(), 0);
    // Each login and logout is a ledger record by the person.
    let kinds = app
        .store
        .engine()
        .query_ledger(
            t.tenant_id,
            charter_store::engine::views::LedgerFilter {
                actor_id: Some(t.owner_id.to_string()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.kind)
        .collect::<Vec<_>>();
    assert_eq!(
        kinds.iter().filter(|k| *k == "session.started").count(),
        4,
        "{kinds:?}"
    );
    assert!(
        kinds.iter().filter(|k| *k == "session.ended").count() >= 2,
        "{kinds:?}"
    );
}
