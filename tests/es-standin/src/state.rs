//! The in-memory cluster and the request handlers.

// Handlers return ready HTTP responses as their error values; boxing them buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::errors::{empty_response, error_response, index_not_found, json_response, unauthorized};
use crate::mapping;

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// `version.number` reported by `GET /` (D.2): "8.x" for compat mode, "7.8.0" to test the
    /// data-stream rejection, "6.8.0" for the version rejection.
    pub version: String,
    /// Require HTTP basic auth with this user and password (D.1).
    pub credentials: Option<(String, String)>,
    /// `action.auto_create_index` (true in ES by default): bulk writes create missing indices.
    pub auto_create_index: bool,
    /// `http.max_content_length` (D.7: 413 beyond it; 100 MB in ES).
    pub max_content_length: usize,
    /// Set by the server when it serves HTTPS.
    pub tls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            version: "8.11.1".into(),
            credentials: None,
            auto_create_index: true,
            max_content_length: 100 * 1024 * 1024,
            tls: false,
        }
    }
}

/// Injected faults (see the crate docs); all counters count down as they are used.
#[derive(Debug, Default, Clone)]
struct Faults {
    fail_status: u16,
    fail_requests: u64,
    fail_body: Option<String>,
    item_rejections: u64,
    delay: Duration,
    /// 0 with a delay set means every bulk request is delayed.
    delay_requests: u64,
    read_only: Vec<String>,
    hold_bulks: bool,
}

#[derive(Debug, Clone)]
struct Doc {
    source: Value,
    version: i64,
    seq_no: i64,
    /// A delete with an external version leaves a tombstone keeping that version (D.6).
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Index {
    uuid: String,
    mappings: Value,
    docs: BTreeMap<String, Doc>,
    data_stream: bool,
    next_seq_no: i64,
}

impl Index {
    fn new(data_stream: bool) -> Self {
        Self {
            uuid: random_id(22),
            mappings: json!({}),
            docs: BTreeMap::new(),
            data_stream,
            next_seq_no: 0,
        }
    }

