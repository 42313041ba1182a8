//! Authority scopes as Cedar policies, checked against a per-tenant Cedar schema.
//!
//! A tenant's [`Catalog`] names its resource types and actions (with an action hierarchy:
//! `create`, `update` and `delete` are kinds of `write`, …); it generates the Cedar schema.
//! An agent's [`Scope`] is structured — which actions on which resources (type and id
//! pattern), which agents it may direct, its limits per cycle — and compiles to Cedar
//! `permit` policies for that agent alone. Tenant-wide policies are Cedar text (typically
//! `forbid` rules). Everything is validated against the schema before it is saved, with
//! errors that give line, column and reason; a compiled [`PolicyEngine`] answers requests
//! in microseconds and is cached per tenant by the store.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};

const NAMESPACE: &str = "Charter";

/// Resource types every tenant has; tenants may add their own.
pub const DEFAULT_RESOURCE_TYPES: &[&str] = &[
    "Service",
    "Repository",
    "Database",
    "Document",
    "Dataset",
    "Environment",
    "Secret",
    "Ticket",
    "Payment",
    "Message",
];

/// Actions every tenant has, with their parent groups.
pub const DEFAULT_ACTIONS: &[(&str, &[&str])] = &[
    ("read", &[]),
    ("write", &[]),
    ("create", &["write"]),
    ("update", &["write"]),
    ("delete", &["write"]),
    ("deploy", &[]),
    ("execute", &[]),
    ("send", &[]),
    ("spend", &[]),
    ("merge", &["write"]),
];

/// The action by which one agent directs another (delegation).
pub const DIRECT: &str = "direct";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Invalid(String),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Located(Vec<Located>),
}

