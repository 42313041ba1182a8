//! Extractors for the REST API: who is calling and with what authority, and request
//! bodies and queries whose errors name the field.
//!
//! `Authorized<P>` accepts a short-lived access token (JWT) or a tenant API token as
//! `Authorization: Bearer`. The caller's roles are read from the database on every
//! request, so a removed, disabled or demoted person loses access at once (not when their
//! token expires). Anything doubtful is 401; a valid caller without the permission is 403.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use charter_core::tenant::{Acting, Role};
use charter_core::tenant_token::{self, Kind};
use charter_store::principals::Principal;
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::permissions::Permission;
use crate::AppState;
use crate::error::ApiError;

/// The largest JSON body the REST API reads.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// An authenticated person of a tenant (directly, or through an API token they created).
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: Uuid,
    pub principal_id: Uuid,
    /// The roles the request acts with (a token's: those its creator still holds).
    pub roles: Vec<Role>,
    /// The API token used, when not a login session.
    pub token_id: Option<Uuid>,
    /// The person, as read while authenticating (once per request).
    pub person: Principal,
}

impl Caller {
    /// Who acts, for the store's own permission check and the ledger: the person, or the
    /// person through this API token with the token's roles.
    pub fn acting(&self) -> Acting {
        match self.token_id {
            Some(id) => Acting::token(self.principal_id, id, self.roles.clone()),
            None => Acting::person(self.principal_id),
        }
    }
}

/// A caller holding permission `P`.
pub struct Authorized<P> {
    pub caller: Caller,
    _p: PhantomData<P>,
}

impl<P> std::ops::Deref for Authorized<P> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::unavailable("no application state"))
}

pub fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = state(req)?;
    let token = bearer(req).ok_or_else(|| {
        ApiError::unauthorized("send an access token or API token as `Authorization: Bearer`")
    })?;
    if tenant_token::is_kind(Kind::Api, &token) {
        let id = state
            .store()
            .admin()
            .resolve_api_token(&token)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown, revoked or expired API token"))?;
        return Ok(Caller {
            tenant_id: id.tenant_id,
            principal_id: id.principal_id,
            roles: id.roles,
            token_id: Some(id.token_id),
            person: id.person,
        });
    }
    let claims = state
        .token_keys()
        .verify(&token)
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let p = state
        .store()
        .sessions()
        .active_person(claims.tid, claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account is not active"))?;
    Ok(Caller {
        tenant_id: claims.tid,
        principal_id: p.id,
        roles: p.roles.clone(),
        token_id: None,
        person: p,
    })
}

impl<P: Permission> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req).await?;
            if !P::held_by(&caller.roles) {
                return Err(ApiError::forbidden(P::refusal()));
            }
            Ok(Authorized {
                caller,
                _p: PhantomData,
            })
        })
    }
}

/// A JSON body: `application/json` only (415 otherwise), at most [`MAX_BODY_BYTES`] (413),
/// and deserialisation errors that name the field (`roles[1]: unknown variant …`).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as `Content-Type: application/json`",
                ));
            }
            let bytes = bytes.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "payload_too_large",
                        format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    ApiError::bad_request("malformed_body", e.to_string())
                }
            })?;
            parse_json(&bytes).map(Body)
        })
    }
}

/// The path of the first string (key or value) holding a NUL character: no text column
/// can store one, so it is refused at the edge with its field named.
fn nul_at(v: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_at(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(x, &here)
            }
        }),
        _ => None,
    }
}

/// Parses JSON, naming the field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = nul_at(&v, "")
    {
        let field = if path.is_empty() {
            "body".to_string()
        } else {
            path
        };
        return Err(ApiError::invalid(format!(
            "{field}: text must not contain NUL characters"
        )));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            )
        } else if path == "." {
            ApiError::invalid(inner.to_string())
        } else {
            ApiError::invalid(format!("{path}: {inner}"))
        }
    })
}

/// A query string, with errors that name the parameter.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let qs = req.query_string();
        if let Some((k, _)) = form_urlencoded::parse(qs.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return std::future::ready(Err(ApiError::bad_request(
                "invalid_query",
                format!("{k}: text must not contain NUL characters"),
            )));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(qs.as_bytes()));
        std::future::ready(
            serde_path_to_error::deserialize(de)
                .map(Query)
                .map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner();
                    if path == "." {
                        ApiError::bad_request("invalid_query", inner.to_string())
                    } else {
                        ApiError::bad_request("invalid_query", format!("{path}: {inner}"))
                    }
                }),
        )
    }
}

/// Path parameters that are not what the route expects (a malformed id): 404, as for an
/// id that does not exist — there is no such resource.
pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no such resource: {err}"),
    )
    .into()
}