    fn live_docs(&self) -> impl Iterator<Item = (&String, &Doc)> {
        self.docs.iter().filter(|(_, d)| !d.deleted)
    }
}

/// One request as received, for tests to inspect.
#[derive(Debug, Clone)]
struct RequestLog {
    method: String,
    path: String,
    content_type: Option<String>,
    accept: Option<String>,
    content_encoding: Option<String>,
    authorized_as: Option<String>,
    status: u16,
    bulk_items: usize,
    ids_sent: usize,
}

#[derive(Default)]
struct Cluster {
    indices: BTreeMap<String, Index>,
    faults: Faults,
    log: VecDeque<RequestLog>,
    bulk_requests: u64,
    bulk_items: u64,
    item_ops: BTreeMap<String, u64>,
}

/// The stand-in's shared state.
pub struct StandIn {
    /// Options it was started with.
    pub options: Options,
    cluster: Mutex<Cluster>,
    in_flight_bulks: AtomicU64,
    max_in_flight_bulks: AtomicU64,
    release: Notify,
    started: Instant,
}

const LOG_LIMIT: usize = 2000;

fn random_id(len: usize) -> String {
    let bytes: Vec<u8> = (0..len).map(|_| fastrand::u8(..)).collect();
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    s.truncate(len);
    s
}

impl StandIn {
    /// A stand-in with no indices.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            cluster: Mutex::new(Cluster::default()),
            in_flight_bulks: AtomicU64::new(0),
            max_in_flight_bulks: AtomicU64::new(0),
            release: Notify::new(),
            started: Instant::now(),
        }
    }

    fn cluster(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn modern_errors(&self) -> bool {
        // ES ≥ 8.8 says document_parsing_exception (D.6 table).
        let mut parts = self
            .options
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        major > 8 || (major == 8 && minor >= 8)
    }

    fn major(&self) -> u32 {
        self.options
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// Number of live documents in `index` (for in-process tests).
    pub fn count(&self, index: &str) -> Option<usize> {
        self.cluster()
            .indices
            .get(index)
            .map(|i| i.live_docs().count())
    }

    /// The source of one document (for in-process tests).
    pub fn document(&self, index: &str, id: &str) -> Option<Value> {
        self.cluster()
            .indices
            .get(index)
            .and_then(|i| i.docs.get(id))
            .filter(|d| !d.deleted)
            .map(|d| d.source.clone())
    }

    /// The stats document of `GET /_standin/stats`.
    pub fn stats(&self) -> Value {
        let cluster = self.cluster();
        let indices: Map<String, Value> = cluster
            .indices
            .iter()
            .map(|(name, i)| {
                (
                    name.clone(),
                    json!({"docs": i.live_docs().count(), "data_stream": i.data_stream}),
                )
            })
            .collect();
        json!({
            "bulk_requests": cluster.bulk_requests,
            "bulk_items": cluster.bulk_items,
            "item_ops": cluster.item_ops,
            "in_flight_bulks": self.in_flight_bulks.load(Ordering::SeqCst),
            "max_in_flight_bulks": self.max_in_flight_bulks.load(Ordering::SeqCst),
            "indices": indices,
            "uptime_ms": self.started.elapsed().as_millis() as u64,
        })
    }

    /// Applies a fault document (see the crate docs); unknown keys are an error.
    pub fn set_faults(&self, spec: &Value) -> Result<(), String> {
        let Some(object) = spec.as_object() else {
            return Err("faults must be a JSON object".into());
        };
        let mut cluster = self.cluster();
        let faults = &mut cluster.faults;
        for (key, value) in object {
            let number = || {
                value
                    .as_u64()
                    .ok_or_else(|| format!("{key} must be a non-negative integer"))
            };
            match key.as_str() {
                "fail_status" => faults.fail_status = number()? as u16,
                "fail_requests" => faults.fail_requests = number()?,
                "fail_body" => faults.fail_body = value.as_str().map(str::to_owned),
                "item_rejections" => faults.item_rejections = number()?,
                "delay_ms" => faults.delay = Duration::from_millis(number()?),
                "delay_requests" => faults.delay_requests = number()?,
                "read_only" => {
                    faults.read_only = value
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                }
                "hold_bulks" => faults.hold_bulks = value.as_bool().unwrap_or(false),
                other => return Err(format!("unknown fault [{other}]")),
            }
        }
        let release = !cluster.faults.hold_bulks;
        drop(cluster);
        if release {
            self.release.notify_waiters();
        }
        Ok(())
    }

    /// Clears faults, indices and counters.
    pub fn reset(&self) {
        *self.cluster() = Cluster::default();
        self.max_in_flight_bulks.store(0, Ordering::SeqCst);
        self.release.notify_waiters();
    }

    /// Lets bulks held by `hold_bulks` go, and stops holding new ones.
    pub fn release_bulks(&self) {
        self.cluster().faults.hold_bulks = false;
        self.release.notify_waiters();
    }
}

/// The axum router: one fallback handler that routes by path, because Elasticsearch's paths mix
/// fixed names (`_bulk`) and index names in the same positions.
pub fn router(standin: Arc<StandIn>) -> Router {
    Router::new().fallback(handle).with_state(standin)
}

struct Request {
    method: Method,
    segments: Vec<String>,
    headers: HeaderMap,
    body: Bytes,
}

async fn handle(
    State(standin): State<Arc<StandIn>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    if segments.first().map(String::as_str) == Some("_standin") {
        return control(&standin, &method, &segments, &body).await;
    }
    let mut log = RequestLog {
        method: method.to_string(),
        path,
        content_type: header_text(&headers, header::CONTENT_TYPE),
        accept: header_text(&headers, header::ACCEPT),
        content_encoding: header_text(&headers, header::CONTENT_ENCODING),
        authorized_as: None,
        status: 0,
        bulk_items: 0,
        ids_sent: 0,
    };
    let response = match authenticate(&standin, &headers) {
        Err(response) => response,
        Ok(user) => {
            log.authorized_as = user;
            match decode_body(&standin, &headers, body) {
                Err(response) => response,
                Ok(body) => {
                    let request = Request {
                        method,
                        segments,
                        headers,
                        body,
                    };
                    route(&standin, request, &mut log).await
                }
            }
        }
    };
    log.status = response.status().as_u16();
    let mut cluster = standin.cluster();
    if cluster.log.len() >= LOG_LIMIT {
        cluster.log.pop_front();
    }
    cluster.log.push_back(log);
    response
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// D.1 auth mode: without valid basic credentials, 401 with the `WWW-Authenticate` challenge.
fn authenticate(standin: &StandIn, headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some((user, password)) = &standin.options.credentials else {
        return Ok(None);
    };
    let Some(value) = header_text(headers, header::AUTHORIZATION) else {
        return Err(unauthorized(false));
    };
    let decoded = value
        .strip_prefix("Basic ")
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    match decoded {
        Some(pair) if pair == format!("{user}:{password}") => Ok(Some(user.clone())),
        _ => Err(unauthorized(true)),
    }
}

/// Request bodies may be gzip-compressed (`Content-Encoding: gzip`, B.2 connection.compression),
/// and are limited by `http.max_content_length` (D.7: 413).
fn decode_body(standin: &StandIn, headers: &HeaderMap, body: Bytes) -> Result<Bytes, Response> {
    let body = match header_text(headers, header::CONTENT_ENCODING).as_deref() {
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out) {
                return Err(error_response(
                    StatusCode::BAD_REQUEST,
                    "parse_exception",
                    &format!("failed to decompress the request body: {e}"),
                    &[],
                ));
            }
            Bytes::from(out)
        }
        _ => body,
    };
    if body.len() > standin.options.max_content_length {
        // D.7: ES closes such requests with 413 and no JSON body.
        return Err(empty_response(StatusCode::PAYLOAD_TOO_LARGE));
    }
    Ok(body)
}

/// D.1: request bodies must be JSON (`application/json`, `application/x-ndjson`) or the
/// versioned `application/vnd.elasticsearch+json;compatible-with=7|8`; anything else is 406, as ES
/// answers "Content-Type header [..] is not supported".
fn check_content_type(standin: &StandIn, request: &Request) -> Result<(), Response> {
    if request.body.is_empty() {
        return Ok(());
    }
    let Some(value) = header_text(&request.headers, header::CONTENT_TYPE) else {
        return Err(json_response(
            StatusCode::NOT_ACCEPTABLE,
            &json!({"error": "Content-Type header is missing", "status": 406}),
        ));
    };
    let lower = value.to_ascii_lowercase();
    let mut parts = lower.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    let params: Vec<&str> = parts.collect();
    let plain = matches!(media, "application/json" | "application/x-ndjson");
    let versioned = matches!(
        media,
        "application/vnd.elasticsearch+json" | "application/vnd.elasticsearch+x-ndjson"
    );
    if !plain && !versioned {
        return Err(json_response(
            StatusCode::NOT_ACCEPTABLE,
            &json!({"error": format!("Content-Type header [{value}] is not supported"), "status": 406}),
        ));
    }
    if versioned {
        let compat = params
            .iter()
            .find_map(|p| p.strip_prefix("compatible-with="))
            .and_then(|v| v.parse::<u32>().ok());
        let major = standin.major();
        // A compatible-with version must be the server's major or the one before (D.1).
        if compat.is_none_or(|v| v != major && v + 1 != major) {
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                "media_type_header_exception",
                &format!(
                    "Invalid media-type value on headers [Content-Type], Content-Type version must be either version {major} or {}, but found {}",
                    major.saturating_sub(1),
                    compat.map_or("none".to_string(), |c| c.to_string())
                ),
                &[],
            ));
        }
    }
    Ok(())
}

