//! An AI system as the EU AI Act speaks of it: what a tenant registers so that decisions
//! can be selected, and evidence exported, by system. Its fields and their rules; a
//! refusal names the field.

use serde::Serialize;
use uuid::Uuid;

/// The registered facts of a system (everything but its id and times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    pub name: String,
    /// What the system is for (Article 3(12)).
    pub intended_purpose: String,
    /// Who develops it or has it developed and places it on the market (Article 3(3)).
    pub provider: String,
    /// Who uses it under its authority (Article 3(4)).
    pub deployer: String,
    /// Whether it is high-risk (Article 6).
    pub high_risk: bool,
    /// The Annex III point it is high-risk under (`1` … `8`, optionally a letter: `5(b)`);
    /// none for a system that is not high-risk, or high-risk under Article 6(1).
    pub annex_iii_point: Option<String>,
    /// Who to ask about it (a person, a team, an address).
    pub contact: String,
    /// The agents that act for it.
    pub agents: Vec<Uuid>,
}

/// A field that breaks its rule: the field's name and what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct Invalid {
    pub field: &'static str,
    pub rule: &'static str,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        let rule = match max {
            200 => "1 to 200 characters, no control characters",
            _ => "1 to 2,000 characters, no control characters",
        };
        return Err(Invalid { field, rule });
    }
    Ok(v.to_string())
}

/// Whether `point` names a point of Annex III (Regulation (EU) 2024/1689): `1` to `8`,
/// optionally one of that point's letters (point 2 has none).
fn annex_point(point: &str) -> bool {
    // The last letter of each point's list, by point.
    const LAST: [Option<u8>; 8] = [
        Some(b'c'),
        None,
        Some(b'd'),
        Some(b'b'),
        Some(b'd'),
        Some(b'e'),
        Some(b'd'),
        Some(b'b'),
    ];
    match point.as_bytes() {
        [n @ b'1'..=b'8'] => n.is_ascii_digit(),
        [n @ b'1'..=b'8', b'(', l @ b'a'..=b'z', b')'] => {
            LAST[usize::from(n - b'1')].is_some_and(|last| *l <= last)
        }
        _ => false,
    }
}

impl Facts {
    /// The facts cleaned up (trimmed, agents without repeats) if every rule holds.
    pub fn checked(self) -> Result<Facts, Invalid> {
        let annex_iii_point = match self.annex_iii_point.as_deref().map(str::trim) {
            None => None,
            Some(p) if !annex_point(p) => {
                return Err(Invalid {
                    field: "annex_iii_point",
                    rule: "a point of Annex III: 1 to 8, optionally with its letter, as in 5(b)",
                });
            }
            Some(_) if !self.high_risk => {
                return Err(Invalid {
                    field: "annex_iii_point",
                    rule: "only a high-risk system is listed under Annex III",
                });
            }
            Some(p) => Some(p.to_string()),
        };
        let mut agents = self.agents;
        agents.sort();
        agents.dedup();
        if agents.len() > 1000 {
            return Err(Invalid {
                field: "agents",
                rule: "at most 1,000 agents",
            });
        }
        Ok(Facts {
            name: text("name", &self.name, 200)?,
            intended_purpose: text("intended_purpose", &self.intended_purpose, 2000)?,
            provider: text("provider", &self.provider, 200)?,
            deployer: text("deployer", &self.deployer, 200)?,
            high_risk: self.high_risk,
            annex_iii_point,
            contact: text("contact", &self.contact, 200)?,
            agents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            name: " Credit scoring ".into(),
            intended_purpose: "Scores consumer credit applications".into(),
            provider: "Acme AI".into(),
            deployer: "Acme Bank".into(),
            high_risk: true,
            annex_iii_point: Some("5(b)".into()),
            contact: "ai-office@acme.example".into(),
            agents: vec![Uuid::nil(), Uuid::nil()],
        }
    }

    #[test]
    fn good_facts_are_trimmed_and_agents_deduplicated() {
        let f = facts().checked().unwrap();
        assert_eq!(f.name, "Credit scoring");
        assert_eq!(f.agents, vec![Uuid::nil()]);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: Vec<(Facts, &str)> = vec![
            (
                Facts {
                    name: "  ".into(),
                    ..facts()
                },
                "name",
            ),
            (
                Facts {
                    intended_purpose: "x".repeat(2001),
                    ..facts()
                },
                "intended_purpose",
            ),
            (
                Facts {
                    provider: "a\u{7}".into(),
                    ..facts()
                },
                "provider",
            ),
            (
                Facts {
                    deployer: String::new(),
                    ..facts()
                },
                "deployer",
            ),
            (
                Facts {
                    contact: "c".repeat(201),
                    ..facts()
                },
                "contact",
            ),
            (
                Facts {
                    annex_iii_point: Some("9".into()),
                    ..facts()
                },
                "annex_iii_point",
            ),
            (
                Facts {
                    annex_iii_point: Some("2(b)".into()),
                    ..facts()
                },
                "annex_iii_point",
            ),
            (
                Facts {
                    annex_iii_point: Some("5b".into()),
                    ..facts()
                },
                "annex_iii_point",
            ),
            (
                Facts {
                    high_risk: false,
                    ..facts()
                },
                "annex_iii_point",
            ),
        ];
        for (f, field) in cases {
            assert_eq!(f.checked().unwrap_err().field, field);
        }
    }

    #[test]
    fn annex_points_follow_the_annex() {
        for ok in ["1", "8", "1(c)", "6(e)", "8(b)"] {
            assert!(annex_point(ok), "{ok}");
        }
        for bad in [
            "0", "9", "1(d)", "2(a)", "6(f)", "8(c)", "(a)", "5(B)", "5()", "55",
        ] {
            assert!(!annex_point(bad), "{bad}");
        }
        let not_high_risk = Facts {
            high_risk: false,
            annex_iii_point: None,
            ..facts()
        };
        assert!(not_high_risk.checked().is_ok());
    }
}
