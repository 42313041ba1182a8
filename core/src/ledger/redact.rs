//! Secrets never enter the ledger: strings are scanned before a record is sealed, and each
//! match is replaced by `[REDACTED:<rule>]`. The record lists what was redacted and where
//! (a JSON pointer and the rule), never the secret.
//!
//! Rules: PEM private keys, AWS access key ids and secret keys, GitHub, Stripe and Slack
//! tokens, JWTs, Charter's own API keys, bearer tokens, and `password=`-style pairs (also as
//! JSON members whose name says password, secret or token).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A redaction noted in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// JSON pointer (RFC 6901) into the record, e.g. `/payload/env/0`.
    pub path: String,
    pub rule: String,
}

struct Rule {
    name: &'static str,
    re: Regex,
    /// Capture group holding the secret (0: the whole match).
    group: usize,
}

fn rule(name: &'static str, pattern: &str, group: usize) -> Rule {
    match Regex::new(pattern) {
        Ok(re) => Rule { name, re, group },
        Err(e) => unreachable!("redaction rule {name} must compile: {e}"),
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(
            "private_key",
            r"-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END ([A-Z0-9 ]+ )?PRIVATE KEY( BLOCK)?-----|$)",
            0,
        ),
        rule("charter_api_key", r"chtr_ak_[0-9a-f]{16,}", 0),
        rule(
            "aws_access_key_id",
            r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
            0,
        ),
        rule(
            "aws_secret_access_key",
            r#"(?i)aws.{0,20}?(secret|private).{0,20}?['"]?\s*[:=]\s*['"]?([A-Za-z0-9/+=]{40})"#,
            2,
        ),
        rule(
            "github_token",
            r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b",
            0,
        ),
        rule("github_token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b", 0),
        rule("stripe_key", r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{16,}\b", 0),
        rule("stripe_webhook_secret", r"\bwhsec_[A-Za-z0-9]{16,}\b", 0),
        rule("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", 0),
        rule("slack_token", r"\bxapp-[0-9]-[A-Za-z0-9-]{10,}\b", 0),
        rule(
            "slack_webhook",
            r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
            0,
        ),
        rule(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
            0,
        ),
        rule(
            "bearer_token",
            r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{16,})",
            1,
        ),
        rule(
            "password",
            r#"(?i)\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)["']?\s*[=:]\s*("[^"]+"|'[^']+'|[^\s&;,'"]+)"#,
            2,
        ),
    ]
});

/// Member names whose string values are secrets as a whole.
fn secret_member(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['-', '_'], "");
    [
        "password",
        "passwd",
        "secret",
        "clientsecret",
        "apikey",
        "accesstoken",
        "refreshtoken",
        "authtoken",
        "token",
        "privatekey",
        "secretaccesskey",
    ]
    .contains(&n.as_str())
}

/// All rules at once: one pass tells whether a string needs the per-rule work at all
/// (almost every string in a payload does not).
static ANY: LazyLock<regex::RegexSet> =
    LazyLock::new(
        || match regex::RegexSet::new(RULES.iter().map(|r| r.re.as_str())) {
            Ok(set) => set,
            Err(e) => unreachable!("the redaction rules compile as a set: {e}"),
        },
    );

pub fn marker(rule: &str) -> String {
    format!("[REDACTED:{rule}]")
}

/// Redacts one string; returns the rules that matched (in order, deduplicated).
pub fn redact_str(text: &str) -> (String, Vec<&'static str>) {
    if !ANY.is_match(text) {
        return (text.to_string(), Vec::new());
    }
    let mut out = text.to_string();
    let mut hits = Vec::new();
    for r in RULES.iter() {
        if !r.re.is_match(&out) {
            continue;
        }
        let mut result = String::with_capacity(out.len());
        let mut last = 0;
        let mut matched = false;
        for caps in r.re.captures_iter(&out) {
            let Some(m) = caps.get(r.group) else { continue };
            if m.as_str().starts_with("[REDACTED:") {
                continue;
            }
            result.push_str(&out[last..m.start()]);
            result.push_str(&marker(r.name));
            last = m.end();
            matched = true;
        }
        if matched {
            result.push_str(&out[last..]);
            out = result;
            if !hits.contains(&r.name) {
                hits.push(r.name);
            }
        }
    }
    (out, hits)
}

