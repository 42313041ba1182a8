//! The Stripe events Charter handles, and the subscription state each one leads to.
//!
//! Only the fields Charter needs are read, from the event's JSON as sent (Stripe's API
//! versions move fields: an invoice's subscription is `subscription` or
//! `parent.subscription_details.subscription`, a period end is on the subscription or on
//! its item; both are read).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::plans::Plans;
use crate::status::SubscriptionStatus;

/// The event types that move a subscription; any other is acknowledged and ignored.
pub const HANDLED: &[&str] = &[
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    // What older API versions (and localstripe) send for a paid invoice.
    "invoice.payment_succeeded",
    "invoice.payment_failed",
];

/// A Stripe event, as much of it as Charter reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    object: Value,
}

/// A tenant's billing columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingState {
    pub status: SubscriptionStatus,
    pub plan: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub past_due_since: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
}

fn id_of(v: &Value) -> Option<&str> {
    // A field is an id, or the expanded object with its id.
    v.as_str().or_else(|| v.get("id").and_then(Value::as_str))
}

impl StripeEvent {
    /// Reads an event body; the error names what is missing.
    pub fn parse(body: &[u8]) -> Result<StripeEvent, String> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 255)
                .map(str::to_string)
                .ok_or_else(|| format!("the event has no `{k}`"))
        };
        let created = v
            .get("created")
            .and_then(Value::as_i64)
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
            .ok_or("the event has no `created` time")?;
        let object = v
            .pointer("/data/object")
            .filter(|o| o.is_object())
            .cloned()
            .ok_or("the event has no `data.object`")?;
        Ok(StripeEvent {
            id: text("id")?,
            kind: text("type")?,
            created,
            object,
        })
    }

    pub fn handled(&self) -> bool {
        HANDLED.contains(&self.kind.as_str())
    }

    /// The Stripe customer the event is about.
    pub fn customer(&self) -> Option<&str> {
        self.object.get("customer").and_then(id_of)
    }

    fn str_at(&self, pointer: &str) -> Option<&str> {
        self.object.pointer(pointer).and_then(id_of)
    }

    /// The subscription the event's object is or belongs to.
    fn subscription(&self) -> Option<&str> {
        if self.kind.starts_with("customer.subscription.") {
            return self.str_at("/id");
        }
        self.str_at("/subscription")
            .or_else(|| self.str_at("/parent/subscription_details/subscription"))
    }

    /// The price a subscription sells (its first item). Invoices are not read for it: their
    /// first line may be a proration of the old price.
    fn price(&self) -> Option<&str> {
        ["/items/data/0/price", "/items/data/0/plan", "/plan"]
            .iter()
            .find_map(|p| self.str_at(p))
    }

    fn period_end(&self) -> Option<DateTime<Utc>> {
        ["/current_period_end", "/items/data/0/current_period_end"]
            .iter()
            .find_map(|p| self.object.pointer(p).and_then(Value::as_i64))
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
    }

    /// Whether the event is about the subscription on record. Without one on record no
    /// event is: a subscription is adopted only by a paid checkout or a paid subscription's
    /// own event, never by an invoice or a deletion (which could be about one an operator
    /// detached, or one Charter never sold).
    fn about_current(&self, state: &BillingState) -> bool {
        matches!((&state.subscription, self.subscription()), (Some(c), Some(t)) if c == t)
    }

    /// The state after this event (the same state when it changes nothing).
    pub fn apply(&self, state: &BillingState, plans: &Plans) -> BillingState {
        let mut next = state.clone();
        if let Some(c) = self.customer() {
            next.customer.get_or_insert_with(|| c.to_string());
        }
        // A canceled subscription never comes back: a late event about it (Stripe
        // delivers in any order, several within one second) changes nothing.
        if state.status == SubscriptionStatus::Canceled
            && state.subscription.is_some()
            && self.subscription() == state.subscription.as_deref()
        {
            return next;
        }
        let plan_of_price = self
            .price()
            .and_then(|p| plans.by_price(p))
            .map(|p| p.name.clone());
        match self.kind.as_str() {
            // Only a subscription Checkout with its subscription is Charter's kind.
            "checkout.session.completed"
                if self.str_at("/mode") == Some("subscription")
                    && self.subscription().is_some() =>
            {
                if let Some(s) = self.subscription() {
                    next.subscription = Some(s.to_string());
                }
                if let Some(plan) = self
                    .str_at("/metadata/plan")
                    .filter(|p| plans.get(p).is_some())
                {
                    next.plan = plan.to_string();
                }
                // Paid by a delayed method: the subscription's own events say when.
                if matches!(
                    self.str_at("/payment_status"),
                    Some("paid" | "no_payment_required")
                ) {
                    next.status = SubscriptionStatus::Active;
                    next.past_due_since = None;
                }
            }
            "customer.subscription.created" | "customer.subscription.updated" => {
                let stripe_status = self.str_at("/status").unwrap_or_default();
                // A new subscription replaces the one on record only once it is paid for;
                // other events about a subscription that is not the current one change
                // nothing (an old one failing or ending must not touch the new one).
                let paid = matches!(stripe_status, "active" | "trialing");
                if !self.about_current(state) && !paid {
                    return next;
                }
                if let Some(s) = self.subscription() {
                    next.subscription = Some(s.to_string());
                }
                match stripe_status {
                    "active" | "trialing" => {
                        next.status = SubscriptionStatus::Active;
                        next.past_due_since = None;
                    }
                    // `paused`: a trial ended without a payment method.
                    "past_due" | "unpaid" | "paused" => {
                        next.status = SubscriptionStatus::PastDue;
                        next.past_due_since.get_or_insert(self.created);
                    }
                    "canceled" | "incomplete_expired" => {
                        next.status = SubscriptionStatus::Canceled;
                        next.past_due_since = None;
                    }
                    // `incomplete`: the first payment is still to come.
                    _ => {}
                }
                if let Some(plan) = plan_of_price {
                    next.plan = plan;
                }
                if let Some(end) = self.period_end() {
                    next.current_period_end = Some(end);
                }
            }
            "customer.subscription.deleted" if self.about_current(state) => {
                if let Some(s) = self.subscription() {
                    next.subscription = Some(s.to_string());
                }
                next.status = SubscriptionStatus::Canceled;
                next.past_due_since = None;
            }
            // A paid invoice does not revive a canceled subscription.
            "invoice.paid" | "invoice.payment_succeeded"
                if self.about_current(state) && state.status != SubscriptionStatus::Canceled =>
            {
                if let Some(s) = self.subscription() {
                    next.subscription = Some(s.to_string());
                }
                next.status = SubscriptionStatus::Active;
                next.past_due_since = None;
            }
            "invoice.payment_failed"
                if self.about_current(state) && state.status != SubscriptionStatus::Canceled =>
            {
                next.status = SubscriptionStatus::PastDue;
                next.past_due_since.get_or_insert(self.created);
            }
            _ => {}
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, created: i64, object: Value) -> StripeEvent {
        let body = json!({"id": format!("evt_{created}"), "type": kind, "created": created,
                          "data": {"object": object}});
        StripeEvent::parse(body.to_string().as_bytes()).unwrap()
    }

    fn trialing() -> BillingState {
        BillingState {
            status: SubscriptionStatus::Trialing,
            plan: "trial".into(),
            customer: Some("cus_1".into()),
            subscription: None,
            past_due_since: None,
            current_period_end: None,
        }
    }

    fn plans() -> Plans {
        Plans::parse("team price=price_team agents=5").unwrap()
    }

    #[test]
    fn a_subscription_moves_through_its_states() {
        let p = plans();
        let sub = |status: &str| {
            json!({"id": "sub_1", "customer": "cus_1", "status": status,
                   "current_period_end": 1_900_000_000,
                   "items": {"data": [{"price": {"id": "price_team"}}]}})
        };
        let s = event("customer.subscription.created", 10, sub("active")).apply(&trialing(), &p);
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.plan, "team");
        assert_eq!(s.subscription.as_deref(), Some("sub_1"));
        assert!(s.current_period_end.is_some());
        let failed = json!({"id": "in_1", "customer": "cus_1", "subscription": "sub_1"});
        let s = event("invoice.payment_failed", 20, failed.clone()).apply(&s, &p);
        assert_eq!(s.status, SubscriptionStatus::PastDue);
        let since = s.past_due_since.unwrap();
        // A second failure keeps the first one's time (the grace counts from it).
        let s = event("invoice.payment_failed", 30, failed).apply(&s, &p);
        assert_eq!(s.past_due_since, Some(since));
        let paid = json!({"id": "in_2", "customer": "cus_1",
                          "parent": {"subscription_details": {"subscription": "sub_1"}}});
        let s = event("invoice.paid", 40, paid.clone()).apply(&s, &p);
        assert_eq!(s.status, SubscriptionStatus::Active);
        assert_eq!(s.past_due_since, None);
        let s = event("customer.subscription.deleted", 50, sub("canceled")).apply(&s, &p);
        assert_eq!(s.status, SubscriptionStatus::Canceled);
        // Late events about it do not revive it.
        assert_eq!(event("invoice.paid", 60, paid).apply(&s, &p), s);
        assert_eq!(
            event("customer.subscription.updated", 60, sub("active")).apply(&s, &p),
            s
        );
        let late = json!({"id": "cs_1", "customer": "cus_1", "subscription": "sub_1",
                          "payment_status": "paid"});
        assert_eq!(
            event("checkout.session.completed", 60, late).apply(&s, &p),
            s
        );
    }

    #[test]
    fn events_about_another_subscription_change_nothing() {
        let p = plans();
        let mut s = trialing();
        s.status = SubscriptionStatus::Active;
        s.subscription = Some("sub_new".into());
        let old = json!({"id": "sub_old", "customer": "cus_1", "status": "canceled"});
        assert_eq!(
            event("customer.subscription.deleted", 1, old.clone()).apply(&s, &p),
            s
        );
        assert_eq!(
            event("customer.subscription.updated", 1, old).apply(&s, &p),
            s
        );
        let failed = json!({"id": "in_1", "customer": "cus_1", "subscription": "sub_old"});
        assert_eq!(event("invoice.payment_failed", 1, failed).apply(&s, &p), s);
        let old_past_due = json!({"id": "sub_old", "customer": "cus_1", "status": "past_due"});
        assert_eq!(
            event("customer.subscription.updated", 1, old_past_due).apply(&s, &p),
            s
        );
    }

    #[test]
    fn without_a_subscription_on_record_only_a_paid_one_is_adopted() {
        let p = plans();
        let mut s = trialing();
        s.status = SubscriptionStatus::Unlimited;
        s.plan = "unlimited".into();
        let deleted = json!({"id": "sub_old", "customer": "cus_1", "status": "canceled"});
        assert_eq!(
            event("customer.subscription.deleted", 1, deleted).apply(&s, &p),
            s
        );
        let invoice = json!({"id": "in_1", "customer": "cus_1", "subscription": "sub_old"});
        assert_eq!(
            event("invoice.payment_failed", 1, invoice.clone()).apply(&s, &p),
            s
        );
        assert_eq!(event("invoice.paid", 1, invoice).apply(&s, &p), s);
        let paid = json!({"id": "sub_new", "customer": "cus_1", "status": "active",
                          "items": {"data": [{"price": {"id": "price_team"}}]}});
        let next = event("customer.subscription.created", 2, paid).apply(&s, &p);
        assert_eq!(next.status, SubscriptionStatus::Active);
        assert_eq!(next.subscription.as_deref(), Some("sub_new"));
    }

    #[test]
    fn checkout_completion_names_customer_subscription_and_plan() {
        let mut state = trialing();
        state.customer = None;
        let session = json!({"id": "cs_1", "customer": "cus_9", "subscription": "sub_9",
                             "mode": "subscription", "payment_status": "paid",
                             "metadata": {"plan": "team"}});
        let e = event("checkout.session.completed", 5, session);
        let s = e.apply(&state, &plans());
        assert_eq!(s.customer.as_deref(), Some("cus_9"));
        assert_eq!(s.subscription.as_deref(), Some("sub_9"));
        assert_eq!(s.plan, "team");
        assert_eq!(s.status, SubscriptionStatus::Active);
        // Not paid yet (a delayed payment method): the ids are kept, the state waits.
        let mut unpaid = e.clone();
        unpaid.object["payment_status"] = json!("unpaid");
        assert_eq!(
            unpaid.apply(&state, &plans()).status,
            SubscriptionStatus::Trialing
        );
    }

    #[test]
    fn a_body_without_what_is_needed_is_refused() {
        for (body, says) in [
            ("nope", "not JSON"),
            (r#"{"type":"x","created":1,"data":{"object":{}}}"#, "`id`"),
            (r#"{"id":"e","type":"x","data":{"object":{}}}"#, "`created`"),
            (r#"{"id":"e","type":"x","created":1}"#, "`data.object`"),
        ] {
            let e = StripeEvent::parse(body.as_bytes()).unwrap_err();
            assert!(e.contains(says), "{body}: {e}");
        }
    }
}
