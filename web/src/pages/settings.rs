//! `/app/settings`: people and their roles (add — an invitation link shown once —, change
//! roles, disable), tenant API tokens, the signing keys and the latest checkpoints. People
//! are `manage_people`; the store refuses what the REST API refuses (e.g. removing the last
//! owner).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use charter_core::permission::{ManagePeople, Read};
use charter_core::tenant::{Email, Role};
use charter_store::admin::users::{NewUser, UserChange};
use charter_store::api_tokens::ApiTokenInfo;
use charter_store::ledger::checkpoints::StoredCheckpoint;
use charter_store::principals::Principal;
use charter_store::signing_keys::PublicKeyInfo;
use uuid::Uuid;

use crate::error::PageError;
use crate::layout::{Flash, done, flash};
use crate::session::{Form, Me, Page};
use crate::state::Dashboard;

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    me: Me,
    active: &'static str,
    flash: Option<Flash>,
    people: Vec<Principal>,
    tokens: Vec<ApiTokenInfo>,
    keys: Vec<PublicKeyInfo>,
    checkpoints: Vec<StoredCheckpoint>,
    /// An invitation just made: shown on this response only.
    invitation: Option<String>,
    /// A tenant API token just created: shown on this response only.
    new_token: Option<String>,
    roles: &'static [Role],
}

impl SettingsPage {
    async fn read(dash: &Dashboard, me: Me) -> Result<SettingsPage, PageError> {
        let t = me.tenant_id;
        let store = dash.store();
        Ok(SettingsPage {
            people: store.admin().users(t).await?,
            // Listed to those who manage them, as on the REST API.
            tokens: if me.can("manage_people") {
                store.admin().api_tokens(t).await?
            } else {
                Vec::new()
            },
            keys: store.ledger().public_keys(t).await?,
            checkpoints: store.ledger().checkpoints(t, None, 10).await?.0,
            invitation: None,
            new_token: None,
            roles: &Role::ALL,
            active: "/app/settings",
            flash: None,
            me,
        })
    }

    pub fn key_b64(&self, k: &PublicKeyInfo) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(k.public_key)
    }
}

pub async fn show(
    req: HttpRequest,
    page: Page<Read>,
    dash: web::Data<Dashboard>,
) -> Result<SettingsPage, PageError> {
    let mut p = SettingsPage::read(&dash, page.me).await?;
    p.flash = flash(&req);
    Ok(p)
}

/// Roles ticked in a form: repeated `roles` fields.
fn roles(pairs: &[(String, String)]) -> Result<Vec<Role>, PageError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| {
            v.parse::<Role>()
                .map_err(|_| PageError::invalid(format!("roles: unknown role `{v}`")))
        })
        .collect()
}

pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Adds a person: invited (they set their password through the link shown once).
pub async fn add_person(
    dash: web::Data<Dashboard>,
    f: Form<ManagePeople, Vec<(String, String)>>,
) -> Result<SettingsPage, PageError> {
    let email = Email::parse(field(&f.form, "email"))
        .map_err(|e| PageError::invalid(format!("email: {e}")))?;
    let name = match field(&f.form, "display_name").trim() {
        "" => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string(),
        n => n.to_string(),
    };
    let (_, invite) = dash
        .store()
        .admin()
        .add_user(
            f.me.tenant_id,
            f.me.acting(),
            NewUser {
                email,
                display_name: name,
                roles: roles(&f.form)?,
                password_hash: None,
            },
        )
        .await?;
    let mut p = SettingsPage::read(&dash, f.me).await?;
    p.invitation = invite.map(|t| format!("{}/app/invite?token={}", dash.public_url(), t.expose()));
    p.flash = Some(Flash {
        text: "The person was added. Send them the invitation link below.".into(),
        error: false,
    });
    Ok(p)
}

pub async fn set_roles(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManagePeople, Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .update_user(
            f.me.tenant_id,
            f.me.acting(),
            path.into_inner(),
            UserChange {
                roles: Some(roles(&f.form)?),
                ..UserChange::default()
            },
        )
        .await?;
    Ok(done("/app/settings", "roles_changed"))
}

/// Creates a tenant API token with the ticked roles (none beyond the creator's own); its
/// secret is shown on this response only.
pub async fn create_token(
    dash: web::Data<Dashboard>,
    f: Form<ManagePeople, Vec<(String, String)>>,
) -> Result<SettingsPage, PageError> {
    let expires = match field(&f.form, "expires_on").trim() {
        "" => None,
        d => Some(
            charter_core::bundle::parse_bound(d, true)
                .ok_or_else(|| PageError::invalid(format!("expires_on: `{d}` is not a date")))?,
        ),
    };
    let (_, secret) = dash
        .store()
        .admin()
        .create_api_token(
            f.me.tenant_id,
            f.me.acting(),
            field(&f.form, "name").to_string(),
            roles(&f.form)?,
            expires,
        )
        .await?;
    let mut p = SettingsPage::read(&dash, f.me).await?;
    p.new_token = Some(secret.expose().to_string());
    Ok(p)
}

pub async fn revoke_token(
    dash: web::Data<Dashboard>,
    path: web::Path<Uuid>,
    f: Form<ManagePeople, Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    dash.store()
        .admin()
        .revoke_api_token(f.me.tenant_id, f.me.acting(), path.into_inner())
        .await?;
    Ok(done("/app/settings", "token_revoked"))
}
