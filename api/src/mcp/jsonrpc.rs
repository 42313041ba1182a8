//! JSON-RPC framing checks before a POST reaches rmcp: a body over the limit is 413; a
//! body that is not JSON is -32700 (parse error); JSON that is not a JSON-RPC message is
//! -32600 (invalid request). rmcp itself answers such bodies with plain text, which
//! clients cannot read as JSON-RPC.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures::StreamExt;
use serde_json::{Value, json};

use super::MAX_BODY_BYTES;
use crate::error::ApiError;

fn rpc_error(status: StatusCode, code: i64, message: String) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message},
    }))
}

/// Why `v` is not a JSON-RPC 2.0 message (or batch of them), if it is not.
fn shape_error(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) if items.is_empty() => Some("an empty batch".into()),
        Value::Array(items) => items.iter().find_map(shape_error),
        Value::Object(m) => {
            if m.get("jsonrpc") != Some(&Value::String("2.0".into())) {
                return Some("`jsonrpc` must be \"2.0\"".into());
            }
            match (
                m.get("method"),
                m.contains_key("result") || m.contains_key("error"),
            ) {
                (Some(Value::String(_)), _) => None,
                (Some(_), _) => Some("`method` must be a string".into()),
                (None, true) if m.contains_key("id") => None,
                _ => Some("a request needs a `method`".into()),
            }
        }
        _ => Some("a JSON-RPC message is an object".into()),
    }
}

pub async fn validate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::POST {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            let e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a request body is at most {MAX_BODY_BYTES} bytes"),
            );
            return Ok(req.into_response(e.error_response()));
        }
        body.extend_from_slice(&chunk);
    }
    let body: Bytes = body.freeze();
    match serde_json::from_slice::<Value>(&body) {
        Err(e) => {
            let res = rpc_error(StatusCode::BAD_REQUEST, -32700, format!("parse error: {e}"));
            return Ok(req.into_response(res));
        }
        Ok(v) => {
            if let Some(why) = shape_error(&v) {
                let res = rpc_error(
                    StatusCode::BAD_REQUEST,
                    -32600,
                    format!("invalid request: {why}"),
                );
                return Ok(req.into_response(res));
            }
        }
    }
    req.set_payload(Payload::from(body));
    Ok(next.call(req).await?.map_into_boxed_body())
}
