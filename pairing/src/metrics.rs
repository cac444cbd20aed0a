//! Prometheus metrics and the HTTP server for `/metrics` and `/health`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The job's metrics (names start with `sluice_pairing_`).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Input records read.
    pub records_in: Counter,
    /// Records whose window had closed.
    pub records_late_dropped: Counter,
    /// Records that are not camera messages.
    pub records_invalid: Counter,
    /// Blank frames.
    pub records_blank: Counter,
    /// Sightings found (sighting records written, in compatible mode every update).
    pub sightings: Counter,
    /// Pair-state records written.
    pub pair_records: Counter,
    /// Complete pairs now (the sum over images of count / 2).
    pub pairs: Gauge,
    /// Times the wall clock moved a caught-up partition's stream time to decide sightings.
    pub wall_clock_advances: Counter,
    /// Consumer lag by input partition.
    pub consumer_lag: Family<Vec<(String, String)>, Gauge>,
    /// Transactions by result (`committed`, `aborted`).
    pub transactions: Family<Vec<(String, String)>, Counter>,
    /// Input partitions owned by this instance.
    pub assigned_partitions: Gauge,
    /// Set once the job has started consuming.
    pub running: AtomicBool,
    /// When the processing loop last went round (ms since the epoch).
    pub last_loop_ms: AtomicI64,
}

impl Metrics {
    /// Records that the processing loop is alive.
    pub fn tick(&self) {
        self.last_loop_ms.store(now_ms(), Ordering::Relaxed);
    }

    fn registry(self: &Arc<Self>) -> Registry {
        let mut registry = Registry::with_prefix("sluice_pairing");
        registry.register("records_in", "Input records read", self.records_in.clone());
        registry.register(
            "records_late_dropped",
            "Input records dropped because their window had closed (beyond grace)",
            self.records_late_dropped.clone(),
        );
        registry.register(
            "records_invalid",
            "Input records that are not camera messages (skipped)",
            self.records_invalid.clone(),
        );
        registry.register("records_blank", "Blank frames", self.records_blank.clone());
        registry.register(
            "sightings",
            "Sighting records written",
            self.sightings.clone(),
        );
        registry.register(
            "pair_records",
            "Pair-state records written",
            self.pair_records.clone(),
        );
        registry.register(
            "pairs",
            "Complete pairs now (sum over images of sightings / 2)",
            self.pairs.clone(),
        );
        registry.register(
            "wall_clock_advances",
            "Times a caught-up partition's stream time moved with the wall clock to decide sightings",
            self.wall_clock_advances.clone(),
        );
        registry.register(
            "consumer_lag",
            "Records in the input partition not yet processed",
            self.consumer_lag.clone(),
        );
        registry.register(
            "transactions",
            "Transactions by result",
            self.transactions.clone(),
        );
        registry.register(
            "assigned_partitions",
            "Input partitions owned by this instance",
            self.assigned_partitions.clone(),
        );
        registry
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How long the loop may stay silent before `/health` says DOWN.
const STALL_MS: i64 = 30_000;

struct HttpState {
    metrics: Arc<Metrics>,
    registry: Registry,
}

/// The router serving `GET /metrics` (Prometheus text) and `GET /health`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    let registry = metrics.registry();
    let state = Arc::new(HttpState { metrics, registry });
    Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/health", get(serve_health))
        .with_state(state)
}

async fn serve_metrics(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    let mut body = String::new();
    if encode(&mut body, &state.registry).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, String::new()).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn serve_health(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    let metrics = &state.metrics;
    let running = metrics.running.load(Ordering::Relaxed);
    let silent_ms = now_ms() - metrics.last_loop_ms.load(Ordering::Relaxed);
    let up = running && silent_ms < STALL_MS;
    let body = serde_json::json!({
        "status": if up { "UP" } else { "DOWN" },
        "assigned_partitions": metrics.assigned_partitions.get(),
        "last_loop_ms_ago": silent_ms,
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}