/// An error at a place in a policy text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// A tenant's resource types and actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub resource_types: Vec<String>,
    /// `(action, parents)`; parents are action groups.
    pub actions: Vec<(String, Vec<String>)>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            resource_types: DEFAULT_RESOURCE_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            actions: DEFAULT_ACTIONS
                .iter()
                .map(|(a, p)| (a.to_string(), p.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

/// Quotes a string as a Cedar string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Catalog {
    pub fn validate(&self) -> Result<(), PolicyError> {
        for t in &self.resource_types {
            if !is_ident(t) || t == "Agent" || t == "Principal" {
                return Err(PolicyError::Invalid(format!(
                    "resource type `{t}`: use a letter then letters, digits or '_' (not Agent or Principal)"
                )));
            }
        }
        let names: HashSet<&str> = self.actions.iter().map(|(a, _)| a.as_str()).collect();
        for (a, parents) in &self.actions {
            if !is_ident(a) || a == DIRECT {
                return Err(PolicyError::Invalid(format!(
                    "action `{a}` is not a valid name"
                )));
            }
            for p in parents {
                if !names.contains(p.as_str()) {
                    return Err(PolicyError::Invalid(format!(
                        "action `{a}` has unknown parent `{p}`"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The Cedar schema (Cedar schema syntax) this catalog describes.
    pub fn schema_text(&self) -> String {
        let types = self.resource_types.join(", ");
        let mut s = format!(
            "namespace {NAMESPACE} {{\n  entity Principal = {{ roles: Set<String> }};\n  \
             entity Agent = {{ name: String }};\n"
        );
        for t in &self.resource_types {
            s.push_str(&format!("  entity {t} = {{ id: String }};\n"));
        }
        for (a, parents) in &self.actions {
            let parent_list = if parents.is_empty() {
                String::new()
            } else {
                format!(
                    " in [{}]",
                    parents
                        .iter()
                        .map(|p| quote(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            s.push_str(&format!(
                "  action {}{parent_list} appliesTo {{ principal: [Agent], resource: [{types}] }};\n",
                quote(a)
            ));
        }
        s.push_str(&format!(
            "  action {} appliesTo {{ principal: [Agent], resource: [Agent] }};\n}}\n",
            quote(DIRECT)
        ));
        s
    }

    pub fn schema(&self) -> Result<Schema, PolicyError> {
        self.validate()?;
        Schema::from_cedarschema_str(&self.schema_text())
            .map(|(schema, _warnings)| schema)
            .map_err(|e| PolicyError::Invalid(format!("schema: {e}")))
    }
}

/// What an agent may do on one kind of resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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

fn uid(type_name: &str, id: &str) -> Result<EntityUid, PolicyError> {
    let t = EntityTypeName::from_str(&format!("{NAMESPACE}::{type_name}"))
        .map_err(|e| PolicyError::Invalid(format!("entity type `{type_name}`: {e}")))?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

fn action_ref(a: &str) -> String {
    format!("{NAMESPACE}::Action::{}", quote(a))
}

/// Escapes a `*` pattern for Cedar's `like` (where `\*` is a literal star).
fn like_pattern(p: &str) -> String {
    // Our patterns have no escape syntax: every `*` is a wildcard, so only quotes and
    // backslashes need escaping, which `quote` does.
    quote(p)
}

impl Scope {
    pub fn validate(&self, catalog: &Catalog) -> Result<(), PolicyError> {
        let actions: HashSet<&str> = catalog.actions.iter().map(|(a, _)| a.as_str()).collect();
        for (i, g) in self.grants.iter().enumerate() {
            if !catalog.resource_types.contains(&g.resource_type) {
                return Err(PolicyError::Invalid(format!(
                    "grants[{i}].resource_type: unknown resource type `{}`",
                    g.resource_type
                )));
            }
            if g.actions.is_empty() {
                return Err(PolicyError::Invalid(format!("grants[{i}].actions: empty")));
            }
            for a in &g.actions {
                if !actions.contains(a.as_str()) {
                    return Err(PolicyError::Invalid(format!(
                        "grants[{i}].actions: unknown action `{a}`"
                    )));
                }
            }
            if g.id_pattern.is_empty() || g.id_pattern.len() > 200 {
                return Err(PolicyError::Invalid(format!(
                    "grants[{i}].id_pattern: 1 to 200 characters"
                )));
            }
        }
        for l in [self.spend_limit, self.dispatch_limit]
            .into_iter()
            .flatten()
        {
            if l < 0 {
                return Err(PolicyError::Invalid("limits cannot be negative".into()));
            }
        }
        Ok(())
    }

    /// The Cedar policies granting this scope to `agent_id`, one per grant.
    pub fn to_cedar(&self, agent_id: &str) -> String {
        let principal = format!("{NAMESPACE}::Agent::{}", quote(agent_id));
        let mut out = String::new();
        for (i, g) in self.grants.iter().enumerate() {
            let actions = g
                .actions
                .iter()
                .map(|a| action_ref(a))
                .collect::<Vec<_>>()
                .join(", ");
            let when = if g.id_pattern == "*" {
                String::new()
            } else {
                format!(
                    " when {{ resource.id like {} }}",
                    like_pattern(&g.id_pattern)
                )
            };
            out.push_str(&format!(
                "@id({})\npermit (principal == {principal}, action in [{actions}], resource is {NAMESPACE}::{}){when};\n",
                quote(&format!("scope:{agent_id}:{i}")),
                g.resource_type
            ));
        }
        for (i, target) in self.may_direct.iter().enumerate() {
            let resource = if target == "*" {
                format!("resource is {NAMESPACE}::Agent")
            } else {
                format!("resource == {NAMESPACE}::Agent::{}", quote(target))
            };
            out.push_str(&format!(
                "@id({})\npermit (principal == {principal}, action == {}, {resource});\n",
                quote(&format!("direct:{agent_id}:{i}")),
                action_ref(DIRECT)
            ));
        }
        out
    }

    /// Whether `self` grants nothing that `other` does not (same catalog): used to refuse
    /// an agent's attempt to widen its own scope without review.
    pub fn limits_within(&self, other: &Scope) -> bool {
        let within = |mine: Option<i64>, theirs: Option<i64>| match (mine, theirs) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a <= b,
        };
        within(self.spend_limit, other.spend_limit)
            && within(self.dispatch_limit, other.dispatch_limit)
    }
}

/// Converts byte offsets in `text` to 1-based line and column (in characters).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn locate(text: &str, diag: &dyn Diagnostic, fallback: String) -> Located {
    let offset = diag
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(0, |l| l.offset());
    let (line, column) = line_col(text, offset);
    let mut message = fallback;
    if let Some(help) = diag.help() {
        message.push_str(&format!(" ({help})"));
    }
    Located {
        line,
        column,
        message,
    }
}

/// Parses and validates tenant-wide Cedar policy text against the catalog's schema.
pub fn validate_policies(catalog: &Catalog, text: &str) -> Result<PolicySet, PolicyError> {
    let schema = catalog.schema()?;
    let set = PolicySet::from_str(text).map_err(|errs| {
        PolicyError::Located(
            errs.iter()
                .map(|e| locate(text, e, e.to_string()))
                .collect(),
        )
    })?;
    let result = Validator::new(schema).validate(&set, ValidationMode::Strict);
    if !result.validation_passed() {
        return Err(PolicyError::Located(
            result
                .validation_errors()
                .map(|e| locate(text, e, e.to_string()))
                .collect(),
        ));
    }
    Ok(set)
}

/// A tenant's compiled policies: schema, every agent's scope policies and the
/// tenant-wide ones, and the action entities.
pub struct PolicyEngine {
    schema: Schema,
    policies: PolicySet,
    actions: Entities,
    authorizer: Authorizer,
}

/// The outcome of a policy check, with the policies that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAnswer {
    pub allowed: bool,
    pub determining: Vec<String>,
    pub errors: Vec<String>,
}

impl PolicyEngine {
    /// Compiles scopes (`(agent id, scope)`) and tenant-wide policy text.
    pub fn compile(
        catalog: &Catalog,
        scopes: &[(String, Scope)],
        tenant_policies: &str,
    ) -> Result<PolicyEngine, PolicyError> {
        let schema = catalog.schema()?;
        // The tenant's own text first, alone, so its errors point at its own lines.
        if !tenant_policies.trim().is_empty() {
            validate_policies(catalog, tenant_policies)?;
        }
        let mut text = String::new();
        for (agent, scope) in scopes {
            scope.validate(catalog)?;
            text.push_str(&scope.to_cedar(agent));
        }
        text.push_str(tenant_policies);
        let policies = validate_policies(catalog, &text)?;
        let actions = schema
            .action_entities()
            .map_err(|e| PolicyError::Invalid(format!("actions: {e}")))?;
        Ok(PolicyEngine {
            schema,
            policies,
            actions,
            authorizer: Authorizer::new(),
        })
    }

    /// May `agent` take `action` on the resource `resource_type`/`resource_id`? Anything
    /// malformed (unknown type or action) is a refusal, never an error that could allow.
    pub fn check(
        &self,
        agent_id: &str,
        agent_name: &str,
        action: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> PolicyAnswer {
        match self.try_check(agent_id, agent_name, action, resource_type, resource_id) {
            Ok(a) => a,
            Err(e) => PolicyAnswer {
                allowed: false,
                determining: Vec::new(),
                errors: vec![e.to_string()],
            },
        }
    }

    fn try_check(
        &self,
        agent_id: &str,
        agent_name: &str,
        action: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<PolicyAnswer, PolicyError> {
        let principal = uid("Agent", agent_id)?;
        let action_uid = EntityUid::from_str(&action_ref(action))
            .map_err(|e| PolicyError::Invalid(format!("action `{action}`: {e}")))?;
        let resource = uid(resource_type, resource_id)?;
        let agent = Entity::new(
            principal.clone(),
            HashMap::from([(
                "name".to_string(),
                RestrictedExpression::new_string(agent_name.to_string()),
            )]),
            HashSet::new(),
        )
        .map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let target = if resource_type == "Agent" {
            Entity::new(
                resource.clone(),
                HashMap::from([(
                    "name".to_string(),
                    RestrictedExpression::new_string(resource_id.to_string()),
                )]),
                HashSet::new(),
            )
        } else {
            Entity::new(
                resource.clone(),
                HashMap::from([(
                    "id".to_string(),
                    RestrictedExpression::new_string(resource_id.to_string()),
                )]),
                HashSet::new(),
            )
        }
        .map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let entities = self
            .actions
            .clone()
            .add_entities([agent, target], Some(&self.schema))
            .map_err(|e| PolicyError::Invalid(format!("request entities: {e}")))?;
        let request = Request::new(
            principal,
            action_uid,
            resource,
            Context::empty(),
            Some(&self.schema),
        )
        .map_err(|e| PolicyError::Invalid(format!("request: {e}")))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        Ok(PolicyAnswer {
            allowed: response.decision() == CedarDecision::Allow,
            determining: response
                .diagnostics()
                .reason()
                .map(PolicyId::to_string)
                .collect(),
            errors: response
                .diagnostics()
                .errors()
                .map(ToString::to_string)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            grants: vec![
                Grant {
                    actions: vec!["read".into(), "deploy".into()],
                    resource_type: "Service".into(),
                    id_pattern: "payments-*".into(),
                },
                Grant {
                    actions: vec!["write".into()],
                    resource_type: "Repository".into(),
                    id_pattern: "*".into(),
                },
            ],
            may_direct: vec!["agent-b".into()],
            spend_limit: Some(1000),
            dispatch_limit: None,
        }
    }

    fn engine(tenant: &str) -> PolicyEngine {
        PolicyEngine::compile(&Catalog::default(), &[("agent-a".into(), scope())], tenant).unwrap()
    }

    #[test]
    fn scopes_allow_exactly_what_they_grant() {
        let e = engine("");
        assert!(
            e.check("agent-a", "A", "deploy", "Service", "payments-api")
                .allowed
        );
        assert!(
            e.check("agent-a", "A", "read", "Service", "payments-db")
                .allowed
        );
        assert!(
            !e.check("agent-a", "A", "deploy", "Service", "billing-api")
                .allowed
        );
        assert!(
            !e.check("agent-a", "A", "delete", "Service", "payments-api")
                .allowed
        );
        // `update` is a kind of `write`.
        assert!(
            e.check("agent-a", "A", "update", "Repository", "charter")
                .allowed
        );
        assert!(
            !e.check("agent-a", "A", "read", "Repository", "charter")
                .allowed
        );
        // Another agent has no grants; the directing rule names only agent-b.
        assert!(
            !e.check("agent-b", "B", "read", "Service", "payments-api")
                .allowed
        );
        assert!(e.check("agent-a", "A", DIRECT, "Agent", "agent-b").allowed);
        assert!(!e.check("agent-a", "A", DIRECT, "Agent", "agent-c").allowed);
        // Unknown action or type: refused, never allowed.
        let bad = e.check("agent-a", "A", "teleport", "Service", "payments-api");
        assert!(!bad.allowed && !bad.errors.is_empty());
        assert!(!e.check("agent-a", "A", "read", "Spaceship", "x").allowed);
    }

    #[test]
    fn tenant_forbids_override_scopes() {
        let e = engine(
            "forbid (principal, action == Charter::Action::\"deploy\", resource is Charter::Service) \
             when { resource.id == \"payments-core\" };",
        );
        assert!(
            !e.check("agent-a", "A", "deploy", "Service", "payments-core")
                .allowed
        );
        assert!(
            e.check("agent-a", "A", "deploy", "Service", "payments-api")
                .allowed
        );
    }

    #[test]
    fn invalid_policies_report_line_and_column() {
        let err = validate_policies(
            &Catalog::default(),
            "permit (principal, action, resource);\npermit (principal, action == Charter::Action::\"fly\", resource);",
        )
        .unwrap_err();
        let PolicyError::Located(errs) = err else {
            panic!("{err}")
        };
        assert_eq!(errs[0].line, 2, "{errs:?}");
        assert!(errs[0].column > 1, "{errs:?}");
        let err = validate_policies(
            &Catalog::default(),
            "permit (principal,\n  action resource);",
        )
        .unwrap_err();
        let PolicyError::Located(errs) = err else {
            panic!("{err}")
        };
        assert_eq!(errs[0].line, 2, "{errs:?}");
    }

    #[test]
    fn scopes_and_catalogs_are_validated() {
        let mut s = scope();
        s.grants[0].resource_type = "Spaceship".into();
        assert!(
            s.validate(&Catalog::default())
                .unwrap_err()
                .to_string()
                .contains("grants[0].resource_type")
        );
        let mut s = scope();
        s.grants[1].actions = vec!["teleport".into()];
        assert!(s.validate(&Catalog::default()).is_err());
        let mut c = Catalog::default();
        c.resource_types.push("Bad Name".into());
        assert!(c.schema().is_err());
        let mut c = Catalog::default();
        c.resource_types.push("Invoice".into());
        c.actions
            .push(("approve_invoice".into(), vec!["write".into()]));
        assert!(c.schema().is_ok());
        // Ids with quotes cannot break out of the generated policy.
        let e = PolicyEngine::compile(
            &Catalog::default(),
            &[("a\" || true || \"".into(), scope())],
            "",
        )
        .unwrap();
        assert!(
            !e.check("agent-a", "A", "deploy", "Service", "payments-api")
                .allowed
        );
    }

    #[test]
    fn limits_never_widen() {
        let base = scope();
        let mut wider = scope();
        wider.spend_limit = Some(5000);
        assert!(base.limits_within(&base));
        assert!(!wider.limits_within(&base));
        wider.spend_limit = None;
        assert!(!wider.limits_within(&base));
    }
}
