//! Charter's integration tests: one binary, real PostgreSQL and Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod billing;
mod budgets;
mod chains;
mod cli;
mod clients;
mod cluster;
mod dashboard;
mod deploy;
mod engine;
mod evidence;
mod faults;
mod hardening;
mod http;
mod image;
mod isolation;
mod jobs;
mod keys;
mod latency;
mod ledger;
mod mcp;
mod pg_restart;
mod redis_down;
mod rest;
mod retries;
mod reviews;
mod rotation;
mod scanner;
mod sessions;
mod webhooks;
mod worker;
mod workflows;
mod writes;
