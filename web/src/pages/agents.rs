//! `/app/agents`: the tenant's agents, and a form to create one (its first key is issued
//! on its page). Creating is `manage_agents`, as on the REST API.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::{ManageAgents, Read};
use charter_store::agents::Agent;
use serde::Deserialize;

use crate::error::PageError;
use crate::layout::{Flash, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "agents.html")]
pub struct AgentsPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    agents: Vec<Agent>,
    mcp_url: String,
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<AgentsPage, PageError> {
    let tenant = page.me.tenant_id;
    let agents = dash.store().admin().agents(tenant).await?;
    let slug = dash.store().admin().tenant(tenant).await?.slug;
    Ok(AgentsPage {
        me: page.me,
        active: "/app/agents",
        flash: flash(&req),
        agents,
        mcp_url: format!("{}/t/{slug}/mcp", dash.public_url()),
    })
}

#[derive(Deserialize)]
pub struct NewAgent {
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn create(
    dash: web::Data<Dashboard>,
    f: Form<ManageAgents, NewAgent>,
) -> Result<HttpResponse, PageError> {
    let me = &f.me;
    let agent = dash
        .store()
        .admin()
        .create_agent(
            me.tenant_id,
            me.acting(),
            f.form.name.clone(),
            f.form.description.clone(),
            me.principal_id(),
        )
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/app/agents/{}", agent.id),
        ))
        .finish())
}