async fn route(standin: &StandIn, request: Request, log: &mut RequestLog) -> Response {
    let segs: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    if let Err(response) = check_content_type(standin, &request) {
        return response;
    }
    match (method.as_str(), segs.as_slice()) {
        ("GET", []) => root(standin),
        // D.2: HEAD / is 200 with no body.
        ("HEAD", []) => empty_response(StatusCode::OK),
        ("POST" | "PUT", ["_bulk"]) => bulk(standin, &request, None, log).await,
        ("POST" | "PUT", [index, "_bulk"]) => bulk(standin, &request, Some(index), log).await,
        ("HEAD", ["_alias", name]) => {
            // D.3: the same 200/404 rule for aliases; the stand-in has none.
            let _ = name;
            empty_response(StatusCode::NOT_FOUND)
        }
        ("PUT", ["_data_stream", name]) => create_data_stream(standin, name),
        ("GET" | "POST", ["_refresh"]) | ("GET" | "POST", [_, "_refresh"]) => json_response(
            StatusCode::OK,
            &json!({"_shards": {"total": 1, "successful": 1, "failed": 0}}),
        ),
        ("HEAD", [index]) => {
            // D.3: 200 if the index or data stream exists, else 404; no body either way.
            if standin.cluster().indices.contains_key(*index) {
                empty_response(StatusCode::OK)
            } else {
                empty_response(StatusCode::NOT_FOUND)
            }
        }
        ("PUT", [index]) => create_index(standin, index, &request.body),
        ("GET", [index, "_mapping"]) => get_mapping(standin, index),
        ("PUT" | "POST", [index, "_mapping"]) => put_mapping(standin, index, &request.body),
        ("GET", [index, "_doc", id]) => get_doc(standin, index, id),
        ("GET" | "POST", [index, "_count"]) => search(standin, index, &request.body, true),
        ("GET" | "POST", [index, "_search"]) => search(standin, index, &request.body, false),
        _ => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "illegal_argument_exception",
            &format!(
                "Incorrect HTTP method for uri [/{}] and method [{method}]",
                segs.join("/")
            ),
            &[],
        ),
    }
}

async fn control(standin: &StandIn, method: &Method, segs: &[String], body: &Bytes) -> Response {
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (method.as_str(), segs.as_slice()) {
        ("POST", ["_standin", "faults"]) => {
            let spec: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": e.to_string()}),
                    );
                }
            };
            match standin.set_faults(&spec) {
                Ok(()) => json_response(StatusCode::OK, &json!({"acknowledged": true})),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e})),
            }
        }
        ("POST", ["_standin", "reset"]) => {
            standin.reset();
            json_response(StatusCode::OK, &json!({"acknowledged": true}))
        }
        ("POST", ["_standin", "release"]) => {
            standin.release_bulks();
            json_response(StatusCode::OK, &json!({"acknowledged": true}))
        }
        ("GET", ["_standin", "stats"]) => json_response(StatusCode::OK, &standin.stats()),
        ("GET", ["_standin", "requests"]) => {
            let cluster = standin.cluster();
            let entries: Vec<Value> = cluster
                .log
                .iter()
                .map(|r| {
                    json!({
                        "method": r.method, "path": r.path, "content_type": r.content_type,
                        "accept": r.accept, "content_encoding": r.content_encoding,
                        "user": r.authorized_as, "status": r.status,
                        "bulk_items": r.bulk_items, "ids_sent": r.ids_sent,
                    })
                })
                .collect();
            json_response(StatusCode::OK, &Value::Array(entries))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown stand-in control endpoint"}),
        ),
    }
}

/// D.2: the root document, with a configurable version number.
fn root(standin: &StandIn) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "name": "es-standin",
            "cluster_name": "sluice-standin",
            "cluster_uuid": "AbCdEfGhIjKlMnOpQrStUv",
            "version": {
                "number": standin.options.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "standin",
                "build_date": "2024-01-01T00:00:00Z",
                "build_snapshot": false,
                "lucene_version": "9.8.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "You Know, for Search"
        }),
    )
}

/// D.4: index names must be lower case, must not start with `_`, `-` or `+`, must not be `.` or
/// `..`, must not contain `\ / * ? " < > | space , # :`, and must be at most 255 bytes.
pub fn validate_index_name(name: &str) -> Result<(), String> {
    if name.to_lowercase() != name {
        return Err(format!("Invalid index name [{name}], must be lowercase"));
    }
    if name.starts_with(['_', '-', '+']) {
        return Err(format!(
            "Invalid index name [{name}], must not start with '_', '-', or '+'"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!(
            "Invalid index name [{name}], must not be '.' or '..'"
        ));
    }
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':']) {
        return Err(format!(
            "Invalid index name [{name}], must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]"
        ));
    }
    if name.len() > 255 {
        return Err(format!(
            "Invalid index name [{name}], index name is too long, ({} > 255)",
            name.len()
        ));
    }
    if name.is_empty() {
        return Err("Invalid index name [], must not be empty".into());
    }
    Ok(())
}

fn invalid_index_name(name: &str, reason: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "invalid_index_name_exception",
        reason,
        &[("index_uuid", json!("_na_")), ("index", json!(name))],
    )
}

