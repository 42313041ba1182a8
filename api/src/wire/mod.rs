//! The shapes on the wire: what MCP tools and REST routes send and receive, with their
//! JSON Schemas (MCP) and OpenAPI schemas (REST). The store's and core's types convert
//! into them (and requests out of them), so neither crate knows about schemas, and a
//! change inside the store cannot change the contract unnoticed.

pub mod context;
pub mod engine;
pub mod policy;
pub mod receipts;
pub mod views;
pub mod workflow;

/// A string schema that lists the words of one of core's state or reason enums, taken
/// from the enum itself, so the schema cannot drift from what is sent.
macro_rules! words {
    ($($name:ident => $words:expr),+ $(,)?) => {
        $(
            pub mod $name {
                use super::*;
                pub fn json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                    let words: Vec<&str> = $words;
                    schemars::json_schema!({"type": "string", "enum": words})
                }

                pub fn openapi() -> utoipa::openapi::Object {
                    let words: Vec<&str> = $words;
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .enum_values(Some(words))
                        .build()
                }
            }
        )+
    };
}

pub mod words {
    use charter_core::engine::breaker::State;
    use charter_core::engine::decision::Reason;
    use charter_core::status::{
        AgentStatus, ReviewStatus, Severity, SubscriptionStatus, TaskStatus, ViolationStatus,
    };

    words!(
        reason => Reason::ALL.iter().map(|w| w.as_str()).collect(),
        agent_status => AgentStatus::ALL.iter().map(|w| w.as_str()).collect(),
        subscription_status => SubscriptionStatus::ALL.iter().map(|w| w.as_str()).collect(),
        breaker_state => State::ALL.iter().map(|w| w.as_str()).collect(),
        task_status => TaskStatus::ALL.iter().map(|w| w.as_str()).collect(),
        review_status => ReviewStatus::ALL.iter().map(|w| w.as_str()).collect(),
        severity => Severity::ALL.iter().map(|w| w.as_str()).collect(),
        violation_status => ViolationStatus::ALL.iter().map(|w| w.as_str()).collect(),
    );
}

/// Maps each element of a list into its wire shape.
pub fn all<T, W: From<T>>(items: Vec<T>) -> Vec<W> {
    items.into_iter().map(W::from).collect()
}
