//! `/connectors/NAME/topics` (KIP-558) and `/connectors/NAME/offsets` (KIP-875).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, AppState, JsonBody};
use crate::herder::ConnectorOffset;

fn setting(state: &AppState, key: &str) -> bool {
    state
        .herder
        .worker()
        .config
        .config()
        .bool(key)
        .unwrap_or(true)
}

/// `GET /connectors/NAME/topics`: unknown connectors have no topics (not 404), as in Kafka.
pub async fn topics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    if !setting(&state, "topic.tracking.enable") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking is disabled.",
        ));
    }
    let topics = state.herder.active_topics(&name).await;
    Ok(axum::Json(json!({ name: {"topics": topics} })).into_response())
}

/// `PUT /connectors/NAME/topics/reset`.
pub async fn reset_topics(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    if !setting(&state, "topic.tracking.enable") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking is disabled.",
        ));
    }
    if !setting(&state, "topic.tracking.allow.reset") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking reset is disabled.",
        ));
    }
    state.herder.reset_active_topics(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn offset_json(o: &ConnectorOffset) -> Value {
    json!({
        "partition": o.partition,
        "offset": o.offset.clone().map(Value::Object).unwrap_or(Value::Null),
    })
}

/// `GET /connectors/NAME/offsets`.
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let offsets = state.herder.offsets(&name).await?;
    let list: Vec<Value> = offsets.iter().map(offset_json).collect();
    Ok(axum::Json(json!({ "offsets": list })).into_response())
}

fn parse_offsets(body: &Value) -> ApiResult<Vec<ConnectorOffset>> {
    let list = match body.get("offsets") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(ApiError::bad_request(
                "The offsets to be modified must not be null or empty",
            ));
        }
    };
    list.iter()
        .map(|item| {
            let object = |key: &str| -> ApiResult<Option<Map<String, Value>>> {
                match item.get(key) {
                    Some(Value::Object(m)) => Ok(Some(m.clone())),
                    Some(Value::Null) | None => Ok(None),
                    Some(_) => Err(ApiError::bad_request(format!(
                        "Each offset entry's '{key}' must be a JSON object or null"
                    ))),
                }
            };
            let partition = object("partition")?.ok_or_else(|| {
                ApiError::bad_request("Each offset entry needs a 'partition' object")
            })?;
            Ok(ConnectorOffset {
                partition,
                offset: object("offset")?,
            })
        })
        .collect()
}

/// `PATCH /connectors/NAME/offsets`: the connector must be STOPPED.
pub async fn alter(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let offsets = parse_offsets(&body)?;
    let message = state.herder.alter_offsets(&name, offsets).await?;
    Ok(axum::Json(json!({ "message": message })).into_response())
}

/// `DELETE /connectors/NAME/offsets`: the connector must be STOPPED.
pub async fn reset(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let message = state.herder.reset_offsets(&name).await?;
    Ok(axum::Json(json!({ "message": message })).into_response())
}
