//! Validated names at the edge: tenant slugs, principal roles, e-mail addresses; and who
//! acts for a tenant's people ([`Acting`]).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error(
        "a tenant slug is 3 to 40 characters of a-z, 0-9 and '-', starting and ending with a \
         letter or digit"
    )]
    Slug,
    #[error("unknown role `{0}`; roles are owner, admin, approver, compliance_officer, viewer")]
    Role(String),
    #[error("`{0}` is not an e-mail address")]
    Email(String),
    #[error("a name is 1 to {max} characters without control characters")]
    Name { max: usize },
}

/// A tenant's URL-safe identifier, as it appears in `/t/{slug}/…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

/// Slugs that would collide with routes or confuse readers.
const RESERVED_SLUGS: &[&str] = &[
    "api", "admin", "www", "static", "assets", "healthz", "readyz",
];

impl TenantSlug {
    pub fn parse(text: &str) -> Result<TenantSlug, NameError> {
        let ok_len = (3..=40).contains(&text.len());
        let ok_chars = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_ends = !text.starts_with('-') && !text.ends_with('-') && !text.contains("--");
        if ok_len && ok_chars && ok_ends && !RESERVED_SLUGS.contains(&text) {
            Ok(TenantSlug(text.to_string()))
        } else {
            Err(NameError::Slug)
        }
    }

    /// A slug derived from a display name ("Acme Corp." → "acme-corp"), padded when short.
    pub fn from_name(name: &str) -> TenantSlug {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= 32 {
                break;
            }
        }
        let mut slug = slug.trim_matches('-').to_string();
        while slug.len() < 3 {
            slug.push_str("-t");
            slug = slug.trim_start_matches('-').to_string();
        }
        match TenantSlug::parse(&slug) {
            Ok(s) => s,
            Err(_) => TenantSlug(format!("t-{slug}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a principal may do; a principal may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Owner,
    Admin,
    Approver,
    ComplianceOfficer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Approver,
        Role::ComplianceOfficer,
        Role::Viewer,
    ];

    /// Whether holding `self` includes every right `other` gives: an owner's covers all,
    /// an admin's all but the owner's, and every role covers a viewer's.
    pub fn covers(self, other: Role) -> bool {
        self == other
            || self == Role::Owner
            || (self == Role::Admin && other != Role::Owner)
            || other == Role::Viewer
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Viewer => "viewer",
        }
    }
}

impl FromStr for Role {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Role, NameError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| NameError::Role(s.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lower-cased e-mail address with one `@`, a dotted domain and no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Email, NameError> {
        let lower = text.trim().to_lowercase();
        let valid = lower.len() <= 254
            && lower.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !lower.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Email(lower))
        } else {
            Err(NameError::Email(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: trimmed, 1..=max characters, no control characters.
pub fn display_name(text: &str, max: usize) -> Result<String, NameError> {
    let t = text.trim();
    let n = t.chars().count();
    if n == 0 || n > max || t.chars().any(char::is_control) {
        return Err(NameError::Name { max });
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "acme-corp", "a1b", "demo"] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "-acme",
            "acme-",
            "Acme",
            "ac me",
            "a--b",
            "api",
            &"a".repeat(41),
        ] {
            assert_eq!(TenantSlug::parse(bad), Err(NameError::Slug), "{bad}");
        }
        assert_eq!(TenantSlug::from_name("Acme Corp.").as_str(), "acme-corp");
        assert!(TenantSlug::parse(TenantSlug::from_name("X").as_str()).is_ok());
        assert!(TenantSlug::parse(TenantSlug::from_name("API").as_str()).is_ok());
    }

    #[test]
    fn roles_cover_lesser_ones() {
        assert!(Role::Owner.covers(Role::Admin) && Role::Admin.covers(Role::Approver));
        assert!(
            Role::Approver.covers(Role::Viewer) && Role::ComplianceOfficer.covers(Role::Viewer)
        );
        assert!(
            !Role::Admin.covers(Role::Owner) && !Role::Approver.covers(Role::ComplianceOfficer)
        );
        assert!(!Role::Viewer.covers(Role::Approver));
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "", "ann", "ann@", "@x.y", "a@b", "a b@c.d", "a@@b.c", "a@b.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}

/// A person acting: directly (a login session: their own roles, as they are now), or
/// through one of their tenant API tokens (the token's roles, and only those the person
/// still holds). Every permission check and every ledger record of a person's change
/// starts from this, never from the person alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub principal: uuid::Uuid,
    /// The API token acted through, with the roles it was given.
    pub token: Option<(uuid::Uuid, Vec<Role>)>,
}

impl Acting {
    /// A person acting directly.
    pub fn person(principal: uuid::Uuid) -> Acting {
        Acting {
            principal,
            token: None,
        }
    }

    /// A person acting through their API token `id`, which was given `roles`.
    pub fn token(principal: uuid::Uuid, id: uuid::Uuid, roles: Vec<Role>) -> Acting {
        Acting {
            principal,
            token: Some((id, roles)),
        }
    }

    /// The roles this caller acts with, given the roles the person holds now.
    pub fn effective(&self, held: &[Role]) -> Vec<Role> {
        match &self.token {
            None => held.to_vec(),
            Some((_, roles)) => roles
                .iter()
                .copied()
                .filter(|r| held.iter().any(|h| h.covers(*r)))
                .collect(),
        }
    }

    /// Who the ledger names as having acted.
    pub fn actor(&self) -> crate::ledger::Actor {
        match &self.token {
            None => crate::ledger::Actor::principal(self.principal),
            Some((id, _)) => crate::ledger::Actor::api_token(*id, self.principal),
        }
    }
}

impl From<uuid::Uuid> for Acting {
    /// A person acting directly (for operators' tools and tests; the REST API passes the
    /// caller's [`Acting`] as authenticated, token included).
    fn from(principal: uuid::Uuid) -> Acting {
        Acting::person(principal)
    }
}

#[cfg(test)]
mod acting_tests {
    use super::*;

    #[test]
    fn a_token_acts_with_its_roles_cut_to_its_creators() {
        let (p, t) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let admin_token = Acting::token(p, t, vec![Role::Admin]);
        // Its creator an owner: still only admin.
        assert_eq!(admin_token.effective(&[Role::Owner]), vec![Role::Admin]);
        // Its creator demoted to viewer: nothing an admin may do.
        assert_eq!(admin_token.effective(&[Role::Viewer]), vec![]);
        assert_eq!(
            Acting::person(p).effective(&[Role::Owner]),
            vec![Role::Owner]
        );
        let a = admin_token.actor();
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"type": "api_token", "id": t.to_string(), "on_behalf_of": p.to_string()})
        );
        assert_eq!(
            serde_json::to_value(Acting::person(p).actor()).unwrap(),
            serde_json::json!({"type": "principal", "id": p.to_string()})
        );
    }
}
