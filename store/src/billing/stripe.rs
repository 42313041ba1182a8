//! The calls Charter makes to Stripe, through Stripe's Rust client: a customer (when
//! checkout first starts, never at sign-up), a Checkout Session, a Customer Portal session,
//! meter events. Each call has a timeout; any failure is `unavailable` (503) with a
//! message that names Stripe, and nothing else in Charter waits on Stripe.

use std::collections::HashMap;
use std::time::Duration;

use charter_core::code::Code;
use charter_core::config::StripeConfig;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{CreateCheckoutSession, CreateCheckoutSessionLineItems};
use stripe_core::customer::CreateCustomer;
use uuid::Uuid;

use crate::{Result, StoreError};

/// A configured Stripe client.
#[derive(Clone)]
pub struct StripeApi {
    client: Client,
    timeout: Duration,
}

/// What a Checkout Session is for.
pub struct CheckoutRequest<'a> {
    pub tenant: Uuid,
    pub customer: &'a str,
    pub plan: &'a str,
    pub price: &'a str,
    pub success_url: String,
    pub cancel_url: String,
}

impl StripeApi {
    pub fn new(config: &StripeConfig) -> Result<StripeApi> {
        let client = ClientBuilder::new(config.secret_key.expose().as_str())
            .url(format!("{}/", config.api_base))
            .build()
            .map_err(|e| StoreError::Internal(format!("the Stripe client: {e}")))?;
        Ok(StripeApi {
            client,
            timeout: config.timeout,
        })
    }

    async fn call<T>(
        &self,
        what: &str,
        f: impl Future<Output = std::result::Result<T, stripe::StripeError>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            // Said to the caller as it is (a 503 naming Stripe), not as a generic outage.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Stripe refused or failed: {what}");
                Err(StoreError::Refused(
                    Code::Unavailable,
                    format!("Stripe could not {what}; nothing was changed, try again shortly"),
                ))
            }
            Err(_) => {
                tracing::warn!("Stripe did not answer in {:?}: {what}", self.timeout);
                Err(StoreError::Refused(
                    Code::Unavailable,
                    format!(
                        "Stripe did not answer in time to {what}; nothing was changed, try again shortly"
                    ),
                ))
            }
        }
    }

    /// A customer for the tenant. The idempotency key (tenant and owner) makes a retry
    /// after a timeout whose request did reach Stripe return the same customer.
    pub async fn create_customer(
        &self,
        tenant: Uuid,
        owner: Uuid,
        name: &str,
        email: &str,
    ) -> Result<String> {
        let metadata = HashMap::from([("tenant_id".to_string(), tenant.to_string())]);
        let create = CreateCustomer::new()
            .name(name)
            .email(email)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(
                IdempotencyKey::new(format!("charter-customer-{tenant}-{owner}"))
                    .map_err(|_| StoreError::Internal("idempotency key".into()))?,
            ));
        let customer = self
            .call("create the customer", create.send(&self.client))
            .await?;
        Ok(customer.id.to_string())
    }

    /// A Checkout Session selling the plan's price; returns its URL.
    pub async fn checkout(&self, r: CheckoutRequest<'_>) -> Result<String> {
        let metadata = HashMap::from([
            ("tenant_id".to_string(), r.tenant.to_string()),
            ("plan".to_string(), r.plan.to_string()),
        ]);
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(r.price.to_string());
        item.quantity = Some(1);
        let create = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(r.customer)
            .client_reference_id(r.tenant.to_string())
            .line_items(vec![item])
            .metadata(metadata)
            .success_url(r.success_url)
            .cancel_url(r.cancel_url);
        let session = self
            .call("start a Checkout Session", create.send(&self.client))
            .await?;
        session.url.ok_or_else(|| {
            StoreError::Unavailable("Stripe returned a Checkout Session without a URL".into())
        })
    }

    /// A Customer Portal session; returns its URL.
    pub async fn portal(&self, customer: &str, return_url: String) -> Result<String> {
        let create = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url);
        let session = self
            .call("open the Customer Portal", create.send(&self.client))
            .await?;
        Ok(session.url)
    }

    /// Reports `value` decisions under `event_name`. `identifier` is unique per report, so
    /// Stripe counts a repeated report once.
    pub async fn meter_event(
        &self,
        event_name: &str,
        customer: &str,
        value: i64,
        identifier: &str,
    ) -> Result<()> {
        let payload = HashMap::from([
            ("stripe_customer_id".to_string(), customer.to_string()),
            ("value".to_string(), value.to_string()),
        ]);
        // The identifier is also the idempotency key: a resend after a lost answer gets
        // the first answer back instead of a duplicate-identifier error.
        let key = IdempotencyKey::new(identifier)
            .map_err(|_| StoreError::Internal("idempotency key".into()))?;
        let create = CreateBillingMeterEvent::new(event_name, payload)
            .identifier(identifier)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key));
        self.call("record usage", create.send(&self.client)).await?;
        Ok(())
    }
}
