//! `/connectors` endpoints.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::entities::{self, props_from_json};
use super::{ApiError, ApiResult, AppState, JsonBody};
use crate::status::TargetState;

type Params = Query<Vec<(String, String)>>;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bool_param(params: &[(String, String)], name: &str) -> ApiResult<bool> {
    match param(params, name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "Query parameter {name} must be true or false, not '{v}'"
        ))),
    }
}

/// `GET /connectors[?expand=status&expand=info]`.
pub async fn list(State(state): State<AppState>, Query(params): Params) -> ApiResult<Response> {
    let names = state.herder.connector_names().await;
    let expand: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.as_str())
        .collect();
    let (with_status, with_info) = (expand.contains(&"status"), expand.contains(&"info"));
    // Any `expand` (even of unknown words, which are ignored) asks for the map form, as in Kafka.
    if expand.is_empty() {
        return Ok(axum::Json(names).into_response());
    }
    let mut out = Map::new();
    for name in names {
        let mut item = Map::new();
        // Connectors deleted meanwhile are skipped, as in Kafka.
        if with_status {
            match state.herder.status(&name).await {
                Ok(s) => {
                    item.insert("status".into(), entities::connector_state(&s));
                }
                Err(_) => continue,
            }
        }
        if with_info {
            match state.herder.info(&name).await {
                Ok(i) => {
                    item.insert("info".into(), entities::connector_info(&i));
                }
                Err(_) => continue,
            }
        }
        out.insert(name, Value::Object(item));
    }
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// The body of `POST /connectors`.
#[derive(Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
    config: Option<Value>,
    initial_state: Option<String>,
}

/// `POST /connectors`.
pub async fn create(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CreateRequest>,
) -> ApiResult<Response> {
    let config = match &request.config {
        Some(c) => props_from_json(c).map_err(ApiError::bad_request)?,
        None => {
            return Err(ApiError::bad_request(
                "Connector config is missing (\"config\")",
            ));
        }
    };
    let name = request
        .name
        .or_else(|| config.get("name").cloned())
        .map(|n| n.trim().to_owned())
        .unwrap_or_default();
    let initial_state = match request.initial_state.as_deref() {
        None => None,
        Some(s) => Some(TargetState::from_initial_state(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid initial state {s}; must be one of RUNNING, PAUSED, STOPPED"
            ))
        })?),
    };
    let (info, _) = state
        .herder
        .put_connector(&name, config, initial_state, false)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/connectors/{}", info.name))],
        axum::Json(entities::connector_info(&info)),
    )
        .into_response())
}

/// `GET /connectors/NAME`.
pub async fn info(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let info = state.herder.info(&name).await?;
    Ok(axum::Json(entities::connector_info(&info)).into_response())
}

/// `GET /connectors/NAME/config`: the config as given, references unresolved.
pub async fn config(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let info = state.herder.info(&name).await?;
    Ok(axum::Json(info.config).into_response())
}

/// `PUT /connectors/NAME/config`: 201 when created, 200 when updated.
pub async fn put_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> ApiResult<Response> {
    let config = props_from_json(&value).map_err(ApiError::bad_request)?;
    let (info, created) = state
        .herder
        .put_connector(&name, config, None, true)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, axum::Json(entities::connector_info(&info))).into_response();
    if created && let Ok(location) = format!("/connectors/{}", info.name).parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `PATCH /connectors/NAME/config`: merge; `null` removes a key.
pub async fn patch_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult<Response> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(
            "The config patch must be a JSON object",
        ));
    };
    let mut config = state.herder.info(&name).await?.config;
    let mut set = Map::new();
    for (k, v) in patch {
        if v.is_null() {
            config.remove(&k);
        } else {
            set.insert(k, v);
        }
    }
    config.extend(props_from_json(&Value::Object(set)).map_err(ApiError::bad_request)?);
    let (info, _) = state
        .herder
        .put_connector(&name, config, None, true)
        .await?;
    Ok(axum::Json(entities::connector_info(&info)).into_response())
}

/// `GET /connectors/NAME/status`.
pub async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let s = state.herder.status(&name).await?;
    Ok(axum::Json(entities::connector_state(&s)).into_response())
}

/// `GET /connectors/NAME/tasks`.
pub async fn tasks(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let configs = state.herder.task_configs(&name).await?;
    Ok(axum::Json(entities::tasks(&name, &configs)).into_response())
}

/// `GET /connectors/NAME/tasks-config` (deprecated in Kafka, kept for old clients).
pub async fn tasks_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let configs = state.herder.task_configs(&name).await?;
    let map: Map<String, Value> = configs
        .into_iter()
        .map(|(i, c)| (format!("{name}-{i}"), json!(c)))
        .collect();
    Ok(axum::Json(Value::Object(map)).into_response())
}

fn task_number(raw: &str) -> ApiResult<u32> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("Task {raw} not found: not a task number")))
}

/// `GET /connectors/NAME/tasks/N/status`.
pub async fn task_status(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> ApiResult<Response> {
    let n = task_number(&task)?;
    let s = state.herder.task_status(&name, n).await?;
    Ok(axum::Json(entities::task_state(n, &s)).into_response())
}

/// `POST /connectors/NAME/tasks` (internal, distributed mode): a follower hands the leader a
/// connector's task configs, signed with the session key.
pub async fn put_task_configs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    // The body is kept as bytes (the signature covers them exactly), so check the type here.
    if let Some(ct) = header("content-type")
        && !ct
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP 415 Unsupported Media Type",
        ));
    }
    let signature = match (
        header("x-connect-request-signature-algorithm"),
        header("x-connect-authorization"),
    ) {
        (Some(a), Some(s)) => Some((a, s)),
        _ => None,
    };
    state
        .herder
        .put_task_configs(&name, &body, signature)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /connectors/NAME/tasks/N/restart`.
pub async fn restart_task(
    State(state): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> ApiResult<Response> {
    let n = task_number(&task)?;
    state.herder.restart_task(&name, n).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /connectors/NAME/restart[?includeTasks=..&onlyFailed=..]`.
pub async fn restart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Response> {
    let include_tasks = bool_param(&params, "includeTasks")?;
    let only_failed = bool_param(&params, "onlyFailed")?;
    state
        .herder
        .restart(&name, include_tasks, only_failed)
        .await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let s = state.herder.status(&name).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(entities::connector_state(&s)),
    )
        .into_response())
}

/// `PUT /connectors/NAME/pause`.
pub async fn pause(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    state.herder.pause(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /connectors/NAME/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.herder.resume(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /connectors/NAME/stop`.
pub async fn stop(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    state.herder.stop(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /connectors/NAME`.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    state.herder.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
