//! Latency for any client, not only ours: a plain HTTP/1.1 client holding one keep-alive
//! connection in session mode gets each answer at once. Without `TCP_NODELAY` on the
//! server's socket, a streamed reply leaves in small segments that wait for the client's
//! delayed ACK (Nagle's algorithm): about 40 ms a call instead of a few.

use std::time::{Duration, Instant};

use charter_tests::mcp::{Client, LEGACY};
use charter_tests::{spawn_app, tenant};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Reads one HTTP/1.1 response (Content-Length or chunked); returns status and body.
async fn read_response(r: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut status = String::new();
    r.read_line(&mut status).await.unwrap();
    let code: u16 = status.split(' ').nth(1).unwrap().parse().unwrap();
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.trim().parse::<usize>().unwrap()),
            "transfer-encoding" => chunked = value.contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).await.unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).await.unwrap();
    }
    (code, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn a_plain_keep_alive_client_in_session_mode_waits_for_no_acks() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Latency").await;
    let mut c = Client::new(&app, &t.slug, t.api_key.expose());
    c.initialize().await;
    let session = c.session.clone().unwrap();
    let stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut conn = BufReader::new(stream);
    let mut took = Vec::new();
    for id in 1..=25u64 {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "get_context", "arguments": {}}})
        .to_string();
        let request = format!(
            "POST /t/{}/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
             MCP-Protocol-Version: {LEGACY}\r\nMcp-Session-Id: {session}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            t.slug,
            t.api_key.expose(),
            body.len()
        );
        let start = Instant::now();
        conn.get_mut().write_all(request.as_bytes()).await.unwrap();
        let (code, reply) = read_response(&mut conn).await;
        took.push(start.elapsed());
        assert_eq!(code, 200, "{reply}");
        assert!(reply.contains(&format!("\"id\":{id}")), "{reply}");
    }
    took.sort();
    let median = took[took.len() / 2];
    // Delayed ACKs cost about 40 ms a call; an answer without them takes a few ms even
    // in a debug build on a busy machine.
    assert!(
        median < Duration::from_millis(20),
        "median {median:?}: {took:?}"
    );
}

#[tokio::test]
async fn ending_a_session_answers_no_content() {
    let app = spawn_app().await;
    let t = tenant(&app.store, "Session end").await;
    let mut c = Client::new(&app, &t.slug, t.api_key.expose());
    c.initialize().await;
    let session = c.session.clone().unwrap();
    let end = |session: String| {
        app.client
            .delete(app.url(&format!("/t/{}/mcp", t.slug)))
            .header("Authorization", format!("Bearer {}", t.api_key.expose()))
            .header("MCP-Protocol-Version", LEGACY)
            .header("Mcp-Session-Id", session)
            .send()
    };
    let r = end(session.clone()).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    assert_eq!(r.text().await.unwrap(), "");
    // The session is gone: using it again is refused.
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_load_balancers_idle_timeout() {
    let app = spawn_app().await;
    let stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut conn = BufReader::new(stream);
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    conn.get_mut().write_all(request).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
    // Longer than actix's default of 5 s, after which the server closed idle connections
    // and a request sent at that moment was lost.
    tokio::time::sleep(Duration::from_secs(7)).await;
    conn.get_mut().write_all(request).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
}
