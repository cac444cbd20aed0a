//! End-to-end tests of the Elasticsearch sink: Kafka (Tansu) → sluice worker → the strict
//! Elasticsearch stand-in (`es-standin`, a test double). Rows of connectors.md D.8 are named
//! where they are checked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::kafka::{self, OutgoingRecord};
use sluice_tests::{
    EsOptions, EsStandIn, Tansu, WorkerCommand, WorkerProcess, rest, wait_until_described,
};

const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

fn worker_props(tansu: &Tansu) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = [
        ("bootstrap.servers", tansu.bootstrap().as_str()),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("value.converter.schemas.enable", "false"),
        ("offset.flush.interval.ms", "500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    props.extend(Tansu::fast_group_props_prefixed("consumer."));
    props
}

fn connector_file(dir: &Path, name: &str, config: Value) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json!({"name": name, "config": config}).to_string()).expect("write");
    path
}

fn sink(topic: &str, es: &EsStandIn, extra: Value) -> Value {
    let mut config = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "topics": topic,
        "connection.url": es.url(),
        "key.ignore": "true",
        "schema.ignore": "true",
        "linger.ms": "20",
        "retry.backoff.ms": "20",
    });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    config
}

async fn start_worker(tansu: &Tansu, dir: &Path, connectors: &[(&str, Value)]) -> WorkerProcess {
    let files: Vec<PathBuf> = connectors
        .iter()
        .map(|(name, config)| connector_file(dir, name, config.clone()))
        .collect();
    let mut worker = WorkerCommand::standalone(worker_props(tansu), files).spawn();
    worker.wait_ready().await;
    worker
}

async fn wait_count(es: &EsStandIn, index: &str, expected: u64, within: Duration) {
    let what = format!("{expected} documents in {index}");
    wait_until_described(&what, within, POLL, || async {
        es.count(index).await == expected
    })
    .await;
}

async fn task_state(worker: &WorkerProcess, name: &str) -> (String, String) {
    let (_, body) = rest::get_json(&worker.url(&format!("/connectors/{name}/status"))).await;
    let task = &body["tasks"][0];
    (
        task["state"].as_str().unwrap_or("").to_owned(),
        task["trace"].as_str().unwrap_or("").to_owned(),
    )
}

