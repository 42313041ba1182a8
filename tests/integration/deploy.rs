//! The Kubernetes manifests in `deploy/kubernetes`: each validates strictly against the
//! Kubernetes schemas (PyPI `kubernetes-validate`; no cluster, `kubectl` or `helm` here),
//! the kustomization lists exactly the manifests beside it, and every pod runs as a
//! non-root user with its secrets from the Secret, never from the image or ConfigMap; and
//! `deploy/compose.yaml` validates against the Compose Specification and wires two nodes
//! behind the nginx configuration that tests/integration/cluster.rs runs.

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

fn manifests() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    names.sort();
    names
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schemas() {
    let validator = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients/.venv-deploy/bin/kubernetes-validate");
    let out = std::process::Command::new(&validator)
        .arg("--strict")
        .args(manifests())
        .current_dir(dir())
        .output()
        .unwrap_or_else(|e| panic!("{} ({e}): run scripts/clients-setup", validator.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("WARN") && !text.contains("ERROR"), "{text}");
    assert_eq!(
        text.matches(" passed for resource ").count(),
        manifests().len(),
        "{text}"
    );
}

#[test]
fn the_kustomization_lists_every_manifest_and_pods_hold_no_secrets() {
    let k = std::fs::read_to_string(dir().join("kustomization.yaml")).unwrap();
    let mut listed: Vec<String> = k
        .lines()
        .skip_while(|l| !l.starts_with("resources:"))
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").trim().to_string())
        .collect();
    listed.sort();
    let expected: Vec<String> = manifests()
        .into_iter()
        .filter(|n| n != "secret.example.yaml")
        .collect();
    assert_eq!(listed, expected);
    for name in ["serve.yaml", "worker.yaml", "migrate-job.yaml"] {
        let m = std::fs::read_to_string(dir().join(name)).unwrap();
        for needed in [
            "runAsNonRoot: true",
            "allowPrivilegeEscalation: false",
            "readOnlyRootFilesystem: true",
            "name: charter-secrets",
        ] {
            assert!(m.contains(needed), "{name} lacks {needed}");
        }
        assert!(
            !m.contains("CHARTER_MASTER_KEY"),
            "{name} names the master key itself"
        );
    }
    let config = std::fs::read_to_string(dir().join("config.yaml")).unwrap();
    for secret in ["MASTER_KEY", "DATABASE_URL", "PASSWORD", "REDIS_URL"] {
        assert!(!config.contains(secret), "the ConfigMap holds {secret}");
    }
    let serve = std::fs::read_to_string(dir().join("serve.yaml")).unwrap();
    assert!(serve.contains("path: /readyz") && serve.contains("path: /healthz"));
}

/// `deploy/compose.yaml`, checked against the Compose Specification's schema (no Docker
/// engine here), as the document Compose would read (anchors and merge keys resolved).
fn compose() -> serde_json::Value {
    let clients = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients");
    let out = std::process::Command::new(clients.join(".venv-deploy/bin/python"))
        .arg(clients.join("validate_compose.py"))
        .arg(clients.join(".compose-spec/compose_spec.json"))
        .arg(dir().join("../compose.yaml"))
        .output()
        .expect("run scripts/clients-setup");
    assert!(
        out.status.success(),
        "deploy/compose.yaml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_compose_file_is_valid_and_runs_two_nodes_behind_the_shipped_nginx() {
    let doc = compose();
    let services = doc["services"].as_object().unwrap();
    let command = |name: &str| services[name]["command"][0].as_str().unwrap().to_string();
    assert_eq!(command("migrate"), "migrate");
    for (name, role) in [
        ("serve-1", "serve"),
        ("serve-2", "serve"),
        ("worker-1", "worker"),
        ("worker-2", "worker"),
    ] {
        assert_eq!(command(name), role);
        let s = &services[name];
        // Started only once the migration finished.
        assert_eq!(
            s["depends_on"]["migrate"]["condition"],
            "service_completed_successfully"
        );
        // Secrets from a file mounted at run time, never from the environment.
        assert_eq!(
            s["environment"]["CHARTER_CONFIG"],
            "/run/secrets/charter.toml"
        );
        assert_eq!(s["secrets"][0], "charter.toml");
        for key in s["environment"].as_object().unwrap().keys() {
            for secret in ["MASTER_KEY", "DATABASE_URL", "PASSWORD"] {
                assert!(
                    !key.contains(secret),
                    "{name} sets {key} in its environment"
                );
            }
        }
    }
    for secret in doc["secrets"].as_object().unwrap().values() {
        let file = secret["file"].as_str().unwrap();
        assert!(file.starts_with("./secrets/"), "{file}");
    }
    // nginx mounts the configuration the cluster test runs, whose upstreams are the nodes.
    let mount = services["nginx"]["volumes"][0].as_str().unwrap();
    assert_eq!(mount, "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro");
    let nginx = std::fs::read_to_string(dir().join("../nginx/nginx.conf")).unwrap();
    for node in ["serve-1:8080", "serve-2:8080"] {
        assert_eq!(nginx.matches(node).count(), 2, "{node} in both upstreams");
    }
    for streaming in [
        "proxy_buffering off;",
        "proxy_read_timeout 3600s;",
        "hash $binary_remote_addr",
    ] {
        assert!(nginx.contains(streaming), "nginx.conf lacks {streaming}");
    }
    // The example settings file names every secret the services need.
    let example = std::fs::read_to_string(dir().join("../charter.example.toml")).unwrap();
    for key in [
        "database_url",
        "app_database_url",
        "app_db_password",
        "master_key",
    ] {
        assert!(example.contains(&format!("\n{key} = ")), "{key}");
    }
}
