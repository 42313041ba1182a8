//! Charter's integration tests: one binary, real PostgreSQL and Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod clients;
mod engine;
mod http;
mod isolation;
mod keys;
mod ledger;
mod mcp;
mod rest;
mod reviews;
mod sessions;
mod worker;
mod workflows;