/// Waits for the task to fail. As in Kafka Connect, a sink task's background failure surfaces
/// on its next `put`, so a record is produced to `topic` every 2 s meanwhile.
async fn wait_failed(worker: &WorkerProcess, name: &str, bootstrap: &str, topic: &str) -> String {
    let deadline = Instant::now() + WAIT;
    let mut last_nudge = Instant::now();
    loop {
        let (state, trace) = task_state(worker, name).await;
        if state == "FAILED" {
            return trace;
        }
        assert!(
            Instant::now() < deadline,
            "task of {name} did not fail: {state}"
        );
        if last_nudge.elapsed() > Duration::from_secs(2) {
            kafka::produce_records(bootstrap, topic, &json_records(1, 1_000_000)).await;
            last_nudge = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

fn json_records(n: usize, start: usize) -> Vec<OutgoingRecord> {
    (start..start + n)
        .map(|i| OutgoingRecord::value(json!({"image": "Google", "n": i}).to_string()))
        .collect()
}

/// The demo's sink JSON, only `connection.url` pointed at the stand-in (ES 8: compat headers).
/// D.8 row "index-name lower-casing and leading _ / - stripping" on a second connector.
#[tokio::test]
async fn demo_sink_json_runs_unchanged_and_index_names_are_normalised() {
    let tansu = Tansu::start().await;
    let es = EsStandIn::start().await;
    let dir = sluice_tests::temp_dir();
    kafka::create_topic(&tansu.bootstrap(), "lisa18", 1).await;
    kafka::create_topic(&tansu.bootstrap(), "_Sock-Pairs", 1).await;
    let demo = json!({
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": false,
        "topics": "lisa18",
        "key.ignore": "true",
        "schema.ignore": "true",
        "type.name": "type.name=kafkaconnect",
        "connection.url": es.url()
    });
    let names = sink("_Sock-Pairs", &es, json!({}));
    let worker = start_worker(
        &tansu,
        dir.path(),
        &[("es_sink_jfokus19", demo), ("names", names)],
    )
    .await;
    kafka::produce_records(&tansu.bootstrap(), "lisa18", &json_records(20, 0)).await;
    kafka::produce_records(&tansu.bootstrap(), "_Sock-Pairs", &json_records(3, 0)).await;
    wait_count(&es, "lisa18", 20, WAIT).await;
    let doc = es
        .doc("lisa18", "lisa18+0+7")
        .await
        .expect("id from topic+partition+offset");
    assert_eq!(doc["_source"], json!({"image": "Google", "n": 7}));
    wait_count(&es, "sock-pairs", 3, WAIT).await;
    assert!(es.doc("sock-pairs", "_Sock-Pairs+0+0").await.is_some());
    let bulk = es
        .requests()
        .await
        .into_iter()
        .find(|r| r["path"] == "/_bulk")
        .expect("a bulk request");
    assert_eq!(
        bulk["content_type"], "application/vnd.elasticsearch+json;compatible-with=7",
        "ES 8 gets the compatibility media type"
    );
    assert!(
        worker.log_text().contains("type.name is deprecated"),
        "deprecation warning logged"
    );
    wait_until_described("offsets committed", WAIT, POLL, || async {
        kafka::committed_offsets(&tansu.bootstrap(), "connect-es_sink_jfokus19", "lisa18")
            .await
            .get(&0)
            == Some(&20)
    })
    .await;
}

/// D.8 rows: version conflict ignored and the offset advances; malformed document under warn
/// (reported to the DLQ: exactly the failed record) and fail; `external.version.header` as the
/// version; null values with `delete`; mapping creation skipped when a mapping exists.
#[tokio::test]
async fn item_outcomes_dlq_versions_and_tombstones() {
    let tansu = Tansu::start().await;
    let es = EsStandIn::start().await;
    let dir = sluice_tests::temp_dir();
    let client = sluice_tests::http_client_builder()
        .build()
        .expect("an HTTP client");
    // Pre-existing index with a mapping: the connector must not change it.
    let r = client
        .put(format!("{}/people", es.url()))
        .header("content-type", "application/json")
        .body(json!({"mappings": {"properties": {"age": {"type": "long"}}}}).to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    for t in ["people", "strict"] {
        kafka::create_topic(&tansu.bootstrap(), t, 1).await;
    }
    let warn = sink(
        "people",
        &es,
        json!({
            "key.ignore": "false",
            "schema.ignore": "false",
            "value.converter.schemas.enable": "true",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "behavior.on.malformed.documents": "warn",
            "behavior.on.null.values": "delete",
            "external.version.header": "v",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "dlq",
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    );
    let fail = sink("strict", &es, json!({"key.ignore": "false"}));
    let worker = start_worker(&tansu, dir.path(), &[("warn", warn), ("fail", fail)]).await;
    let schema =
        json!({"type": "struct", "fields": [{"field": "age", "type": "string", "optional": true}]});
    let value = |age: &str| json!({"schema": schema, "payload": {"age": age}}).to_string();
    let rec = |key: &str, v: Option<String>, version: &str| OutgoingRecord {
        key: Some(key.as_bytes().to_vec()),
        value: v.map(String::into_bytes),
        headers: vec![("v".to_owned(), Some(version.as_bytes().to_vec()))],
        partition: None,
        timestamp: None,
    };
    kafka::produce_records(
        &tansu.bootstrap(),
        "people",
        &[
            rec("k1", Some(value("1")), "10"),
            rec("k2", Some(value("old")), "1"),
            rec("k1", Some(value("2")), "5"),
            rec("k3", Some(value("3")), "1"),
            rec("k3", None, "2"),
            rec("k4", Some(value("4")), "1"),
        ],
    )
    .await;
    wait_until_described("offsets of all six committed", WAIT, POLL, || async {
        kafka::committed_offsets(&tansu.bootstrap(), "connect-warn", "people")
            .await
            .get(&0)
            == Some(&6)
    })
    .await;
    let k1 = es.doc("people", "k1").await.expect("k1");
    assert_eq!(k1["_version"], 10, "the header is the external version");
    assert_eq!(
        k1["_source"]["age"], "1",
        "the older version 5 conflicted and was ignored"
    );
    assert!(
        es.doc("people", "k2").await.is_none(),
        "malformed document not indexed"
    );
    assert!(
        es.doc("people", "k3").await.is_none(),
        "tombstone deleted k3"
    );
    assert!(es.doc("people", "k4").await.is_some());
    let dlq = kafka::consume_all(&tansu.bootstrap(), "dlq", 1, WAIT).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].key_str().as_deref(), Some("k2"));
    assert_eq!(dlq[0].value_json()["payload"]["age"], "old");
    let message = String::from_utf8_lossy(
        dlq[0]
            .header("__connect.errors.exception.message")
            .flatten()
            .unwrap_or_default(),
    )
    .into_owned();
    assert!(message.contains("document_parsing_exception"), "{message}");
    let requests = es.requests().await;
    assert!(
        !requests
            .iter()
            .any(|r| r["method"] == "PUT" && r["path"] == "/people/_mapping"),
        "an existing mapping is left alone"
    );
    assert!(
        requests
            .iter()
            .any(|r| r["method"] == "GET" && r["path"] == "/people/_mapping")
    );

    // behavior.on.malformed.documents=fail: the task fails naming the ES error.
    kafka::produce_records(
        &tansu.bootstrap(),
        "strict",
        &[
            OutgoingRecord::keyed("a", json!({"x": 1}).to_string()),
            OutgoingRecord::keyed("b", json!({"x": {"nested": true}}).to_string()),
        ],
    )
    .await;
    let trace = wait_failed(&worker, "fail", &tansu.bootstrap(), "strict").await;
    assert!(trace.contains("document_parsing_exception"), "{trace}");
    assert_eq!(task_state(&worker, "warn").await.0, "RUNNING");
}

fn bulk_statuses(requests: &[Value]) -> Vec<u64> {
    requests
        .iter()
        .filter(|r| r["path"] == "/_bulk")
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect()
}

/// D.8 rows: retry success after one 500; item-level 429 retried (just those items) and then
/// fatal; 503 fatal after retries with exactly max.retries+1 attempts.
#[tokio::test]
async fn whole_request_and_item_retries() {
    let tansu = Tansu::start().await;
    let es = EsStandIn::start().await;
    let dir = sluice_tests::temp_dir();
    for t in ["r1", "r2", "r3"] {
        kafka::create_topic(&tansu.bootstrap(), t, 1).await;
    }
    let retries = json!({"max.retries": "2", "retry.backoff.ms": "10"});
    let worker = start_worker(
        &tansu,
        dir.path(),
        &[
            ("r1", sink("r1", &es, retries.clone())),
            ("r2", sink("r2", &es, retries.clone())),
            ("r3", sink("r3", &es, retries)),
        ],
    )
    .await;
    // One 500, then success.
    es.faults(json!({"fail_status": 500, "fail_requests": 1}))
        .await;
    kafka::produce_records(&tansu.bootstrap(), "r1", &json_records(5, 0)).await;
    wait_count(&es, "r1", 5, WAIT).await;
    assert_eq!(bulk_statuses(&es.requests().await), vec![500, 200]);
    // Two items rejected with 429: only they are sent again.
    es.faults(json!({"item_rejections": 2})).await;
    kafka::produce_records(&tansu.bootstrap(), "r1", &json_records(5, 5)).await;
    wait_count(&es, "r1", 10, WAIT).await;
    let items: Vec<u64> = es
        .requests()
        .await
        .iter()
        .filter(|r| r["path"] == "/_bulk")
        .map(|r| r["bulk_items"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        items.last(),
        Some(&2),
        "the retry carried just the rejected items: {items:?}"
    );
    assert_eq!(task_state(&worker, "r1").await.0, "RUNNING");
    // 429 for every item: retried max.retries times, then fatal.
    es.faults(json!({"item_rejections": 1000})).await;
    kafka::produce_records(&tansu.bootstrap(), "r2", &json_records(1, 0)).await;
    let trace = wait_failed(&worker, "r2", &tansu.bootstrap(), "r2").await;
    assert!(trace.contains("es_rejected_execution_exception"), "{trace}");
    es.faults(json!({"item_rejections": 0})).await;
    let before = bulk_statuses(&es.requests().await).len();
    // 503 on every bulk: 3 attempts (max.retries=2), then fatal.
    es.faults(json!({"fail_status": 503, "fail_requests": 1000}))
        .await;
    kafka::produce_records(&tansu.bootstrap(), "r3", &json_records(1, 0)).await;
    let trace = wait_failed(&worker, "r3", &tansu.bootstrap(), "r3").await;
    assert!(
        trace.contains("Bulk request failed") && trace.contains("after 3 attempt(s)"),
        "{trace}"
    );
    let after = bulk_statuses(&es.requests().await);
    assert_eq!(&after[before..], &[503, 503, 503]);
}

/// D.8 rows: with max.in.flight.requests=4, exactly 3 bulks outstanding; data streams get
/// `create` ops and `@timestamp`; use.autogenerated.ids sends no `_id`. Also basic auth after
/// the 401 challenge and gzip bodies.
#[tokio::test]
async fn concurrency_data_streams_autogenerated_ids_auth_and_gzip() {
    let tansu = Tansu::start().await;
    let es = EsStandIn::start_with(EsOptions {
        credentials: Some(("elastic".into(), "changeme".into())),
        ..EsOptions::default()
    })
    .await;
    let dir = sluice_tests::temp_dir();
    for t in ["flight", "Sightings", "auto"] {
        kafka::create_topic(&tansu.bootstrap(), t, 1).await;
    }
    let auth = json!({"connection.username": "elastic", "connection.password": "changeme"});
    let mut flight = sink(
        "flight",
        &es,
        json!({
        "max.in.flight.requests": "4", "batch.size": "1", "max.buffered.records": "8", "linger.ms": "0",
        "connection.compression": "true"}),
    );
    let mut stream = sink(
        "Sightings",
        &es,
        json!({
        "data.stream.type": "logs", "data.stream.dataset": "socks"}),
    );
    let mut auto = sink(
        "auto",
        &es,
        json!({"key.ignore": "false", "use.autogenerated.ids": "true"}),
    );
    for c in [&mut flight, &mut stream, &mut auto] {
        for (k, v) in auth.as_object().unwrap() {
            c[k] = v.clone();
        }
    }
    let worker = start_worker(
        &tansu,
        dir.path(),
        &[("flight", flight), ("stream", stream), ("auto", auto)],
    )
    .await;

    kafka::produce_records(
        &tansu.bootstrap(),
        "Sightings",
        &[OutgoingRecord::value(json!({"image": "Mongo"}).to_string())
            .with_timestamp(1_700_000_000_000)],
    )
    .await;
    wait_count(&es, "logs-socks-sightings", 1, WAIT).await;
    let hits = es.search_all("logs-socks-sightings").await;
    assert_eq!(hits[0]["_source"]["@timestamp"], 1_700_000_000_000i64);
    assert_eq!(hits[0]["_id"], "Sightings+0+0");
    kafka::produce_records(
        &tansu.bootstrap(),
        "auto",
        &[
            OutgoingRecord::keyed("same", "{\"a\":1}"),
            OutgoingRecord::keyed("same", "{\"a\":2}"),
        ],
    )
    .await;
    wait_count(&es, "auto", 2, WAIT).await;

    es.faults(json!({"hold_bulks": true})).await;
    kafka::produce_records(&tansu.bootstrap(), "flight", &json_records(10, 0)).await;
    wait_until_described("3 bulks outstanding", WAIT, POLL, || async {
        es.stats().await["in_flight_bulks"] == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        es.stats().await["in_flight_bulks"],
        3,
        "never more than N-1 outstanding"
    );
    es.release().await;
    wait_count(&es, "flight", 10, WAIT).await;

    let requests = es.requests().await;
    let ops = es.stats().await["item_ops"].clone();
    assert_eq!(ops["create"], 1, "data streams take create ops: {ops}");
    assert!(
        requests.iter().any(|r| r["status"] == 401),
        "the first request met the challenge"
    );
    let bulks: Vec<&Value> = requests
        .iter()
        .filter(|r| r["path"] == "/_bulk" && r["status"] == 200)
        .collect();
    assert!(bulks.iter().all(|r| r["user"] == "elastic"));
    assert!(bulks.iter().any(|r| r["content_encoding"] == "gzip"));
    assert!(
        bulks
            .iter()
            .any(|r| r["bulk_items"].as_u64() > Some(0) && r["ids_sent"] == 0),
        "autogenerated ids: a bulk without _id"
    );
    for name in ["flight", "stream", "auto"] {
        assert_eq!(task_state(&worker, name).await.0, "RUNNING");
    }
}

/// A 60 s outage of the stand-in (frozen: connections hang) under load loses nothing and needs
/// no restart.
#[tokio::test]
async fn sixty_second_outage_under_load_loses_nothing() {
    let tansu = Tansu::start().await;
    let mut es = EsStandIn::start().await;
    let dir = sluice_tests::temp_dir();
    kafka::create_topic(&tansu.bootstrap(), "load", 2).await;
    let config = sink(
        "load",
        &es,
        json!({
        "max.retries": "1000", "retry.backoff.ms": "200", "retry.backoff.max.ms": "3000",
        "read.timeout.ms": "2000", "batch.size": "500", "flush.timeout.ms": "600000"}),
    );
    let worker = start_worker(&tansu, dir.path(), &[("load", config)]).await;
    kafka::produce_records(&tansu.bootstrap(), "load", &json_records(2000, 0)).await;
    wait_count(&es, "load", 2000, WAIT).await;
    es.freeze();
    let outage = Instant::now();
    let mut produced = 2000;
    while outage.elapsed() < Duration::from_secs(60) {
        kafka::produce_records(&tansu.bootstrap(), "load", &json_records(1000, produced)).await;
        produced += 1000;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            task_state(&worker, "load").await.0,
            "RUNNING",
            "the task rides out the outage"
        );
    }
    es.thaw();
    wait_count(&es, "load", produced as u64, Duration::from_secs(120)).await;
    assert_eq!(task_state(&worker, "load").await.0, "RUNNING");
}

/// kill -9 of the worker mid-batch: after a restart every record is indexed exactly once (ids
/// from topic+partition+offset make the replay overwrite, not duplicate).
#[tokio::test]
async fn kill_9_mid_batch_reindexes_without_duplicates() {
    let tansu = Tansu::start().await;
    let es = EsStandIn::start().await;
    let dir = sluice_tests::temp_dir();
    kafka::create_topic(&tansu.bootstrap(), "crash", 1).await;
    const N: u64 = 5000;
    // Slow bulks keep a batch in flight when the kill comes.
    es.faults(json!({"delay_ms": 150})).await;
    let config = sink("crash", &es, json!({"batch.size": "200"}));
    // No offset commit before the kill (long flush interval), so the restart must replay what
    // was already indexed: the test then checks that the replay overwrites instead of adding.
    let mut props = worker_props(&tansu);
    props.retain(|(k, _)| k != "offset.flush.interval.ms");
    props.push(("offset.flush.interval.ms".into(), "600000".into()));
    let file = connector_file(dir.path(), "crash", config);
    let mut worker = WorkerCommand::standalone(props, [file]).spawn();
    worker.wait_ready().await;
    kafka::produce_records(&tansu.bootstrap(), "crash", &json_records(N as usize, 0)).await;
    wait_until_described(
        "a fifth indexed",
        WAIT,
        Duration::from_millis(20),
        || async { es.count("crash").await >= N / 5 },
    )
    .await;
    worker.kill_9();
    let at_kill = es.count("crash").await;
    assert!(
        at_kill < N,
        "the kill came after everything was indexed ({at_kill})"
    );
    es.faults(json!({"delay_ms": 0})).await;
    worker.restart().await;
    wait_count(&es, "crash", N, WAIT).await;
    let hits = es.search_all("crash").await;
    assert_eq!(hits.len() as u64, N, "no duplicates");
    let indexed = es.stats().await["bulk_items"].as_u64().unwrap_or(0);
    assert!(
        indexed > N,
        "some records were indexed twice (replayed), got {indexed}"
    );
}
