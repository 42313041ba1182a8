//! The table of settings: each one's name, the environment variables that set it, what
//! it expects, and whether it is secret.

/// A setting's name, the environment variables that set it, what it expects, and whether
/// its value is secret (never echoed back in errors).
pub(super) struct Setting {
    pub(super) key: &'static str,
    pub(super) env: &'static [&'static str],
    pub(super) expected: &'static str,
    pub(super) secret: bool,
}

pub(super) const SETTINGS: &[Setting] = &[
    s(
        "mode",
        &["CHARTER_MODE"],
        "`development` or `production`",
        false,
    ),
    s(
        "database_url",
        &["CHARTER_DATABASE_URL", "DATABASE_URL"],
        "a postgres:// URL",
        true,
    ),
    s(
        "app_database_url",
        &["CHARTER_APP_DATABASE_URL"],
        "a postgres:// URL",
        true,
    ),
    s(
        "app_db_password",
        &["CHARTER_APP_DB_PASSWORD"],
        "a non-empty password",
        true,
    ),
    s(
        "db_max_connections",
        &["CHARTER_DB_MAX_CONNECTIONS"],
        "an integer from 1 to 1000",
        false,
    ),
    s(
        "db_connect_timeout_secs",
        &["CHARTER_DB_CONNECT_TIMEOUT_SECS"],
        "an integer from 1 to 600",
        false,
    ),
    s(
        "redis_url",
        &["CHARTER_REDIS_URL", "REDIS_URL"],
        "a redis:// or rediss:// URL",
        true,
    ),
    s(
        "bind",
        &["CHARTER_BIND"],
        "a socket address such as 127.0.0.1:8080",
        false,
    ),
    s(
        "public_url",
        &["CHARTER_PUBLIC_URL"],
        "an http:// or https:// URL",
        false,
    ),
    s(
        "master_key",
        &["CHARTER_MASTER_KEY"],
        "32 bytes in standard base64 (44 characters)",
        true,
    ),
    s(
        "master_key_file",
        &["CHARTER_MASTER_KEY_FILE"],
        "a file path",
        false,
    ),
    s(
        "previous_master_key",
        &["CHARTER_PREVIOUS_MASTER_KEY"],
        "32 bytes in standard base64 (44 characters)",
        true,
    ),
    s("data_dir", &["CHARTER_DATA_DIR"], "a directory path", false),
    s(
        "log_format",
        &["CHARTER_LOG_FORMAT"],
        "`pretty` or `json`",
        false,
    ),
    s(
        "log_level",
        &["CHARTER_LOG", "CHARTER_LOG_LEVEL"],
        "a tracing filter such as `info` or `charter=debug`",
        false,
    ),
    s(
        "checkpoint_origin_prefix",
        &["CHARTER_CHECKPOINT_ORIGIN_PREFIX"],
        "a printable prefix without spaces, such as `charter.example.com/t/`",
        false,
    ),
    s(
        "checkpoint_interval_secs",
        &["CHARTER_CHECKPOINT_INTERVAL_SECS"],
        "an integer from 1 to 86400",
        false,
    ),
    s(
        "scan_interval_secs",
        &["CHARTER_SCAN_INTERVAL_SECS"],
        "an integer from 1 to 86400",
        false,
    ),
    s(
        "webhook_timeout_secs",
        &["CHARTER_WEBHOOK_TIMEOUT_SECS"],
        "an integer from 1 to 60",
        false,
    ),
    s(
        "daily_jobs_hour",
        &["CHARTER_DAILY_JOBS_HOUR"],
        "an hour of the day (UTC), 0 to 23",
        false,
    ),
    s(
        "shutdown_timeout_secs",
        &["CHARTER_SHUTDOWN_TIMEOUT_SECS"],
        "an integer from 1 to 600",
        false,
    ),
    s(
        "allowed_hosts",
        &["CHARTER_ALLOWED_HOSTS"],
        "a comma-separated list of host names",
        false,
    ),
    s(
        "mcp_open_tenant",
        &["CHARTER_MCP_OPEN_TENANT"],
        "a tenant slug (development mode only)",
        false,
    ),
    s(
        "rate_limit_per_minute",
        &["CHARTER_RATE_LIMIT_PER_MINUTE"],
        "an integer from 1 to 1000000",
        false,
    ),
    s(
        "anonymous_rate_limit_per_minute",
        &["CHARTER_ANONYMOUS_RATE_LIMIT_PER_MINUTE"],
        "an integer from 1 to 1000000",
        false,
    ),
    s(
        "signups_per_address_per_hour",
        &["CHARTER_SIGNUPS_PER_ADDRESS_PER_HOUR"],
        "an integer from 1 to 1000000",
        false,
    ),
    s(
        "signups_per_domain_per_hour",
        &["CHARTER_SIGNUPS_PER_DOMAIN_PER_HOUR"],
        "an integer from 1 to 1000000",
        false,
    ),
    s(
        "client_ip_header",
        &["CHARTER_CLIENT_IP_HEADER"],
        "an HTTP header name, e.g. x-forwarded-for",
        false,
    ),
    s(
        "trusted_proxies",
        &["CHARTER_TRUSTED_PROXIES"],
        "a comma-separated list of IP addresses or blocks (10.0.0.0/8)",
        false,
    ),
    s(
        "stripe_secret_key",
        &["CHARTER_STRIPE_SECRET_KEY"],
        "a Stripe secret key (sk_…); with stripe_webhook_secret it turns billing on",
        true,
    ),
    s(
        "stripe_webhook_secret",
        &["CHARTER_STRIPE_WEBHOOK_SECRET"],
        "the Stripe webhook endpoint's signing secret (whsec_…)",
        true,
    ),
    s(
        "stripe_api_base",
        &["CHARTER_STRIPE_API_BASE"],
        "an https:// URL of the Stripe API (http:// for a test server, not in production)",
        false,
    ),
    s(
        "stripe_timeout_secs",
        &["CHARTER_STRIPE_TIMEOUT_SECS"],
        "an integer from 1 to 60",
        false,
    ),
    s(
        "billing_plans",
        &["CHARTER_BILLING_PLANS"],
        "plans separated by `;`, each `name price=… agents=N decisions=N meter=…`",
        false,
    ),
    s(
        "past_due_grace_days",
        &["CHARTER_PAST_DUE_GRACE_DAYS"],
        "an integer from 0 to 60",
        false,
    ),
    s(
        "dashboard_idle_minutes",
        &["CHARTER_DASHBOARD_IDLE_MINUTES"],
        "an integer from 1 to 1440",
        false,
    ),
    s(
        "dashboard_session_hours",
        &["CHARTER_DASHBOARD_SESSION_HOURS"],
        "an integer from 1 to 720",
        false,
    ),
];

const fn s(
    key: &'static str,
    env: &'static [&'static str],
    expected: &'static str,
    secret: bool,
) -> Setting {
    Setting {
        key,
        env,
        expected,
        secret,
    }
}

/// Every setting with its environment variables and what it expects, for `--help` and docs.
pub fn settings_table() -> Vec<(&'static str, &'static [&'static str], &'static str)> {
    SETTINGS
        .iter()
        .map(|s| (s.key, s.env, s.expected))
        .collect()
}
