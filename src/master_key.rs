//! Where the master key comes from: `CHARTER_MASTER_KEY`, else the key file; `charter up`
//! in development generates the file on first run (owner-only permissions) and says so.
//! Production never generates one.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use anyhow::{Context, bail};
use charter_core::config::{Config, Mode};
use charter_core::keys::MasterKey;

pub enum Source {
    Env,
    File,
    Generated,
}

/// The master key, carrying `previous_master_key` during a rotation (it opens what the
/// previous key sealed; everything new is sealed under the current key).
pub fn resolve(config: &Config, may_generate: bool) -> anyhow::Result<(MasterKey, Source)> {
    let (key, source) = current(config, may_generate)?;
    Ok((
        key.with_previous(config.previous_master_key.as_ref()),
        source,
    ))
}

/// `charter master-key reseal`: everything sealed under the previous key, sealed again
/// under the current one.
pub async fn reseal(config: &Config) -> anyhow::Result<()> {
    let (key, _) = resolve(config, false)?;
    let report = charter_store::reseal::reseal(config, &key).await?;
    println!(
        "re-sealed {} tenant signing keys and {} webhook secrets under master key {}; \
         nothing is sealed under another key now",
        report.signing_keys,
        report.webhook_secrets,
        key.fingerprint()
    );
    if key.previous_fingerprint().is_some() {
        println!(
            "remove previous_master_key (CHARTER_PREVIOUS_MASTER_KEY) once every node runs with this key"
        );
    }
    Ok(())
}

fn current(config: &Config, may_generate: bool) -> anyhow::Result<(MasterKey, Source)> {
    if let Some(key) = &config.master_key {
        return Ok((key.clone(), Source::Env));
    }
    let path = &config.master_key_file;
    if path.exists() {
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "master key file {} is readable by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read master key file {}", path.display()))?;
        let key = MasterKey::from_base64(&text)
            .with_context(|| format!("master key file {}", path.display()))?;
        return Ok((key, Source::File));
    }
    if config.mode == Mode::Production {
        bail!(
            "no master key: production mode requires CHARTER_MASTER_KEY (32 bytes, base64) or \
             an existing master_key_file"
        );
    }
    if !may_generate {
        bail!(
            "no master key: set CHARTER_MASTER_KEY, or run `charter up` once to generate {}",
            path.display()
        );
    }
    let key = MasterKey::generate()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create master key file {}", path.display()))?;
    file.write_all(key.to_base64().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok((key, Source::Generated))
}
