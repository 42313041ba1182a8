//! The one typed configuration.
//!
//! Sources, later ones winning: built-in defaults → an optional TOML file → `CHARTER_*`
//! environment variables (plus the conventional `DATABASE_URL` and `REDIS_URL`). Every
//! setting has a default that makes `charter up` work against a local PostgreSQL and
//! Redis. A value that does not parse is reported with the setting's name, where it came
//! from and what was expected; an unknown setting (in the file or as a `CHARTER_*`
//! variable) is an error, so a typo never silently falls back to a default.
//!
//! Loading is pure: the caller passes the file's text and the environment.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::billing::plans::Plans;
use crate::keys::MasterKey;
use crate::secret::Secret;

mod settings;

use settings::SETTINGS;
pub use settings::settings_table;

/// How strict start-up is. Production refuses to invent secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything Charter's processes read at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Connection used by `charter migrate`: a superuser, or a role that may create the
    /// database and roles and `SET ROLE charter_owner`.
    pub database_url: Secret<String>,
    /// Connection used by the running application (role `charter_app`). When unset it is
    /// derived from `database_url` with the user replaced by `charter_app`.
    pub app_database_url: Option<Secret<String>>,
    /// Password `charter migrate` gives the `charter_app` role (none: trust/peer auth).
    pub app_db_password: Option<Secret<String>>,
    pub db_max_connections: u32,
    pub db_connect_timeout: Duration,
    pub redis_url: Secret<String>,
    pub bind: SocketAddr,
    /// The externally visible base URL, used in printed and returned links.
    pub public_url: String,
    pub master_key: Option<MasterKey>,
    pub master_key_file: PathBuf,
    /// The master key before the last rotation, while one is under way: access tokens
    /// signed under it keep verifying until they expire.
    pub previous_master_key: Option<MasterKey>,
    /// Folder for local state of `charter up` (generated master key, demo credentials).
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Prefix of each tenant's checkpoint origin line; the tenant slug is appended.
    pub checkpoint_origin_prefix: String,
    /// A new checkpoint is issued at least this often while a tenant's log grows.
    pub checkpoint_interval: Duration,
    /// How often the forensic scanner reads what is new in each tenant's log and tables.
    pub scan_interval: Duration,
    /// How long a webhook receiver has to answer one attempt.
    pub webhook_timeout: Duration,
    /// The hour (UTC) the daily jobs run: the scanner's full pass, the self-audit.
    pub daily_jobs_hour: u32,
    pub shutdown_timeout: Duration,
    /// Host names (besides loopback) that HTTP requests may address.
    pub allowed_hosts: Vec<String>,
    /// Requests per API key per minute on the MCP endpoints (429 beyond).
    pub rate_limit_per_minute: u32,
    /// Requests per client address per minute to the routes that need no credentials
    /// (sign-up, login, refresh, invitations, public keys and checkpoint; 429 beyond).
    pub anonymous_rate_limit_per_minute: u32,
    /// Sign-ups per client address, and per e-mail domain, per hour.
    pub signups_per_address_per_hour: u32,
    pub signups_per_domain_per_hour: u32,
    /// A tenant whose MCP endpoint also answers requests without an API key, as its first
    /// agent: for protocol test suites that cannot send headers. Refused in production.
    pub mcp_open_tenant: Option<String>,
    /// The header a trusted proxy puts the client's address in (e.g. `x-forwarded-for`;
    /// lower case). Read only on requests whose TCP peer is one of `trusted_proxies`.
    pub client_ip_header: Option<String>,
    /// The load balancers and proxies whose `client_ip_header` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Billing with Stripe; `None` (no Stripe settings): billing is off and every tenant
    /// is `unlimited`.
    pub stripe: Option<StripeConfig>,
    /// The plans and their limits (see `crate::billing::plans`).
    pub plans: Plans,
    /// How long a tenant whose payment failed keeps acting.
    pub past_due_grace_days: u32,
    /// A dashboard session ends after this long without a request.
    pub dashboard_idle_timeout: Duration,
    /// However active, a dashboard session ends this long after the login.
    pub dashboard_session_max: Duration,
}

