//! A client of the deprecated HTTP+SSE transport (`GET /t/{slug}/sse`): the stream's
//! events, and the POST endpoint its first event names.

use std::time::Duration;

use serde_json::Value;

/// The events of an SSE stream, comments (keep-alives) skipped.
pub struct Events {
    res: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens the stream; returns it and the URL path its POSTs go to.
    pub async fn open(base: &str, slug: &str, key: &str) -> (Events, String) {
        let res = crate::http()
            .build()
            .unwrap()
            .get(format!("{base}/t/{slug}/sse"))
            .header("Authorization", format!("Bearer {key}"))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mut events = Events {
            res,
            buffer: String::new(),
        };
        let endpoint = events.next().await;
        let path = data(&endpoint).to_string();
        (events, path)
    }

    /// The next event, whole (`event: …\ndata: …\n\n`).
    pub async fn next(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if !event.starts_with(':') {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `message` event's JSON-RPC message.
    pub async fn message(&mut self) -> Value {
        let event = self.next().await;
        serde_json::from_str(data(&event)).unwrap()
    }
}

fn data(event: &str) -> &str {
    event
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("an event with data")
}
