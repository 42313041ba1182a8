//! `/app/policies`: the tenant's catalog (resource types, actions and their groups) and its
//! tenant-wide Cedar policies — validated (errors name their line and column) or saved,
//! through the store's operations (`manage_policies` to save, as on the REST API).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::{ManagePolicies, Read};
use charter_store::engine::policies::TenantPolicies;
use serde::Deserialize;

use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "policies.html")]
pub struct PoliciesPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    p: TenantPolicies,
    /// The text in the editor: what is saved, or what was just checked.
    text: String,
    /// Why the text was refused (with its line and column).
    error: Option<String>,
}

impl PoliciesPage {
    async fn read(dash: &Dashboard, me: Me) -> Result<PoliciesPage, PageError> {
        let p = dash.store().engine().tenant_policies(me.tenant_id).await?;
        Ok(PoliciesPage {
            text: p.policies.clone(),
            p,
            error: None,
            active: "/app/policies",
            flash: None,
            me,
        })
    }
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<PoliciesPage, PageError> {
    let mut p = PoliciesPage::read(&dash, page.me).await?;
    p.flash = flash(&req);
    Ok(p)
}

#[derive(Deserialize)]
pub struct PoliciesForm {
    policies: String,
    /// `validate` (check only) or `save`.
    action: String,
}

pub async fn submit(
    dash: web::Data<Dashboard>,
    f: Form<ManagePolicies, PoliciesForm>,
) -> Result<HttpResponse, PageError> {
    let engine = dash.store().engine();
    let current = engine.tenant_policies(f.me.tenant_id).await?;
    let checked = match f.form.action.as_str() {
        "save" => engine
            .set_tenant_policies(
                f.me.tenant_id,
                f.me.acting(),
                current.catalog,
                f.form.policies.clone(),
            )
            .await
            .map(|_| true),
        _ => engine
            .validate_policies(f.me.tenant_id, &current.catalog, &f.form.policies)
            .await
            .map(|_| false),
    };
    let (status, error, flash) = match checked {
        Ok(true) => return Ok(done("/app/policies", "policies_saved")),
        Ok(false) => (
            StatusCode::OK,
            None,
            Some(Flash {
                text: "Valid: the policies compile with every agent's scope. Not saved yet.".into(),
                error: false,
            }),
        ),
        Err(e) => match PageError::from(e) {
            PageError::Shown {
                status, message, ..
            } if status.is_client_error() => (status, Some(message), None),
            e => return Err(e),
        },
    };
    let mut p = PoliciesPage::read(&dash, f.me).await?;
    p.text = f.form.policies;
    p.error = error;
    p.flash = flash;
    crate::layout::render(status, p)
}
