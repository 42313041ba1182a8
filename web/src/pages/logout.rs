//! `POST /app/logout`: the session ends on the server at once (recorded) and the cookie is
//! removed. A form like any other: same-origin with the session's CSRF token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::PageError;
use crate::session::{self, Form, LoggedIn};
use crate::state::Dashboard;

pub async fn submit(
    req: HttpRequest,
    dash: web::Data<Dashboard>,
    _form: Form<LoggedIn, serde::de::IgnoredAny>,
) -> Result<HttpResponse, PageError> {
    if let Some(token) = session::token(&req, &dash) {
        dash.store().sessions().end_web_session(&token).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::SET_COOKIE, session::clear_cookie(&dash)))
        .insert_header((header::LOCATION, "/app/login"))
        .finish())
}
