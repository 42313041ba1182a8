//! `/app/webhooks`: the tenant's notification endpoints (Standard Webhooks): add one (its
//! signing secret shown once), send a test event, remove one. Seeing them at all is
//! `manage_webhooks`, as on the REST API (endpoint URLs often carry a secret).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::ManageWebhooks;
use charter_core::webhook::Event;
use charter_store::webhooks::Endpoint;
use charter_store::webhooks::endpoints::NewEndpoint;
use uuid::Uuid;

use super::settings::field;
use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    endpoints: Vec<Endpoint>,
    events: &'static [Event],
    /// A new endpoint's signing secret: shown on this response only.
    secret: Option<String>,
}

impl WebhooksPage {
    async fn read(dash: &Dashboard, me: Me) -> Result<WebhooksPage, PageError> {
        Ok(WebhooksPage {
            endpoints: dash.store().admin().webhooks(me.tenant_id).await?,
            events: Event::SUBSCRIBABLE,
            secret: None,
            active: "/app/settings",
            flash: None,
            me,
        })
    }
}

pub async fn show(
    req: HttpRequest,
    page: Page<ManageWebhooks>,
    dash: web::Data<Dashboard>,
) -> Result<WebhooksPage, PageError> {
    let mut p = WebhooksPage::read(&dash, page.me).await?;
    p.flash = flash(&req);
    Ok(p)
}

pub async fn create(
    dash: web::Data<Dashboard>,
    f: Form<ManageWebhooks, Vec<(String, String)>>,
) -> Result<WebhooksPage, PageError> {
    let events = f
        .form
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let (_, secret) = dash
        .store()
        .admin()
        .create_webhook(
            f.me.tenant_id,
            f.me.acting(),
            NewEndpoint {
                url: field(&f.form, "url").trim().to_string(),
                description: field(&f.form, "description").trim().to_string(),
                events,
            },
        )
        .await?;
    let mut p = WebhooksPage::read(&dash, f.me).await?;
    p.secret = Some(secret.expose().to_string());
    Ok(p)
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

pub async fn test(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManageWebhooks, NoFields>,
) -> Result<WebhooksPage, PageError> {
    dash.store()
        .admin()
        .test_webhook(f.me.tenant_id, f.me.acting(), path.into_inner())
        .await?;
    let mut p = WebhooksPage::read(&dash, f.me).await?;
    p.flash = Some(Flash {
        text: "A `webhook.test` event is on its way; the worker delivers it within seconds.".into(),
        error: false,
    });
    Ok(p)
}

pub async fn delete(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManageWebhooks, NoFields>,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .delete_webhook(f.me.tenant_id, f.me.acting(), path.into_inner())
        .await?;
    Ok(done("/app/webhooks", "webhook_deleted"))
}
