//! Prometheus metrics (text exposition format at `/metrics`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::error::ApiError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The matched route pattern (`/t/{slug}/mcp`), never the raw path, so ids do not
    /// explode the label space.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    dependency_up: Family<DependencyLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("charter");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let dependency_up = Family::<DependencyLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests handled, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route and status",
            durations.clone(),
        );
        registry.register(
            "dependency_up",
            "1 when the dependency answered the last readiness check",
            dependency_up.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The running Charter version", build);
        Metrics {
            registry,
            requests,
            durations,
            dependency_up,
        }
    }

    pub fn set_ready(&self, postgres: bool, redis: bool) {
        for (dependency, up) in [("postgres", postgres), ("redis", redis)] {
            self.dependency_up
                .get_or_create(&DependencyLabels { dependency })
                .set(i64::from(up));
        }
    }

    fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.durations.get_or_create(&labels).observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Middleware: counts and times every request.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        state.metrics().observe(
            RequestLabels {
                method,
                route,
                status: res.status().as_u16(),
            },
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobNameLabels {
    job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    rule: String,
    severity: String,
}

/// The worker's figures, read from the database at each scrape: workers may run in other
/// processes (or several), and the database holds what all of them did.
async fn worker_registry(state: &AppState) -> Result<Registry, charter_store::StoreError> {
    let worker = state.store().worker();
    let mut registry = Registry::with_prefix("charter");
    let runs = Family::<JobLabels, Counter>::default();
    let durations = Family::<JobNameLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for j in worker.job_runs().await? {
        let failed = j.failures.max(0) as u64;
        let ok = (j.runs.max(0) as u64).saturating_sub(failed);
        for (outcome, n) in [("ok", ok), ("failed", failed)] {
            runs.get_or_create(&JobLabels {
                job: j.job.clone(),
                outcome,
            })
            .inc_by(n);
        }
        durations
            .get_or_create(&JobNameLabels { job: j.job })
            .set(j.duration_ms as f64 / 1000.0);
    }
    let findings = Family::<FindingLabels, Counter>::default();
    for (rule, severity, n) in worker.findings_by_rule().await? {
        findings
            .get_or_create(&FindingLabels { rule, severity })
            .inc_by(n.max(0) as u64);
    }
    registry.register("job_runs", "Worker job runs, by job and outcome", runs);
    registry.register(
        "job_duration_seconds",
        "How long each job's last run took",
        durations,
    );
    registry.register(
        "scanner_findings",
        "Violations the forensic scanner found, by rule and severity",
        findings,
    );
    Ok(registry)
}

pub async fn render(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut text = state
        .metrics()
        .encode()
        .map_err(|e| ApiError::internal(&e))?;
    // Without the database the process's own figures are still served.
    match worker_registry(&state).await {
        Ok(registry) => {
            let mut more = String::new();
            encode(&mut more, &registry).map_err(|e| ApiError::internal(&e))?;
            if let Some(body) = text.strip_suffix("# EOF\n") {
                text = format!("{body}{more}");
            }
        }
        Err(e) => tracing::debug!(error = %e, "worker metrics unavailable"),
    }
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}
