//! Dashboard sessions. The browser holds only a random token (the session cookie); the row
//! holds its hash, the person, a per-session CSRF token and two ends: an idle one, pushed
//! forward by use, and an absolute one set at login. Logins and logouts are ledger records.

use charter_core::ledger::{Actor, Entry};
use charter_core::secret::Secret;
use charter_core::status::PrincipalStatus;
use charter_core::tenant_token::{self, Kind};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{Result, StoreError, principals};

/// How stale `last_seen_at` may get before a request writes it again: a page load is a
/// read, and most of them should stay one.
const TOUCH_EVERY_SECS: i64 = 30;

/// A session just started: the cookie's value and the token forms must carry.
pub struct NewWebSession {
    pub token: Secret<String>,
    pub csrf_token: String,
}

/// The person behind a live session cookie.
#[derive(Debug, Clone)]
pub struct WebCaller {
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    /// As read for this request: roles and status are current.
    pub person: principals::Principal,
    pub csrf_token: String,
}

fn csrf_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    charter_core::keys::fill_random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

impl crate::handles::Sessions<'_> {
    /// Starts a dashboard session for an active person (after their password was checked);
    /// it ends `idle` after its last use and never later than `max` after now.
    pub async fn start_web_session(
        self,
        tenant: Uuid,
        principal: Uuid,
        idle: std::time::Duration,
        max: std::time::Duration,
    ) -> Result<NewWebSession> {
        let idle =
            chrono::Duration::from_std(idle).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let max =
            chrono::Duration::from_std(max).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (_, session) = self
            .append_with(tenant, move |tx| {
                Box::pin(async move {
                    let p = principals::get(tx, principal).await?;
                    if p.status != PrincipalStatus::Active {
                        return Err(StoreError::Forbidden("this account is not active".into()));
                    }
                    let new = tenant_token::generate(Kind::WebSession, tx.tenant_id())?;
                    let csrf = csrf_token()?;
                    let id = Uuid::now_v7();
                    let now = Utc::now();
                    tx.exec(
                        "INSERT INTO web_sessions (tenant_id, id, principal_id, token_hash, csrf_token,
                                                   started_at, last_seen_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                        vec![
                            tx.tenant_id().into(),
                            id.into(),
                            principal.into(),
                            new.hash.to_vec().into(),
                            csrf.clone().into(),
                            now.into(),
                            (now + max).into(),
                        ],
                    )
                    .await?;
                    let e = Entry::new("session.started", Actor::principal(principal)).payload(
                        json!({"via": "dashboard", "session_id": id,
                               "idle_timeout_secs": idle.num_seconds(), "expires_at": now + max}),
                    );
                    Ok((
                        e,
                        NewWebSession {
                            token: new.token,
                            csrf_token: csrf,
                        },
                    ))
                })
            })
            .await?;
        Ok(session)
    }

    /// The person behind a session cookie, or `None` when the token is unknown, ended,
    /// idle for longer than `idle`, past its absolute end, or its person is no longer
    /// active. A live session's last use moves to now.
    pub async fn web_session(
        self,
        token: &str,
        idle: std::time::Duration,
    ) -> Result<Option<WebCaller>> {
        let Some(tenant) = tenant_token::tenant_of(Kind::WebSession, token) else {
            return Ok(None);
        };
        let idle_secs = idle.as_secs() as i64;
        let hash = tenant_token::hash(token);
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT id, principal_id, csrf_token, last_seen_at, clock_timestamp() AS now
                 FROM web_sessions
                 WHERE tenant_id = $1 AND token_hash = $2 AND ended_at IS NULL
                   AND expires_at > clock_timestamp()
                   AND last_seen_at > clock_timestamp() - make_interval(secs => $3)",
                vec![
                    tenant.into(),
                    hash.to_vec().into(),
                    (idle_secs as f64).into(),
                ],
            )
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let id: Uuid = row.try_get("", "id")?;
        let principal: Uuid = row.try_get("", "principal_id")?;
        let person = match principals::get(&tx, principal).await {
            Ok(p) if p.status == PrincipalStatus::Active => p,
            Ok(_) | Err(StoreError::NotFound(_)) => {
                tx.rollback().await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let seen: DateTime<Utc> = row.try_get("", "last_seen_at")?;
        let now: DateTime<Utc> = row.try_get("", "now")?;
        if (now - seen).num_seconds() >= TOUCH_EVERY_SECS {
            tx.exec(
                "UPDATE web_sessions SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2",
                vec![tenant.into(), id.into(), now.into()],
            )
            .await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(Some(WebCaller {
            tenant_id: tenant,
            session_id: id,
            person,
            csrf_token: row.try_get("", "csrf_token")?,
        }))
    }

    /// Logout: the session ends at once; recorded. An unknown or ended token is not an
    /// error (the session is over either way).
    pub async fn end_web_session(self, token: &str) -> Result<()> {
        let Some(tenant) = tenant_token::tenant_of(Kind::WebSession, token) else {
            return Ok(());
        };
        let hash = tenant_token::hash(token).to_vec();
        let tx = self.tenant_tx(tenant).await?;
        let row = tx
            .one(
                "SELECT id, principal_id FROM web_sessions
                 WHERE tenant_id = $1 AND token_hash = $2 AND ended_at IS NULL",
                vec![tenant.into(), hash.into()],
            )
            .await?;
        tx.rollback().await?;
        let Some(r) = row else { return Ok(()) };
        let id: Uuid = r.try_get("", "id")?;
        let principal: Uuid = r.try_get("", "principal_id")?;
        self.append_with(tenant, move |tx| {
            Box::pin(async move {
                tx.exec(
                    "UPDATE web_sessions SET ended_at = now()
                     WHERE tenant_id = $1 AND id = $2 AND ended_at IS NULL",
                    vec![tx.tenant_id().into(), id.into()],
                )
                .await?;
                let e = Entry::new("session.ended", Actor::principal(principal))
                    .payload(json!({"via": "dashboard", "session_id": id}));
                Ok((e, ()))
            })
        })
        .await?;
        Ok(())
    }
}

impl crate::handles::Worker<'_> {
    /// Deletes the sessions of every tenant that ended, expired or sat idle past any idle
    /// timeout more than a day ago. Returns how many.
    pub async fn prune_web_sessions(self) -> Result<i64> {
        let row = self
            .platform_one("SELECT charter_prune_web_sessions() AS n", vec![])
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0))
    }
}
