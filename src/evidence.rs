//! `charter export art12` (an evidence bundle written straight to a file) and the bundle
//! half of `charter verify`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use charter_core::bundle::verify::{VerifyOptions, verify_bundle};
use charter_core::bundle::{parse_bound, parse_purpose};
use charter_core::ledger::Actor;
use charter_store::Store;
use charter_store::evidence::bundle::{BundleRequest, WriteSink};
use clap::Subcommand;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Write an EU AI Act Article 12 evidence bundle (a zip an auditor verifies offline
    /// with `charter verify`): the records of a period, in full for the system or agents
    /// given and elided to {seq, hash} otherwise, with keys, checkpoints, proofs, a
    /// signed manifest, a report and a CSV. Recorded in the ledger (`export.created`).
    Art12 {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// An AI system's id: its agents' records in full.
        #[arg(long)]
        system: Option<Uuid>,
        /// An agent's id (repeat for more), instead of a system. Neither: every record.
        #[arg(long = "agent", value_name = "ID")]
        agents: Vec<Uuid>,
        /// Start of the period: YYYY-MM-DD (UTC) or RFC 3339.
        #[arg(long)]
        from: String,
        /// End of the period: YYYY-MM-DD (that day included) or RFC 3339 (excluded).
        #[arg(long)]
        to: String,
        /// Why: risk_situations, post_market_monitoring or operation_monitoring
        /// (Article 12(2)(a), (b), (c)).
        #[arg(long)]
        purpose: String,
        /// Where to write the zip.
        #[arg(long)]
        out: PathBuf,
    },
}

pub async fn export(store: Store, command: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Art12 {
        tenant,
        system,
        agents,
        from,
        to,
        purpose,
        out,
    } = command;
    if system.is_some() && !agents.is_empty() {
        anyhow::bail!("--system and --agent: give one or the other");
    }
    let req = BundleRequest {
        export_id: Uuid::now_v7(),
        system,
        agents,
        from: parse_bound(&from, false).context("--from: a date YYYY-MM-DD or an RFC 3339 time")?,
        to: parse_bound(&to, true).context("--to: a date YYYY-MM-DD or an RFC 3339 time")?,
        purpose: parse_purpose(&purpose).map_err(|e| anyhow::anyhow!("--{e}"))?,
        requested_by: Actor::system(),
    };
    let t = crate::cli::find_tenant(&store, &tenant).await?;
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let file = fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    // Written as it is made, into `<out>.partial`, renamed when complete.
    let mut sink = WriteSink(file);
    let result = store.ledger().write_bundle(t.id, &req, &mut sink).await;
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(anyhow::anyhow!("{e}"));
        }
    };
    sink.0.sync_all().context("writing the bundle file")?;
    fs::rename(&partial, &out).with_context(|| format!("cannot write {}", out.display()))?;
    let c = outcome.counts;
    println!(
        "bundle {}: seq {}..={} ({} records: {} in full, {} elided by the filter, {} by retention), \
         {} bytes, manifest SHA-256 {}",
        out.display(),
        outcome.range.from_seq,
        outcome.range.to_seq,
        c.records,
        c.full,
        c.elided_filter,
        c.elided_retention,
        outcome.bytes,
        outcome.manifest_sha256
    );
    Ok(())
}

/// Whether a file is a zip (a bundle) rather than a JSON Lines export.
pub fn is_bundle(file: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

pub fn verify(file: &Path, opts: VerifyOptions) -> anyhow::Result<()> {
    let input = fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let s = verify_bundle(std::io::BufReader::new(input), &opts)
        .map_err(|e| anyhow::anyhow!("verification failed: {e}"))?;
    println!(
        "OK: evidence bundle of `{}`{} for {}: seq {}..={} ({} records: {} in full, {} elided by \
         the filter, {} by retention) verified; root {} at size {} matches the signed end checkpoint",
        s.tenant_slug,
        s.system
            .map(|n| format!(", AI system \"{n}\""))
            .unwrap_or_default(),
        s.purpose.as_str(),
        s.from_seq,
        s.to_seq,
        s.counts.records,
        s.counts.full,
        s.counts.elided_filter,
        s.counts.elided_retention,
        hex::encode(s.root),
        s.tree_size
    );
    println!(
        "    {} files checked against the signed manifest{}{}",
        s.files,
        if s.keys_pinned {
            "; signed by the pinned key"
        } else {
            "; keys taken from the bundle itself (pass --key to pin one)"
        },
        match s.kept_checkpoint {
            Some(n) => format!("; consistent with your kept checkpoint of size {n}"),
            None => String::new(),
        }
    );
    Ok(())
}