/// How Charter reaches Stripe.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret<String>,
    pub webhook_secret: Secret<String>,
    /// `https://api.stripe.com` unless a test server is named.
    pub api_base: String,
    /// Each call to Stripe gives up after this long.
    pub timeout: Duration,
}

/// An address block: an IP address and a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or one with `/n`.
    pub fn parse(text: &str) -> Option<IpNet> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse().ok()?, None),
        };
        let max = match addr {
            std::net::IpAddr::V4(_) => 32,
            std::net::IpAddr::V6(_) => 128,
        };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let bits = |a: u128, b: u128, width: u32| {
            let shift = width - u32::from(self.prefix);
            shift >= width || (a >> shift) == (b >> shift)
        };
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                bits(u128::from(u32::from(a)), u128::from(u32::from(b)), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => bits(u128::from(a), u128::from(b), 128),
            _ => false,
        }
    }
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "config file {}", p.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("setting `{key}` (from {origin}): expected {expected}, got {got}")]
    Invalid {
        key: &'static str,
        origin: Origin,
        expected: &'static str,
        got: String,
    },
    #[error("unknown setting `{key}` in {origin}; known settings: {known}")]
    Unknown {
        key: String,
        origin: Origin,
        known: String,
    },
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("setting `{key}` (from {origin}): {message}")]
    Setting {
        key: &'static str,
        origin: Origin,
        message: String,
    },
}

/// Environment variables that select the config file itself, not settings.
const META_ENV: &[&str] = &["CHARTER_CONFIG"];

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/charter";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Our own logs at info; the database driver's notices only when they are errors.
pub const DEFAULT_LOG_FILTER: &str =
    "info,sqlx=warn,sqlx::postgres::notice=error,sea_orm_migration=warn";

