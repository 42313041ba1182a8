//! What the dashboard's pages share: the configuration and the store (the same store, and
//! so the same operations and permission checks, as the REST API's).

use std::sync::Arc;

use charter_core::config::Config;
use charter_store::Store;

pub struct Dashboard {
    config: Arc<Config>,
    store: Store,
}

impl Dashboard {
    pub fn new(config: Arc<Config>, store: Store) -> Dashboard {
        Dashboard { config, store }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `public_url` without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }

    /// Whether the dashboard is served over https: then the session cookie is `Secure` and
    /// `__Host-` prefixed.
    pub fn https(&self) -> bool {
        self.config.public_url.starts_with("https://")
    }
}
