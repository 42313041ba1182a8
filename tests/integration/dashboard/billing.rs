//! An owner on a trial chooses a plan in the dashboard: the browser reaches Stripe's
//! Checkout page (past the Content-Security-Policy's `form-action`), the payment made there
//! makes the tenant active, and the Customer Portal opens the same way.

use std::time::Duration;

use charter_tests::browser::Browser;

use crate::billing::{WEBHOOK_SECRET, billing_app, sign_up, wait_for};

/// Waits until the browser's address starts with `prefix` (a Stripe page, which does not
/// resolve here: the address is what the browser was sent to).
async fn wait_for_url(b: &Browser, prefix: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let url = b.url().await;
        if url.starts_with(prefix) {
            return url;
        }
        assert!(tokio::time::Instant::now() < deadline, "still at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_owner_chooses_a_plan_through_stripe_checkout() {
    let (stripe, app) = billing_app().await;
    stripe
        .deliver_to(&app.url("/stripe/webhook"), WEBHOOK_SECRET)
        .await;
    let t = sign_up(&app).await;
    let b = Browser::start().await;
    b.window(1280, 900).await;
    super::log_in(
        &b,
        &app,
        &t.slug,
        &format!("owner@{}.example", t.slug),
        "a long enough password",
    )
    .await;
    b.follow("nav a[href='/app/billing']").await;
    assert_eq!(b.text("#status").await, "trialing");
    b.screenshot("billing-trial").await;
    b.follow("form[action='/app/billing/checkout'] button")
        .await;
    let url = wait_for_url(&b, "https://checkout.stripe.test/c/pay/").await;
    let session = url.rsplit('/').next().unwrap();
    stripe
        .post(
            &format!("/_test/checkout/sessions/{session}/complete"),
            &[("card", "4242424242424242")],
        )
        .await;
    wait_for(&app, &t.token, "active", "team").await;
    b.goto(&app.url("/app/billing")).await;
    assert!(b.text("#status").await.starts_with("active"));
    assert_eq!(b.count("#trial-banner").await, 0);
    b.screenshot("billing-active").await;
    b.follow("form[action='/app/billing/portal'] button").await;
    wait_for_url(&b, "https://billing.stripe.test/").await;
    b.quit().await;
}