fn parse_json_body(body: &Bytes) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        error_response(
            StatusCode::BAD_REQUEST,
            "x_content_parse_exception",
            &format!("[1:1] failed to parse request body: {e}"),
            &[],
        )
    })
}

/// D.4: create an index; 400 `resource_already_exists_exception` when it exists.
fn create_index(standin: &StandIn, name: &str, body: &Bytes) -> Response {
    if let Err(reason) = validate_index_name(name) {
        return invalid_index_name(name, &reason);
    }
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut cluster = standin.cluster();
    if let Some(existing) = cluster.indices.get(name) {
        let reason = format!("index [{name}/{}] already exists", existing.uuid);
        return error_response(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            &reason,
            &[("index_uuid", json!(existing.uuid)), ("index", json!(name))],
        );
    }
    let mut index = Index::new(false);
    if let Some(m) = body.get("mappings") {
        index.mappings = m.clone();
    }
    cluster.indices.insert(name.to_owned(), index);
    json_response(
        StatusCode::OK,
        &json!({"acknowledged": true, "shards_acknowledged": true, "index": name}),
    )
}

/// D.4: data streams need a matching index template; the built-in `logs-*-*` and `metrics-*-*`
/// ones are the only templates the stand-in has (B.6).
fn create_data_stream(standin: &StandIn, name: &str) -> Response {
    if let Err(reason) = validate_index_name(name) {
        return invalid_index_name(name, &reason);
    }
    let template = ["logs-", "metrics-"]
        .iter()
        .any(|p| name.strip_prefix(p).is_some_and(|rest| rest.contains('-')));
    if !template {
        return error_response(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            &format!("no matching index template found for data stream [{name}]"),
            &[],
        );
    }
    let mut cluster = standin.cluster();
    if cluster.indices.contains_key(name) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            &format!("data_stream [{name}] already exists"),
            &[],
        );
    }
    let mut index = Index::new(true);
    index.mappings = json!({"properties": {"@timestamp": {"type": "date"}}});
    cluster.indices.insert(name.to_owned(), index);
    json_response(StatusCode::OK, &json!({"acknowledged": true}))
}

/// D.5: `{"<index>":{"mappings":{..}}}`, or 404 for a missing index.
fn get_mapping(standin: &StandIn, name: &str) -> Response {
    let cluster = standin.cluster();
    match cluster.indices.get(name) {
        Some(index) => json_response(
            StatusCode::OK,
            &json!({ name: {"mappings": index.mappings} }),
        ),
        None => index_not_found(name),
    }
}

/// D.5: store the mapping; a changed field type is 400 `illegal_argument_exception`.
fn put_mapping(standin: &StandIn, name: &str, body: &Bytes) -> Response {
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.is_object() || body.as_object().is_some_and(Map::is_empty) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: mapping source is empty;",
            &[],
        );
    }
    let mut cluster = standin.cluster();
    let Some(index) = cluster.indices.get_mut(name) else {
        return index_not_found(name);
    };
    if let Some(reason) = mapping::conflicting_field(&index.mappings, &body, "") {
        return error_response(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            &reason,
            &[],
        );
    }
    mapping::merge(&mut index.mappings, &body);
    json_response(StatusCode::OK, &json!({"acknowledged": true}))
}

fn get_doc(standin: &StandIn, index_name: &str, id: &str) -> Response {
    let cluster = standin.cluster();
    let Some(index) = cluster.indices.get(index_name) else {
        return index_not_found(index_name);
    };
    match index.docs.get(id).filter(|d| !d.deleted) {
        Some(doc) => json_response(
            StatusCode::OK,
            &json!({"_index": index_name, "_id": id, "_version": doc.version, "_seq_no": doc.seq_no,
                    "_primary_term": 1, "found": true, "_source": doc.source}),
        ),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({"_index": index_name, "_id": id, "found": false}),
        ),
    }
}

/// A basic `_count`/`_search`: `match_all` (or no query) and `term` on a top-level field.
fn search(standin: &StandIn, index_name: &str, body: &Bytes, count_only: bool) -> Response {
    let body = match parse_json_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let query = body
        .get("query")
        .cloned()
        .unwrap_or(json!({"match_all": {}}));
    let term = match query.as_object().and_then(|q| q.iter().next()) {
        Some((kind, _)) if kind == "match_all" => None,
        Some((kind, spec)) if kind == "term" => {
            let Some((field, value)) = spec.as_object().and_then(|s| s.iter().next()) else {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "parsing_exception",
                    "[term] query malformed, no start_object after query name",
                    &[],
                );
            };
            let value = value.get("value").cloned().unwrap_or_else(|| value.clone());
            Some((field.clone(), value))
        }
        Some((kind, _)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "parsing_exception",
                &format!("unknown query [{kind}] (the stand-in supports match_all and term)"),
                &[],
            );
        }
        None => None,
    };
    let cluster = standin.cluster();
    let names: Vec<&String> = if index_name == "_all" || index_name == "*" {
        cluster.indices.keys().collect()
    } else {
        match cluster.indices.get_key_value(index_name) {
            Some((k, _)) => vec![k],
            None => return index_not_found(index_name),
        }
    };
    let mut hits = Vec::new();
    for name in names {
        let Some(index) = cluster.indices.get(name) else {
            continue;
        };
        for (id, doc) in index.live_docs() {
            let matches = match &term {
                None => true,
                Some((field, wanted)) => {
                    let field = field.strip_suffix(".keyword").unwrap_or(field);
                    doc.source.get(field).is_some_and(|v| v == wanted)
                }
            };
            if matches {
                hits.push(json!({"_index": name, "_id": id, "_score": 1.0, "_source": doc.source}));
            }
        }
    }
    let shards = json!({"total": 1, "successful": 1, "skipped": 0, "failed": 0});
    if count_only {
        return json_response(
            StatusCode::OK,
            &json!({"count": hits.len(), "_shards": shards}),
        );
    }
    let total = hits.len();
    let size = body.get("size").and_then(Value::as_u64).unwrap_or(10) as usize;
    hits.truncate(size);
    json_response(
        StatusCode::OK,
        &json!({"took": 1, "timed_out": false, "_shards": shards,
                "hits": {"total": {"value": total, "relation": "eq"}, "max_score": 1.0, "hits": hits}}),
    )
}

