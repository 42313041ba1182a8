//! The deprecated HTTP+SSE transport of MCP 2024-11-05, for older clients. rmcp no longer
//! ships a server for it, so this module carries rmcp's messages itself: `GET
//! /t/{slug}/sse` opens a stream whose first event (`endpoint`) names the URL to POST
//! messages to; every answer comes back as a `message` event on that stream. The same
//! [`CharterMcp`] service answers, so results are the same as over Streamable HTTP.
//!
//! A stream lives in the process that opened it, so its POSTs must reach the same node
//! (route by `sessionId`, see docs/mcp.md). A session belongs to the tenant and agent that
//! opened it: POSTed by another agent or at another tenant's path it is unknown (404).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use rmcp::ServiceExt;
use rmcp::model::ClientJsonRpcMessage;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Caller, CharterMcp};
use crate::AppState;
use crate::error::ApiError;

/// Messages a client may have in flight on one stream before POSTs wait.
const QUEUE: usize = 64;

/// Streams one agent may hold open on one node at a time.
pub const MAX_STREAMS_PER_AGENT: usize = 8;

/// How often an idle stream gets a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Session {
    tenant_id: Uuid,
    agent_id: Uuid,
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
}

/// The open SSE streams of this process.
#[derive(Default, Clone)]
pub struct SseSessions(Arc<Mutex<HashMap<String, Session>>>);

impl SseSessions {
    /// Registers a stream; `false` (and nothing registered) when its agent already holds
    /// [`MAX_STREAMS_PER_AGENT`].
    fn insert(&self, id: String, s: Session) -> bool {
        let Ok(mut m) = self.0.lock() else {
            return false;
        };
        let held = m
            .values()
            .filter(|x| x.tenant_id == s.tenant_id && x.agent_id == s.agent_id)
            .count();
        if held >= MAX_STREAMS_PER_AGENT {
            return false;
        }
        m.insert(id, s);
        true
    }

    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }

    /// The session's inbound queue, if it exists and belongs to this caller.
    fn sender(&self, id: &str, caller: &Caller) -> Option<mpsc::Sender<ClientJsonRpcMessage>> {
        let m = self.0.lock().ok()?;
        let s = m.get(id)?;
        (s.tenant_id == caller.tenant_id && s.agent_id == caller.agent_id)
            .then(|| s.to_server.clone())
    }
}

/// Ends the session when the client goes away (the response stream is dropped).
struct Closer {
    sessions: SseSessions,
    id: String,
    ct: CancellationToken,
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.sessions.remove(&self.id);
        self.ct.cancel();
    }
}

fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("an API key is required"))
}

fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// `GET /t/{slug}/sse`
pub async fn connect(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SseSessions>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(&req)?;
    let id = Uuid::new_v4().simple().to_string();
    let (to_server, inbound) = mpsc::channel::<ClientJsonRpcMessage>(QUEUE);
    let (outbound, from_server) = mpsc::channel(QUEUE);
    let ct = CancellationToken::new();
    let opened = sessions.insert(
        id.clone(),
        Session {
            tenant_id: caller.tenant_id,
            agent_id: caller.agent_id,
            to_server,
        },
    );
    if !opened {
        return Err(ApiError::too_many(
            format!(
                "this agent already holds {MAX_STREAMS_PER_AGENT} open streams; close one first"
            ),
            5,
        ));
    }
    let service = CharterMcp::new(state.store().clone());
    let service_ct = ct.clone();
    tokio::spawn(async move {
        // Serves until the client goes away (the token) or stops sending.
        match service.serve_with_ct((outbound, inbound), service_ct).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!(error = %e, "SSE session ended before initialisation"),
        }
    });
    let endpoint = format!("/t/{}/sse/messages?sessionId={id}", caller.slug);
    let closer = Closer {
        sessions: sessions.get_ref().clone(),
        id,
        ct,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream(endpoint, from_server, closer)))
}

fn stream(
    endpoint: String,
    from_server: mpsc::Receiver<rmcp::model::ServerJsonRpcMessage>,
    closer: Closer,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let first = futures::stream::once(async move { Some(event("endpoint", &endpoint)) });
    let messages = from_server.map(|m| match serde_json::to_string(&m) {
        Ok(json) => event("message", &json),
        Err(e) => {
            tracing::error!(error = %e, "an MCP message could not be encoded");
            Bytes::from_static(b": dropped an unencodable message\n\n")
        }
    });
    let pings = futures::stream::unfold((), |()| async {
        tokio::time::sleep(KEEP_ALIVE).await;
        Some((Bytes::from_static(b": keep-alive\n\n"), ()))
    });
    let body = first.chain(futures::stream::select(
        messages
            .map(Some)
            .chain(futures::stream::once(async { None })),
        pings.map(Some),
    ));
    // Ends when the service closes its side; the closer ends the session with the stream.
    body.take_while(|b| futures::future::ready(b.is_some()))
        .map(move |b| {
            let _keep = &closer;
            Ok(b.unwrap_or_default())
        })
}

#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

fn rpc_error(code: i32, message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message},
    }))
}

/// `POST /t/{slug}/sse/messages?sessionId=…` — 202, the answer comes on the stream.
pub async fn message(
    req: HttpRequest,
    query: web::Query<SessionQuery>,
    sessions: web::Data<SseSessions>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(&req)?;
    let Some(mut to_server) = sessions.sender(&query.session_id, &caller) else {
        return Ok(HttpResponse::NotFound().json(json!({
            "jsonrpc": "2.0", "id": null, "error": {"code": -32001, "message": "session not found"},
        })));
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Ok(rpc_error(-32700, &format!("parse error: {e}"))),
    };
    let mut msg: ClientJsonRpcMessage = match serde_json::from_value(value) {
        Ok(m) => m,
        Err(e) => return Ok(rpc_error(-32600, &format!("invalid request: {e}"))),
    };
    msg.insert_extension(caller);
    if to_server.send(msg).await.is_err() {
        return Ok(HttpResponse::NotFound().json(json!({
            "jsonrpc": "2.0", "id": null, "error": {"code": -32001, "message": "session closed"},
        })));
    }
    Ok(HttpResponse::Accepted().finish())
}
