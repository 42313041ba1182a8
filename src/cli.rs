//! Commands and their wiring.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use charter_api::Application;
use charter_core::config::{Config, LogFormat};
use charter_core::ledger::Actor;
use charter_core::ledger::export::{VerifyOptions, verify_export};
use charter_core::tenant::{Email, TenantSlug, display_name};
use charter_store::Store;
use charter_store::provision::{ProvisionRequest, Provisioned};
use clap::{Parser, Subcommand};
use serde_json::json;
use tokio::sync::watch;

use crate::master_key::{self, Source};

/// Charter: the governance OS for multi-agent AI systems.
///
/// Settings come from defaults, then the config file (--config or CHARTER_CONFIG, TOML),
/// then CHARTER_* environment variables (and DATABASE_URL / REDIS_URL). See README.md for
/// the table of settings.
#[derive(Parser)]
#[command(name = "charter", version, about, long_about)]
pub struct Cli {
    /// A TOML config file.
    #[arg(long, global = true, env = "CHARTER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, create or correct the database roles, and apply
    /// pending migrations (as the owner role). Safe to run repeatedly and concurrently.
    Migrate,
    /// Run the HTTP server (MCP, REST API, dashboard, /healthz, /readyz, /metrics) until
    /// SIGTERM or SIGINT; in-flight requests finish first.
    Serve,
    /// Run the background worker (scheduled jobs, claimed with Postgres locks so several
    /// workers can run) until SIGTERM or SIGINT.
    Worker,
    /// Ask the local server's /healthz (at the `bind` setting); exit 0 when it answers 200.
    /// For container health checks.
    Health,
    /// Everything in one process for a local start: migrate, generate a master key on first
    /// run, create a demo tenant with an owner and an agent on first run, print how to
    /// reach them, then serve and run the worker.
    Up,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The master key that seals tenants' signing keys and webhook secrets.
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Work with a tenant's signed ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Make evidence bundles for auditors.
    Export {
        #[command(subcommand)]
        command: crate::evidence::ExportCommand,
    },
    /// Verify a ledger export or an evidence bundle offline (no database, no network):
    /// every record's hash, chain link and signature, the Merkle root against the signed
    /// checkpoint, the consistency of every checkpoint; for a bundle also the signed
    /// manifest and every file's hash. Exits non-zero on the first failure, naming it.
    Verify {
        /// The export file (from `charter ledger export`) or bundle (a zip, from
        /// `charter export art12` or the API).
        file: PathBuf,
        /// Pin the tenant's public key (hex, base64, signed-note verifier key, or a file
        /// holding one): the export's checkpoint must be signed by it.
        #[arg(long, value_name = "PUBKEY_OR_FILE")]
        key: Option<String>,
        /// A checkpoint you kept earlier (a file with the signed note): also prove that this
        /// export extends it, so the log was not truncated, rewritten or forked since.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum MasterKeyCommand {
    /// After a rotation: open everything sealed under `previous_master_key` and seal it
    /// again under `master_key`, in one transaction. Uses `database_url` (the user of
    /// `charter migrate`). Safe to run again; a row neither key opens stops it unchanged.
    Reseal,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Write a self-contained, offline-verifiable export of a tenant's ledger: records
    /// (JSONL), public keys with validity, signed checkpoints with consistency proofs, and
    /// inclusion proofs when the range is partial.
    Export {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Where to write the export.
        #[arg(long)]
        out: PathBuf,
        /// First seq to include (default 0).
        #[arg(long)]
        from: Option<u64>,
        /// Last seq to include (default: the last record).
        #[arg(long)]
        to: Option<u64>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant with its owner (generated password) and one agent (with an API key).
    Create {
        /// Display name of the tenant.
        #[arg(long)]
        name: String,
        /// URL slug (default: derived from the name).
        #[arg(long)]
        slug: Option<String>,
        /// The owner's e-mail (default: owner@<slug>.localhost).
        #[arg(long)]
        owner_email: Option<String>,
        /// Name of the tenant's first agent.
        #[arg(long, default_value = "agent-1")]
        agent_name: String,
        /// Print one JSON object: tenant_id, slug, mcp_url, owner {email, password},
        /// agent {id, name, api_key}.
        #[arg(long)]
        json: bool,
    },
    /// Rotate a tenant's signing key: the old public key stays published with its validity
    /// period; the rotation is recorded in the ledger.
    RotateKey {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
    },
    /// Extend or shorten a tenant's trial (support). A trial that had expired starts
    /// again; a time in the past ends it now. Recorded as `subscription.changed`.
    Trial {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// When the trial ends, RFC 3339 (e.g. 2027-01-31T18:00:00Z).
        #[arg(long, value_name = "TIME")]
        ends_at: String,
    },
    /// Put a tenant on a plan by hand (invoiced customers): `active`, or `unlimited` for
    /// the plan `unlimited`. Recorded as `subscription.changed`.
    Plan {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// A configured plan (see the `billing_plans` setting), or `unlimited`.
        #[arg(long)]
        plan: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Verify {
        file,
        key,
        checkpoint,
    } = &cli.command
    {
        // Offline: no configuration, no database, no network.
        return verify(file, key.as_deref(), checkpoint.as_deref());
    }
    let config = load_config(cli.config.as_deref())?;
    init_tracing(&config);
    match cli.command {
        Command::Migrate => migrate(&config).await,
        Command::Serve => serve(config, Shutdown::install()?).await,
        Command::Worker => worker(config, Shutdown::install()?).await,
        Command::Up => up(config, Shutdown::install()?).await,
        Command::Health => crate::health::check(config.bind).await,
        Command::MasterKey {
            command: MasterKeyCommand::Reseal,
        } => master_key::reseal(&config).await,
        Command::Tenant {
            command:
                TenantCommand::Create {
                    name,
                    slug,
                    owner_email,
                    agent_name,
                    json,
                },
        } => {
            let req = ProvisionRequest {
                name: display_name(&name, 200).context("--name")?,
                slug: slug
                    .map(|s| TenantSlug::parse(&s))
                    .transpose()
                    .context("--slug")?,
                owner_email: owner_email
                    .map(|e| Email::parse(&e))
                    .transpose()
                    .context("--owner-email")?,
                agent_name: display_name(&agent_name, 100).context("--agent-name")?,
                is_demo: false,
            };
            tenant_create(config, req, json).await
        }
        Command::Tenant {
            command: TenantCommand::RotateKey { tenant },
        } => {
            let store = connect(&config, false).await?;
            let t = find_tenant(&store, &tenant).await?;
            let receipt = store
                .admin()
                .rotate_signing_key(t.id, Actor::system())
                .await?;
            println!(
                "tenant {}: new signing key {} (recorded at seq {})",
                t.slug, receipt.key_id, receipt.seq
            );
            Ok(())
        }
        Command::Tenant {
            command: TenantCommand::Trial { tenant, ends_at },
        } => crate::billing::trial(&config, &tenant, &ends_at).await,
        Command::Tenant {
            command: TenantCommand::Plan { tenant, plan },
        } => crate::billing::plan(&config, &tenant, &plan).await,
        Command::Ledger {
            command:
                LedgerCommand::Export {
                    tenant,
                    out,
                    from,
                    to,
                },
        } => {
            let store = connect(&config, false).await?;
            let t = find_tenant(&store, &tenant).await?;
            let file = fs::File::create(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let s = store
                .ledger()
                .export_ledger(t.id, from, to, Actor::system(), &mut w)
                .await?;
            println!(
                "exported records {}..={} of {} ({} records) to {}",
                s.from_seq,
                s.to_seq,
                s.tree_size,
                s.records,
                out.display()
            );
            Ok(())
        }
        Command::Export { command } => {
            let store = connect(&config, false).await?;
            crate::evidence::export(store, command).await
        }
        Command::Verify { .. } => Ok(()),
    }
}

pub(crate) async fn find_tenant(
    store: &Store,
    slug: &str,
) -> anyhow::Result<charter_store::platform::TenantRef> {
    let slug = TenantSlug::parse(slug).context("--tenant")?;
    store
        .sessions()
        .tenant_by_slug(slug.as_str())
        .await?
        .with_context(|| format!("no tenant with slug `{slug}`"))
}

fn verify(file: &Path, key: Option<&str>, checkpoint: Option<&Path>) -> anyhow::Result<()> {
    let pinned = match key {
        Some(k) => {
            let text = if Path::new(k).is_file() {
                fs::read_to_string(k).with_context(|| format!("cannot read key file {k}"))?
            } else {
                k.to_string()
            };
            Some(charter_core::keys::parse_public_key(&text).context("--key")?)
        }
        None => None,
    };
    let kept = match checkpoint {
        Some(p) => {
            Some(fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?)
        }
        None => None,
    };
    if crate::evidence::is_bundle(file) {
        let opts = charter_core::bundle::verify::VerifyOptions {
            pinned_key: pinned,
            kept_checkpoint: kept,
        };
        return crate::evidence::verify(file, opts);
    }
    let input = fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let opts = VerifyOptions {
        pinned_key: pinned,
        kept_checkpoint: kept,
    };
    let summary = verify_export(std::io::BufReader::with_capacity(1 << 20, input), &opts)
        .map_err(|e| anyhow::anyhow!("verification failed: {e}"))?;
    println!(
        "OK: {} records (seq {}..={}) of log `{}` verified; root {} at size {} matches its signed checkpoint",
        summary.records,
        summary.from_seq,
        summary.to_seq,
        summary.origin,
        hex::encode(summary.root),
        summary.tree_size
    );
    if summary.elided > 0 {
        println!(
            "    of which {} are elided (only seq and hash: bodies removed by retention) — \
             their place is proven, their content is not in this export",
            summary.elided
        );
    }
    println!(
        "    {} checkpoint(s) checked{}{}",
        summary.checkpoints,
        if summary.keys_pinned {
            "; signed by the pinned key"
        } else {
            "; keys taken from the export itself (pass --key to pin one)"
        },
        match summary.kept_checkpoint {
            Some(n) => format!("; consistent with your kept checkpoint of size {n}"),
            None => String::new(),
        }
    );
    Ok(())
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let file = match path {
        Some(p) => Some((
            p.to_path_buf(),
            fs::read_to_string(p)
                .with_context(|| format!("cannot read config file {}", p.display()))?,
        )),
        None => None,
    };
    let config = Config::load(
        file.as_ref().map(|(p, text)| (p.clone(), text.as_str())),
        std::env::vars(),
    )?;
    Ok(config)
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let report = charter_store::bootstrap::migrate(config).await?;
    if report.database_created {
        println!("created the database");
    }
    if report.applied.is_empty() {
        println!("migrations: up to date");
    } else {
        println!("migrations applied: {}", report.applied.join(", "));
    }
    Ok(())
}

pub(crate) async fn connect(config: &Config, may_generate_key: bool) -> anyhow::Result<Store> {
    let (key, source) = master_key::resolve(config, may_generate_key)?;
    if let Source::Generated = source {
        println!(
            "generated a master key in {} (owner-only). Keep it: without it the tenants' \
             signing keys cannot be opened. In production set CHARTER_MASTER_KEY instead.",
            config.master_key_file.display()
        );
    }
    Ok(Store::connect(config, key).await?)
}

async fn serve(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let store = connect(&config, false).await?;
    run_processes(config, store, true, false, shutdown).await
}

async fn worker(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let store = connect(&config, false).await?;
    run_processes(config, store, false, true, shutdown).await
}

async fn up(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    migrate(&config).await?;
    let store = connect(&config, true).await?;
    let demo = ensure_demo_tenant(&config, &store).await?;
    let app = Application::build(config.clone(), store.clone())
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    print_welcome(&config, &demo);
    run_app_and_worker(config, store, Some(app), true, shutdown).await
}

/// Runs the server and/or the worker until a signal, then shuts both down gracefully.
async fn run_processes(
    config: Config,
    store: Store,
    http: bool,
    work: bool,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let app = if http {
        let app = Application::build(config.clone(), store.clone())
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        tracing::info!(addr = %config.bind, "listening");
        Some(app)
    } else {
        None
    };
    run_app_and_worker(config, store, app, work, shutdown).await
}

async fn run_app_and_worker(
    config: Config,
    store: Store,
    app: Option<Application>,
    work: bool,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let jobs = if work {
        charter_worker::jobs::all(&config).context("the webhook sender's HTTP client")?
    } else {
        Vec::new()
    };
    let worker = work.then(|| {
        let scheduler = charter_worker::Scheduler::new(store.clone(), jobs);
        tokio::spawn(scheduler.run(stop_rx.clone()))
    });
    let handle = app.as_ref().map(Application::handle);
    let server = app.map(|a| tokio::spawn(a.run_until_stopped()));
    tokio::select! {
        _ = shutdown.wait() => tracing::info!("shutting down"),
        res = async {
            match server {
                Some(s) => s.await,
                None => std::future::pending().await,
            }
        } => {
            res??;
            return Ok(());
        }
    }
    let _ = stop_tx.send(true);
    if let Some(h) = handle {
        h.stop(true).await;
    }
    if let Some(w) = worker {
        let _ = w.await;
    }
    store.close().await;
    Ok(())
}

/// SIGTERM and SIGINT handlers, installed at start-up (before anything is printed or
/// served) so a signal that arrives early still means a graceful stop.
struct Shutdown {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> anyhow::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Shutdown {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

async fn tenant_create(config: Config, req: ProvisionRequest, as_json: bool) -> anyhow::Result<()> {
    let store = connect(&config, false).await?;
    let p = store
        .admin()
        .provision_tenant(req, chrono::Utc::now())
        .await?;
    let out = provisioned_json(&config, &p);
    if as_json {
        println!("{out}");
    } else {
        println!("created tenant {} ({})", p.slug, p.tenant_id);
        println!(
            "  owner:   {} / {}",
            p.owner_email,
            p.owner_password.expose()
        );
        println!("  MCP URL: {}", config.mcp_url(&p.slug));
        println!(
            "  agent:   {} — API key {}",
            p.agent_name,
            p.api_key.expose()
        );
        println!("The password and the API key are shown only now.");
    }
    store.close().await;
    Ok(())
}

fn provisioned_json(config: &Config, p: &Provisioned) -> serde_json::Value {
    json!({
        "tenant_id": p.tenant_id,
        "slug": p.slug,
        "mcp_url": config.mcp_url(&p.slug),
        "owner": {"email": p.owner_email, "password": p.owner_password.expose()},
        "agent": {"id": p.agent_id, "name": p.agent_name, "api_key": p.api_key.expose()},
    })
}

/// The demo tenant's credentials, created on the first `charter up` and kept (owner-only)
/// in the data folder so later runs can print them again.
async fn ensure_demo_tenant(
    config: &Config,
    store: &Store,
) -> anyhow::Result<Option<serde_json::Value>> {
    let file = config.data_dir.join("demo-credentials.json");
    if store.sessions().demo_tenant().await?.is_some() {
        return Ok(fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()));
    }
    let p = store
        .admin()
        .provision_tenant(
            ProvisionRequest {
                name: "Demo".into(),
                slug: Some(TenantSlug::parse("demo")?),
                owner_email: Some(Email::parse("owner@demo.localhost")?),
                agent_name: "demo-agent".into(),
                is_demo: true,
            },
            chrono::Utc::now(),
        )
        .await?;
    // An example to look at and approve in the first minute (see `charter_store::demo`).
    store
        .admin()
        .seed_demo(p.tenant_id, p.owner_id, p.agent_id)
        .await
        .context("seeding the demo tenant's example")?;
    let creds = provisioned_json(config, &p);
    fs::create_dir_all(&config.data_dir)?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .with_context(|| format!("cannot write {}", file.display()))?;
    writeln!(f, "{creds}")?;
    Ok(Some(creds))
}

fn print_welcome(config: &Config, demo: &Option<serde_json::Value>) {
    let s = |v: &serde_json::Value, path: &[&str]| {
        path.iter()
            .try_fold(v, |v, k| v.get(*k))
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string()
    };
    println!();
    println!("Charter is running.");
    println!(
        "  Dashboard:    {}/app (log in as the owner below)",
        config.public_url
    );
    println!(
        "  REST API:     {}/api/v1 (docs: {}/api/docs/)",
        config.public_url, config.public_url
    );
    match demo {
        Some(d) => {
            println!(
                "  Owner login:  {} / {}",
                s(d, &["owner", "email"]),
                s(d, &["owner", "password"])
            );
            println!("  Tenant:       {}", s(d, &["slug"]));
            println!("  MCP URL:      {}", s(d, &["mcp_url"]));
            println!(
                "  Agent key:    {} (agent {})",
                s(d, &["agent", "api_key"]),
                s(d, &["agent", "name"])
            );
            println!(
                "  (credentials kept in {}, readable only by you)",
                config.data_dir.join("demo-credentials.json").display()
            );
        }
        None => println!(
            "  The demo tenant exists, but its credentials file {} is gone; create a fresh \
             tenant with `charter tenant create --name NAME`.",
            config.data_dir.join("demo-credentials.json").display()
        ),
    }
    println!(
        "  Health:       {}/healthz  Readiness: {}/readyz  Metrics: {}/metrics",
        config.public_url, config.public_url, config.public_url
    );
    println!("Stop with Ctrl-C.");
}