/// Decrements the in-flight bulk gauge when a bulk ends, however it ends.
struct InFlight<'a>(&'a StandIn);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight_bulks.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One parsed bulk action.
struct Action {
    op: String,
    index: Option<String>,
    id: Option<String>,
    version: Option<i64>,
    version_type: Option<String>,
    source: Option<Value>,
}

/// D.6: parse NDJSON, strictly. Whole-request errors come back as a response.
fn parse_bulk(body: &[u8], default_index: Option<&str>) -> Result<Vec<Action>, Response> {
    let bad = |kind: &str, reason: String| {
        Err(error_response(StatusCode::BAD_REQUEST, kind, &reason, &[]))
    };
    if body.is_empty() {
        return bad("parse_exception", "request body is required".into());
    }
    // D.6: the body must end with a newline.
    if body.last() != Some(&b'\n') {
        return bad(
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]".into(),
        );
    }
    let lines: Vec<&[u8]> = body[..body.len() - 1].split(|b| *b == b'\n').collect();
    let mut actions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i];
        i += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let meta: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                return bad(
                    "x_content_parse_exception",
                    format!("[{line_no}:1] Malformed action/metadata line [{line_no}]: {e}"),
                );
            }
        };
        let Some((op, params)) = meta
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
        else {
            return bad(
                "illegal_argument_exception",
                format!(
                    "Malformed action/metadata line [{line_no}], expected a simple object with one action"
                ),
            );
        };
        if !matches!(op.as_str(), "index" | "create" | "update" | "delete") {
            return bad(
                "illegal_argument_exception",
                format!(
                    "Malformed action/metadata line [{line_no}], expected one of [create, delete, index, update] but found [{op}]"
                ),
            );
        }
        let Some(params) = params.as_object() else {
            return bad(
                "illegal_argument_exception",
                format!("Malformed action/metadata line [{line_no}], expected START_OBJECT"),
            );
        };
        for key in params.keys() {
            if !matches!(
                key.as_str(),
                "_index"
                    | "_id"
                    | "version"
                    | "version_type"
                    | "retry_on_conflict"
                    | "routing"
                    | "pipeline"
                    | "require_alias"
                    | "if_seq_no"
                    | "if_primary_term"
                    | "dynamic_templates"
            ) {
                return bad(
                    "illegal_argument_exception",
                    format!(
                        "Action/metadata line [{line_no}] contains an unknown parameter [{key}]"
                    ),
                );
            }
        }
        let index = params
            .get("_index")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| default_index.map(str::to_owned));
        let id = params.get("_id").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let version = params.get("version").and_then(Value::as_i64);
        let version_type = params
            .get("version_type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let source = if op == "delete" {
            None
        } else {
            let Some(source_line) = lines.get(i) else {
                return bad(
                    "illegal_argument_exception",
                    format!(
                        "The bulk request must be terminated by a newline [\\n]; action line [{line_no}] has no source"
                    ),
                );
            };
            i += 1;
            match serde_json::from_slice::<Value>(source_line) {
                Ok(v) => Some(v),
                Err(e) => {
                    return bad(
                        "x_content_parse_exception",
                        format!("[{}:1] failed to parse source line: {e}", line_no + 1),
                    );
                }
            }
        };
        if index.is_none() {
            return bad(
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;".into(),
            );
        }
        actions.push(Action {
            op: op.clone(),
            index,
            id,
            version,
            version_type,
            source,
        });
    }
    if actions.is_empty() {
        return bad(
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;".into(),
        );
    }
    Ok(actions)
}

async fn bulk(
    standin: &StandIn,
    request: &Request,
    path_index: Option<&str>,
    log: &mut RequestLog,
) -> Response {
    let in_flight = standin.in_flight_bulks.fetch_add(1, Ordering::SeqCst) + 1;
    standin
        .max_in_flight_bulks
        .fetch_max(in_flight, Ordering::SeqCst);
    let _guard = InFlight(standin);
    // Faults are decided when the request arrives.
    let (hold, delay, fail) = {
        let mut cluster = standin.cluster();
        cluster.bulk_requests += 1;
        let faults = &mut cluster.faults;
        let delay = if !faults.delay.is_zero() {
            if faults.delay_requests == 0 {
                Some(faults.delay)
            } else {
                faults.delay_requests -= 1;
                let d = faults.delay;
                if faults.delay_requests == 0 {
                    faults.delay = Duration::ZERO;
                }
                Some(d)
            }
        } else {
            None
        };
        let fail = if faults.fail_requests > 0 {
            faults.fail_requests -= 1;
            Some((faults.fail_status, faults.fail_body.clone()))
        } else {
            None
        };
        (faults.hold_bulks, delay, fail)
    };
    if hold {
        let released = standin.release.notified();
        tokio::pin!(released);
        // Re-check after registering, so a release between the two is not missed.
        if standin.cluster().faults.hold_bulks {
            released.await;
        }
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, body)) = fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return whole_request_failure(status, body.as_deref());
    }
    let actions = match parse_bulk(&request.body, path_index) {
        Ok(a) => a,
        Err(response) => return response,
    };
    log.bulk_items = actions.len();
    log.ids_sent = actions.iter().filter(|a| a.id.is_some()).count();
    let started = Instant::now();
    let modern = standin.modern_errors();
    let mut cluster = standin.cluster();
    cluster.bulk_items += actions.len() as u64;
    let mut items = Vec::with_capacity(actions.len());
    let mut errors = false;
    for action in actions {
        *cluster.item_ops.entry(action.op.clone()).or_default() += 1;
        let (status, body) = apply_action(standin, &mut cluster, action, modern);
        errors |= item_failed(&body);
        items.push((status, body));
    }
    drop(cluster);
    let items: Vec<Value> = items.into_iter().map(|(_, b)| b).collect();
    json_response(
        StatusCode::OK,
        &json!({"took": started.elapsed().as_millis() as u64, "errors": errors, "items": items}),
    )
}

