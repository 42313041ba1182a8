//! `credential_exposure`: a secret stored where people and agents read it — artifact
//! URIs and metadata, evidence, ledger payloads — that redaction did not catch. Finds the
//! redaction rules' patterns (in text stored outside the ledger, which is never
//! redacted) and long high-entropy values next to key-like names (`token=…`,
//! `"api_key": "…"`), which the patterns do not know.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use super::Finding;
use crate::ledger::redact::redact_str;
use crate::status::Severity;

pub const RULE: &str = "credential_exposure";
pub const VERSION: u32 = 1;

/// A name that says its value is a credential, then the value.
static KEYED: LazyLock<Regex> = LazyLock::new(|| {
    match Regex::new(
        r#"(?i)(?:api[_-]?key|access[_-]?key|secret|token|passw(?:or)?d|credential|private[_-]?key)["']?\s*[:=]\s*["']?([A-Za-z0-9+/_\-.~]{20,})"#,
    ) {
        Ok(re) => re,
        Err(e) => unreachable!("the keyed-secret pattern must compile: {e}"),
    }
});

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// What looks like a secret in `text`: rule names, never the secret.
pub fn secrets_in(text: &str) -> Vec<&'static str> {
    let (_, mut rules) = redact_str(text);
    let keyed = KEYED.captures_iter(text).any(|c| {
        let v = &c[1];
        // Ids and digests are not secrets: a UUID, or hex alone.
        let identifier =
            uuid::Uuid::parse_str(v).is_ok() || v.chars().all(|ch| ch.is_ascii_hexdigit());
        !identifier && !v.starts_with("[REDACTED") && entropy(v) >= 3.5
    });
    if keyed {
        rules.push("high_entropy_credential");
    }
    rules.sort_unstable();
    rules.dedup();
    rules
}

/// A place text is stored, and the text.
#[derive(Debug, Clone)]
pub struct Stored {
    /// e.g. `{"type": "artifact", "id": …, "field": "uri"}`.
    pub subject: Value,
    /// Stable: the same place gives the same key.
    pub place: String,
    pub text: String,
}

pub fn check(s: &Stored) -> Option<Finding> {
    let rules = secrets_in(&s.text);
    (!rules.is_empty()).then(|| Finding {
        rule: RULE,
        version: VERSION,
        severity: Severity::High,
        key: format!("{RULE}:{}", s.place),
        subject: s.subject.clone(),
        details: json!({"problem": "a credential appears to be stored in readable text; rotate it and remove it", "patterns": rules}),
    })
}

/// Every string in a JSON value, with its JSON pointer.
pub fn strings(v: &Value, base: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((base.to_string(), s.clone())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, &format!("{base}/{i}"), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            // A member name that says credential, with a string value: check as `name=value`.
            if let Value::String(s) = x {
                out.push((format!("{base}/{k}"), format!("{k}={s}")));
            } else {
                strings(x, &format!("{base}/{k}"), out)
            }
        }),
        _ => {}
    }
}
