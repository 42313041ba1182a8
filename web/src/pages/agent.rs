//! `/app/agents/{id}`: one agent — status (suspend, resume, delete), API keys (issue: shown
//! once; revoke), the scope editor (grants, may-direct, limits, as JSON validated and
//! compiled by the store before it is saved), the breaker (reset), and how to connect an
//! MCP client. Every change is the store's operation, recorded with the person as actor.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::{Decide, ManageAgents, ManagePolicies, Read, Simulate};
use charter_core::policy::Scope;
use charter_store::admin::inbox::BreakerInfo;
use charter_store::agents::Agent;
use charter_store::api_keys::ApiKeyInfo;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "agent.html")]
pub struct AgentPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    agent: Agent,
    keys: Vec<ApiKeyInfo>,
    breaker: Option<BreakerInfo>,
    mcp_url: String,
    /// The scope as JSON in the editor (what is saved, or what was just refused).
    scope: String,
    scope_error: Option<String>,
    /// A key just issued: shown on this response only.
    new_key: Option<String>,
    /// The simulator's last question and the engine's answer.
    sim: SimForm,
    simulated: Option<Simulated>,
}

/// What the simulator asks: an action as `authorize_action` takes it.
#[derive(Deserialize, Default, Clone)]
pub struct SimForm {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub resource_id: String,
    #[serde(default)]
    pub spend: String,
    #[serde(default)]
    pub arguments: String,
}

/// The engine's answer to a simulated request.
pub struct Simulated {
    pub decision: &'static str,
    pub reason: Option<&'static str>,
    pub message: Option<String>,
}

impl AgentPage {
    async fn read(dash: &Dashboard, me: Me, id: Uuid) -> Result<AgentPage, PageError> {
        let store = dash.store();
        let agent = store.admin().agent(me.tenant_id, id).await?;
        let keys = store.admin().agent_keys(me.tenant_id, id).await?;
        let breaker = store
            .admin()
            .breakers(me.tenant_id)
            .await?
            .into_iter()
            .find(|b| b.agent_id == id);
        let scope = store.engine().agent_scope(me.tenant_id, id).await?;
        let slug = store.admin().tenant(me.tenant_id).await?.slug;
        Ok(AgentPage {
            active: "/app/agents",
            flash: None,
            agent,
            keys,
            breaker,
            mcp_url: format!("{}/t/{slug}/mcp", dash.public_url()),
            scope: serde_json::to_string_pretty(&scope).unwrap_or_default(),
            scope_error: None,
            new_key: None,
            sim: SimForm::default(),
            simulated: None,
            me,
        })
    }

    /// The MCP client configuration to paste (the key stands in until one is issued).
    pub fn mcp_config(&self) -> String {
        let key = self.new_key.as_deref().unwrap_or("<the agent's API key>");
        serde_json::to_string_pretty(&serde_json::json!({
            "mcpServers": {"charter": {"type": "http", "url": self.mcp_url,
                "headers": {"Authorization": format!("Bearer {key}")}}}
        }))
        .unwrap_or_default()
    }
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
) -> Result<AgentPage, PageError> {
    let mut p = AgentPage::read(&dash, page.me, path.into_inner()).await?;
    p.flash = flash(&req);
    Ok(p)
}

#[derive(Deserialize)]
pub struct NoFields {}

fn back(id: Uuid, key: &str) -> HttpResponse {
    done(&format!("/app/agents/{id}"), key)
}

pub async fn suspend(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManageAgents, NoFields>,
) -> Result<HttpResponse, PageError> {
    set_suspended(&dash, path.into_inner(), &f.me, true).await
}

pub async fn resume(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManageAgents, NoFields>,
) -> Result<HttpResponse, PageError> {
    set_suspended(&dash, path.into_inner(), &f.me, false).await
}

async fn set_suspended(
    dash: &Dashboard,
    id: Uuid,
    me: &Me,
    suspended: bool,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .set_agent_suspended(me.tenant_id, me.acting(), id, suspended)
        .await?;
    Ok(back(
        id,
        if suspended {
            "agent_suspended"
        } else {
            "agent_resumed"
        },
    ))
}

