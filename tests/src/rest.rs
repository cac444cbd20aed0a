//! HTTP helpers for the worker's REST API. Each returns the status code and the body parsed as
//! JSON (`Null` for an empty body, a JSON string holding the text for a body that is not JSON),
//! and panics if the request cannot be made at all; [`request`] returns that error instead.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `GET url`.
pub async fn get_json(url: &str) -> (u16, Value) {
    expect_response(Method::GET, url, None).await
}

/// `POST url` with a JSON body.
pub async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    expect_response(Method::POST, url, Some(body)).await
}

/// `PUT url` with a JSON body.
pub async fn put_json(url: &str, body: &Value) -> (u16, Value) {
    expect_response(Method::PUT, url, Some(body)).await
}

/// `DELETE url`.
pub async fn delete(url: &str) -> (u16, Value) {
    expect_response(Method::DELETE, url, None).await
}

/// Sends a request with an optional JSON body; `Err` if no response arrives (e.g. connection
/// refused).
pub async fn request(
    method: Method,
    url: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), reqwest::Error> {
    // A client per call: a client's pooled connections belong to the runtime that made them,
    // and tests each run their own runtime.
    let client = crate::http_client_builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let mut builder = client.request(method, url);
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let response = builder.send().await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok((status, value))
}

async fn expect_response(method: Method, url: &str, body: Option<&Value>) -> (u16, Value) {
    let description = format!("{method} {url}");
    request(method, url, body)
        .await
        .unwrap_or_else(|e| panic!("{description} got no response: {e}"))
}
