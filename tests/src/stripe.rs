//! A Stripe-compatible server for the billing tests: PyPI `localstripe` (a stateful fake of
//! Stripe's API that signs and delivers webhooks itself), started on a loopback port by
//! `tests/clients/localstripe_plus.py` (which adds Checkout Sessions, portal sessions and
//! meter events) and killed when dropped. Also signs events the way Stripe does, for the
//! tests that craft them (written here from Stripe's documented scheme, not with Charter's
//! verifier).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::Value;

/// The secret key Charter and the tests present to localstripe.
pub const SECRET_KEY: &str = "sk_test_charter";

pub struct LocalStripe {
    pub base: String,
    child: Child,
    client: reqwest::Client,
}

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

impl LocalStripe {
    /// Starts a fresh server and waits until it answers.
    pub async fn start() -> LocalStripe {
        let python = clients_dir().join(".venv-stripe/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run ./scripts/clients-setup",
            python.display()
        );
        let port = crate::free_port();
        let child = Command::new(python)
            .arg(clients_dir().join("localstripe_plus.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let s = LocalStripe {
            base: format!("http://127.0.0.1:{port}"),
            child,
            client: crate::http().build().unwrap(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let r = s
                .client
                .get(format!("{}/v1/customers", s.base))
                .bearer_auth(SECRET_KEY)
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "localstripe did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A form-encoded call to the Stripe API; panics unless it succeeds.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.try_post(path, form).await;
        assert!(status < 300, "{path}: {status} {body}");
        body
    }

    /// As Stripe's client sends an idempotent request (`Idempotency-Key`).
    pub async fn post_idempotent(&self, path: &str, key: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.send(path, Some(key), form).await;
        assert!(status < 300, "{path}: {status} {body}");
        body
    }

    pub async fn try_post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        self.send(path, None, form).await
    }

    async fn send(&self, path: &str, key: Option<&str>, form: &[(&str, &str)]) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.body(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn try_delete(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A monthly price (a localstripe plan, which Stripe's API accepts as a price).
    pub async fn price(&self, id: &str, cents: u32) {
        self.post(
            "/v1/plans",
            &[
                ("id", id),
                ("amount", &cents.to_string()),
                ("currency", "eur"),
                ("interval", "month"),
                ("product[name]", id),
            ],
        )
        .await;
    }

    /// Has localstripe deliver its events to `url`, signed with `secret`.
    pub async fn deliver_to(&self, url: &str, secret: &str) {
        let (status, body) = self
            .try_post(
                "/_config/webhooks/charter",
                &[("url", url), ("secret", secret)],
            )
            .await;
        assert!(status < 300, "{status} {body}");
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `Stripe-Signature` header for `body` at `t`, as Stripe makes it: `t=…,v1=` and the
/// hex HMAC-SHA256 of `"{t}.{body}"` keyed with the secret's text.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// An event body as Stripe sends it.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    serde_json::json!({
        "id": id, "object": "event", "type": kind, "created": created,
        "api_version": "2025-09-30.clover", "livemode": false,
        "data": {"object": object},
    })
    .to_string()
}