/// D.7: whole-request failures; `body` names the error type (default: by status).
fn whole_request_failure(status: StatusCode, body: Option<&str>) -> Response {
    let kind = body
        .map(str::to_owned)
        .unwrap_or_else(|| match status.as_u16() {
            429 => "circuit_breaking_exception".into(),
            503 => "cluster_block_exception".into(),
            _ => "".into(),
        });
    match kind.as_str() {
        "" => empty_response(status),
        "circuit_breaking_exception" => error_response(
            status,
            "circuit_breaking_exception",
            "[parent] Data too large, data for [<http_request>] would be [123848638/118.1mb], which is larger than the limit of [123273216/117.5mb]",
            &[
                ("bytes_wanted", json!(123_848_638)),
                ("bytes_limit", json!(123_273_216)),
                ("durability", json!("TRANSIENT")),
            ],
        ),
        "cluster_block_exception" => error_response(
            status,
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
            &[],
        ),
        "master_not_discovered_exception" => {
            error_response(status, "master_not_discovered_exception", "", &[])
        }
        other => error_response(status, other, "injected by the stand-in", &[]),
    }
}

/// D.7: whether a bulk item (`{"<op>": {...}}`) failed, for the response's `errors` flag.
fn item_failed(item: &Value) -> bool {
    item.as_object()
        .and_then(|o| o.values().next())
        .is_some_and(|result| result.get("error").is_some())
}

fn item_failure(
    op: &str,
    index: &str,
    id: &str,
    status: u16,
    kind: &str,
    reason: &str,
    uuid: &str,
) -> (u16, Value) {
    (
        status,
        json!({ op: {"_index": index, "_id": id, "status": status,
            "error": {"type": kind, "reason": reason, "index_uuid": uuid, "shard": "0", "index": index}}}),
    )
}

fn item_success(
    op: &str,
    index: &str,
    id: &str,
    doc_version: i64,
    seq_no: i64,
    result: &str,
    status: u16,
) -> (u16, Value) {
    (
        status,
        json!({ op: {"_index": index, "_id": id, "_version": doc_version, "result": result,
            "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": seq_no,
            "_primary_term": 1, "status": status}}),
    )
}