impl Config {
    /// Builds the configuration from an optional config file (its path and text) and the
    /// process environment as `(name, value)` pairs.
    pub fn load(
        file: Option<(PathBuf, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut raw: BTreeMap<&'static str, (String, Origin)> = BTreeMap::new();
        if let Some((path, text)) = file {
            read_file(&path, text, &mut raw)?;
        }
        read_env(env, &mut raw)?;
        Self::from_raw(raw)
    }

    /// The defaults alone (what `charter up` uses on a fresh machine).
    pub fn defaults() -> Config {
        // The defaults are constants known to parse.
        match Self::from_raw(BTreeMap::new()) {
            Ok(c) => c,
            Err(e) => unreachable!("built-in defaults must parse: {e}"),
        }
    }

    fn from_raw(raw: BTreeMap<&'static str, (String, Origin)>) -> Result<Config, ConfigError> {
        let p = Parser { raw: &raw };
        let mode = p.get("mode", Mode::Development, |v| match v {
            "development" | "dev" => Some(Mode::Development),
            "production" | "prod" => Some(Mode::Production),
            _ => None,
        })?;
        let database_url = p.get(
            "database_url",
            DEFAULT_DATABASE_URL.to_string(),
            postgres_url,
        )?;
        let app_database_url = p.opt("app_database_url", postgres_url)?;
        let app_db_password = p.opt("app_db_password", non_empty)?;
        let db_max_connections = p.get("db_max_connections", 16, |v| int_in(v, 1, 1000))?;
        let db_connect_timeout = p.get("db_connect_timeout_secs", 5, |v| int_in(v, 1, 600))?;
        let redis_url = p.get("redis_url", DEFAULT_REDIS_URL.to_string(), |v| {
            (v.starts_with("redis://") || v.starts_with("rediss://")).then(|| v.to_string())
        })?;
        let bind: SocketAddr = p.get("bind", default_bind(), |v| v.parse().ok())?;
        let public_url = p.get("public_url", format!("http://{bind}"), |v| {
            let ok = (v.starts_with("http://") || v.starts_with("https://")) && v.len() > 8;
            ok.then(|| v.trim_end_matches('/').to_string())
        })?;
        let master_key = p.opt("master_key", |v| MasterKey::from_base64(v).ok())?;
        let previous_master_key =
            p.opt("previous_master_key", |v| MasterKey::from_base64(v).ok())?;
        let data_dir = p.get("data_dir", PathBuf::from(".charter"), path)?;
        let master_key_file = p.get("master_key_file", data_dir.join("master.key"), path)?;
        let default_format = match mode {
            Mode::Production => LogFormat::Json,
            Mode::Development => LogFormat::Pretty,
        };
        let log_format = p.get("log_format", default_format, |v| match v {
            "pretty" => Some(LogFormat::Pretty),
            "json" => Some(LogFormat::Json),
            _ => None,
        })?;
        let log_level = p.get("log_level", DEFAULT_LOG_FILTER.to_string(), non_empty)?;
        let default_prefix = format!("{}/t/", host_of(&public_url));
        let checkpoint_origin_prefix = p.get("checkpoint_origin_prefix", default_prefix, |v| {
            let ok = !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic());
            ok.then(|| v.to_string())
        })?;
        let checkpoint_interval =
            p.get("checkpoint_interval_secs", 60, |v| int_in(v, 1, 86_400))?;
        let scan_interval = p.get("scan_interval_secs", 300, |v| int_in(v, 1, 86_400))?;
        let webhook_timeout = p.get("webhook_timeout_secs", 10, |v| int_in(v, 1, 60))?;
        let daily_jobs_hour = p.get("daily_jobs_hour", 3, |v| int_in(v, 0, 23))?;
        let shutdown_timeout = p.get("shutdown_timeout_secs", 30, |v| int_in(v, 1, 600))?;
        let allowed_hosts = p.get("allowed_hosts", Vec::new(), |v| {
            let hosts: Vec<String> = v
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect();
            let ok = hosts.iter().all(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            });
            ok.then_some(hosts)
        })?;
        let mcp_open_tenant = p.opt("mcp_open_tenant", |v| {
            let v = v.trim();
            (mode != Mode::Production && !v.is_empty()).then(|| v.to_string())
        })?;
        let rate_limit_per_minute =
            p.get("rate_limit_per_minute", 6000, |v| int_in(v, 1, 1_000_000))? as u32;
        let anonymous_rate_limit_per_minute =
            p.get("anonymous_rate_limit_per_minute", 300, |v| {
                int_in(v, 1, 1_000_000)
            })? as u32;
        let signups_per_address_per_hour = p.get("signups_per_address_per_hour", 5, |v| {
            int_in(v, 1, 1_000_000)
        })? as u32;
        let signups_per_domain_per_hour = p.get("signups_per_domain_per_hour", 20, |v| {
            int_in(v, 1, 1_000_000)
        })? as u32;
        let client_ip_header = p.opt("client_ip_header", |v| {
            let v = v.trim().to_ascii_lowercase();
            let ok = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            ok.then_some(v)
        })?;
        let trusted_proxies = p.get("trusted_proxies", Vec::new(), |v| {
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(IpNet::parse)
                .collect::<Option<Vec<_>>>()
        })?;
        let stripe = stripe_config(&p, mode)?;
        let plans = match p.raw.get("billing_plans") {
            None => Plans::default(),
            Some((v, origin)) => Plans::parse(v).map_err(|message| ConfigError::Setting {
                key: "billing_plans",
                origin: origin.clone(),
                message,
            })?,
        };
        let past_due_grace_days = p.get(
            "past_due_grace_days",
            u64::from(crate::billing::DEFAULT_GRACE_DAYS),
            |v| int_in(v, 0, 60),
        )? as u32;
        let dashboard_idle_minutes = p.get("dashboard_idle_minutes", 30, |v| int_in(v, 1, 1440))?;
        let dashboard_session_hours =
            p.get("dashboard_session_hours", 12, |v| int_in(v, 1, 720))?;
        Ok(Config {
            mode,
            database_url: Secret::new(database_url),
            app_database_url: app_database_url.map(Secret::new),
            app_db_password: app_db_password.map(Secret::new),
            db_max_connections: db_max_connections as u32,
            db_connect_timeout: Duration::from_secs(db_connect_timeout),
            redis_url: Secret::new(redis_url),
            bind,
            public_url,
            master_key,
            master_key_file,
            previous_master_key,
            data_dir,
            log_format,
            log_level,
            checkpoint_origin_prefix,
            checkpoint_interval: Duration::from_secs(checkpoint_interval),
            scan_interval: Duration::from_secs(scan_interval),
            webhook_timeout: Duration::from_secs(webhook_timeout),
            daily_jobs_hour: daily_jobs_hour as u32,
            shutdown_timeout: Duration::from_secs(shutdown_timeout),
            allowed_hosts,
            rate_limit_per_minute,
            anonymous_rate_limit_per_minute,
            signups_per_address_per_hour,
            signups_per_domain_per_hour,
            mcp_open_tenant,
            client_ip_header,
            trusted_proxies,
            stripe,
            plans,
            past_due_grace_days,
            dashboard_idle_timeout: Duration::from_secs(dashboard_idle_minutes * 60),
            dashboard_session_max: Duration::from_secs(dashboard_session_hours * 3600),
        })
    }

    /// The URL of a tenant's MCP endpoint.
    pub fn mcp_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/mcp", self.public_url)
    }
}

