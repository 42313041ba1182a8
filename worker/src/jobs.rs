//! The job table: what `charter worker` runs, and how often.

use charter_core::config::Config;

use crate::Job;

/// Every scheduled job for this configuration.
pub fn all(_config: &Config) -> Vec<Job> {
    Vec::new()
}