/// D.6 per-item semantics: external versions, create conflicts, upserts, deletes, mappings,
/// read-only blocks and injected rejections.
fn apply_action(
    standin: &StandIn,
    cluster: &mut Cluster,
    action: Action,
    modern: bool,
) -> (u16, Value) {
    let op = action.op.as_str();
    let index_name = action.index.clone().unwrap_or_default();
    let id = action.id.clone().unwrap_or_else(|| random_id(20));
    if let Err(reason) = validate_index_name(&index_name) {
        return item_failure(
            op,
            &index_name,
            &id,
            400,
            "invalid_index_name_exception",
            &reason,
            "_na_",
        );
    }
    // D.6 table: write queue full.
    if cluster.faults.item_rejections > 0 {
        cluster.faults.item_rejections -= 1;
        return item_failure(
            op,
            &index_name,
            &id,
            429,
            "es_rejected_execution_exception",
            "rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=1024, max_coordinating_and_primary_bytes=53687091] on EsThreadPoolExecutor[name = standin/write, queue capacity = 10000, active threads = 2, queued tasks = 10000]",
            "_na_",
        );
    }
    // D.6 table: read-only / flood stage is 429 cluster_block_exception on recent versions.
    if cluster.faults.read_only.iter().any(|r| r == &index_name) && op != "delete" {
        return item_failure(
            op,
            &index_name,
            &id,
            429,
            "cluster_block_exception",
            &format!(
                "index [{index_name}] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];"
            ),
            "_na_",
        );
    }
    if !cluster.indices.contains_key(&index_name) {
        if op == "delete" || !standin.options.auto_create_index {
            return item_failure(
                op,
                &index_name,
                &id,
                404,
                "index_not_found_exception",
                &format!("no such index [{index_name}]"),
                "_na_",
            );
        }
        cluster
            .indices
            .insert(index_name.clone(), Index::new(false));
    }
    let Some(index) = cluster.indices.get_mut(&index_name) else {
        return item_failure(
            op,
            &index_name,
            &id,
            404,
            "index_not_found_exception",
            &format!("no such index [{index_name}]"),
            "_na_",
        );
    };
    let uuid = index.uuid.clone();
    let external = action
        .version_type
        .as_deref()
        .is_some_and(|t| t == "external" || t == "external_gt" || t == "external_gte");
    if action.version_type.is_some() && action.version.is_none() {
        return item_failure(
            op,
            &index_name,
            &id,
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: illegal version value [-3] for version type [EXTERNAL];",
            &uuid,
        );
    }
    if index.data_stream && op != "create" {
        // Data streams take only op_type create (B.7).
        return item_failure(
            op,
            &index_name,
            &id,
            400,
            "illegal_argument_exception",
            "only write ops with an op_type of create are allowed in data streams",
            &uuid,
        );
    }
    let current = index.docs.get(&id).cloned();
    // D.6: external versions must be greater than the stored one, tombstones included.
    if external
        && let (Some(new), Some(doc)) = (action.version, current.as_ref())
        && new <= doc.version
    {
        return item_failure(
            op,
            &index_name,
            &id,
            409,
            "version_conflict_engine_exception",
            &format!(
                "[{id}]: version conflict, current version [{}] is higher or equal to the one provided [{new}]",
                doc.version
            ),
            &uuid,
        );
    }
    let live = current.as_ref().filter(|d| !d.deleted);
    match op {
        "delete" => {
            let seq = index.next_seq_no;
            index.next_seq_no += 1;
            let version = if external {
                action.version.unwrap_or(1)
            } else {
                current.as_ref().map_or(1, |d| d.version + 1)
            };
            let existed = live.is_some();
            index.docs.insert(
                id.clone(),
                Doc {
                    source: Value::Null,
                    version,
                    seq_no: seq,
                    deleted: true,
                },
            );
            if existed {
                item_success(op, &index_name, &id, version, seq, "deleted", 200)
            } else {
                // D.6: delete of a missing doc is 404 not_found without an error object.
                item_success(op, &index_name, &id, version, seq, "not_found", 404)
            }
        }
        "create" | "index" => {
            if op == "create"
                && let Some(doc) = live
            {
                return item_failure(
                    op,
                    &index_name,
                    &id,
                    409,
                    "version_conflict_engine_exception",
                    &format!(
                        "[{id}]: version conflict, document already exists (current version [{}])",
                        doc.version
                    ),
                    &uuid,
                );
            }
            let source = action.source.unwrap_or(Value::Null);
            if index.data_stream && source.get("@timestamp").is_none() {
                return item_failure(
                    op,
                    &index_name,
                    &id,
                    400,
                    if modern {
                        "document_parsing_exception"
                    } else {
                        "mapper_parsing_exception"
                    },
                    "data stream timestamp field [@timestamp] is missing",
                    &uuid,
                );
            }
            if let Err(f) = mapping::check_and_extend(&mut index.mappings, &source, &id, modern) {
                return item_failure(op, &index_name, &id, 400, f.kind, &f.reason, &uuid);
            }
            let version = if external {
                action.version.unwrap_or(1)
            } else {
                current.as_ref().map_or(1, |d| d.version + 1)
            };
            let seq = index.next_seq_no;
            index.next_seq_no += 1;
            let created = live.is_none();
            index.docs.insert(
                id.clone(),
                Doc {
                    source,
                    version,
                    seq_no: seq,
                    deleted: false,
                },
            );
            if created {
                item_success(op, &index_name, &id, version, seq, "created", 201)
            } else {
                item_success(op, &index_name, &id, version, seq, "updated", 200)
            }
        }
        _ => {
            // update: {"doc":..,"upsert":..} (D.6).
            let body = action.source.unwrap_or(Value::Null);
            let (Some(doc_part), upsert) = (body.get("doc").cloned(), body.get("upsert").cloned())
            else {
                return item_failure(
                    op,
                    &index_name,
                    &id,
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: script or doc is missing;",
                    &uuid,
                );
            };
            let (new_source, created) = match (live, upsert) {
                (Some(doc), _) => {
                    let mut merged = doc.source.clone();
                    merge_objects(&mut merged, &doc_part);
                    if merged == doc.source {
                        return item_success(
                            op,
                            &index_name,
                            &id,
                            doc.version,
                            doc.seq_no,
                            "noop",
                            200,
                        );
                    }
                    (merged, false)
                }
                (None, Some(upsert)) => (upsert, true),
                (None, None) => {
                    return item_failure(
                        op,
                        &index_name,
                        &id,
                        404,
                        "document_missing_exception",
                        &format!("[{id}]: document missing"),
                        &uuid,
                    );
                }
            };
            if let Err(f) = mapping::check_and_extend(&mut index.mappings, &new_source, &id, modern)
            {
                return item_failure(op, &index_name, &id, 400, f.kind, &f.reason, &uuid);
            }
            let version = current.as_ref().map_or(1, |d| d.version + 1);
            let seq = index.next_seq_no;
            index.next_seq_no += 1;
            index.docs.insert(
                id.clone(),
                Doc {
                    source: new_source,
                    version,
                    seq_no: seq,
                    deleted: false,
                },
            );
            if created {
                item_success(op, &index_name, &id, version, seq, "created", 201)
            } else {
                item_success(op, &index_name, &id, version, seq, "updated", 200)
            }
        }
    }
}

