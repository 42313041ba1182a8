//! The REST admin API, over HTTP against the real PostgreSQL and Redis: sign-up to MCP,
//! tokens and sessions, the role matrix against docs/permissions.md, every route walked
//! with another tenant's ids, the admin rules, and the OpenAPI document checked by
//! Schemathesis.

mod admin;
mod ai_systems;
mod attacks;
mod auth;
mod cross_tenant;
mod roles;
mod samples;
mod schemathesis;
