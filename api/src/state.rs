//! The one application state, built once and shared by every worker thread.

use std::sync::Arc;

use charter_core::config::Config;
use charter_store::Store;

use crate::metrics::Metrics;

pub struct AppState {
    config: Arc<Config>,
    store: Store,
    metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> AppState {
        AppState {
            config: Arc::new(config),
            store,
            metrics: Arc::new(Metrics::new()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
