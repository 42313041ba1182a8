//! Reading a bundle's records without re-serialising them, and the scope rule.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::Deserialize;

use super::Manifest;

/// A record read for what a bundle shows and checks, borrowing from its text: the payload
/// stays raw (it is never re-serialised — the record's bytes are the signed bytes), and
/// only its `agent_id` and `breaker` are looked at, and only when present.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brief<'a> {
    pub v: u32,
    #[serde(borrow)]
    pub tenant_id: Cow<'a, str>,
    pub seq: u64,
    #[serde(borrow)]
    pub recorded_at: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub actor: BriefActor<'a>,
    #[serde(borrow)]
    pub on_behalf_of: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub resource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub initiative: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub gate: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub decision: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub payload: &'a serde_json::value::RawValue,
    pub redactions: serde::de::IgnoredAny,
    #[serde(borrow)]
    pub prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    pub key_id: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BriefActor<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub on_behalf_of: Option<Cow<'a, str>>,
}

/// The payload members a bundle looks at.
#[derive(Debug, Default, Deserialize)]
struct PayloadKeys<'a> {
    #[serde(default, borrow)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    breaker: Option<&'a serde_json::value::RawValue>,
}

impl<'a> Brief<'a> {
    fn payload_keys(&self, needle: &str) -> PayloadKeys<'_> {
        let raw = self.payload.get();
        if !raw.starts_with('{') || !raw.contains(needle) {
            return PayloadKeys::default();
        }
        serde_json::from_str(raw).unwrap_or_default()
    }

    /// `payload.agent_id`, when the payload is an object with a string there.
    pub fn payload_agent(&self) -> Option<String> {
        self.payload_keys("\"agent_id\"")
            .agent_id
            .map(Cow::into_owned)
    }

    /// Whether the payload records a circuit-breaker transition.
    pub fn moved_breaker(&self) -> bool {
        self.payload_keys("\"breaker\"")
            .breaker
            .is_some_and(|b| b.get() != "null")
    }
}

/// The scope rule (the same as the database's `charter_record_concerns`), to check that
/// what is in full belongs there.
pub struct ScopeCheck {
    all: bool,
    agents: BTreeSet<String>,
    resources: BTreeSet<String>,
}

impl ScopeCheck {
    pub fn new(m: &Manifest) -> ScopeCheck {
        let system = m
            .scope
            .system
            .as_ref()
            .and_then(|s| s.get("id"))
            .and_then(|v| v.as_str());
        let agents: BTreeSet<String> = m.scope.agents.iter().cloned().collect();
        let mut resources: BTreeSet<String> = agents.iter().map(|a| format!("agent:{a}")).collect();
        resources.extend(system.map(|s| format!("ai_system:{s}")));
        ScopeCheck {
            all: system.is_none() && agents.is_empty(),
            agents,
            resources,
        }
    }

    pub fn concerns(&self, r: &Brief<'_>) -> bool {
        self.all
            || (r.actor.kind == "agent" && self.agents.contains(r.actor.id.as_ref()))
            || r.resource
                .as_ref()
                .is_some_and(|x| self.resources.contains(x.as_ref()))
            || r.payload_agent().is_some_and(|a| self.agents.contains(&a))
    }
}
