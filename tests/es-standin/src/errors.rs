//! Elasticsearch's response envelopes (connectors.md D.1): every answer is JSON with
//! `X-Elastic-Product: Elasticsearch`, errors use the `{"error":{"root_cause":[..],"type","reason"},
//! "status"}` shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The product header the HLRC (≥7.14) and ES 8 clients check (D.1).
pub const PRODUCT_HEADER: &str = "x-elastic-product";

/// A JSON response with the headers real Elasticsearch sends (D.1).
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(PRODUCT_HEADER, HeaderValue::from_static("Elasticsearch"));
    response
}

/// A body-less response (HEAD requests, D.1/D.3) with the product header.
pub fn empty_response(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(PRODUCT_HEADER, HeaderValue::from_static("Elasticsearch"));
    response
}

/// The inner `error` object of the ES envelope; `extra` fields go beside `type` and `reason`.
pub fn error_object(kind: &str, reason: &str, extra: &[(&str, Value)]) -> Value {
    let mut cause = Map::new();
    cause.insert("type".into(), json!(kind));
    cause.insert("reason".into(), json!(reason));
    for (k, v) in extra {
        cause.insert((*k).into(), v.clone());
    }
    let mut error = cause.clone();
    error.insert(
        "root_cause".into(),
        Value::Array(vec![Value::Object(cause)]),
    );
    Value::Object(error)
}

/// A whole-request error in the envelope of D.1.
pub fn error_response(
    status: StatusCode,
    kind: &str,
    reason: &str,
    extra: &[(&str, Value)],
) -> Response {
    json_response(
        status,
        &json!({"error": error_object(kind, reason, extra), "status": status.as_u16()}),
    )
}

/// `index_not_found_exception` for a missing index (D.5, D.6).
pub fn index_not_found(index: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
        &[
            ("resource.type", json!("index_or_alias")),
            ("resource.id", json!(index)),
            ("index_uuid", json!("_na_")),
            ("index", json!(index)),
        ],
    )
}

/// 401 with the Basic challenge, as ES security answers without credentials (D.1, B.15: the
/// Apache client only sends credentials after this challenge).
pub fn unauthorized(with_credentials: bool) -> Response {
    let reason = if with_credentials {
        "unable to authenticate user for REST request [/_bulk]"
    } else {
        "missing authentication credentials for REST request [/]"
    };
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        "security_exception",
        reason,
        &[(
            "header",
            json!({"WWW-Authenticate": "Basic realm=\"security\" charset=\"UTF-8\""}),
        )],
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"security\" charset=\"UTF-8\""),
    );
    response
}
