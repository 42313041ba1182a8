//! The bundle's `schema/` files: the record's JSON Schema, and which Article each record
//! field and kind serves (Regulation (EU) 2024/1689).

/// `schema/record.schema.json` (JSON Schema 2020-12) of a record in `records.jsonl`.
pub const RECORD_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "charter-ledger-record-v1",
  "title": "Charter ledger record, version 1",
  "description": "The signed object: SHA-256 of its RFC 8785 canonical form is the record hash, which the tenant key signs with Ed25519.",
  "type": "object",
  "additionalProperties": false,
  "required": ["v", "tenant_id", "seq", "recorded_at", "kind", "actor", "on_behalf_of", "action",
               "resource", "initiative", "gate", "decision", "reason", "payload", "redactions",
               "prev_hash", "key_id"],
  "properties": {
    "v": {"const": 1},
    "tenant_id": {"type": "string", "format": "uuid"},
    "seq": {"type": "integer", "minimum": 0},
    "recorded_at": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$"},
    "kind": {"type": "string"},
    "actor": {
      "type": "object",
      "additionalProperties": false,
      "required": ["type", "id"],
      "properties": {
        "type": {"enum": ["agent", "principal", "api_token", "system"]},
        "id": {"type": "string"},
        "on_behalf_of": {"type": "string"}
      }
    },
    "on_behalf_of": {"type": ["string", "null"]},
    "action": {"type": ["string", "null"]},
    "resource": {"type": ["string", "null"]},
    "initiative": {"type": ["string", "null"]},
    "gate": {"type": ["string", "null"]},
    "decision": {"enum": ["ALLOWED", "BLOCKED", "PENDING_APPROVAL", null]},
    "reason": {"type": ["string", "null"]},
    "payload": {},
    "redactions": {
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["path", "rule"],
        "properties": {"path": {"type": "string"}, "rule": {"type": "string"}}
      }
    },
    "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "key_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"}
  }
}
"#;

/// `schema/field-to-article.csv`: `element,applies_to,article,what_it_records`.
pub const FIELD_TO_ARTICLE: &str = "\
element,applies_to,article,what_it_records
seq,every record,Article 12(1),automatic recording of events over the lifetime of the system: the position in the log without gaps
recorded_at,every record,Article 12(1); Article 12(3)(a),the date and time of the event (for Annex III point 1(a) systems: the period of each use)
kind,every record,Article 12(1),which event was recorded
actor,every record,Article 12(1); Article 14,who acted: an agent; a person (pseudonymous id); a person's API token; or Charter itself
on_behalf_of,delegated acts,Article 12(1); Article 26(2),the person an agent or token acted for
action,decision,Article 12(2)(a); Article 12(2)(c),the action the agent asked to take
resource,decision,Article 12(2)(a); Article 12(2)(c),what the action concerned
decision,decision,Article 12(2)(a); Article 12(2)(c),ALLOWED / BLOCKED / PENDING_APPROVAL: situations stopped before they could present a risk
reason,decision,Article 12(2)(a),the machine-readable reason for the decision
payload.arguments,decision,Article 12(2)(c); Article 12(3)(c),the (secret-redacted) input of the action
payload.args_digest,decision; action_approval.*,Article 12(2)(c); Article 14(4)(d),binds an approval to the exact arguments decided on
payload.breaker,decision,Article 12(2)(a); Article 14(4)(e),automatic stops: the circuit breaker's transitions
initiative; gate,initiative.*; review.*; decision,Article 12(2)(b); Article 17,the quality-management pipeline an artifact passed
redactions,every record,Article 10(5); GDPR Article 5(1)(c),what was removed before sealing (data minimisation)
prev_hash; record hash; signature; key_id,every record,Article 12(1); Article 19(1),integrity and authenticity of the logs
review.approved; review.rejected,kind,Article 14(4); Article 12(3)(d),human oversight: a person verified and decided (the actor)
action_approval.approved; action_approval.rejected,kind,Article 14(4)(d),human oversight: a person allowed or refused one action
scope_change.approved; scope_change.rejected; scope.changed; limits.changed,kind,Article 14(4),human oversight: a person changed what an agent may do
breaker.reset; agent.suspended; agent.resumed; agent.deleted; api_key.revoked,kind,Article 14(4)(e),human oversight: a person stopped or restarted an agent
breaker.configured; breaker.half_opened,kind,Article 12(2)(a); Article 14(4)(e),automatic stop settings and their recovery
violation.found; scan.completed; self_audit.completed,kind,Article 12(2)(a); Article 12(2)(b); Article 72,findings of Charter's own monitoring of the log
ai_system.created; ai_system.updated,kind,Article 11; Annex IV(1); Article 6,the system's registered intended purpose; provider; deployer and high-risk classification
export.created; ledger.exported,kind,Article 12; Article 19(1),who took copies of the logs; when and why
ledger.pruned; retention.changed; legal_hold.placed; legal_hold.released,kind,Article 19(1); Article 26(6),retention: at least six months; legal holds; removal of record bodies past retention
";

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_json_and_the_csv_is_rectangular() {
        let v: serde_json::Value = serde_json::from_str(super::RECORD_SCHEMA).unwrap();
        assert_eq!(v["required"].as_array().unwrap().len(), 17);
        for line in super::FIELD_TO_ARTICLE.lines() {
            assert_eq!(line.matches(',').count(), 3, "{line}");
        }
    }
}
