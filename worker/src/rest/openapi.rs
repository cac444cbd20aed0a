//! `GET /openapi.json`: the hand-maintained OpenAPI 3.0 description of the REST API
//! (`worker/openapi.json`), compiled into the binary. The tests below keep it in step with
//! [`super::ROUTES`].

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI document, as written in `worker/openapi.json`.
const DOCUMENT: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    /// HTTP methods an OpenAPI path item may hold, as its keys spell them.
    const METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn parsed() -> Value {
        serde_json::from_str(DOCUMENT).expect("worker/openapi.json is valid JSON")
    }

    /// Every (method, path) the document describes, methods in upper case.
    fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
        let paths = doc["paths"].as_object().expect("`paths` is an object");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("each path item is an object");
                item.keys()
                    .filter(|key| METHODS.contains(&key.as_str()))
                    .map(|method| (method.to_ascii_uppercase(), path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Every operation object in the document, with its method and path.
    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("`paths` is an object") {
            for (method, operation) in item.as_object().expect("path item object") {
                if METHODS.contains(&method.as_str()) {
                    out.push((method.to_ascii_uppercase(), path.clone(), operation));
                }
            }
        }
        out
    }

    /// Follows a local `$ref` (`#/a/b`) to what it names.
    fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
        doc.pointer(reference.strip_prefix('#')?)
    }

    fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => out.push(target),
                        _ => collect_refs(inner, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_0() {
        let doc = parsed();
        let version = doc["openapi"].as_str().expect("`openapi` is a string");
        assert!(
            version.starts_with("3.0."),
            "expected OpenAPI 3.0.x, found {version}"
        );
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    }

    #[test]
    fn the_document_describes_exactly_the_routes() {
        let documented = documented_operations(&parsed());
        let served: BTreeSet<(String, String)> = super::super::ROUTES
            .iter()
            .map(|route| (route.method.to_owned(), route.path.to_owned()))
            .collect();
        assert_eq!(
            served.len(),
            super::super::ROUTES.len(),
            "ROUTES lists an endpoint twice"
        );
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "worker/openapi.json and rest::ROUTES disagree.\n  in ROUTES but not in the \
             document: {undocumented:?}\n  in the document but not in ROUTES: {unknown:?}"
        );
    }

    #[test]
    fn every_reference_resolves() {
        let doc = parsed();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        let broken: Vec<_> = refs
            .into_iter()
            .filter(|r| resolve(&doc, r).is_none())
            .collect();
        assert!(broken.is_empty(), "unresolved $ref: {broken:?}");
    }

    #[test]
    fn every_operation_documents_its_answers() {
        let doc = parsed();
        let mut problems = Vec::new();
        for (method, path, operation) in operations(&doc) {
            let responses = operation["responses"]
                .as_object()
                .expect("responses object");
            if !responses.keys().any(|code| code.starts_with('2')) {
                problems.push(format!("{method} {path}: no success response"));
            }
            // Basic authentication, when configured, guards every path.
            if !responses.contains_key("401") {
                problems.push(format!("{method} {path}: lacks 401"));
            }
            if operation["operationId"].as_str().is_none() {
                problems.push(format!("{method} {path}: no operationId"));
            }
            // Bodies are JSON only, and bounded: say so wherever a body is taken.
            if operation.get("requestBody").is_some() {
                for code in ["400", "413", "415"] {
                    if !responses.contains_key(code) {
                        problems.push(format!("{method} {path}: takes a body but lacks {code}"));
                    }
                }
            }
            // Every `{param}` in the path is declared as a path parameter.
            let declared: BTreeSet<String> = operation["parameters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&doc, r),
                    None => Some(p),
                })
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            let in_template: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            if declared != in_template {
                problems.push(format!(
                    "{method} {path}: path parameters {declared:?} != template {in_template:?}"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn errors_are_described_as_connect_error_messages() {
        let doc = parsed();
        let error = &doc["components"]["schemas"]["ErrorMessage"];
        assert_eq!(
            error["required"],
            serde_json::json!(["error_code", "message"])
        );
        let mut problems = Vec::new();
        for (method, path, operation) in operations(&doc) {
            for (code, response) in operation["responses"].as_object().expect("responses") {
                let is_error = code.starts_with('4') || code.starts_with('5');
                // /health answers 500 and 503 with its own Health body, as Kafka does.
                if !is_error || path == "/health" {
                    continue;
                }
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&doc, r).expect("resolvable response"),
                    None => response,
                };
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                if schema != "#/components/schemas/ErrorMessage" {
                    problems.push(format!("{method} {path} {code}: not an ErrorMessage"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[tokio::test]
    async fn the_handler_serves_the_document_as_json() {
        let response = document().await.into_response();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        assert_eq!(bytes, DOCUMENT.as_bytes());
    }
}