/// Redacts every string (and object member value named like a secret) inside `value`,
/// recording each redaction under `base` (a JSON pointer).
pub fn redact_value(value: &mut Value, base: &str, found: &mut Vec<Redaction>) {
    match value {
        Value::String(s) => {
            let (clean, hits) = redact_str(s);
            if !hits.is_empty() {
                *s = clean;
                for rule in hits {
                    found.push(Redaction {
                        path: base.to_string(),
                        rule: rule.to_string(),
                    });
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                redact_value(item, &format!("{base}/{i}"), found);
            }
        }
        Value::Object(map) => {
            // A secret used as a member name is redacted like any other (the value stays,
            // under the redacted name).
            if map.keys().any(|k| ANY.is_match(k)) {
                let old = std::mem::take(map);
                for (key, item) in old {
                    let (mut clean, hits) = redact_str(&key);
                    // Two names redacted alike keep both values.
                    let mut n = 1;
                    while map.contains_key(&clean) {
                        n += 1;
                        clean = format!("{clean}#{n}");
                    }
                    for rule in hits {
                        found.push(Redaction {
                            path: format!("{base}/{}", clean.replace('~', "~0").replace('/', "~1")),
                            rule: rule.to_string(),
                        });
                    }
                    map.insert(clean, item);
                }
            }
            for (key, item) in map.iter_mut() {
                let path = format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"));
                match item {
                    Value::String(s)
                        if secret_member(key) && !s.is_empty() && !s.starts_with("[REDACTED:") =>
                    {
                        *s = marker("secret_field");
                        found.push(Redaction {
                            path,
                            rule: "secret_field".into(),
                        });
                    }
                    _ => redact_value(item, &path, found),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: &str, rule: &str, secret: &str) {
        let (out, hits) = redact_str(input);
        assert!(
            hits.contains(&rule),
            "{rule} not found in {input:?}: {hits:?}"
        );
        assert!(!out.contains(secret), "{rule}: secret survived in {out:?}");
        assert!(out.contains(&marker(rule)), "{out}");
    }

    #[test]
    fn member_names_are_scanned_too() {
        let mut v = json!({"headers": {"Bearer abcdefghijklmnop12345": "x", "ok": 1}});
        let mut found = Vec::new();
        redact_value(&mut v, "/payload", &mut found);
        assert!(!v.to_string().contains("abcdefghijklmnop12345"), "{v}");
        assert_eq!(v["headers"]["ok"], 1);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].path.starts_with("/payload/headers/"));
    }

    #[test]
    fn each_rule_redacts_its_class() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7V\nabc\n-----END RSA PRIVATE KEY-----";
        check(
            &format!("key:\n{pem}\nthanks"),
            "private_key",
            "MIIEowIBAAKCAQEA7V",
        );
        check(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
            "private_key",
            "b3BlbnNzaC1rZXk",
        );
        check(
            "id AKIAIOSFODNN7EXAMPLE used",
            "aws_access_key_id",
            "AKIAIOSFODNN7EXAMPLE",
        );
        check(
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        check(
            "token ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ end",
            "github_token",
            "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        );
        check(
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "github_token",
            "github_pat_11ABCDEFG0123456789",
        );
        check(
            "sk_live_51H8abcdefghijklmnopqrstu",
            "stripe_key",
            "sk_live_51H8abcdefghijklmnopqrstu",
        );
        check(
            "rk_test_abcdefghijklmnop1234",
            "stripe_key",
            "rk_test_abcdefghijklmnop1234",
        );
        check(
            "whsec_abcdefghijklmnopqrstuvwx",
            "stripe_webhook_secret",
            "whsec_abcdefghijklmnopqrstuvwx",
        );
        check(
            "xoxb-1234567890-abcdefghijklmn",
            "slack_token",
            "xoxb-1234567890-abcdefghijklmn",
        );
        check(
            "https://hooks.slack.com/services/T000/B000/abcdefgh",
            "slack_webhook",
            "T000/B000/abcdefgh",
        );
        check(
            "auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        );
        check(
            "use chtr_ak_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef now",
            "charter_api_key",
            "0123456789abcdef0123456789abcdef",
        );
        check(
            "Authorization: Bearer abcdefghijklmnop12345",
            "bearer_token",
            "abcdefghijklmnop12345",
        );
        check(
            "db password=hunter2hunter2 host=x",
            "password",
            "hunter2hunter2",
        );
        check(
            "{\"api_key\": \"s3cr3t-value\"}",
            "password",
            "s3cr3t-value",
        );
        check("PASSWORD: 'quoted secret'", "password", "quoted secret");
    }

    #[test]
    fn clean_text_is_untouched() {
        for clean in [
            "deploy service api to production",
            "the password policy requires 12 characters",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "ghp_short",
            "",
        ] {
            let (out, hits) = redact_str(clean);
            assert_eq!(out, clean);
            assert!(hits.is_empty(), "{clean}: {hits:?}");
        }
        let mut v =
            json!({"tests": 12, "ok": true, "files": ["a.rs", "b.rs"], "note": "all green"});
        let before = v.clone();
        let mut found = Vec::new();
        redact_value(&mut v, "/payload", &mut found);
        assert_eq!(v, before);
        assert!(found.is_empty());
    }

    #[test]
    fn nested_values_are_redacted_with_their_paths() {
        let mut v = json!({
            "env": ["PATH=/bin", "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"],
            "db": {"password": "hunter2", "host": "db"},
            "a/b": "AKIAIOSFODNN7EXAMPLE",
        });
        let mut found = Vec::new();
        redact_value(&mut v, "/payload", &mut found);
        assert_eq!(v["env"][1], "GITHUB_TOKEN=[REDACTED:github_token]");
        assert_eq!(v["db"]["password"], "[REDACTED:secret_field]");
        assert_eq!(v["db"]["host"], "db");
        assert_eq!(v["a/b"], "[REDACTED:aws_access_key_id]");
        let paths: Vec<&str> = found.iter().map(|r| r.path.as_str()).collect();
        assert!(paths.contains(&"/payload/env/1"), "{paths:?}");
        assert!(paths.contains(&"/payload/db/password"), "{paths:?}");
        assert!(paths.contains(&"/payload/a~1b"), "{paths:?}");
    }
}
