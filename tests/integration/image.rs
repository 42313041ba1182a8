//! What the container image does, without building it (no container registry or engine
//! here): the suite runs the Dockerfile's own steps (`deploy/image build`, `deploy/image
//! install`) into a directory standing for the image's root, then starts the installed
//! binary as the image would — its user (uid 10001), working directory and environment —
//! and runs the image's HEALTHCHECK command against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use charter_tests::nodes::terminate;
use charter_tests::{free_port, is_root, runs, test_config};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Dockerfile's runtime stage: its instructions (name, rest of the line), joined over
/// line continuations.
fn runtime_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let stages: Vec<&str> = joined.split("\nFROM ").collect();
    assert_eq!(stages.len(), 3, "a build stage and a runtime stage");
    stages[2]
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, rest) = l.split_once(' ').unwrap();
            (name.to_string(), rest.trim().to_string())
        })
        .collect()
}

fn one(stage: &[(String, String)], name: &str) -> String {
    let found: Vec<&String> = stage
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(found.len(), 1, "one {name} in the runtime stage");
    found[0].clone()
}

/// A JSON-array instruction (`["charter", "health"]`) as its words.
fn words(exec_form: &str) -> Vec<String> {
    serde_json::from_str(exec_form).unwrap()
}

/// `cmd` run as `user` (`uid:gid`) when this test may switch users.
fn as_user(program: &Path, user: &str) -> Command {
    if !is_root() {
        return Command::new(program);
    }
    let (uid, gid) = user.split_once(':').unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={uid}"),
        &format!("--regid={gid}"),
        "--clear-groups",
    ])
    .arg(program);
    cmd
}

#[tokio::test]
async fn the_image_steps_install_a_binary_that_serves_as_uid_10001_and_passes_its_healthcheck() {
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    assert!(dockerfile.contains("deploy/image build release /out"));
    let stage = runtime_stage();
    assert!(
        stage
            .iter()
            .any(|(n, r)| n == "RUN" && r.starts_with("/usr/local/lib/charter/image install ")),
        "{stage:?}"
    );

    // The same steps, into a directory standing for the image's root.
    let work = std::env::temp_dir().join(format!("charter-image-{}", uuid::Uuid::new_v4()));
    let root = work.join("root");
    runs(
        Command::new(repo().join("deploy/image"))
            .args(["build", "dev"])
            .arg(work.join("out"))
            .current_dir(repo()),
    );
    runs(
        Command::new(repo().join("deploy/image"))
            .arg("install")
            .arg(work.join("out/charter"))
            .arg(&root),
    );
    if is_root() {
        // The image's root is readable by everyone, as in a container.
        runs(Command::new("chmod").args(["755"]).arg(&work));
    }
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("charter:x:10001:10001:"), "{passwd}");

    // The runtime stage's user, working directory, environment and entrypoint.
    let user = one(&stage, "USER");
    assert_eq!(user, "10001:10001");
    let workdir = root.join(one(&stage, "WORKDIR").trim_start_matches('/'));
    let entrypoint = words(&one(&stage, "ENTRYPOINT"));
    assert_eq!(entrypoint, ["charter"]);
    let binary = root.join("usr/local/bin/charter");
    let mut env: Vec<(String, String)> = one(&stage, "ENV")
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    assert!(env.contains(&("CHARTER_MODE".into(), "production".into())));
    // Every address, as in the image; a free port, since this machine runs other tests.
    let port = free_port();
    for (k, v) in env.iter_mut() {
        if k == "CHARTER_BIND" {
            *v = format!("0.0.0.0:{port}");
        }
    }
    let config = test_config(&[]);
    let secrets = [
        ("CHARTER_DATABASE_URL", config.database_url.expose().clone()),
        ("CHARTER_REDIS_URL", config.redis_url.expose().clone()),
        (
            "CHARTER_MASTER_KEY",
            config.master_key.as_ref().unwrap().to_base64().to_string(),
        ),
    ];
    let command = |args: &[String]| {
        let mut cmd = as_user(&binary, &user);
        cmd.args(args)
            .current_dir(&workdir)
            .env_clear()
            .env("CHARTER_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(secrets.iter().map(|(k, v)| (*k, v.as_str())));
        cmd
    };

    let mut serve = tokio::process::Command::from(command(&words(&one(&stage, "CMD"))));
    let serve = serve
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let health = one(&stage, "HEALTHCHECK");
    let probe = words(health.split_once("CMD ").unwrap().1);
    assert_eq!(probe[0], "charter");
    let mut healthy = false;
    for _ in 0..100 {
        let out = command(&probe[1..]).output().unwrap();
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the HEALTHCHECK never passed");
    if is_root() {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", serve.id().unwrap())).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(uid.starts_with("Uid:\t10001\t"), "{uid}");
    }

    terminate(&serve);
    let exit = tokio::time::timeout(Duration::from_secs(30), serve.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exit.status.success(),
        "{:?} {}",
        exit.status,
        String::from_utf8_lossy(&exit.stderr)
    );
    // And the health check fails once nothing serves.
    assert!(!command(&probe[1..]).output().unwrap().status.success());
    let _ = std::fs::remove_dir_all(work);
}
