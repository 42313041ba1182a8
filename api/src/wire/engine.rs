//! An agent's request to act, and the engine's answer.

use charter_core::engine::decision::{self, Reason};
use charter_store::engine as store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::words;

/// What an agent asks to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ActionRequest {
    /// The action, as named in the tenant's catalog (e.g. `deploy`).
    pub action: String,
    /// The type of the resource acted on (e.g. `Service`).
    pub resource_type: String,
    /// The resource's id (e.g. `payments-api`).
    pub resource_id: String,
    /// Spend this action will incur, in the tenant's smallest currency unit.
    #[serde(default)]
    pub spend: i64,
    /// A retry with the same key gets the first answer and is never counted twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The exact arguments, recorded (redacted) with the decision.
    #[serde(default)]
    pub arguments: Value,
    /// The initiative the action belongs to (gates bound to the action are checked in it).
    #[serde(default)]
    pub initiative: Option<Uuid>,
    /// The delegated task the agent acts under: the action must then be within the scope
    /// of every agent up the delegation chain too (authority only narrows).
    #[serde(default)]
    pub task: Option<Uuid>,
}

impl From<ActionRequest> for store::ActionRequest {
    fn from(r: ActionRequest) -> Self {
        store::ActionRequest {
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            spend: r.spend,
            idempotency_key: r.idempotency_key,
            arguments: r.arguments,
            initiative: r.initiative,
            task: r.task,
        }
    }
}

/// The answer to an authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(tag = "decision", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// The action may proceed.
    Allowed,
    /// The action must not proceed.
    Blocked {
        /// Why, as a stable machine-readable code.
        #[schemars(schema_with = "words::reason::json")]
        #[schema(schema_with = words::reason::openapi)]
        reason: Reason,
    },
    /// The action needs an approval first; ask again once it is decided.
    PendingApproval {
        /// The approval request to wait for (`await_decision`).
        review_id: String,
    },
}

impl From<decision::Decision> for Decision {
    fn from(d: decision::Decision) -> Self {
        match d {
            decision::Decision::Allowed => Decision::Allowed,
            decision::Decision::Blocked { reason } => Decision::Blocked { reason },
            decision::Decision::PendingApproval { review_id } => {
                Decision::PendingApproval { review_id }
            }
        }
    }
}

/// The answer: the decision and where it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct Answer {
    /// The authorization this answer is about (report its outcome with this id).
    pub authorization_id: Uuid,
    #[serde(flatten)]
    pub decision: Decision,
    /// A sentence for people, when the action is not simply allowed.
    pub message: Option<String>,
    /// Where the decision is recorded in the tenant's ledger.
    pub seq: u64,
    /// SHA-256 of the record's canonical form, hex.
    pub record_hash: String,
    /// Ed25519 signature over the record hash, hex.
    pub signature: String,
    /// The tenant signing key that signed it (see `/t/{slug}/keys`).
    pub key_id: String,
    /// True when this is the stored answer to an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

impl From<store::Answer> for Answer {
    fn from(a: store::Answer) -> Self {
        Answer {
            authorization_id: a.authorization_id,
            decision: a.decision.into(),
            message: a.message,
            seq: a.seq,
            record_hash: a.record_hash,
            signature: a.signature,
            key_id: a.key_id,
            replayed: a.replayed,
        }
    }
}
