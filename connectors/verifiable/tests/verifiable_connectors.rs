//! Drives the verifiable source and sink tasks directly, with an in-memory offset store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_api::{
    ConnectRecord, Connector, ConnectorContext, OffsetStorageReader, Props, Schema, SinkRecord,
    SinkTask, SinkTaskContext, SourceMap, SourceTask, SourceTaskContext, TimestampType,
    TopicOffsets, Value,
};
use sluice_connector_verifiable::{
    VerifiableSinkConnector, VerifiableSinkTask, VerifiableSourceConnector, VerifiableSourceTask,
    plugins,
};

/// Committed offsets keyed by the partition's JSON text.
#[derive(Default)]
struct MemoryOffsets(HashMap<String, SourceMap>);

impl MemoryOffsets {
    fn with(partition: serde_json::Value, offset: serde_json::Value) -> Arc<Self> {
        let mut map = HashMap::new();
        map.insert(partition.to_string(), offset.as_object().unwrap().clone());
        Arc::new(Self(map))
    }
}

impl OffsetStorageReader for MemoryOffsets {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        self.0
            .get(&serde_json::Value::Object(partition.clone()).to_string())
            .cloned()
    }
}

struct NoRequests;
impl sluice_api::connector::ConnectorRequests for NoRequests {
    fn request_task_reconfiguration(&self) {}
    fn raise_error(&self, _message: String) {}
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn source_context(task_id: u32, offsets: Arc<dyn OffsetStorageReader>) -> SourceTaskContext {
    SourceTaskContext::new("verifiable-source", task_id, offsets)
}

async fn started_source(task_props: Props, offsets: Arc<MemoryOffsets>) -> VerifiableSourceTask {
    let mut task = VerifiableSourceTask::new();
    task.start(task_props, source_context(0, offsets))
        .await
        .unwrap();
    task
}

#[tokio::test]
async fn source_connector_numbers_its_tasks() {
    let mut connector = VerifiableSourceConnector::new();
    let config = props(&[("topic", "t"), ("throughput", "10")]);
    connector
        .start(config, ConnectorContext::new(Arc::new(NoRequests)))
        .await
        .unwrap();
    let configs = connector.task_configs(3).unwrap();
    let ids: Vec<&str> = configs.iter().map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["0", "1", "2"]);
    assert!(configs.iter().all(|c| c["topic"] == "t"));

