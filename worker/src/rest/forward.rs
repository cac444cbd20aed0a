//! Forwarding of requests that must run on another worker (reference §1.4): the herder answers
//! [`HerderError::Forward`](crate::herder::HerderError::Forward) with the leader's (or owner's)
//! URL, and this layer re-sends the request there: `forward=true` on the first hop,
//! `forward=false` on the second, and a third hop is refused with 409. The `Authorization`
//! header is passed on; the target's status and body come back unchanged.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, MAX_BODY_BYTES};

/// Set on an error response whose request must be forwarded: the target worker's base URL.
#[derive(Debug, Clone)]
pub struct ForwardTo(pub String);

const CONFLICT: &str =
    "Cannot complete request because of a conflicting operation (e.g. worker rebalance)";

/// Headers passed on to the target worker.
const PASSED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "x-connect-authorization",
    "x-connect-request-signature-algorithm",
];

/// The middleware: runs the request here, and forwards it when the herder says so.
pub async fn layer(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
            )
            .into_response();
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(body.clone())))
        .await;
    let Some(ForwardTo(target)) = response.extensions().get::<ForwardTo>().cloned() else {
        return response;
    };
    forward(&target, method, &uri, &headers, body).await
}

/// The query with `forward` set for the next hop, or `None` when no hop is left.
fn next_query(uri: &Uri) -> Option<String> {
    let mut forward = None;
    let mut rest = Vec::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("forward", v)) => forward = Some(v.to_ascii_lowercase()),
            _ if pair == "forward" => forward = Some(String::new()),
            _ => rest.push(pair.to_owned()),
        }
    }
    let next = match forward.as_deref() {
        None => "true",
        Some("true") => "false",
        Some(_) => return None,
    };
    rest.push(format!("forward={next}"));
    Some(rest.join("&"))
}

async fn forward(
    target: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Some(query) = next_query(uri) else {
        return ApiError::new(StatusCode::CONFLICT, CONFLICT).into_response();
    };
    let url = format!("{}{}?{query}", target.trim_end_matches('/'), uri.path());
    tracing::debug!(%method, %url, "forwarding request");
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
    {
        Ok(c) => c,
        Err(e) => return io_error(e),
    };
    let mut request = client.request(method, &url);
    for name in PASSED_HEADERS {
        if let Some(v) = headers.get(*name) {
            request = request.header(*name, v.clone());
        }
    }
    if !body.is_empty() {
        request = request.body(body);
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => return io_error(e),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => return io_error(e),
    };
    let mut response = (status, bytes).into_response();
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    } else {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

fn io_error(e: impl std::fmt::Display) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("IO Error trying to forward REST request: {e}"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hops_at_most() {
        let q = |s: &str| next_query(&s.parse::<Uri>().unwrap());
        assert_eq!(q("/connectors"), Some("forward=true".into()));
        assert_eq!(
            q("/connectors/x/restart?includeTasks=true"),
            Some("includeTasks=true&forward=true".into())
        );
        assert_eq!(q("/connectors?forward=true"), Some("forward=false".into()));
        assert_eq!(q("/connectors?forward=false"), None);
    }
}
