//! The one application state, built once and shared by every worker thread.

use std::sync::Arc;

use charter_core::access_token::TokenKeys;
use charter_core::config::Config;
use charter_store::Store;

use crate::metrics::Metrics;

pub struct AppState {
    config: Arc<Config>,
    store: Store,
    metrics: Arc<Metrics>,
    token_keys: Arc<TokenKeys>,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> AppState {
        // Access tokens are signed under a key derived from the master key the store holds;
        // those signed under the previous one verify while it is configured (a rotation).
        let token_keys = Arc::new(TokenKeys::new(
            store.master_key(),
            config.previous_master_key.as_ref(),
        ));
        AppState {
            config: Arc::new(config),
            store,
            metrics: Arc::new(Metrics::new()),
            token_keys,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, shared (the dashboard holds it too).
    pub fn shared_config(&self) -> Arc<Config> {
        self.config.clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn token_keys(&self) -> &TokenKeys {
        &self.token_keys
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
