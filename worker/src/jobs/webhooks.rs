//! Sends webhook notifications: fans new events out of the outbox, then sends each due
//! delivery with Standard Webhooks headers, records the attempt, and leaves retries and
//! dead letters to the store's schedule.
//!
//! Outbound requests are guarded as the target rules say (`charter_core::webhook::target`):
//! in production the URL is checked again at sending time and every address a host name
//! resolves to is checked at connection time, so neither an old row nor a re-pointed name
//! reaches the operator's network. No proxies, no redirects, a timeout, and at most
//! [`MAX_RESPONSE`] bytes of an answer are read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use charter_core::webhook::signature;
use charter_core::webhook::target::{Targets, check_url, ip_allowed};
use charter_store::webhooks::deliveries::{AfterAttempt, AttemptResult, Claimed};
use charter_store::{Store, StoreError};
use futures::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use uuid::Uuid;

use crate::JobResult;

/// Deliveries claimed at a time per tenant, and sent at once.
const CLAIM: u32 = 32;
const PARALLEL: usize = 16;
/// Bytes of a receiver's answer read at most (the rest is dropped).
pub const MAX_RESPONSE: usize = 64 * 1024;
/// How long one run keeps sending before it lets the scheduler run it again.
const RUN_BUDGET: Duration = Duration::from_secs(20);

/// The HTTP side: one client, its limits and the target rules.
pub struct Sender {
    client: reqwest::Client,
    targets: Targets,
    timeout: Duration,
}

impl Sender {
    pub fn new(targets: Targets, timeout: Duration) -> Result<Sender, reqwest::Error> {
        install_tls_provider();
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("Charter-Webhooks/", env!("CARGO_PKG_VERSION")));
        if targets == Targets::Public {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Sender {
            client: b.build()?,
            targets,
            timeout,
        })
    }

    /// How long a claimed attempt may take before its delivery is due again.
    pub fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }

    /// Makes one attempt.
    pub async fn send(&self, c: &Claimed) -> AttemptResult {
        if let Err(e) = check_url(&c.url, self.targets) {
            return AttemptResult::Failed(format!("url: {e}"));
        }
        let id = c.message_id();
        let ts = chrono::Utc::now().timestamp();
        let sig = signature::sign(&c.secret, &id, ts, &c.body);
        let sent = self
            .client
            .post(&c.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(c.body.clone())
            .send()
            .await;
        match sent {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // Read (and drop) a bounded part of the answer, so the connection can be
                // reused without a large answer costing memory.
                let mut read = 0;
                while read < MAX_RESPONSE {
                    match resp.chunk().await {
                        Ok(Some(b)) => read += b.len(),
                        _ => break,
                    }
                }
                AttemptResult::Answered(status)
            }
            Err(e) => AttemptResult::Failed(describe(&e)),
        }
    }
}

/// rustls's ring provider for every HTTP client of the process (reqwest is built without
/// a default one, to stay off aws-lc's C build). Installing twice is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut s = what.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Resolves a host name and keeps only public addresses (production).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let public = resolve_public(&host).await?;
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The public addresses `host` resolves to; an error if it resolves to none.
pub async fn resolve_public(host: &str) -> Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let public: Vec<SocketAddr> = all.into_iter().filter(|a| ip_allowed(a.ip())).collect();
    if public.is_empty() {
        return Err(format!(
            "{host} resolves only to local, private or reserved addresses"
        ));
    }
    Ok(public)
}

/// A uniform random number in [0, 1), for retry jitter.
fn jitter() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub dispatched: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.dispatched += o.dispatched;
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.dead += o.dead;
    }
}

/// The job: every tenant with webhook work, until it has none or the run's time is up.
pub async fn run(store: Store, sender: Arc<Sender>) -> JobResult {
    let started = Instant::now();
    let mut t = Tally::default();
    for tenant in store.worker().webhook_tenants().await? {
        t.add(run_tenant(&store, &sender, tenant, started + RUN_BUDGET).await?);
    }
    if t == Tally::default() {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} events dispatched, {} delivered, {} to retry, {} dead-lettered",
        t.dispatched, t.delivered, t.retrying, t.dead
    )))
}

/// One tenant's webhook work: fan out its new events, then send what is due, until
/// nothing is or `until` has passed.
pub async fn run_tenant(
    store: &Store,
    sender: &Arc<Sender>,
    tenant: Uuid,
    until: Instant,
) -> Result<Tally, StoreError> {
    let mut t = Tally::default();
    loop {
        let n = store.worker().dispatch_notifications(tenant).await?;
        t.dispatched += n;
        if n == 0 || Instant::now() > until {
            break;
        }
    }
    while Instant::now() < until {
        let claimed = store
            .worker()
            .claim_deliveries(tenant, CLAIM, sender.lease())
            .await?;
        let count = claimed.len();
        let results: Vec<_> = futures::stream::iter(claimed)
            .map(|c| async move {
                let result = sender.send(&c).await;
                store.worker().finish_attempt(&c, &result, jitter()).await
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for r in results {
            match r? {
                AfterAttempt::Delivered => t.delivered += 1,
                AfterAttempt::RetryAt(_) => t.retrying += 1,
                AfterAttempt::Dead => t.dead += 1,
                AfterAttempt::Superseded => {}
            }
        }
        if count < CLAIM as usize {
            break;
        }
    }
    Ok(t)
}

/// Queues `trial.ending` for trials that end within three days.
pub async fn trials_ending(store: Store) -> JobResult {
    let n = store
        .worker()
        .announce_ending_trials(Duration::from_secs(3 * 86_400))
        .await?;
    Ok((n > 0).then(|| format!("{n} trial-ending notices queued")))
}
