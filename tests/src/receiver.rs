//! A webhook receiver on loopback: records every request it gets (headers and body) and
//! answers as told — `200`, `500` to the first N requests, or not at all for the first N.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// `200` to everything.
    Ok,
    /// `500` to the first N requests, then `200`.
    FailFirst(usize),
    /// No answer (the connection stays open) to the first N requests, then `200`.
    HangFirst(usize),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// What the receiver answered (`None`: it never did).
    pub answered: Option<u16>,
}

pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let state = (seen.clone(), behaviour);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/charter"),
            seen,
            handle,
        }
    }

    /// Everything received so far, in order.
    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (panics after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let end = tokio::time::Instant::now() + within;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "the receiver got {} of {n} requests",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

type State = (Arc<Mutex<Vec<Received>>>, Behaviour);

async fn receive(req: HttpRequest, body: String, state: web::Data<State>) -> HttpResponse {
    let (seen, behaviour) = state.get_ref();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let (n, answer) = {
        let mut seen = seen.lock().unwrap();
        let n = seen.len();
        let answer = match *behaviour {
            Behaviour::Ok => Some(200),
            Behaviour::FailFirst(k) => Some(if n < k { 500 } else { 200 }),
            Behaviour::HangFirst(k) => (n >= k).then_some(200),
        };
        seen.push(Received {
            headers,
            body,
            answered: answer,
        });
        (n, answer)
    };
    match answer {
        Some(code) => HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
            .body(format!("request {n}")),
        None => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
    }
}
