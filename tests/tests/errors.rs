//! Record errors on the sink data path (KIP-298): bad records skipped under
//! `errors.tolerance=all` and copied to the dead letter queue with context headers, transforms
//! and predicates applied to the good ones, and a FAILED task under `errors.tolerance=none`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::kafka;
use sluice_tests::rest;
use sluice_tests::{Tansu, WorkerProcess};

const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

fn worker_props(tansu: &Tansu) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), tansu.bootstrap()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("value.converter.schemas.enable".into(), "false".into()),
        ("offset.flush.interval.ms".into(), "500".into()),
    ];
    props.extend(
        Tansu::fast_group_props_prefixed("consumer.")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    props
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn bad_records_go_to_the_dead_letter_queue_and_good_ones_are_transformed() {
    let tansu = Tansu::start().await;
    let bs = tansu.bootstrap();
    kafka::create_topic(&bs, "orders", 1).await;
    type Headers<'a> = &'a [(&'a str, &'a [u8])];
    let records: [(&[u8], Headers); 4] = [
        (br#"{"id":1}"#, &[("trace", b"abc")]),
        (b"not json", &[("trace", b"abc")]),
        (br#"{"id":2}"#, &[("trace", b"abc")]),
        (br#"{"id":3}"#, &[("trace", b"abc"), ("skip", b"yes")]),
    ];
    for (value, headers) in records {
        kafka::produce(&bs, "orders", Some(b"k"), Some(value), headers).await;
    }
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    let out = worker.dir().join("orders.jsonl");
    let config = json!({
        "connector.class": "VerifiableSink",
        "topics": "orders",
        "file": out.display().to_string(),
        "errors.tolerance": "all",
        "errors.log.enable": "true",
        "errors.deadletterqueue.topic.name": "orders-dlq",
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true",
        "transforms": "tag,dropSkipped",
        "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.tag.topic.field": "source_topic",
        "transforms.tag.offset.field": "source_offset",
        "transforms.dropSkipped.type": "Filter",
        "transforms.dropSkipped.predicate": "hasSkip",
        "predicates": "hasSkip",
        "predicates.hasSkip.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        "predicates.hasSkip.name": "skip"
    });
    let (status, body) =
        rest::put_json(&worker.url("/connectors/orders-sink/config"), &config).await;
    assert_eq!(status, 201, "{body}");

    // Once all four offsets are committed, every record was handled.
    let deadline = Instant::now() + WAIT;
    loop {
        let committed = kafka::committed_offsets(&bs, "connect-orders-sink", "orders").await;
        if committed.get(&0) == Some(&4) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "committed {committed:?}; sink wrote {:?}",
            lines(&out)
        );
        tokio::time::sleep(POLL).await;
    }
    let written = lines(&out);
    let ids: Vec<i64> = written
        .iter()
        .filter_map(|l| l["value"]["id"].as_i64())
        .collect();
    assert_eq!(
        ids,
        vec![1, 2],
        "the bad record is skipped; Filter dropped the one with the header"
    );
    assert_eq!(
        written[0]["value"]["source_topic"], "orders",
        "InsertField ran"
    );
    assert_eq!(written[1]["value"]["source_offset"], 2);

    let dlq = kafka::consume_all(&bs, "orders-dlq", 1, WAIT).await;
    assert_eq!(dlq.len(), 1);
    let record = &dlq[0];
    assert_eq!(
        record.value.as_deref(),
        Some(&b"not json"[..]),
        "the original bytes"
    );
    assert_eq!(record.key.as_deref(), Some(&b"k"[..]));
    let header = |name: &str| {
        record
            .header(name)
            .flatten()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(
        header("trace").as_deref(),
        Some("abc"),
        "original headers kept"
    );
    assert_eq!(header("__connect.errors.topic").as_deref(), Some("orders"));
    assert_eq!(header("__connect.errors.partition").as_deref(), Some("0"));
    assert_eq!(header("__connect.errors.offset").as_deref(), Some("1"));
    assert_eq!(
        header("__connect.errors.connector.name").as_deref(),
        Some("orders-sink")
    );
    assert_eq!(header("__connect.errors.task.id").as_deref(), Some("0"));
    assert_eq!(
        header("__connect.errors.stage").as_deref(),
        Some("VALUE_CONVERTER")
    );
    assert_eq!(
        header("__connect.errors.exception.class.name").as_deref(),
        Some("org.apache.kafka.connect.errors.DataException")
    );

    let metrics = reqwest::get(worker.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(
        metrics.contains(
            "kafka_connect_task_error_metrics_total_records_skipped_total{connector=\"orders-sink\",task=\"0\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        worker
            .log_text()
            .contains("Error encountered in task orders-sink-0"),
        "errors.log.enable logs the error"
    );
}

#[tokio::test]
async fn without_tolerance_a_bad_record_fails_the_task_and_commits_nothing_past_it() {
    let tansu = Tansu::start().await;
    let bs = tansu.bootstrap();
    kafka::create_topic(&bs, "strict", 1).await;
    for value in [&br#"{"id":1}"#[..], b"{broken", br#"{"id":2}"#] {
        kafka::produce(&bs, "strict", None, Some(value), &[]).await;
    }
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    let out = worker.dir().join("strict.jsonl");
    let (status, body) = rest::put_json(
        &worker.url("/connectors/strict-sink/config"),
        &json!({"connector.class": "VerifiableSink", "topics": "strict", "file": out.display().to_string()}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let deadline = Instant::now() + WAIT;
    let task = loop {
        let (_, body) = rest::get_json(&worker.url("/connectors/strict-sink/status")).await;
        if body["tasks"][0]["state"] == "FAILED" {
            break body["tasks"][0].clone();
        }
        assert!(Instant::now() < deadline, "task never failed: {body}");
        tokio::time::sleep(POLL).await;
    };
    let trace = task["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("Tolerance exceeded"), "{trace}");
    assert!(trace.contains("VALUE_CONVERTER"), "{trace}");
    let (status, one) = rest::get_json(&worker.url("/connectors/strict-sink/tasks/0/status")).await;
    assert_eq!(status, 200);
    assert_eq!(one["state"], "FAILED");
    assert_eq!(one["id"], 0);

    // The record after the bad one was never written, and nothing past the bad one is committed.
    let ids: Vec<i64> = lines(&out)
        .iter()
        .filter_map(|l| l["value"]["id"].as_i64())
        .collect();
    assert!(!ids.contains(&2), "{ids:?}");
    let committed = kafka::committed_offsets(&bs, "connect-strict-sink", "strict").await;
    assert!(
        committed.get(&0).is_none_or(|o| *o <= 1),
        "committed {committed:?}"
    );
}
