//! Connection set-up: URLs for each role, pool options, start-up errors in one line.

use charter_core::config::Config;
use charter_migrations::roles;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    TransactionTrait,
};

use crate::{Result, StoreError};

/// The pieces of a `postgres://user:password@host:port/database?query` URL that Charter
/// rewrites (the user, the database, extra query parameters).
#[derive(Debug, Clone)]
pub struct PgUrl {
    scheme: String,
    userinfo: Option<String>,
    hostport: String,
    pub database: String,
    query: Option<String>,
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<PgUrl> {
        let invalid = || {
            StoreError::Invalid(
                "database URL: expected postgres://[user[:password]@]host[:port]/database".into(),
            )
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_string())),
            None => (rest, None),
        };
        let (authority, database) = rest.split_once('/').ok_or_else(invalid)?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h.to_string()),
            None => (None, authority.to_string()),
        };
        if hostport.is_empty() || database.is_empty() {
            return Err(invalid());
        }
        Ok(PgUrl {
            scheme: scheme.to_string(),
            userinfo,
            hostport,
            database: database.to_string(),
            query,
        })
    }

    pub fn with_database(&self, database: &str) -> PgUrl {
        PgUrl {
            database: database.to_string(),
            ..self.clone()
        }
    }

    pub fn with_user(&self, user: &str, password: Option<&str>) -> PgUrl {
        let userinfo = match password {
            Some(p) => format!("{user}:{}", percent_encode(p)),
            None => user.to_string(),
        };
        PgUrl {
            userinfo: Some(userinfo),
            ..self.clone()
        }
    }

    /// Adds `options=-c role=…` so the session runs as `role` from its first statement.
    pub fn with_session_role(&self, role: &str) -> PgUrl {
        self.with_settings(&[("role", role)])
    }

    /// Adds `options=-c name=value …`: settings every session of the URL starts with.
    pub fn with_settings(&self, settings: &[(&str, &str)]) -> PgUrl {
        let opts: Vec<String> = settings
            .iter()
            .map(|(k, v)| format!("-c%20{k}%3D{v}"))
            .collect();
        let param = format!("options={}", opts.join("%20"));
        let query = match &self.query {
            Some(q) if !q.is_empty() => format!("{q}&{param}"),
            _ => param,
        };
        PgUrl {
            query: Some(query),
            ..self.clone()
        }
    }

    /// Over loopback, TLS protects nothing and costs CPU on both ends of every query: a
    /// URL to a loopback host without an explicit `sslmode` gets `sslmode=disable`. Any
    /// other host keeps the driver's default (TLS when the server offers it).
    pub fn without_loopback_tls(&self) -> PgUrl {
        let host = self
            .hostport
            .rsplit_once(':')
            .filter(|(h, port)| !h.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
            .map_or(self.hostport.as_str(), |(h, _)| h);
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
        let explicit = self
            .query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("sslmode=")));
        if !loopback || explicit {
            return self.clone();
        }
        let query = match &self.query {
            Some(q) if !q.is_empty() => format!("{q}&sslmode=disable"),
            _ => "sslmode=disable".to_string(),
        };
        PgUrl {
            query: Some(query),
            ..self.clone()
        }
    }

    /// The user name, if the URL names one.
    pub fn user(&self) -> Option<&str> {
        self.userinfo
            .as_deref()
            .map(|u| u.split(':').next().unwrap_or(u))
    }

    /// Host and database, safe to print (no credentials).
    pub fn describe(&self) -> String {
        format!("{} (database `{}`)", self.hostport, self.database)
    }

    pub fn to_url(&self) -> String {
        let mut url = format!("{}://", self.scheme);
        if let Some(u) = &self.userinfo {
            url.push_str(u);
            url.push('@');
        }
        url.push_str(&self.hostport);
        url.push('/');
        url.push_str(&self.database);
        if let Some(q) = &self.query {
            url.push('?');
            url.push_str(q);
        }
        url
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL the running application uses: `app_database_url`, or `database_url` with the
/// user replaced by `charter_app`.
pub(crate) fn app_url(config: &Config) -> Result<PgUrl> {
    match &config.app_database_url {
        Some(url) => PgUrl::parse(url.expose()),
        None => Ok(PgUrl::parse(config.database_url.expose())?.with_user(
            roles::APP,
            config.app_db_password.as_ref().map(|p| p.expose().as_str()),
        )),
    }
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
const IDLE_BEFORE_TEST: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) async fn connect(
    url: &PgUrl,
    config: &Config,
    max_connections: u32,
) -> Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.without_loopback_tls().to_url());
    opts.max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(config.db_connect_timeout)
        .acquire_timeout(config.db_connect_timeout)
        // A ping on every checkout is a round trip per transaction; only a connection
        // idle long enough to have been dropped by a proxy or the server is tested.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_TEST)
        .sqlx_logging(false);
    Database::connect(opts).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL at {}: {}",
            url.describe(),
            one_line(&e.to_string())
        ))
    })
}

