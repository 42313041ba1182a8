//! Ending an MCP session (`DELETE /t/{slug}/mcp`): rmcp answers `202 Accepted`, which the
//! official Python SDK logs as "Session termination failed: 202". The session is ended by
//! the time the answer is written, so the answer is `204 No Content`.

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

pub async fn no_content<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let delete = req.method() == Method::DELETE;
    let res = next.call(req).await?;
    if delete && res.status() == StatusCode::ACCEPTED {
        return Ok(res.into_response(HttpResponse::NoContent().finish().map_into_right_body()));
    }
    Ok(res.map_into_left_body())
}
