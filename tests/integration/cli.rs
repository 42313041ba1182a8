//! The `charter` binary: tenant creation for scripts, `up` idempotence, and bad input at
//! start-up (one clear line, non-zero exit, no panic).

use std::process::Stdio;
use std::time::Duration;

use charter_tests::{charter_cmd, execute, query, store, superuser, test_config};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn tenant_create_json_output_parses_and_its_key_is_found() {
    let config = test_config(&[]);
    let store = store().await;
    let out = charter_cmd(&config)
        .args(["tenant", "create", "--name", "Acme Robotics", "--json"])
        .env("CHARTER_PUBLIC_URL", "https://charter.example")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slug = v["slug"].as_str().unwrap();
    assert!(slug.starts_with("acme-robotics"), "{slug}");
    assert_eq!(
        v["mcp_url"],
        format!("https://charter.example/t/{slug}/mcp")
    );
    assert!(v["owner"]["email"].as_str().unwrap().contains('@'));
    assert_eq!(v["owner"]["password"].as_str().unwrap().len(), 24);
    let key = v["agent"]["api_key"].as_str().unwrap();
    let identity = store
        .sessions()
        .lookup_api_key(key)
        .await
        .unwrap()
        .expect("key is found");
    assert_eq!(
        identity.tenant_id.to_string(),
        v["tenant_id"].as_str().unwrap()
    );
    assert_eq!(
        identity.agent_id.to_string(),
        v["agent"]["id"].as_str().unwrap()
    );
    assert_eq!(v["agent"]["name"], "agent-1");
}

#[tokio::test]
async fn tenant_create_rejects_bad_arguments_by_name() {
    let config = test_config(&[]);
    let out = charter_cmd(&config)
        .args(["tenant", "create", "--name", "X", "--slug", "Not A Slug"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--slug") && err.contains("tenant slug"),
        "{err}"
    );
}

/// Starts `charter up` and waits for its welcome text; returns the text and the child.
async fn start_up(cmd: &mut tokio::process::Command) -> (String, tokio::process::Child) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("charter up printed its welcome in time")
            .unwrap();
        let Some(line) = line else {
            let mut err = String::new();
            let _ =
                tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut err)
                    .await;
            panic!("charter up exited early:\n{text}\n{err}");
        };
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("Stop with Ctrl-C") {
            return (text, child);
        }
    }
}

