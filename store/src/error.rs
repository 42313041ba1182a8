//! Storage errors, classified so callers can answer precisely and fail closed.

use charter_core::code::Code;
use charter_core::keys::KeyError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL cannot be reached or the pool timed out: retryable, never "allowed".
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("invalid: {0}")]
    Invalid(String),
    /// The acting principal lacks the authority (roles) for this change.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Refused for a reason more precise than the classes above (`self_approval`,
    /// `idempotency_conflict`, …): clients branch on the code.
    #[error("{0}: {1}")]
    Refused(Code, String),
    /// An earlier request with the same idempotency key made this change; its stored
    /// answer is the answer (the engine turns this into that answer).
    #[error("an earlier request with this idempotency key holds the answer")]
    Replay,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("redis: {0}")]
    Redis(String),
    #[error("database error: {0}")]
    Db(DbErr),
    /// An internal failure reported to several waiters (a failed group commit).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(msg)) = err.sql_err() {
            // The constraint's text names tables and columns: for the log, not the client.
            tracing::debug!(error = %msg, "unique constraint");
            return StoreError::Conflict("it conflicts with something that already exists".into());
        }
        if let Some(msg) = rejected_value(&err) {
            return StoreError::Invalid(msg);
        }
        match &err {
            DbErr::ConnectionAcquire(e) => StoreError::Unavailable(e.to_string()),
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e))
                if is_connection_error(e) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            DbErr::Conn(e) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Db(err),
        }
    }
}

/// A value PostgreSQL refused as such (out of range, breaking a CHECK, a character text
/// cannot hold): bad input that slipped past validation, so the caller's fault (422), not
/// an internal error. The message stays generic: constraint names are not for clients.
fn rejected_value(err: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    let code = e.as_database_error()?.code()?;
    let what = match code.as_ref() {
        "23514" => "a value is outside what is allowed",
        "22003" => "a number is out of range",
        "22021" | "22P05" => "a text contains a character that cannot be stored",
        "22001" => "a text is too long",
        _ => return None,
    };
    tracing::debug!(error = %err, "value refused by the database");
    Some(what.to_string())
}

/// The connection, not the statement, failed: the server went away, is shutting down or
/// starting (SQLSTATE classes 08 and 57P: a restart terminates every session with 57P01),
/// has no connection slot left (53300), or the conversation broke off. Retrying on another
/// connection may succeed; nothing the statement did was committed.
fn is_connection_error(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed => true,
        E::WorkerCrashed => true,
        E::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c.as_ref() == "53300"),
        _ => false,
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> Self {
        StoreError::Redis(err.to_string())
    }
}

impl StoreError {
    /// A copy for each caller of a failed group commit (the original is not `Clone`).
    pub fn fan_out(&self) -> StoreError {
        match self {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Redis(m) => StoreError::Redis(m.clone()),
            StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
            StoreError::NotFound(w) => StoreError::NotFound(w),
            StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
            StoreError::Forbidden(m) => StoreError::Forbidden(m.clone()),
            StoreError::Refused(c, m) => StoreError::Refused(*c, m.clone()),
            StoreError::Key(k) => StoreError::Key(k.clone()),
            StoreError::Replay => StoreError::Replay,
            other => StoreError::Internal(other.to_string()),
        }
    }

    /// The code clients see for this error.
    pub fn code(&self) -> Code {
        match self {
            StoreError::Unavailable(_) | StoreError::Redis(_) => Code::Unavailable,
            StoreError::Conflict(_) | StoreError::Replay => Code::Conflict,
            StoreError::NotFound(_) => Code::NotFound,
            StoreError::Invalid(_) => Code::Invalid,
            StoreError::Forbidden(_) => Code::Forbidden,
            StoreError::Refused(c, _) => *c,
            StoreError::Key(_) | StoreError::Db(_) | StoreError::Internal(_) => Code::Internal,
        }
    }

    /// What to tell the caller: the message without its class (for a refusal, a conflict,
    /// bad input or a missing authority); the whole description otherwise.
    pub fn into_message(self) -> String {
        match self {
            StoreError::Refused(_, m)
            | StoreError::Conflict(m)
            | StoreError::Forbidden(m)
            | StoreError::Invalid(m) => m,
            other => other.to_string(),
        }
    }

    /// Whether retrying later may succeed (the caller answers "retry", never "allowed").
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Redis(_))
    }
}

/// Reads a state column as its type: a stored word that does not parse is a corrupt row,
/// never a default.
pub(crate) fn state<T>(r: &sea_orm::QueryResult, column: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let word: String = r.try_get("", column)?;
    word.parse()
        .map_err(|e| StoreError::Internal(format!("stored {column}: {e}")))
}