/// Every statement of the application ends within this (a runaway query cannot hold a
/// connection, a lock or the head of a tenant's log for long) …
const STATEMENT_TIMEOUT: &str = "30s";
/// … and waits at most this for a lock.
const LOCK_TIMEOUT: &str = "10s";

pub(crate) async fn connect_app(config: &Config) -> Result<DatabaseConnection> {
    let url = app_url(config)?.with_settings(&[
        ("statement_timeout", STATEMENT_TIMEOUT),
        ("lock_timeout", LOCK_TIMEOUT),
    ]);
    probe(&url, config).await?;
    let db = connect(&url, config, config.db_max_connections).await?;
    // Connecting is lazy in the pool: prove it now so start-up fails with one clear line.
    ping(&db).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL at {} as `{}`: {}",
            url.describe(),
            roles::APP,
            one_line(&e.to_string())
        ))
    })?;
    Ok(db)
}

/// One direct connection before the pool: the pool reports only "timed out", while a
/// direct attempt says why (refused, unknown host, authentication failed, …).
async fn probe(url: &PgUrl, config: &Config) -> Result<()> {
    use sea_orm::sqlx::Connection;
    let attempt = tokio::time::timeout(
        config.db_connect_timeout,
        sea_orm::sqlx::PgConnection::connect(&url.to_url()),
    )
    .await;
    let cause = match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Ok(Err(e)) => one_line(&e.to_string()),
        Err(_) => format!("no answer within {:?}", config.db_connect_timeout),
    };
    Err(StoreError::Unavailable(format!(
        "cannot connect to PostgreSQL at {} as `{}`: {cause}",
        url.describe(),
        url.user().unwrap_or("?"),
    )))
}

pub(crate) async fn ping(db: &DatabaseConnection) -> Result<()> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many dead pooled connections one call may step over before giving up.
const STALE_ATTEMPTS: usize = 64;

/// Runs `call` — a transaction's BEGIN, or a read — on a live connection. Pooled
/// connections that the server dropped (a restart, a failover) are found dead only when
/// used; a BEGIN or a read that failed on one changed nothing, so it runs again on another
/// connection, and the dead one is discarded. A failure to connect at all (the pool's own
/// timeout) is not retried here: it is `unavailable`, as before. Never for a statement
/// that writes outside a transaction: it may have run before the connection broke.
pub(crate) async fn on_a_live_connection<T, F, Fut>(mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, DbErr>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let on_a_pooled_connection = !matches!(e, DbErr::ConnectionAcquire(_));
                let e = StoreError::from(e);
                if on_a_pooled_connection
                    && matches!(e, StoreError::Unavailable(_))
                    && attempt < STALE_ATTEMPTS
                {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "dropped a dead pooled connection");
                    continue;
                }
                return Err(e);
            }
        }
    }
}

/// Begins a transaction on a live connection (see [`on_a_live_connection`]).
pub(crate) async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    on_a_live_connection(|| db.begin()).await
}
