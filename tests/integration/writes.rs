//! Each SSE event leaves the server in one write: seen from outside, with `strace` on a
//! real `charter serve` process, while a client of the SSE transport gets its answers.
//! Written in pieces, an event would go out in several segments, each of which the
//! client's delayed ACK can hold back (see latency.rs).

use std::process::Stdio;
use std::time::Duration;

use charter_tests::nodes::Node;
use charter_tests::sse::SseClient;
use charter_tests::{store_with, tenant, test_config};
use serde_json::json;

/// The system calls that send bytes to a socket.
const SENDS: [&str; 4] = ["write(", "writev(", "sendto(", "sendmsg("];

#[tokio::test]
async fn each_sse_event_is_one_write() {
    let config = test_config(&[]);
    let store = store_with(&config).await;
    let t = tenant(&store, "Writes").await;
    let node = Node::start(&config, &[]).await;
    let key = t.api_key.expose();
    let mut sse = SseClient::connect(&node.base, &t.slug, key).await;
    let init = json!({"protocolVersion": "2024-11-05", "capabilities": {},
                      "clientInfo": {"name": "charter-tests", "version": "1"}});
    sse.call(1, "initialize", init).await;

    let trace = std::env::temp_dir().join(format!("strace-{}.txt", uuid::Uuid::new_v4()));
    let mut strace = tokio::process::Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-s",
            "64",
            "-e",
            "trace=write,writev,sendto,sendmsg",
        ])
        .arg("-o")
        .arg(&trace)
        .arg("-p")
        .arg(node.child.id().unwrap().to_string())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("strace (./scripts/test installs it)");
    // Attached once it has written its file and the threads are traced.
    for _ in 0..100 {
        if trace.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    const CALLS: u64 = 5;
    for id in 0..CALLS {
        // Answered 202, the answer read from the stream.
        let answer = sse.call(10 + id, "tools/list", json!({})).await;
        assert!(answer["result"]["tools"].is_array(), "{answer}");
    }
    let pid = strace.id().unwrap();
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    strace.wait().await.unwrap();

    let text = std::fs::read_to_string(&trace).unwrap();
    let _ = std::fs::remove_file(&trace);
    let sends: Vec<&str> = text
        .lines()
        .filter(|l| SENDS.iter().any(|s| l.contains(s)))
        .collect();
    // The stream's socket: the one the events went to.
    let fd_of = |line: &str| {
        let call = SENDS.iter().find_map(|s| line.split_once(s)).unwrap().1;
        call.split(',').next().unwrap().to_string()
    };
    let stream_fd = fd_of(
        sends
            .iter()
            .find(|l| l.contains("event: message"))
            .unwrap_or_else(|| panic!("no event seen by strace:\n{text}")),
    );
    let on_stream: Vec<&&str> = sends.iter().filter(|l| fd_of(l) == stream_fd).collect();
    assert_eq!(
        on_stream.len() as u64,
        CALLS,
        "{CALLS} events took these writes:\n{on_stream:#?}"
    );
    assert!(on_stream.iter().all(|l| l.contains("event: message")));
}