/// Billing is on with both Stripe secrets, off with neither; one alone is a mistake.
fn stripe_config(p: &Parser, mode: Mode) -> Result<Option<StripeConfig>, ConfigError> {
    let secret_key = p.opt("stripe_secret_key", |v| {
        (v.starts_with("sk_") || v.starts_with("rk_")).then(|| v.to_string())
    })?;
    let webhook_secret = p.opt("stripe_webhook_secret", non_empty)?;
    let api_base = p.get(
        "stripe_api_base",
        "https://api.stripe.com".to_string(),
        |v| {
            // Plain HTTP only for a local test server, never in production.
            let ok =
                v.starts_with("https://") || (v.starts_with("http://") && mode != Mode::Production);
            ok.then(|| v.trim_end_matches('/').to_string())
        },
    )?;
    let timeout = p.get("stripe_timeout_secs", 10, |v| int_in(v, 1, 60))?;
    match (secret_key, webhook_secret) {
        (Some(secret_key), Some(webhook_secret)) => Ok(Some(StripeConfig {
            secret_key: Secret::new(secret_key),
            webhook_secret: Secret::new(webhook_secret),
            api_base,
            timeout: Duration::from_secs(timeout),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(p.missing("stripe_webhook_secret", "stripe_secret_key")),
        (None, Some(_)) => Err(p.missing("stripe_secret_key", "stripe_webhook_secret")),
    }
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[cfg(test)]
mod ip_tests {
    use super::IpNet;

    #[test]
    fn blocks_contain_their_addresses() {
        let ten = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains("10.1.2.3".parse().unwrap()));
        assert!(!ten.contains("11.0.0.1".parse().unwrap()));
        assert!(!ten.contains("::1".parse().unwrap()));
        let one = IpNet::parse("192.168.1.7").unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        assert!(
            IpNet::parse("::1/128")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert_eq!(IpNet::parse("10.0.0.0/33"), None);
        assert_eq!(IpNet::parse("nope"), None);
    }
}

/// The host (and port) of a URL: `https://a.example:8443/x` → `a.example:8443`.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn postgres_url(v: &str) -> Option<String> {
    (v.starts_with("postgres://") || v.starts_with("postgresql://")).then(|| v.to_string())
}

fn non_empty(v: &str) -> Option<String> {
    (!v.trim().is_empty()).then(|| v.to_string())
}

fn path(v: &str) -> Option<PathBuf> {
    (!v.trim().is_empty()).then(|| PathBuf::from(v))
}

fn int_in(v: &str, min: u64, max: u64) -> Option<u64> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

struct Parser<'a> {
    raw: &'a BTreeMap<&'static str, (String, Origin)>,
}

impl Parser<'_> {
    /// `present` was set without `absent`, which it needs.
    fn missing(&self, absent: &'static str, present: &'static str) -> ConfigError {
        let origin = self.raw.get(present).map(|(_, o)| o.clone());
        ConfigError::Setting {
            key: absent,
            origin: origin.unwrap_or(Origin::Env(String::new())),
            message: format!("is needed with `{present}` (billing uses both, or neither)"),
        }
    }

    fn get<T>(
        &self,
        key: &'static str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        Ok(self.opt(key, parse)?.unwrap_or(default))
    }

    fn opt<T>(
        &self,
        key: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((value, origin)) = self.raw.get(key) else {
            return Ok(None);
        };
        match parse(value) {
            Some(v) => Ok(Some(v)),
            None => {
                let setting = SETTINGS.iter().find(|s| s.key == key);
                let secret = setting.is_some_and(|s| s.secret);
                Err(ConfigError::Invalid {
                    key,
                    origin: origin.clone(),
                    expected: setting.map_or("a valid value", |s| s.expected),
                    got: if secret {
                        "a value that does not parse (not shown: secret)".to_string()
                    } else {
                        format!("{value:?}")
                    },
                })
            }
        }
    }
}

fn known_keys() -> String {
    SETTINGS
        .iter()
        .map(|s| s.key)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_file(
    path: &std::path::Path,
    text: &str,
    raw: &mut BTreeMap<&'static str, (String, Origin)>,
) -> Result<(), ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::File {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
    for (key, value) in table {
        let origin = Origin::File(path.to_path_buf());
        let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
            return Err(ConfigError::Unknown {
                key,
                origin,
                known: known_keys(),
            });
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s),
                        other => {
                            return Err(ConfigError::Invalid {
                                key: setting.key,
                                origin,
                                expected: setting.expected,
                                got: format!("an array holding {}", other.type_str()),
                            });
                        }
                    }
                }
                parts.join(",")
            }
            other => {
                return Err(ConfigError::Invalid {
                    key: setting.key,
                    origin,
                    expected: setting.expected,
                    got: format!("a TOML {}", other.type_str()),
                });
            }
        };
        raw.insert(setting.key, (text, origin));
    }
    Ok(())
}

