//! `charter tenant trial` and `charter tenant plan`: support's changes to a tenant's
//! billing, each a `subscription.changed` record.

use anyhow::Context;
use charter_core::config::Config;
use charter_store::billing::Overview;
use chrono::{DateTime, Utc};

use crate::cli::{connect, find_tenant};

pub async fn trial(config: &Config, tenant: &str, ends_at: &str) -> anyhow::Result<()> {
    let ends_at: DateTime<Utc> = DateTime::parse_from_rfc3339(ends_at)
        .with_context(|| {
            format!("--ends-at: `{ends_at}` is not an RFC 3339 time such as 2027-01-31T18:00:00Z")
        })?
        .with_timezone(&Utc);
    let store = connect(config, false).await?;
    let t = find_tenant(&store, tenant).await?;
    let o = store.billing().set_trial_end(t.id, ends_at).await?;
    print(&t.slug, &o);
    Ok(())
}

pub async fn plan(config: &Config, tenant: &str, plan: &str) -> anyhow::Result<()> {
    let store = connect(config, false).await?;
    let t = find_tenant(&store, tenant).await?;
    let o = store.billing().set_plan(t.id, plan).await?;
    print(&t.slug, &o);
    Ok(())
}

fn print(slug: &str, o: &Overview) {
    let trial = o
        .trial_ends_at
        .map(|t| format!(", trial ends {}", t.to_rfc3339()))
        .unwrap_or_default();
    let off = if o.enabled {
        ""
    } else {
        " (billing is off on this server: not enforced)"
    };
    println!("tenant {slug}: plan {}, {}{trial}{off}", o.plan, o.status);
}
