//! The Kubernetes manifests in `deploy/kubernetes`: each validates strictly against the
//! Kubernetes schemas (PyPI `kubernetes-validate`; no cluster, `kubectl` or `helm` here),
//! the kustomization lists exactly the manifests beside it, and every pod runs as a
//! non-root user with its secrets from the Secret, never from the image or ConfigMap.

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