fn merge_objects(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_objects(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standin() -> StandIn {
        StandIn::new(Options::default())
    }

    fn run(s: &StandIn, body: &str) -> Value {
        let actions = parse_bulk(body.as_bytes(), None)
            .map_err(|r| r.status())
            .unwrap();
        let mut cluster = s.cluster();
        actions
            .into_iter()
            .map(|a| apply_action(s, &mut cluster, a, true).1)
            .collect()
    }

    #[test]
    fn bulk_requires_trailing_newline_and_valid_json() {
        assert!(parse_bulk(b"{\"index\":{\"_index\":\"t\"}}\n{}", None).is_err());
        let r = parse_bulk(b"{\"index\":{\"_index\":\"t\"}}\n{oops}\n", None)
            .err()
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = parse_bulk(b"{\"bogus\":{\"_index\":\"t\"}}\n{}\n", None)
            .err()
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(parse_bulk(b"", None).is_err());
        assert!(parse_bulk(b"{\"delete\":{\"_index\":\"t\",\"_id\":\"1\"}}\n", None).is_ok());
    }

    #[test]
    fn external_versions_must_increase() {
        let s = standin();
        let items = run(
            &s,
            "{\"index\":{\"_index\":\"t\",\"_id\":\"k\",\"version\":5,\"version_type\":\"external\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\"t\",\"_id\":\"k\",\"version\":5,\"version_type\":\"external\"}}\n{\"a\":2}\n{\"index\":{\"_index\":\"t\",\"_id\":\"k\",\"version\":6,\"version_type\":\"external\"}}\n{\"a\":3}\n",
        );
        assert_eq!(items[0]["index"]["status"], 201);
        assert_eq!(items[1]["index"]["status"], 409);
        assert_eq!(
            items[1]["index"]["error"]["type"],
            "version_conflict_engine_exception"
        );
        assert_eq!(items[2]["index"]["status"], 200);
        assert_eq!(s.document("t", "k"), Some(json!({"a": 3})));
    }

    #[test]
    fn create_conflicts_upsert_and_delete_semantics() {
        let s = standin();
        let items = run(
            &s,
            concat!(
                "{\"create\":{\"_index\":\"t\",\"_id\":\"a\"}}\n{\"x\":1}\n",
                "{\"create\":{\"_index\":\"t\",\"_id\":\"a\"}}\n{\"x\":1}\n",
                "{\"update\":{\"_index\":\"t\",\"_id\":\"b\"}}\n{\"doc\":{\"x\":2},\"upsert\":{\"x\":2}}\n",
                "{\"update\":{\"_index\":\"t\",\"_id\":\"b\"}}\n{\"doc\":{\"y\":3}}\n",
                "{\"update\":{\"_index\":\"t\",\"_id\":\"c\"}}\n{\"doc\":{\"y\":3}}\n",
                "{\"delete\":{\"_index\":\"t\",\"_id\":\"zz\"}}\n",
                "{\"index\":{\"_index\":\"t\"}}\n{\"x\":5}\n",
            ),
        );
        assert_eq!(items[0]["create"]["status"], 201);
        assert_eq!(items[1]["create"]["status"], 409);
        assert_eq!(items[2]["update"]["status"], 201);
        assert_eq!(items[3]["update"]["result"], "updated");
        assert_eq!(s.document("t", "b"), Some(json!({"x": 2, "y": 3})));
        assert_eq!(
            items[4]["update"]["error"]["type"],
            "document_missing_exception"
        );
        assert_eq!(items[5]["delete"]["status"], 404);
        assert_eq!(items[5]["delete"]["result"], "not_found");
        assert!(items[5]["delete"].get("error").is_none());
        assert_eq!(items[6]["index"]["_id"].as_str().unwrap().len(), 20);
    }

    #[test]
    fn index_names_are_validated() {
        assert!(validate_index_name("ok-name").is_ok());
        assert!(validate_index_name("Upper").is_err());
        assert!(validate_index_name("_x").is_err());
        assert!(validate_index_name("a b").is_err());
        let s = standin();
        let items = run(&s, "{\"index\":{\"_index\":\"Bad\",\"_id\":\"1\"}}\n{}\n");
        assert_eq!(
            items[0]["index"]["error"]["type"],
            "invalid_index_name_exception"
        );
    }

    #[test]
    fn item_rejections_and_read_only_faults() {
        let s = standin();
        s.set_faults(&json!({"item_rejections": 1, "read_only": ["ro"]}))
            .unwrap();
        let items = run(
            &s,
            concat!(
                "{\"index\":{\"_index\":\"t\",\"_id\":\"1\"}}\n{}\n",
                "{\"index\":{\"_index\":\"t\",\"_id\":\"2\"}}\n{}\n",
                "{\"index\":{\"_index\":\"ro\",\"_id\":\"3\"}}\n{}\n",
            ),
        );
        assert_eq!(items[0]["index"]["status"], 429);
        assert_eq!(
            items[0]["index"]["error"]["type"],
            "es_rejected_execution_exception"
        );
        assert_eq!(items[1]["index"]["status"], 201);
        assert_eq!(
            items[2]["index"]["error"]["type"],
            "cluster_block_exception"
        );
        // What the response's `errors` flag is made of.
        assert!(item_failed(&items[0]) && !item_failed(&items[1]) && item_failed(&items[2]));
        assert!(s.set_faults(&json!({"nonsense": 1})).is_err());
    }

    #[test]
    fn data_streams_need_create_and_timestamp() {
        let s = standin();
        assert_eq!(create_data_stream(&s, "logs-a-b").status(), StatusCode::OK);
        assert_eq!(
            create_data_stream(&s, "logs-a-b").status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            create_data_stream(&s, "other").status(),
            StatusCode::BAD_REQUEST
        );
        let items = run(
            &s,
            concat!(
                "{\"index\":{\"_index\":\"logs-a-b\",\"_id\":\"1\"}}\n{\"@timestamp\":1}\n",
                "{\"create\":{\"_index\":\"logs-a-b\",\"_id\":\"1\"}}\n{\"v\":1}\n",
                "{\"create\":{\"_index\":\"logs-a-b\",\"_id\":\"1\"}}\n{\"@timestamp\":1}\n",
            ),
        );
        assert_eq!(items[0]["index"]["status"], 400);
        assert_eq!(items[1]["create"]["status"], 400);
        assert_eq!(items[2]["create"]["status"], 201);
    }

    #[test]
    fn version_rules_of_mapping_errors() {
        let s = StandIn::new(Options {
            version: "7.17.0".into(),
            ..Options::default()
        });
        assert!(!s.modern_errors());
        assert!(standin().modern_errors());
    }
}
