//! People of a tenant: invitations (or direct creation with a password), role changes,
//! disabling and removal. Rules that hold whoever asks:
//! - only an owner grants or takes away the owner role, or changes or removes an owner;
//! - nobody changes their own roles or status, or removes themselves (no self-escalation,
//!   no accidental lock-out);
//! - the last active owner keeps the owner role and stays active.

use charter_core::secret::Secret;
use charter_core::status::PrincipalStatus;
use charter_core::tenant::Acting;
use charter_core::tenant::{Email, Role};
use charter_core::tenant_token::{self, Kind};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::{ADMINS, entry};
use crate::engine::require_roles;
use crate::principals::{self, NewPrincipal, Principal};
use crate::{Result, StoreError, TenantTx};

/// How long an invitation stays valid.
pub const INVITE_TTL_DAYS: i64 = 7;

pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// An argon2 hash: the account is active at once. `None`: invited, with a token.
    pub password_hash: Option<String>,
}

/// A change to a person; `None` leaves that field as it is.
#[derive(Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub roles: Option<Vec<Role>>,
    /// `active` or `disabled`.
    pub status: Option<PrincipalStatus>,
}

async fn other_active_owners(tx: &TenantTx, except: Uuid) -> Result<i64> {
    let r = tx
        .one(
            "SELECT count(*) AS n FROM principals WHERE tenant_id = $1 AND id <> $2
             AND status = 'active' AND 'owner' = ANY(roles)",
            vec![tx.tenant_id().into(), except.into()],
        )
        .await?;
    Ok(r.map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

fn forbid(why: &str) -> StoreError {
    StoreError::Forbidden(why.to_string())
}

fn roles_json(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

impl crate::handles::Admin<'_> {
    /// The tenant's people.
    pub async fn users(self, tenant: Uuid) -> Result<Vec<Principal>> {
        self.read(tenant, |tx| Box::pin(principals::list(tx))).await
    }

    /// One person.
    pub async fn user(self, tenant: Uuid, id: Uuid) -> Result<Principal> {
        self.read(tenant, move |tx| Box::pin(principals::get(tx, id)))
            .await
    }

    /// Adds a person. With a password the account is active; without, it is invited and
    /// the one-time invitation token is returned (shown once).
    pub async fn add_user(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        mut new: NewUser,
    ) -> Result<(Principal, Option<Secret<String>>)> {
        let by: Acting = by.into();
        if new.roles.is_empty() {
            return Err(StoreError::Invalid("roles: at least one role".into()));
        }
        new.display_name = charter_core::tenant::display_name(&new.display_name, 200)
            .map_err(|e| StoreError::Invalid(format!("display_name: {e}")))?;
        let (_, out) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let acting = require_roles(tx, &by, ADMINS).await?;
                    if new.roles.contains(&Role::Owner) && !acting.contains(&Role::Owner) {
                        return Err(forbid("only an owner can grant the owner role"));
                    }
                    let invited = new.password_hash.is_none();
                    let id = principals::create(
                        tx,
                        NewPrincipal {
                            email: new.email.clone(),
                            display_name: new.display_name,
                            password_hash: new.password_hash,
                            roles: new.roles.clone(),
                        },
                        Utc::now(),
                    )
                    .await?;
                    let mut token = None;
                    if invited {
                        let t = tenant_token::generate(Kind::Invite, tx.tenant_id())?;
                        tx.exec(
                            "UPDATE principals SET status = 'invited', invite_token_hash = $3,
                                 invite_expires_at = now() + make_interval(days => $4)
                             WHERE tenant_id = $1 AND id = $2",
                            vec![
                                tx.tenant_id().into(),
                                id.into(),
                                t.hash.to_vec().into(),
                                (INVITE_TTL_DAYS as i32).into(),
                            ],
                        )
                        .await?;
                        token = Some(t.token);
                    }
                    let p = principals::get(tx, id).await?;
                    let e = entry(
                        if invited { "principal.invited" } else { "principal.added" },
                        &by,
                        Some(format!("principal:{id}")),
                        json!({"principal_id": id, "email": new.email.as_str(), "roles": roles_json(&new.roles)}),
                    );
                    Ok((e, (p, token)))
                })
            })
            .await?;
        Ok(out)
    }

    /// Whether `token` is an invitation still waiting to be accepted: checked (a read)
    /// before anything costly — hashing a password, queueing ledger work — is done for it.
    pub async fn invitation_pending(self, token: &str) -> Result<bool> {
        let Some(tenant) = tenant_token::tenant_of(Kind::Invite, token) else {
            return Ok(false);
        };
        let tx = self.tenant_tx(tenant).await?;
        let found = tx
            .one(
                "SELECT 1 AS x FROM principals WHERE tenant_id = $1 AND invite_token_hash = $2
                   AND status = 'invited' AND invite_expires_at > now()",
                vec![tenant.into(), tenant_token::hash(token).to_vec().into()],
            )
            .await?
            .is_some();
        tx.rollback().await?;
        Ok(found)
    }

    /// An invited person sets their password with the invitation token; recorded.
    pub async fn accept_invite(self, token: &str, password_hash: String) -> Result<Principal> {
        let tenant = tenant_token::tenant_of(Kind::Invite, token)
            .ok_or(StoreError::NotFound("invitation"))?;
        if !self.invitation_pending(token).await? {
            return Err(StoreError::NotFound("invitation"));
        }
        let hash = tenant_token::hash(token);
        let (_, p) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let row = tx
                        .one(
                            "UPDATE principals SET status = 'active', password_hash = $3,
                                 invite_token_hash = NULL, invite_expires_at = NULL, updated_at = now()
                             WHERE tenant_id = $1 AND invite_token_hash = $2 AND status = 'invited'
                               AND invite_expires_at > now()
                             RETURNING id",
                            vec![tx.tenant_id().into(), hash.to_vec().into(), password_hash.into()],
                        )
                        .await?
                        .ok_or(StoreError::NotFound("invitation"))?;
                    let id: Uuid = row.try_get("", "id")?;
                    let p = principals::get(tx, id).await?;
                    let e = entry("principal.joined", &Acting::person(id), Some(format!("principal:{id}")), json!({"principal_id": id}));
                    Ok((e, p))
                })
            })
            .await?;
        Ok(p)
    }

    /// Changes a person's name, roles or status (see the module's rules). Disabling
    /// ends their sessions.
    pub async fn update_user(
        self,
        tenant: Uuid,
        by: impl Into<Acting>,
        id: Uuid,
        change: UserChange,
    ) -> Result<Principal> {
        let by: Acting = by.into();
        let (_, p) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let acting = require_roles(tx, &by, ADMINS).await?;
                    let before = principals::get(tx, id).await?;
                    let touches_authority = change.roles.is_some() || change.status.is_some();
                    if touches_authority && id == by.principal {
                        return Err(forbid("you cannot change your own roles or status"));
                    }
                    let was_owner = before.roles.contains(&Role::Owner);
                    let will_be_owner = change.roles.as_ref().map_or(was_owner, |r| r.contains(&Role::Owner));
                    if (was_owner || will_be_owner) && touches_authority && !acting.contains(&Role::Owner) {
                        return Err(forbid("only an owner can change an owner or grant the owner role"));
                    }
                    let disabling = change.status == Some(PrincipalStatus::Disabled);
                    if was_owner && (!will_be_owner || disabling) && other_active_owners(tx, id).await? == 0 {
                        return Err(StoreError::Conflict("the last active owner keeps the owner role and stays active".into()));
                    }
                    if change.status == Some(PrincipalStatus::Invited) {
                        return Err(StoreError::Invalid("status: `active` or `disabled`".into()));
                    }
                    if change.status == Some(PrincipalStatus::Active) && before.status == PrincipalStatus::Invited {
                        return Err(StoreError::Conflict("an invited person becomes active by accepting the invitation".into()));
                    }
                    if let Some(r) = &change.roles
                        && r.is_empty()
                    {
                        return Err(StoreError::Invalid("roles: at least one role".into()));
                    }
                    let roles: Option<Vec<String>> =
                        change.roles.as_ref().map(|r| r.iter().map(|x| x.as_str().to_string()).collect());
                    tx.exec(
                        "UPDATE principals SET display_name = COALESCE($3, display_name),
                             roles = COALESCE($4, roles), status = COALESCE($5, status), updated_at = now()
                         WHERE tenant_id = $1 AND id = $2",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            change.display_name.clone().into(),
                            roles.into(),
                            change.status.map(PrincipalStatus::as_str).into(),
                        ],
                    )
                    .await?;
                    if disabling {
                        end_all_sessions(tx, id).await?;
                    }
                    let after = principals::get(tx, id).await?;
                    let e = entry(
                        "principal.updated",
                        &by,
                        Some(format!("principal:{id}")),
                        json!({
                            "principal_id": id,
                            "roles": {"from": roles_json(&before.roles), "to": roles_json(&after.roles)},
                            "status": {"from": before.status, "to": after.status},
                            "display_name": change.display_name,
                        }),
                    );
                    Ok((e, after))
                })
            })
            .await?;
        Ok(p)
    }

    /// Removes a person (their sessions and API tokens go with them). Someone still
    /// responsible for agents cannot be removed until the agents are reassigned or deleted.
    pub async fn remove_user(self, tenant: Uuid, by: impl Into<Acting>, id: Uuid) -> Result<()> {
        let by: Acting = by.into();
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                let acting = require_roles(tx, &by, ADMINS).await?;
                if id == by.principal {
                    return Err(forbid("you cannot remove yourself"));
                }
                let p = principals::get(tx, id).await?;
                if p.roles.contains(&Role::Owner) {
                    if !acting.contains(&Role::Owner) {
                        return Err(forbid("only an owner can remove an owner"));
                    }
                    if other_active_owners(tx, id).await? == 0 {
                        return Err(StoreError::Conflict("the last active owner cannot be removed".into()));
                    }
                }
                let agents = tx
                    .one(
                        "SELECT count(*) AS n FROM agents WHERE tenant_id = $1 AND responsible_principal_id = $2",
                        vec![tx.tenant_id().into(), id.into()],
                    )
                    .await?
                    .map(|r| r.try_get::<i64>("", "n"))
                    .transpose()?
                    .unwrap_or(0);
                if agents > 0 {
                    return Err(StoreError::Conflict(format!(
                        "this person is responsible for {agents} agent(s); reassign or delete them first"
                    )));
                }
                tx.exec(
                    "DELETE FROM principals WHERE tenant_id = $1 AND id = $2",
                    vec![tx.tenant_id().into(), id.into()],
                )
                .await?;
                let e = entry(
                    "principal.removed",
                    &by,
                    Some(format!("principal:{id}")),
                    json!({"principal_id": id, "email": p.email, "roles": roles_json(&p.roles)}),
                );
                Ok((e, ()))
            })
        })
        .await?;
        Ok(())
    }
}

/// Revokes every refresh token and API token of a principal.
async fn end_all_sessions(tx: &TenantTx, principal: Uuid) -> Result<()> {
    for sql in [
        "UPDATE refresh_tokens SET revoked_at = now() WHERE tenant_id = $1 AND principal_id = $2 AND revoked_at IS NULL",
        "UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = $1 AND created_by = $2 AND revoked_at IS NULL",
    ] {
        tx.exec(sql, vec![tx.tenant_id().into(), principal.into()])
            .await?;
    }
    Ok(())
}
