//! Principals' sessions for the REST API: password login, refresh tokens stored hashed and
//! rotated on every use, logout. Presenting a token that was already used (a copy stolen
//! before rotation) revokes its whole family — the thief's and the owner's sessions alike.
//! Logins, refreshes, logouts and reuse are all ledger records.

use charter_core::code::Code;
use charter_core::ledger::{Actor, Entry};
use charter_core::secret::Secret;
use charter_core::status::{AgentStatus, PrincipalStatus};
use charter_core::tenant::{Email, Role};
use charter_core::tenant_token::{self, Kind};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx, principals};

/// How long a refresh token may wait to be used.
pub const REFRESH_TTL_DAYS: i64 = 30;
/// However often it is refreshed, a login session ends this long after it started.
pub const SESSION_MAX_DAYS: i64 = 90;

/// A session started or continued: who, with which roles, and the refresh token to use
/// next time.
pub struct Session {
    pub tenant_id: Uuid,
    pub principal_id: Uuid,
    pub roles: Vec<Role>,
    pub refresh_token: Secret<String>,
}

fn unknown() -> StoreError {
    StoreError::NotFound("session")
}

fn inactive() -> StoreError {
    StoreError::Refused(Code::AccountInactive, "this account is not active".into())
}

/// A new refresh token of `family` (started at `started`): valid for [`REFRESH_TTL_DAYS`]
/// of idleness, never past [`SESSION_MAX_DAYS`] after the family started.
async fn insert(
    tx: &TenantTx,
    family: Uuid,
    started: DateTime<Utc>,
    principal: Uuid,
    now: DateTime<Utc>,
) -> Result<Secret<String>> {
    let new = tenant_token::generate(Kind::Refresh, tx.tenant_id())?;
    let expires =
        (now + Duration::days(REFRESH_TTL_DAYS)).min(started + Duration::days(SESSION_MAX_DAYS));
    tx.exec(
        "INSERT INTO refresh_tokens (tenant_id, id, family_id, principal_id, token_hash, issued_at,
                                     expires_at, family_started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![
            tx.tenant_id().into(),
            Uuid::now_v7().into(),
            family.into(),
            principal.into(),
            new.hash.to_vec().into(),
            now.into(),
            expires.into(),
            started.into(),
        ],
    )
    .await?;
    Ok(new.token)
}

async fn revoke_family(tx: &TenantTx, family: Uuid) -> Result<u64> {
    tx.exec(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
        vec![tx.tenant_id().into(), family.into()],
    )
    .await
}

/// What a password login came to.
pub enum PasswordLogin {
    /// The person, of the tenant, with the right password (active).
    Accepted { tenant: Uuid, principal: Uuid },
    /// Wrong tenant, address or password, or an inactive account (not said which).
    Refused,
    /// Too many attempts for this account or address: retry after these seconds.
    Wait(u64),
}

/// What using a refresh token came to.
enum Used {
    Rotated(Session),
    Reused,
}

