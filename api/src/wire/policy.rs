//! An agent's authority as people and agents write it, and the tenant's catalog.

use charter_core::policy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an agent may do on one kind of resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Actions (or action groups, e.g. `write`).
    pub actions: Vec<String>,
    /// The resource type (from the tenant's catalog).
    pub resource_type: String,
    /// Resource ids, `*` matching any run of characters (e.g. `payments-*`).
    #[serde(default = "any")]
    pub id_pattern: String,
}

fn any() -> String {
    "*".into()
}

/// An agent's authority: structured, compiled to Cedar.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// What the agent may do, per resource type.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Agents (ids) this agent may direct; `*` for any.
    #[serde(default)]
    pub may_direct: Vec<String>,
    /// Spend per cycle, in the tenant's smallest currency unit; `None` is unlimited.
    #[serde(default)]
    pub spend_limit: Option<i64>,
    /// Dispatches (authorized actions) per cycle; `None` is unlimited.
    #[serde(default)]
    pub dispatch_limit: Option<i64>,
}

impl From<policy::Scope> for Scope {
    fn from(s: policy::Scope) -> Self {
        Scope {
            grants: s
                .grants
                .into_iter()
                .map(|g| Grant {
                    actions: g.actions,
                    resource_type: g.resource_type,
                    id_pattern: g.id_pattern,
                })
                .collect(),
            may_direct: s.may_direct,
            spend_limit: s.spend_limit,
            dispatch_limit: s.dispatch_limit,
        }
    }
}

impl From<Scope> for policy::Scope {
    fn from(s: Scope) -> Self {
        policy::Scope {
            grants: s
                .grants
                .into_iter()
                .map(|g| policy::Grant {
                    actions: g.actions,
                    resource_type: g.resource_type,
                    id_pattern: g.id_pattern,
                })
                .collect(),
            may_direct: s.may_direct,
            spend_limit: s.spend_limit,
            dispatch_limit: s.dispatch_limit,
        }
    }
}

/// A tenant's resource types and actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Catalog {
    pub resource_types: Vec<String>,
    /// `(action, parents)`; parents are action groups.
    pub actions: Vec<(String, Vec<String>)>,
}

impl From<policy::Catalog> for Catalog {
    fn from(c: policy::Catalog) -> Self {
        Catalog {
            resource_types: c.resource_types,
            actions: c.actions,
        }
    }
}

impl From<Catalog> for policy::Catalog {
    fn from(c: Catalog) -> Self {
        policy::Catalog {
            resource_types: c.resource_types,
            actions: c.actions,
        }
    }
}