async fn stop(mut child: tokio::process::Child) {
    let pid = child.id().unwrap() as i32;
    // SIGTERM: the process shuts down gracefully and exits 0.
    let status = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

#[tokio::test]
async fn up_creates_its_database_and_one_demo_tenant_and_is_idempotent() {
    let base = test_config(&[]);
    let db_name = format!("charter_up_{}", uuid::Uuid::new_v4().simple());
    let url = charter_tests::database_url();
    let url = format!("{}/{db_name}", url.rsplit_once('/').unwrap().0);
    let data = std::env::temp_dir().join(&db_name);
    let port = charter_tests::free_port();
    let make = || {
        let mut cmd = charter_cmd(&base);
        cmd.arg("up")
            .env("CHARTER_DATABASE_URL", &url)
            .env_remove("CHARTER_MASTER_KEY")
            .env("CHARTER_DATA_DIR", &data)
            .env("CHARTER_BIND", format!("127.0.0.1:{port}"));
        cmd
    };

    let (first, child) = start_up(&mut make()).await;
    assert!(first.contains("generated a master key"), "{first}");
    assert!(
        first.contains(&format!("MCP URL:      http://127.0.0.1:{port}/t/demo/mcp")),
        "{first}"
    );
    assert!(
        first.contains("Owner login:  owner@demo.localhost / "),
        "{first}"
    );
    assert!(first.contains("Agent key:    chtr_ak_"), "{first}");
    let health = charter_tests::http()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop(child).await;
    let key_file = data.join("master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "master key file is owner-only");

    let (second, child) = start_up(&mut make()).await;
    assert!(!second.contains("generated a master key"), "{second}");
    // The same credentials are printed again, and there is still one demo tenant.
    let key_line = |t: &str| {
        t.lines()
            .find(|l| l.contains("Agent key:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(key_line(&first), key_line(&second));
    stop(child).await;

    let su = sea_orm::Database::connect(&url).await.unwrap();
    let rows = query(
        &su,
        "SELECT count(*) AS n FROM tenants WHERE is_demo",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 1);
    su.close().await.unwrap();
    let admin = superuser().await;
    execute(
        &admin,
        &format!("DROP DATABASE {db_name} WITH (FORCE)"),
        vec![],
    )
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn an_unreachable_database_is_one_clear_line_and_a_non_zero_exit() {
    let config = test_config(&[]);
    for command in ["serve", "worker", "migrate"] {
        let out = charter_cmd(&config)
            .arg(command)
            .env(
                "CHARTER_DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/charter",
            )
            .env("CHARTER_DB_CONNECT_TIMEOUT_SECS", "2")
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{command}: one line, got:\n{err}");
        assert!(lines[0].starts_with("error: "), "{err}");
        assert!(lines[0].contains("127.0.0.1:1"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[tokio::test]
async fn malformed_settings_are_named() {
    let config = test_config(&[]);
    let cases: &[(&str, &str, &str)] = &[
        ("CHARTER_DB_MAX_CONNECTIONS", "lots", "`db_max_connections`"),
        ("CHARTER_BIND", "localhost", "`bind`"),
        ("CHARTER_MODE", "staging", "`mode`"),
        ("CHARTER_MASTER_KEY", "too-short", "`master_key`"),
        (
            "CHARTER_NOT_A_SETTING",
            "1",
            "unknown setting `CHARTER_NOT_A_SETTING`",
        ),
    ];
    for (var, value, expect) in cases {
        let out = charter_cmd(&config)
            .arg("serve")
            .env(var, value)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{var}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{var}={value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A config file with an unknown key.
    let dir = std::env::temp_dir().join(format!("charter-cfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("charter.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:0\"\nredis = \"x\"\n").unwrap();
    let out = charter_cmd(&config)
        .args(["--config", file.to_str().unwrap(), "serve"])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unknown setting `redis`"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn production_mode_requires_a_master_key() {
    let config = test_config(&[]);
    let out = charter_cmd(&config)
        .arg("serve")
        .env_remove("CHARTER_MASTER_KEY")
        .env("CHARTER_MODE", "production")
        .env("CHARTER_MASTER_KEY_FILE", "/nonexistent/master.key")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("production mode requires CHARTER_MASTER_KEY"),
        "{err}"
    );
}

#[test]
fn loopback_database_urls_skip_tls_unless_asked() {
    use charter_store::db::PgUrl;
    let url = |u: &str| PgUrl::parse(u).unwrap().without_loopback_tls().to_url();
    assert_eq!(
        url("postgres://app@127.0.0.1:5432/charter"),
        "postgres://app@127.0.0.1:5432/charter?sslmode=disable"
    );
    assert_eq!(
        url("postgres://localhost/charter?options=x"),
        "postgres://localhost/charter?options=x&sslmode=disable"
    );
    assert_eq!(
        url("postgres://[::1]:5432/charter"),
        "postgres://[::1]:5432/charter?sslmode=disable"
    );
    // An explicit choice stands; other hosts keep the driver's default (TLS if offered).
    assert_eq!(
        url("postgres://127.0.0.1/charter?sslmode=require"),
        "postgres://127.0.0.1/charter?sslmode=require"
    );
    assert_eq!(
        url("postgres://db.internal:5432/charter"),
        "postgres://db.internal:5432/charter"
    );
}

#[tokio::test]
async fn health_asks_the_local_server_and_fails_when_it_does_not_answer() {
    let app = charter_tests::spawn_app().await;
    let out = charter_tests::succeeds(
        charter_cmd(&app.config)
            .arg("health")
            .env("CHARTER_BIND", app.address.trim_start_matches("http://")),
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    // Nothing listens on port 1.
    let out = charter_cmd(&app.config)
        .arg("health")
        .env("CHARTER_BIND", "127.0.0.1:1")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the server"));
}
