//! The REST API, compatible with Kafka Connect's (reference §1): JSON in and out, every error as
//! `{"error_code": <status>, "message": "..."}`.

mod connectors;
mod entities;
mod plugins;
mod security;
pub mod server;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::herder::{Herder, HerderError};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The herder carrying out requests.
    pub herder: Herder,
    /// `kafka_cluster_id` for `GET /`.
    pub cluster_id: Arc<Option<String>>,
}

/// An error answer: status and message, rendered as Connect's error body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> Self {
        let status = match &e {
            HerderError::NotFound(_) => StatusCode::NOT_FOUND,
            HerderError::Conflict(_) => StatusCode::CONFLICT,
            HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.status.as_u16(), "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON request body, answering 400 with a clear message when it is not valid.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "Request body is empty; expected JSON",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Cannot deserialize the request body: {e}")))
}

/// One public endpoint: method and path (axum syntax, `{name}` for path parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method in upper case.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
}

const fn route(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec { method, path }
}

/// Every public endpoint the router serves. The OpenAPI document describes exactly these, and
/// tests check both directions.
pub const ROUTES: &[RouteSpec] = &[
    route("GET", "/"),
    route("GET", "/health"),
    route("GET", "/metrics"),
    route("GET", "/openapi.json"),
    route("GET", "/connectors"),
    route("POST", "/connectors"),
    route("GET", "/connectors/{name}"),
    route("DELETE", "/connectors/{name}"),
    route("GET", "/connectors/{name}/config"),
    route("PUT", "/connectors/{name}/config"),
    route("PATCH", "/connectors/{name}/config"),
    route("GET", "/connectors/{name}/status"),
    route("GET", "/connectors/{name}/tasks"),
    route("GET", "/connectors/{name}/tasks-config"),
    route("GET", "/connectors/{name}/tasks/{task}/status"),
    route("POST", "/connectors/{name}/tasks/{task}/restart"),
    route("POST", "/connectors/{name}/restart"),
    route("PUT", "/connectors/{name}/pause"),
    route("PUT", "/connectors/{name}/resume"),
    route("PUT", "/connectors/{name}/stop"),
    route("GET", "/connectors/{name}/topics"),
    route("PUT", "/connectors/{name}/topics/reset"),
    route("GET", "/connectors/{name}/offsets"),
    route("PATCH", "/connectors/{name}/offsets"),
    route("DELETE", "/connectors/{name}/offsets"),
    route("GET", "/connector-plugins"),
    route("GET", "/connector-plugins/{plugin}/config"),
    route("PUT", "/connector-plugins/{plugin}/config/validate"),
    route("GET", "/admin/loggers"),
    route("GET", "/admin/loggers/{logger}"),
    route("PUT", "/admin/loggers/{logger}"),
];

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::info).delete(connectors::delete),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route("/connectors/{name}/status", get(connectors::status))
        .route("/connectors/{name}/tasks", get(connectors::tasks))
        .route(
            "/connectors/{name}/tasks-config",
            get(connectors::tasks_config),
        )
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(connectors::task_status),
        )
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(connectors::restart_task),
        )
        .route("/connectors/{name}/restart", post(connectors::restart))
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route("/connector-plugins", get(plugins::list))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("HTTP 404 Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

async fn server_info(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": state.cluster_id.as_ref().clone(),
    }))
}

async fn health(State(state): State<AppState>) -> Response {
    if state.herder.is_ready() {
        (
            StatusCode::OK,
            axum::Json(json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "starting", "message": "Worker is still starting up."})),
        )
            .into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.herder.refresh_metrics().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.herder.worker().metrics.encode(),
    )
        .into_response()
}
