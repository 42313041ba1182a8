//! `/app/breakers`: every agent's breaker; reset one (`decide`), recorded.

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::Read;
use charter_store::admin::inbox::BreakerInfo;

use crate::error::PageError;
use crate::layout::{Flash, flash};
use crate::session::{Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "breakers.html")]
pub struct BreakersPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    breakers: Vec<BreakerInfo>,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<BreakersPage, PageError> {
    let breakers = dash.store().admin().breakers(page.me.tenant_id).await?;
    Ok(BreakersPage {
        me: page.me,
        active: "/app/breakers",
        flash: flash(&req),
        breakers,
    })
}
