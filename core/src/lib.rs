//! charter-core: Charter's domain, pure — no database, no HTTP, no clock it does not take.
//!
//! # Layout
//! - [`config`] — the one typed configuration, its sources (defaults → file → environment)
//!   and the errors that name a bad setting.
//! - [`code`] — the one table of error codes: word, HTTP status.
//! - [`secret`] — a wrapper that keeps secrets out of logs and `Debug` output.
//! - [`engine`] — decisions and reasons, the circuit breaker, budget cycles.
//! - [`keys`] — the master key, per-tenant Ed25519 signing keys sealed with AES-256-GCM.
//! - [`ledger`] — records, JCS hashing, signatures, Merkle proofs, checkpoints, redaction,
//!   the export format and its offline verifier.
//! - [`password`] — password rules and argon2id hashing.
//! - [`policy`] — authority scopes compiled to Cedar, tenant catalogs and schemas, checks.
//! - [`billing`] — what a subscription allows at an instant, plans, Stripe signatures and
//!   events.
//! - [`status`] — the states of agents, people, tasks, reviews, violations, subscriptions.
//! - [`tenant`] — validated tenant slugs and principal roles.
//! - [`api_key`] — agent API key tokens (generation, parsing, hashing).
//! - [`bundle`] — Article 12 evidence bundles: the format, its writer and its offline
//!   verifier, the report and the field-to-Article map.
//! - [`access_token`] — the REST API's short-lived JWTs (HS256, key derived from the
//!   master key, `kid` for rotation).
//! - [`tenant_token`] — refresh, API and invitation tokens (name their tenant; stored
//!   only hashed).
//! - [`webhook`] — notification events, Standard Webhooks signatures, the retry schedule,
//!   which targets a webhook may reach.

pub mod access_token;
pub mod ai_system;
pub mod api_key;
pub mod billing;
pub mod bundle;
pub mod code;
pub mod config;
pub mod engine;
pub mod keys;
pub mod ledger;
pub mod password;
pub mod permission;
pub mod policy;
pub mod scanner;
pub mod secret;
pub mod status;
pub mod tenant;
pub mod tenant_token;
pub mod webhook;
