//! Sign-up as the REST API and the dashboard both offer it: the form checked field by field
//! (errors name the field: `email: …`), the address and e-mail domain counted against their
//! hourly limits, the slug checked before the (slow) password hash, then the tenant created.

use charter_core::code::Code;
use charter_core::secret::Secret;
use charter_core::tenant::{Email, TenantSlug, display_name};
use chrono::{DateTime, Utc};

use crate::tenants::{CreatedTenant, NewTenant};
use crate::{Result, StoreError};

/// What someone filled in, unchecked.
pub struct SignUpForm {
    pub tenant_name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    pub email: String,
    pub password: Secret<String>,
    /// The part of the e-mail address before `@` when absent.
    pub display_name: Option<String>,
}

/// Who signs up, and how often they may.
pub struct SignUpLimits<'a> {
    pub address: &'a str,
    pub per_address_per_hour: u32,
    pub per_domain_per_hour: u32,
}

pub enum SignUp {
    Created(CreatedTenant),
    /// Too many sign-ups from this address or e-mail domain: retry after these seconds.
    Wait(u64),
}

fn field(name: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("{name}: {e}"))
}

impl crate::handles::Admin<'_> {
    pub async fn sign_up_checked(
        self,
        form: SignUpForm,
        limits: SignUpLimits<'_>,
        now: DateTime<Utc>,
    ) -> Result<SignUp> {
        let name = display_name(&form.tenant_name, 200).map_err(|e| field("tenant_name", e))?;
        let slug = match &form.slug {
            Some(s) => TenantSlug::parse(s).map_err(|e| field("slug", e))?,
            None => TenantSlug::from_name(&name),
        };
        let email = Email::parse(&form.email).map_err(|e| field("email", e))?;
        let owner_name = match &form.display_name {
            Some(n) => display_name(n, 200).map_err(|e| field("display_name", e))?,
            None => email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        let domain = email.as_str().rsplit('@').next().unwrap_or_default();
        if let Some(wait) = self
            .limits()
            .sign_up(
                limits.address,
                domain,
                limits.per_address_per_hour,
                limits.per_domain_per_hour,
            )
            .await
        {
            return Ok(SignUp::Wait(wait));
        }
        // A taken slug is known before the password is hashed (the insert checks again).
        if self
            .sessions()
            .tenant_by_slug(slug.as_str())
            .await?
            .is_some()
        {
            return Err(StoreError::Refused(
                Code::SlugTaken,
                format!("the tenant slug `{slug}` is taken"),
            ));
        }
        let hash = crate::passwords::hash(form.password).await?;
        let created = self
            .sign_up(
                NewTenant {
                    name,
                    slug,
                    owner_email: email,
                    owner_display_name: owner_name,
                    owner_password_hash: hash,
                    is_demo: false,
                },
                now,
            )
            .await?;
        Ok(SignUp::Created(created))
    }
}
