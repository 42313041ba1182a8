//! The permission matrix: what each role may do, through the REST API and the dashboard
//! alike. Every REST handler names one of these in its signature (`Authorized<ManageAgents>`)
//! and every dashboard page and form its own (`Page<Decide>`), so neither can forget to check
//! and both check the same thing. `docs/permissions.md` writes the matrix down per route, and
//! the test suite checks the server against that document.

use crate::tenant::Role::{self, Admin, Approver, ComplianceOfficer, Owner, Viewer};

pub trait Permission: 'static {
    /// The name used in the OpenAPI document's security requirements and in the docs.
    const NAME: &'static str;
    /// Roles that hold it (any one suffices).
    const ROLES: &'static [Role];

    /// Whether someone acting with `roles` holds it.
    fn held_by(roles: &[Role]) -> bool {
        roles.iter().any(|r| Self::ROLES.contains(r))
    }

    /// Why someone without it is refused (the REST API's and the dashboard's 403).
    fn refusal() -> String {
        let roles: Vec<&str> = Self::ROLES.iter().map(|r| r.as_str()).collect();
        format!(
            "this needs the `{}` permission (roles: {})",
            Self::NAME,
            roles.join(", ")
        )
    }
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $ty:ident = $name:literal: [$($role:ident),*];)*) => {
        $(
            $(#[$doc])*
            pub struct $ty;
            impl Permission for $ty {
                const NAME: &'static str = $name;
                const ROLES: &'static [Role] = &[$($role),*];
            }
        )*
        /// Every permission with its roles, for the documentation test.
        pub const ALL: &[(&str, &[Role])] = &[$(($name, &[$($role),*])),*];
    };
}

permissions! {
    /// Read anything of the tenant: people, agents, scopes, policies, work, ledger.
    Read = "read": [Owner, Admin, Approver, ComplianceOfficer, Viewer];
    /// Add, change and remove people; issue and revoke tenant API tokens.
    ManagePeople = "manage_people": [Owner, Admin];
    /// Create, suspend and delete agents; issue and revoke their API keys.
    ManageAgents = "manage_agents": [Owner, Admin];
    /// Change scopes, policies, limits, templates, gate bindings, approval rules, breaker
    /// settings; decide agents' scope-change requests.
    ManagePolicies = "manage_policies": [Owner, Admin];
    /// Start initiatives, register artifacts, submit evidence, promote past gates.
    ManageWork = "manage_work": [Owner, Admin];
    /// Ask "would this be allowed?" of the engine.
    Simulate = "simulate": [Owner, Admin, Approver, ComplianceOfficer];
    /// Approve or reject reviews and action approvals; reset breakers.
    Decide = "decide": [Owner, Admin, Approver];
    /// Acknowledge and resolve violations.
    HandleViolations = "handle_violations": [Owner, Admin, ComplianceOfficer];
    /// See the worker's jobs and their last runs.
    Operate = "operate": [Owner, Admin];
    /// Add, change, test and remove webhook endpoints; see their deliveries.
    ManageWebhooks = "manage_webhooks": [Owner, Admin];
    /// Register and change AI systems.
    ManageAiSystems = "manage_ai_systems": [Owner, Admin];
    /// Make and download Article 12 evidence bundles.
    Export = "export": [Owner, Admin, ComplianceOfficer];
    /// Set the retention of record bodies; place and release legal holds.
    ManageRetention = "manage_retention": [Owner, Admin];
    /// Start a Stripe checkout, open the Stripe Customer Portal.
    ManageBilling = "manage_billing": [Owner];
}
