//! Billing's jobs: recording trials that ended (with their `trial.ended` notification) and
//! reporting metered usage to Stripe. Both do nothing while billing is off.

use charter_store::Store;

use crate::JobResult;

/// Moves ended trials to `trial_expired`. Enforcement does not wait for this: a decision
/// compares the trial's end with its own clock.
pub async fn expire_trials(store: Store) -> JobResult {
    let n = store.billing().expire_trials().await?;
    Ok((n > 0).then(|| format!("{n} trials ended")))
}

/// Reports decisions of tenants on metered plans to Stripe as meter events.
pub async fn report_usage(store: Store) -> JobResult {
    let n = store.billing().report_usage().await?;
    Ok((n > 0).then(|| format!("{n} decisions reported to Stripe")))
}