    let missing_topic = props(&[("throughput", "10")]);
    assert!(
        connector
            .start(missing_topic, ConnectorContext::new(Arc::new(NoRequests)))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn source_continues_after_the_committed_seqno() {
    let offsets = MemoryOffsets::with(json!({"id": 2}), json!({"seqno": 41}));
    let mut task = started_source(props(&[("topic", "t"), ("id", "2")]), offsets).await;

    let records = task.poll().await.unwrap();
    assert!(!records.is_empty());
    for (i, r) in records.iter().enumerate() {
        let seqno = 42 + i as i64;
        assert_eq!(r.source_partition, *json!({"id": 2}).as_object().unwrap());
        assert_eq!(
            r.source_offset,
            *json!({"seqno": seqno}).as_object().unwrap()
        );
        assert_eq!(r.record.topic, "t");
        assert_eq!(r.record.key, Value::Int32(2));
        assert_eq!(r.record.key_schema, Some(Schema::int32()));
        assert_eq!(r.record.value_schema, Some(Schema::string()));
        let value: serde_json::Value =
            serde_json::from_str(r.record.value.as_str().unwrap()).unwrap();
        assert_eq!(value["task"], json!(2));
        assert_eq!(value["seqno"], json!(seqno));
        assert!(value["time_ms"].as_i64().unwrap() > 0);
    }
    let next = task.poll().await.unwrap();
    let first_of_next = next[0].source_offset["seqno"].as_i64().unwrap();
    assert_eq!(
        first_of_next,
        42 + records.len() as i64,
        "no gap between polls"
    );
}

#[tokio::test]
async fn source_without_a_committed_offset_starts_at_zero() {
    let offsets = MemoryOffsets::with(json!({"id": 1}), json!({"seqno": 9}));
    let mut task = started_source(props(&[("topic", "t"), ("id", "0")]), offsets).await;
    let records = task.poll().await.unwrap();
    assert_eq!(records[0].source_offset["seqno"], json!(0));
}

#[tokio::test]
async fn source_respects_throughput_roughly() {
    let limit = 50;
    let mut task = started_source(
        props(&[
            ("topic", "t"),
            ("id", "0"),
            ("throughput", &limit.to_string()),
        ]),
        Arc::default(),
    )
    .await;

    let started = Instant::now();
    let mut produced = 0usize;
    let mut longest_poll = Duration::ZERO;
    while started.elapsed() < Duration::from_secs(1) {
        let poll_started = Instant::now();
        produced += task.poll().await.unwrap().len();
        longest_poll = longest_poll.max(poll_started.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        (produced as f64) <= 2.0 * limit as f64 * elapsed,
        "{produced} records in {elapsed:.2} s with a limit of {limit}/s"
    );
    assert!(produced >= 5, "only {produced} records in {elapsed:.2} s");
    assert!(
        longest_poll < Duration::from_secs(2),
        "a poll took {longest_poll:?}"
    );
    assert_eq!(task.next_seqno(), produced as i64);
}

#[tokio::test]
async fn unlimited_source_is_not_throttled() {
    let mut task = started_source(props(&[("topic", "t"), ("id", "0")]), Arc::default()).await;
    let started = Instant::now();
    let mut produced = 0;
    for _ in 0..10 {
        produced += task.poll().await.unwrap().len();
    }
    assert!(produced >= 1000, "{produced}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn sink_record(partition: i32, offset: i64, key: Value, value: Value) -> SinkRecord {
    SinkRecord {
        record: ConnectRecord {
            topic: "verified".into(),
            kafka_partition: Some(partition),
            key,
            value,
            kafka_offset: Some(offset),
            ..ConnectRecord::default()
        },
        timestamp_type: TimestampType::CreateTime,
        original_topic: "verified".into(),
        original_kafka_partition: partition,
        original_kafka_offset: offset,
    }
}

#[tokio::test]
async fn sink_writes_one_parsable_json_line_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seen.jsonl");
    let mut connector = VerifiableSinkConnector::new();
    connector
        .start(
            props(&[("file", path.to_str().unwrap()), ("topics", "verified")]),
            ConnectorContext::new(Arc::new(NoRequests)),
        )
        .await
        .unwrap();
    let configs = connector.task_configs(2).unwrap();
    assert_eq!(configs[1]["id"], "1");

    let mut task = VerifiableSinkTask::new();
    task.start(configs[1].clone(), SinkTaskContext::new())
        .await
        .unwrap();
    task.put(&[
        sink_record(
            3,
            17,
            Value::Int32(0),
            r#"{"task":0,"seqno":5,"time_ms":1700000000000}"#.into(),
        ),
        sink_record(3, 18, Value::Null, "plain text".into()),
        sink_record(0, 2, "k".into(), Value::Int64(99)),
    ])
    .await
    .unwrap();
    task.flush(&TopicOffsets::new()).await.unwrap();

    let text = tokio::fs::read_to_string(&path).await.unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"task": 1, "topic": "verified", "partition": 3, "offset": 17, "key": 0,
                   "value": {"task": 0, "seqno": 5, "time_ms": 1700000000000i64}}),
            json!({"task": 1, "topic": "verified", "partition": 3, "offset": 18, "key": null,
                   "value": "plain text"}),
            json!({"task": 1, "topic": "verified", "partition": 0, "offset": 2, "key": "k",
                   "value": 99}),
        ]
    );
    task.stop().await.unwrap();
}

#[tokio::test]
async fn sink_task_requires_file_and_id() {
    let mut task = VerifiableSinkTask::new();
    assert!(
        task.start(props(&[("id", "0")]), SinkTaskContext::new())
            .await
            .is_err()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x");
    let err = task
        .start(
            props(&[("file", path.to_str().unwrap())]),
            SinkTaskContext::new(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("id"), "{err}");
}

#[test]
fn plugins_answer_to_class_names_and_aliases() {
    let all = plugins();
    let find = |name: &str| all.iter().find(|p| p.answers_to(name)).map(|p| p.class);
    assert_eq!(
        find("VerifiableSource"),
        Some("org.apache.kafka.connect.tools.VerifiableSourceConnector")
    );
    assert_eq!(
        find("VerifiableSink"),
        Some("org.apache.kafka.connect.tools.VerifiableSinkConnector")
    );
    assert!(matches!(
        all[0].factory,
        sluice_api::PluginFactory::Source { .. }
    ));
    assert!(matches!(
        all[1].factory,
        sluice_api::PluginFactory::Sink { .. }
    ));
}