impl crate::handles::Sessions<'_> {
    /// The person an access token names, if they are still active (read on every request,
    /// so a disabled or removed person loses access at once).
    pub async fn active_person(
        self,
        tenant: Uuid,
        principal: Uuid,
    ) -> Result<Option<principals::Principal>> {
        let found = self
            .read(tenant, move |tx| Box::pin(principals::get(tx, principal)))
            .await;
        match found {
            Ok(p) if p.status == PrincipalStatus::Active => Ok(Some(p)),
            Ok(_) | Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The agent an unauthenticated MCP request to the open test tenant acts as: its first
    /// active agent (`mcp_open_tenant`; never in production).
    pub async fn open_tenant_agent(self, tenant: Uuid) -> Result<Option<Uuid>> {
        let agents = self
            .read(tenant, |tx| Box::pin(crate::agents::list(tx)))
            .await?;
        Ok(agents
            .into_iter()
            .filter(|a| a.status == AgentStatus::Active)
            .min_by_key(|a| a.created_at)
            .map(|a| a.id))
    }

    /// The active principal with this e-mail and password, or `None` (unknown address,
    /// wrong password, no password set, not active — the caller does not say which).
    /// Argon2 runs on a blocking thread: it is deliberately slow.
    pub async fn check_password(
        self,
        tenant: Uuid,
        email: &Email,
        password: Secret<String>,
    ) -> Result<Option<principals::Principal>> {
        let tx = self.tenant_tx(tenant).await?;
        let found = principals::with_password(&tx, email).await?;
        tx.rollback().await?;
        // Unknown addresses cost as much as known ones, so timing tells nothing.
        let (principal, stored) = match found {
            Some((p, Some(h))) => (Some(p), h),
            _ => (None, charter_core::password::DUMMY_HASH.to_string()),
        };
        let ok = crate::passwords::verify(password, stored).await?;
        Ok(principal.filter(|p| ok && p.status == PrincipalStatus::Active))
    }

    /// A password login, for the REST API and the dashboard alike: counted against the
    /// account and the client's address before the password is checked (see
    /// [`crate::limits`]), then checked.
    pub async fn password_login(
        self,
        tenant_slug: &str,
        email: &Email,
        password: Secret<String>,
        address: &str,
    ) -> Result<PasswordLogin> {
        let limits = self.limits();
        if let Some(wait) = limits
            .login_attempt(tenant_slug, email.as_str(), address)
            .await
        {
            return Ok(PasswordLogin::Wait(wait));
        }
        let Some(t) = self.tenant_by_slug(tenant_slug).await? else {
            return Ok(PasswordLogin::Refused);
        };
        let Some(p) = self.check_password(t.id, email, password).await? else {
            return Ok(PasswordLogin::Refused);
        };
        limits
            .login_succeeded(tenant_slug, email.as_str(), address)
            .await?;
        Ok(PasswordLogin::Accepted {
            tenant: t.id,
            principal: p.id,
        })
    }

    /// Starts a session (a new token family) for an active principal; recorded.
    pub async fn start_session(self, tenant: Uuid, principal: Uuid) -> Result<Session> {
        let (_, session) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let p = principals::get(tx, principal).await?;
                    if p.status != PrincipalStatus::Active {
                        return Err(inactive());
                    }
                    let family = Uuid::now_v7();
                    let now = Utc::now();
                    let token = insert(tx, family, now, principal, now).await?;
                    let e = Entry::new("session.started", Actor::principal(principal))
                        .payload(json!({"family_id": family}));
                    Ok((
                        e,
                        Session {
                            tenant_id: tx.tenant_id(),
                            principal_id: principal,
                            roles: p.roles,
                            refresh_token: token,
                        },
                    ))
                })
            })
            .await?;
        Ok(session)
    }

    /// Uses a refresh token: the next token of its family, or a refusal. A token used a
    /// second time revokes the family (recorded) and is refused with `refresh_reuse`.
    pub async fn refresh_session(self, token: &str) -> Result<Session> {
        let tenant = tenant_token::tenant_of(Kind::Refresh, token).ok_or_else(unknown)?;
        let hash = tenant_token::hash(token);
        // Only a token that exists reaches the ledger writer: made-up tokens (naming any
        // tenant, or none that exists) are answered from a read and queue nothing.
        if !self.refresh_token_exists(tenant, &hash).await? {
            return Err(unknown());
        }
        let (_, used) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let row = tx
                        .one(
                            "SELECT id, family_id, principal_id, expires_at, used_at, revoked_at,
                                    COALESCE(family_started_at, issued_at) AS family_started_at, clock_timestamp() AS now
                             FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 FOR UPDATE",
                            vec![tx.tenant_id().into(), hash.to_vec().into()],
                        )
                        .await?
                        .ok_or_else(unknown)?;
                    let family: Uuid = row.try_get("", "family_id")?;
                    let principal: Uuid = row.try_get("", "principal_id")?;
                    let now: DateTime<Utc> = row.try_get("", "now")?;
                    let revoked = row.try_get::<Option<DateTime<Utc>>>("", "revoked_at")?.is_some();
                    if revoked || row.try_get::<DateTime<Utc>>("", "expires_at")? <= now {
                        return Err(unknown());
                    }
                    if row.try_get::<Option<DateTime<Utc>>>("", "used_at")?.is_some() {
                        let n = revoke_family(tx, family).await?;
                        let e = Entry::new("session.refresh_reused", Actor::principal(principal))
                            .payload(json!({"family_id": family, "tokens_revoked": n}));
                        return Ok((e, Used::Reused));
                    }
                    let p = principals::get(tx, principal).await?;
                    if p.status != PrincipalStatus::Active {
                        return Err(inactive());
                    }
                    tx.exec(
                        "UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND id = $2",
                        vec![tx.tenant_id().into(), row.try_get::<Uuid>("", "id")?.into(), now.into()],
                    )
                    .await?;
                    let started: DateTime<Utc> = row.try_get("", "family_started_at")?;
                    let next = insert(tx, family, started, principal, now).await?;
                    let e = Entry::new("session.refreshed", Actor::principal(principal))
                        .payload(json!({"family_id": family}));
                    Ok((
                        e,
                        Used::Rotated(Session {
                            tenant_id: tx.tenant_id(),
                            principal_id: principal,
                            roles: p.roles,
                            refresh_token: next,
                        }),
                    ))
                })
            })
            .await?;
        match used {
            Used::Rotated(s) => Ok(s),
            Used::Reused => Err(StoreError::Refused(
                Code::RefreshReuse,
                "this refresh token was already used; every session of its family is revoked"
                    .into(),
            )),
        }
    }

    async fn refresh_token_exists(self, tenant: Uuid, hash: &[u8]) -> Result<bool> {
        let tx = self.tenant_tx(tenant).await?;
        let found = tx
            .one(
                "SELECT 1 AS x FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
                vec![tenant.into(), hash.to_vec().into()],
            )
            .await?
            .is_some();
        tx.rollback().await?;
        Ok(found)
    }

    /// Logout: revokes the token's whole family; recorded. Unknown tokens are not an error
    /// (the session is over either way).
    pub async fn end_session(self, token: &str) -> Result<()> {
        let Some(tenant) = tenant_token::tenant_of(Kind::Refresh, token) else {
            return Ok(());
        };
        let hash = tenant_token::hash(token);
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT family_id, principal_id FROM refresh_tokens
                 WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL",
                vec![tenant.into(), hash.to_vec().into()],
            )
            .await?;
        tx.rollback().await?;
        let Some(r) = row else { return Ok(()) };
        let family: Uuid = r.try_get("", "family_id")?;
        let principal: Uuid = r.try_get("", "principal_id")?;
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                let n = revoke_family(tx, family).await?;
                let e = Entry::new("session.ended", Actor::principal(principal))
                    .payload(json!({"family_id": family, "tokens_revoked": n}));
                Ok((e, ()))
            })
        })
        .await?;
        Ok(())
    }
}
