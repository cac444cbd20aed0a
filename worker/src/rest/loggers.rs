//! `/admin/loggers`: log levels, changed at run time (Kafka's `LoggingResource`). Logger names are
//! tracing targets (`sluice_worker::runtime`); Java-style dotted names are accepted too.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, AppState, JsonBody};
use crate::logging::{self, LevelError, LoggerLevel};

fn level_json(l: &LoggerLevel) -> Value {
    json!({"level": l.level, "last_modified": l.last_modified})
}

/// `GET /admin/loggers`.
pub async fn list(State(_): State<AppState>) -> ApiResult<Response> {
    let map: Map<String, Value> = logging::loggers()
        .iter()
        .map(|(name, l)| (name.clone(), level_json(l)))
        .collect();
    Ok(axum::Json(Value::Object(map)).into_response())
}

/// `GET /admin/loggers/NAME`.
pub async fn get(State(_): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let level = logging::logger(&name)
        .ok_or_else(|| ApiError::not_found(format!("Logger {name} not found.")))?;
    Ok(axum::Json(level_json(&level)).into_response())
}

/// `PUT /admin/loggers/NAME[?scope=worker|cluster]` with `{"level": "DEBUG"}`.
pub async fn put(
    State(_): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let scope = params
        .iter()
        .rev()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_else(|| "worker".into());
    let scope = if scope == "worker" || scope == "cluster" {
        scope
    } else {
        // Kafka does the same: warn, and apply to this worker.
        tracing::warn!(scope = %scope, "unknown scope for a log level change; applying to this worker");
        "worker".to_owned()
    };
    let level = body.get("level").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("Desired 'level' parameter was not specified in request.")
    })?;
    let changed = logging::set_level(&name, level).map_err(|e| match e {
        LevelError::UnknownLevel(_) => ApiError::not_found(e.to_string()),
        LevelError::NotManaged | LevelError::Apply(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    })?;
    tracing::info!(logger = %name, level, scope, "log level changed");
    // A standalone worker is the whole cluster: cluster scope applies here and answers 204.
    if scope == "cluster" {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(axum::Json(changed).into_response())
}
