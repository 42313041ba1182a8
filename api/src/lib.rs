//! charter-api: the actix-web application — operator endpoints, the MCP endpoint, the
//! REST admin API, the Stripe webhook.
//!
//! # Layout
//! - [`Application`] — binds the listener (port 0 in tests) and runs the server.
//! - [`state`] — [`state::AppState`], built once and shared by every handler.
//! - [`routes`] — the route table of every surface.
//! - [`client`] — the client's address (trusted proxies) and the limit on anonymous routes.
//! - [`health`] — `/healthz`, `/readyz`.
//! - [`public`] — per-tenant public keys and checkpoints (no auth).
//! - [`mcp`] — the hosted MCP endpoint `/t/{slug}/mcp` and its tools.
//! - [`rest`] — the REST admin API `/api/v1` and its OpenAPI document.
//! - [`stripe_webhook`] — `POST /stripe/webhook`, Stripe's signed events.
//! - [`metrics`] — Prometheus metrics and the middleware that records requests.
//! - [`error`] — [`error::ApiError`], one JSON error body everywhere.
//! - [`request_id`] — a request id on every request and response.

pub mod client;
pub mod error;
pub mod health;
pub mod mcp;
pub mod metrics;
pub mod public;
pub mod request_id;
pub mod rest;
pub mod routes;
pub mod state;
pub mod stripe_webhook;
pub mod wire;

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use charter_core::config::Config;
use charter_store::Store;

pub use state::AppState;

/// How long an idle keep-alive connection stays open: longer than load balancers keep
/// theirs (nginx and most cloud balancers: 60 s), so it is they who close it. A request
/// sent just as the server closes an idle connection is lost in flight (the soak
/// benchmark saw it with actix's default of 5 s).
pub const KEEP_ALIVE_SECS: u64 = 75;

pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    /// Binds `config.bind` and prepares the server. Signals are not handled here: the
    /// process (`charter serve` / `up`) owns them and stops the server via [`Self::handle`].
    pub fn build(config: Config, store: Store) -> std::io::Result<Application> {
        let listener = TcpListener::bind(config.bind)?;
        let port = listener.local_addr()?.port();
        let shutdown = config.shutdown_timeout.as_secs();
        // Built once, outside the per-worker factory: every worker shares its sessions.
        let mcp = mcp::service(store.clone(), mcp::hosts(&config));
        let sse = web::Data::new(mcp::sse::SseSessions::default());
        let state = web::Data::new(AppState::new(config, store));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(sse.clone())
                .configure(routes::configure(&state, mcp.clone()))
        })
        .disable_signals()
        // Streamed replies leave in several small writes; with Nagle's algorithm each
        // would wait for the client's delayed ACK (~40 ms a call for many HTTP stacks).
        .tcp_nodelay(true)
        .keep_alive(std::time::Duration::from_secs(KEEP_ALIVE_SECS))
        .shutdown_timeout(shutdown)
        .listen(listener)?
        .run();
        Ok(Application { server, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through the handle; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
