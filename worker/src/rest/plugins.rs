//! `/connector-plugins` endpoints.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sluice_api::{ConfigDef, PluginFactory, PluginType};

use super::entities::{self, props_from_json};
use super::{ApiError, ApiResult, AppState, JsonBody};

/// `GET /connector-plugins[?connectorsOnly=false]`.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let connectors_only = !params
        .iter()
        .any(|(k, v)| k == "connectorsOnly" && v.eq_ignore_ascii_case("false"));
    let mut plugins: Vec<Value> = state
        .herder
        .worker()
        .registry
        .all()
        .iter()
        .filter(|p| {
            !connectors_only
                || matches!(p.factory.plugin_type(), PluginType::Source | PluginType::Sink)
        })
        .map(|p| json!({"class": p.class, "type": p.factory.plugin_type().rest_name(), "version": p.version}))
        .collect();
    plugins.sort_by(|a, b| a["class"].as_str().cmp(&b["class"].as_str()));
    Ok(axum::Json(plugins).into_response())
}

fn short(name: &str) -> &str {
    let simple = name.rsplit('.').next().unwrap_or(name);
    simple.strip_suffix("Connector").unwrap_or(simple)
}

/// `PUT /connector-plugins/PLUGIN/config/validate`.
pub async fn validate(
    State(state): State<AppState>,
    Path(plugin): Path<String>,
    JsonBody(value): JsonBody<Value>,
) -> ApiResult<Response> {
    let config = props_from_json(&value).map_err(ApiError::bad_request)?;
    let class = config.get("connector.class").ok_or_else(|| {
        ApiError::bad_request("Connector config contains no connector type (connector.class)")
    })?;
    if short(class) != short(&plugin) {
        return Err(ApiError::bad_request(format!(
            "Included connector type {class} does not match request type {plugin}"
        )));
    }
    let report = state.herder.validate(&config)?;
    Ok(axum::Json(entities::config_infos(&report)).into_response())
}

/// `GET /connector-plugins/PLUGIN/config`: the plugin's settings.
pub async fn config(
    State(state): State<AppState>,
    Path(plugin): Path<String>,
) -> ApiResult<Response> {
    let registry = &state.herder.worker().registry;
    let desc = registry
        .all()
        .iter()
        .find(|p| p.answers_to(&plugin))
        .ok_or_else(|| ApiError::not_found(format!("Unknown plugin {plugin}.")))?;
    let def: ConfigDef = match desc.factory {
        PluginFactory::Source { connector, .. } => connector().config_def(),
        PluginFactory::Sink { connector, .. } => connector().config_def(),
        PluginFactory::Converter(make) => make().config_def(),
        PluginFactory::HeaderConverter(make) => make().config_def(),
        PluginFactory::Transform(make) => make().config_def(),
        PluginFactory::Predicate(make) => make().config_def(),
    };
    let keys: Vec<Value> = def.keys().iter().map(entities::config_key).collect();
    Ok(axum::Json(keys).into_response())
}