pub async fn delete(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManageAgents, NoFields>,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .delete_agent(f.me.tenant_id, f.me.acting(), path.into_inner())
        .await?;
    Ok(done("/app/agents", "agent_deleted"))
}

#[derive(Deserialize)]
pub struct NewKey {
    #[serde(default)]
    label: String,
}

/// Issues a key and shows it on this response only: it is stored hashed.
pub async fn issue_key(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManageAgents, NewKey>,
) -> Result<AgentPage, PageError> {
    let id = path.into_inner();
    let label = match f.form.label.trim() {
        "" => "dashboard".to_string(),
        l => l.to_string(),
    };
    let (_, key) = dash
        .store()
        .admin()
        .issue_agent_key(f.me.tenant_id, f.me.acting(), id, label)
        .await?;
    let mut p = AgentPage::read(&dash, f.me, id).await?;
    p.new_key = Some(key.expose().to_string());
    Ok(p)
}

pub async fn revoke_key(
    dash: web::Data<Dashboard>,
    path: web::Path<(Uuid, Uuid)>,
    f: Form<ManageAgents, NoFields>,
) -> Result<HttpResponse, PageError> {
    let (agent, key) = path.into_inner();
    dash.store()
        .admin()
        .revoke_api_key(f.me.tenant_id, f.me.acting(), agent, key)
        .await?;
    Ok(back(agent, "key_revoked"))
}

#[derive(Deserialize)]
pub struct ScopeForm {
    scope: String,
}

/// Saves the scope. JSON errors name their line and column; the store then validates the
/// scope against the tenant's catalog and compiles it with every policy before saving.
pub async fn save_scope(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManagePolicies, ScopeForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let saved = match serde_json::from_str::<Scope>(&f.form.scope) {
        Err(e) => Err(format!("line {}, column {}: {e}", e.line(), e.column())),
        Ok(scope) => match dash
            .store()
            .engine()
            .set_scope(f.me.tenant_id, id, scope, f.me.acting())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match PageError::from(e) {
                PageError::Shown {
                    status, message, ..
                } if status.is_client_error() => Err(message),
                e => return Err(e),
            },
        },
    };
    let Err(message) = saved else {
        return Ok(back(id, "scope_saved"));
    };
    // Refused: the editor again, with what was typed and why it was refused.
    let mut p = AgentPage::read(&dash, f.me, id).await?;
    p.scope = f.form.scope;
    p.scope_error = Some(message);
    crate::layout::render(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, p)
}

pub async fn reset_breaker(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<Decide, NoFields>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    dash.store()
        .engine()
        .reset_breaker(f.me.tenant_id, id, f.me.acting())
        .await?;
    Ok(back(id, "breaker_reset"))
}

/// "Would this be allowed, and why?": every check of a real decision, nothing kept.
pub async fn simulate(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<Simulate, SimForm>,
) -> Result<AgentPage, PageError> {
    let id = path.into_inner();
    let q = f.form.clone();
    let spend = match q.spend.trim() {
        "" => 0,
        s => s
            .parse::<i64>()
            .map_err(|_| PageError::invalid(format!("spend: `{s}` is not a whole number")))?,
    };
    let arguments = match q.arguments.trim() {
        "" => serde_json::Value::Null,
        a => serde_json::from_str(a).map_err(|e| {
            PageError::invalid(format!(
                "arguments: line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?,
    };
    let request = charter_store::engine::ActionRequest {
        action: q.action.trim().to_string(),
        resource_type: q.resource_type.trim().to_string(),
        resource_id: q.resource_id.trim().to_string(),
        spend,
        idempotency_key: None,
        arguments,
        initiative: None,
        task: None,
    };
    let s = dash
        .store()
        .engine()
        .simulate(f.me.tenant_id, id, request)
        .await?;
    let mut p = AgentPage::read(&dash, f.me, id).await?;
    p.simulated = Some(Simulated {
        decision: s.decision.label(),
        reason: s.decision.reason().map(|r| r.as_str()),
        message: s.message,
    });
    p.sim = q;
    Ok(p)
}
