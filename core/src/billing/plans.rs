//! Plans are configuration: a name, the Stripe price a Checkout Session sells, and limits
//! (agents; decisions per calendar month, UTC), optionally metered (decisions reported to
//! Stripe as meter events under an event name).
//!
//! The setting `billing_plans` lists them, `;` between plans, each a name followed by
//! `key=value` words:
//!
//! ```text
//! team price=price_1Q… agents=25 decisions=100000; scale price=price_2R… agents=200 meter=charter_decisions
//! ```
//!
//! A limit left out is unlimited. Two plans always exist: `trial` (during the trial:
//! 10 agents and 10,000 decisions a month unless the setting defines `trial`) and
//! `unlimited` (no limits; for self-hosting and invoiced customers; it cannot be redefined).

/// One plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    /// The Stripe price a Checkout Session for this plan sells.
    pub price: Option<String>,
    pub agents: Option<u64>,
    /// Decisions per calendar month (UTC).
    pub decisions: Option<u64>,
    /// The Stripe meter event name decisions are reported under.
    pub meter: Option<String>,
}

/// The configured plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans(Vec<Plan>);

pub const TRIAL: &str = "trial";
pub const UNLIMITED: &str = "unlimited";

impl Default for Plans {
    fn default() -> Plans {
        Plans(vec![default_trial(), unlimited()])
    }
}

fn default_trial() -> Plan {
    Plan {
        name: TRIAL.into(),
        price: None,
        agents: Some(10),
        decisions: Some(10_000),
        meter: None,
    }
}

fn unlimited() -> Plan {
    Plan {
        name: UNLIMITED.into(),
        price: None,
        agents: None,
        decisions: None,
        meter: None,
    }
}

/// A plan name: what the database accepts.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Plans {
    /// Parses the `billing_plans` setting; the error says which plan and word is wrong.
    pub fn parse(text: &str) -> Result<Plans, String> {
        let mut plans: Vec<Plan> = Vec::new();
        for spec in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut words = spec.split_whitespace();
            let name = words.next().unwrap_or_default();
            if !valid_name(name) {
                return Err(format!(
                    "plan name `{name}`: lower-case letters, digits, - and _"
                ));
            }
            if name == UNLIMITED {
                return Err("the plan `unlimited` is built in and cannot be redefined".into());
            }
            if plans.iter().any(|p| p.name == name) {
                return Err(format!("plan `{name}` is listed twice"));
            }
            let mut plan = Plan {
                name: name.into(),
                price: None,
                agents: None,
                decisions: None,
                meter: None,
            };
            for word in words {
                let (key, value) = word
                    .split_once('=')
                    .filter(|(_, v)| !v.is_empty())
                    .ok_or_else(|| format!("plan `{name}`: `{word}` is not key=value"))?;
                let count = || {
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("plan `{name}`: {key} must be a whole number"))
                };
                match key {
                    "price" => plan.price = Some(value.into()),
                    "agents" => plan.agents = Some(count()?),
                    "decisions" => plan.decisions = Some(count()?),
                    "meter" => plan.meter = Some(value.into()),
                    _ => {
                        return Err(format!(
                            "plan `{name}`: unknown `{key}` (price, agents, decisions, meter)"
                        ));
                    }
                }
            }
            if let Some(price) = &plan.price
                && let Some(other) = plans.iter().find(|p| p.price.as_ref() == Some(price))
            {
                return Err(format!(
                    "plans `{}` and `{name}` sell the same price `{price}`",
                    other.name
                ));
            }
            plans.push(plan);
        }
        if !plans.iter().any(|p| p.name == TRIAL) {
            plans.push(default_trial());
        }
        plans.push(unlimited());
        Ok(Plans(plans))
    }

    pub fn get(&self, name: &str) -> Option<&Plan> {
        self.0.iter().find(|p| p.name == name)
    }

    /// The plan a Stripe price belongs to.
    pub fn by_price(&self, price: &str) -> Option<&Plan> {
        self.0.iter().find(|p| p.price.as_deref() == Some(price))
    }

    pub fn all(&self) -> &[Plan] {
        &self.0
    }

    /// Plans whose decisions are reported to Stripe.
    pub fn metered(&self) -> impl Iterator<Item = &Plan> {
        self.0.iter().filter(|p| p.meter.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plans_and_keeps_the_built_in_ones() {
        let p = Plans::parse(
            "team price=price_t agents=25 decisions=100000; scale price=price_s meter=charter_decisions",
        )
        .unwrap();
        let team = p.get("team").unwrap();
        assert_eq!(team.agents, Some(25));
        assert_eq!(team.decisions, Some(100_000));
        assert_eq!(p.by_price("price_s").unwrap().name, "scale");
        assert_eq!(p.get("scale").unwrap().decisions, None);
        assert_eq!(p.get(TRIAL).unwrap().agents, Some(10));
        assert_eq!(p.get(UNLIMITED).unwrap().agents, None);
        assert_eq!(p.metered().count(), 1);
        let custom = Plans::parse("trial agents=2 decisions=5").unwrap();
        assert_eq!(custom.get(TRIAL).unwrap().agents, Some(2));
        assert_eq!(Plans::parse("").unwrap(), Plans::default());
    }

    #[test]
    fn names_what_is_wrong() {
        for (text, says) in [
            ("Team price=x", "plan name `Team`"),
            ("team agents=ten", "agents must be a whole number"),
            ("team colour=red", "unknown `colour`"),
            ("team price", "`price` is not key=value"),
            ("team; team", "listed twice"),
            ("unlimited agents=1", "cannot be redefined"),
            ("a price=p1; b price=p1", "sell the same price"),
        ] {
            let e = Plans::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