fn read_env(
    env: impl IntoIterator<Item = (String, String)>,
    raw: &mut BTreeMap<&'static str, (String, Origin)>,
) -> Result<(), ConfigError> {
    // CHARTER_* wins over the conventional names regardless of iteration order.
    let mut conventional = Vec::new();
    for (name, value) in env {
        if META_ENV.contains(&name.as_str()) {
            continue;
        }
        let setting = SETTINGS.iter().find(|s| s.env.contains(&name.as_str()));
        match setting {
            Some(s) if name.starts_with("CHARTER_") => {
                raw.insert(s.key, (value, Origin::Env(name)));
            }
            Some(s) => conventional.push((s.key, value, name)),
            None if name.starts_with("CHARTER_") => {
                return Err(ConfigError::Unknown {
                    key: name.clone(),
                    origin: Origin::Env(name),
                    known: SETTINGS
                        .iter()
                        .flat_map(|s| s.env.iter().copied())
                        .chain(META_ENV.iter().copied())
                        .filter(|e| e.starts_with("CHARTER_"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            None => {}
        }
    }
    for (key, value, name) in conventional {
        let overridden = matches!(raw.get(key), Some((_, Origin::Env(_))));
        if !overridden {
            raw.insert(key, (value, Origin::Env(name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn billing_is_on_with_both_stripe_secrets_and_off_with_neither() {
        let off = Config::load(None, env(&[])).unwrap();
        assert!(off.stripe.is_none());
        assert_eq!(off.past_due_grace_days, 7);
        let on = Config::load(
            None,
            env(&[
                ("CHARTER_STRIPE_SECRET_KEY", "sk_test_1"),
                ("CHARTER_STRIPE_WEBHOOK_SECRET", "whsec_1"),
                ("CHARTER_STRIPE_API_BASE", "http://127.0.0.1:8420/"),
                ("CHARTER_BILLING_PLANS", "team price=price_1 agents=3"),
            ]),
        )
        .unwrap();
        let stripe = on.stripe.unwrap();
        assert_eq!(stripe.api_base, "http://127.0.0.1:8420");
        assert_eq!(on.plans.get("team").unwrap().agents, Some(3));
        let half = Config::load(None, env(&[("CHARTER_STRIPE_SECRET_KEY", "sk_test_1")]));
        let e = half.unwrap_err().to_string();
        assert!(
            e.contains("stripe_webhook_secret") && e.contains("both"),
            "{e}"
        );
        let bad = Config::load(None, env(&[("CHARTER_BILLING_PLANS", "team agents=x")]));
        let e = bad.unwrap_err().to_string();
        assert!(
            e.contains("billing_plans") && e.contains("agents must be a whole number"),
            "{e}"
        );
    }

    #[test]
    fn defaults_work_for_charter_up() {
        let c = Config::defaults();
        assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(c.redis_url.expose(), DEFAULT_REDIS_URL);
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.checkpoint_origin_prefix, "127.0.0.1:8080/t/");
        assert_eq!(c.mode, Mode::Development);
    }

    #[test]
    fn env_overrides_file_and_conventional_names_are_accepted() {
        let file = "bind = \"0.0.0.0:9000\"\ndb_max_connections = 4\n";
        let c = Config::load(
            Some((PathBuf::from("c.toml"), file)),
            env(&[
                ("DATABASE_URL", "postgres://a@h/db"),
                ("CHARTER_DB_MAX_CONNECTIONS", "8"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(c.db_max_connections, 8);
        assert_eq!(c.database_url.expose(), "postgres://a@h/db");
        let c = Config::load(
            None,
            env(&[
                ("CHARTER_DATABASE_URL", "postgres://charter@h/db"),
                ("DATABASE_URL", "postgres://other@h/db"),
            ]),
        )
        .unwrap();
        assert_eq!(c.database_url.expose(), "postgres://charter@h/db");
    }

    #[test]
    fn malformed_values_name_the_setting() {
        let err = Config::load(None, env(&[("CHARTER_BIND", "localhost")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`bind`"), "{msg}");
        assert!(msg.contains("CHARTER_BIND"), "{msg}");
        assert!(msg.contains("socket address"), "{msg}");
        let err = Config::load(
            Some((PathBuf::from("c.toml"), "db_max_connections = \"many\"")),
            [],
        )
        .unwrap_err();
        assert!(err.to_string().contains("`db_max_connections`"), "{err}");
        assert!(err.to_string().contains("c.toml"), "{err}");
    }

    #[test]
    fn secrets_are_not_echoed_in_errors() {
        let err =
            Config::load(None, env(&[("CHARTER_MASTER_KEY", "hunter2-not-base64")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`master_key`"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn an_open_mcp_tenant_is_refused_in_production() {
        let env = |mode: &str| {
            vec![
                ("CHARTER_MODE".to_string(), mode.to_string()),
                (
                    "CHARTER_MCP_OPEN_TENANT".to_string(),
                    "conformance".to_string(),
                ),
                (
                    "CHARTER_MASTER_KEY".to_string(),
                    MasterKey::generate().unwrap().to_base64().to_string(),
                ),
            ]
        };
        let dev = Config::load(None, env("development")).unwrap();
        assert_eq!(dev.mcp_open_tenant.as_deref(), Some("conformance"));
        let err = Config::load(None, env("production")).unwrap_err();
        assert!(err.to_string().contains("mcp_open_tenant"), "{err}");
    }

    #[test]
    fn unknown_settings_are_errors() {
        let err = Config::load(None, env(&[("CHARTER_BINDD", "x")])).unwrap_err();
        assert!(matches!(err, ConfigError::Unknown { ref key, .. } if key == "CHARTER_BINDD"));
        let err = Config::load(Some((PathBuf::from("c.toml"), "bnd = 1")), []).unwrap_err();
        assert!(matches!(err, ConfigError::Unknown { ref key, .. } if key == "bnd"));
        let err = Config::load(Some((PathBuf::from("c.toml"), "bind = [1]")), []).unwrap_err();
        assert!(err.to_string().contains("`bind`"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Config::defaults();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("postgres://"), "{dbg}");
    }
}
