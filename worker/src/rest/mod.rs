//! The REST API, compatible with Kafka Connect's (reference §1): JSON in and out, every error as
//! `{"error_code": <status>, "message": "..."}`.

mod connectors;
mod entities;
pub mod forward;
mod loggers;
mod offsets;
mod openapi;
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
    /// The herder carrying out requests (standalone now, distributed later).
    pub herder: Arc<dyn Herder>,
    /// `kafka_cluster_id` for `GET /`.
    pub cluster_id: Arc<Option<String>>,
}

/// An error answer: status and message, rendered as Connect's error body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// The worker this request must be forwarded to (see [`forward`]).
    forward_to: Option<String>,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            forward_to: None,
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
            HerderError::Forbidden(_) => StatusCode::FORBIDDEN,
            HerderError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            HerderError::Forward(_) => StatusCode::CONFLICT,
        };
        let mut error = Self::new(status, e.to_string());
        if let HerderError::Forward(Some(url)) = e {
            error.forward_to = Some(url);
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.status.as_u16(), "message": self.message});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(url) = self.forward_to {
            response.extensions_mut().insert(forward::ForwardTo(url));
        }
        response
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// Largest request body accepted; connector configs are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON request body: 415 unless the content type is JSON (or absent), 413 when larger than
/// [`MAX_BODY_BYTES`], 400 when it does not parse (including nesting deeper than serde_json's
/// limit); always with Connect's error body.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _state: &S) -> Result<Self, ApiError> {
        if let Some(value) = req.headers().get(header::CONTENT_TYPE) {
            let mime = value
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if mime != "application/json" && !mime.ends_with("+json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "HTTP 415 Unsupported Media Type: expected application/json, not {mime}"
                    ),
                ));
            }
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                if e.to_string().contains("length limit") {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    ApiError::bad_request(format!("Could not read the request body: {e}"))
                }
            })?;
        parse_body(&bytes).map(JsonBody)
    }
}

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
    route("POST", "/connectors/{name}/tasks"),
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
        .route("/openapi.json", get(openapi::document))
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
        .route(
            "/connectors/{name}/tasks",
            get(connectors::tasks).post(connectors::put_task_configs),
        )
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
        .route("/connectors/{name}/topics", get(offsets::topics))
        .route(
            "/connectors/{name}/topics/reset",
            put(offsets::reset_topics),
        )
        .route(
            "/connectors/{name}/offsets",
            get(offsets::get)
                .patch(offsets::alter)
                .delete(offsets::reset),
        )
        .route("/admin/loggers", get(loggers::list))
        .route(
            "/admin/loggers/{logger}",
            get(loggers::get).put(loggers::put),
        )
        .route("/connector-plugins", get(plugins::list))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route_layer(axum::middleware::from_fn(forward::layer))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app(dir: &std::path::Path) -> Router {
        let worker = crate::runtime::test_worker(
            dir,
            crate::plugins::PluginRegistry::builtin().all().to_vec(),
        );
        router(AppState {
            herder: Arc::new(crate::herder::StandaloneHerder::new(worker)),
            cluster_id: Arc::new(None),
        })
    }

    async fn send(
        app: &Router,
        method: &str,
        uri: &str,
        body: Option<(&str, &str)>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some((content_type, text)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(text.to_owned())
            }
            None => Body::empty(),
        };
        let response = app
            .clone()
            .oneshot(request.body(body).expect("a request"))
            .await
            .expect("a response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn every_listed_route_is_served() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let app = app(dir.path());
        for r in ROUTES {
            let uri = r
                .path
                .replace("{name}", "x")
                .replace("{task}", "0")
                .replace("{plugin}", "FileStreamSink")
                .replace("{logger}", "root");
            let body =
                matches!(r.method, "POST" | "PUT" | "PATCH").then_some(("application/json", "{}"));
            let (status, body) = send(&app, r.method, &uri, body).await;
            let fallback = (status == StatusCode::NOT_FOUND
                && body["message"] == "HTTP 404 Not Found")
                || status == StatusCode::METHOD_NOT_ALLOWED;
            assert!(
                !fallback,
                "{} {} is not routed: {status} {body}",
                r.method, r.path
            );
        }
    }

    #[tokio::test]
    async fn bodies_are_checked_before_handlers_run() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let app = app(dir.path());
        let (status, body) = send(
            &app,
            "POST",
            "/connectors",
            Some(("application/x-www-form-urlencoded", "name=x")),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["error_code"], 415);
        let big = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let (status, body) = send(
            &app,
            "POST",
            "/connectors",
            Some(("application/json", &big)),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error_code"], 413);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let (status, body) = send(
            &app,
            "PUT",
            "/connectors/x/config",
            Some(("application/json", &deep)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error_code"], 400);
        let (status, body) = send(&app, "GET", "/no/such/path", None).await;
        assert_eq!(
            (status, body["error_code"].as_u64()),
            (StatusCode::NOT_FOUND, Some(404))
        );
    }

    #[tokio::test]
    async fn offsets_need_a_stopped_connector() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let app = app(dir.path());
        let create = r#"{"name":"src","config":{"connector.class":"FileStreamSource","topic":"t","file":"/nonexistent/in.txt"}}"#;
        let (status, body) = send(
            &app,
            "POST",
            "/connectors",
            Some(("application/json", create)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let patch = r#"{"offsets":[{"partition":{"filename":"/nonexistent/in.txt"},"offset":{"position":7}}]}"#;
        let (status, body) = send(
            &app,
            "PATCH",
            "/connectors/src/offsets",
            Some(("application/json", patch)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("STOPPED")),
            "{body}"
        );

        let (status, _) = send(&app, "PUT", "/connectors/src/stop", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = send(
            &app,
            "PATCH",
            "/connectors/src/offsets",
            Some(("application/json", patch)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["message"],
            "The offsets for this connector have been altered successfully"
        );
        let (status, body) = send(&app, "GET", "/connectors/src/offsets", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({"offsets":[{"partition":{"filename":"/nonexistent/in.txt"},"offset":{"position":7}}]})
        );
        let (status, body) = send(
            &app,
            "PATCH",
            "/connectors/src/offsets",
            Some(("application/json", r#"{"offsets":[]}"#)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = send(&app, "DELETE", "/connectors/src/offsets", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["message"],
            "The offsets for this connector have been reset successfully"
        );
        let (_, body) = send(&app, "GET", "/connectors/src/offsets", None).await;
        assert_eq!(body, serde_json::json!({"offsets": []}));
        let (status, _) = send(&app, "GET", "/connectors/nope/offsets", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn topics_of_unknown_connectors_are_empty_and_reset_is_a_no_op() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let app = app(dir.path());
        let (status, body) = send(&app, "GET", "/connectors/nope/topics", None).await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, serde_json::json!({"nope": {"topics": []}}))
        );
        let (status, _) = send(&app, "PUT", "/connectors/nope/topics/reset", None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
}
