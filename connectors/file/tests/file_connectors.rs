//! Drives the file source and sink tasks directly, with an in-memory offset store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_api::{
    ConnectRecord, Connector, ConnectorContext, OffsetStorageReader, Props, Schema, SinkRecord,
    SinkTask, SinkTaskContext, SourceMap, SourceRecord, SourceTask, SourceTaskContext,
    TimestampType, TopicOffsets, Value,
};
use sluice_connector_file::{
    FileStreamSinkConnector, FileStreamSinkTask, FileStreamSourceConnector, FileStreamSourceTask,
    plugins,
};
use tokio::io::AsyncWriteExt;

/// Committed offsets keyed by the partition's JSON text.
#[derive(Default)]
struct MemoryOffsets(Mutex<HashMap<String, SourceMap>>);

impl MemoryOffsets {
    fn with(partition: serde_json::Value, offset: serde_json::Value) -> Arc<Self> {
        let store = Self::default();
        store
            .0
            .lock()
            .unwrap()
            .insert(partition.to_string(), offset.as_object().unwrap().clone());
        Arc::new(store)
    }
}

impl OffsetStorageReader for MemoryOffsets {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        let key = serde_json::Value::Object(partition.clone()).to_string();
        self.0.lock().unwrap().get(&key).cloned()
    }
}

struct NoRequests;
impl sluice_api::connector::ConnectorRequests for NoRequests {
    fn request_task_reconfiguration(&self) {}
    fn raise_error(&self, _message: String) {}
}

fn connector_context() -> ConnectorContext {
    ConnectorContext::new(Arc::new(NoRequests))
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn source_context(offsets: Arc<dyn OffsetStorageReader>) -> SourceTaskContext {
    SourceTaskContext::new("file-source", 0, offsets)
}

async fn start_source(
    path: &str,
    extra: &[(&str, &str)],
    offsets: Arc<MemoryOffsets>,
) -> FileStreamSourceTask {
    let mut all = vec![("file", path), ("topic", "lines")];
    all.extend_from_slice(extra);
    let mut task = FileStreamSourceTask::new();
    task.start(props(&all), source_context(offsets))
        .await
        .unwrap();
    task
}

fn values(records: &[SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.record.value.as_str().unwrap().to_owned())
        .collect()
}

fn positions(records: &[SourceRecord]) -> Vec<u64> {
    records
        .iter()
        .map(|r| r.source_offset["position"].as_u64().unwrap())
        .collect()
}

async fn append(path: &std::path::Path, text: &str) {
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .unwrap();
    f.write_all(text.as_bytes()).await.unwrap();
    f.flush().await.unwrap();
}

#[tokio::test]
async fn source_emits_one_string_record_per_line_with_kafka_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "alpha\nbeta\r\n\ngamma\n").await;
    let path_str = path.to_str().unwrap();
    let mut task = start_source(path_str, &[], Arc::default()).await;

    let records = task.poll().await.unwrap();
    assert_eq!(values(&records), ["alpha", "beta", "", "gamma"]);
    assert_eq!(positions(&records), [6, 12, 13, 19]);
    for r in &records {
        assert_eq!(
            r.source_partition,
            *json!({"filename": path_str}).as_object().unwrap()
        );
        assert_eq!(r.record.topic, "lines");
        assert_eq!(r.record.value_schema, Some(Schema::string()));
        assert_eq!(r.record.key, Value::Null);
        assert!(r.record.key_schema.is_none());
    }
    task.stop().await.unwrap();
}

#[tokio::test]
async fn source_resumes_after_the_committed_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "one\ntwo\nthree\n").await;
    let path_str = path.to_str().unwrap();
    let offsets = MemoryOffsets::with(json!({"filename": path_str}), json!({"position": 4}));
    let mut task = start_source(path_str, &[], offsets).await;

    let records = task.poll().await.unwrap();
    assert_eq!(values(&records), ["two", "three"]);
    assert_eq!(positions(&records), [8, 14]);
}

#[tokio::test]
async fn source_rejects_an_offset_of_the_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let path_str = path.to_str().unwrap();
    let offsets = MemoryOffsets::with(json!({"filename": path_str}), json!({"position": "4"}));
    let mut task = FileStreamSourceTask::new();
    let err = task
        .start(
            props(&[("file", path_str), ("topic", "t")]),
            source_context(offsets),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("incorrect type"), "{err}");
}

#[tokio::test]
async fn source_waits_for_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.txt");
    let mut task = start_source(path.to_str().unwrap(), &[], Arc::default()).await;

    let started = Instant::now();
    assert!(task.poll().await.unwrap().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "poll took {:?}",
        started.elapsed()
    );

    append(&path, "finally\n").await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(task.poll().await.unwrap());
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(values(&got), ["finally"]);
}

#[tokio::test]
async fn source_holds_back_a_partial_last_line_until_it_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "done\nhalf").await;
    let mut task = start_source(path.to_str().unwrap(), &[], Arc::default()).await;

    assert_eq!(values(&task.poll().await.unwrap()), ["done"]);
    let started = Instant::now();
    assert!(
        task.poll().await.unwrap().is_empty(),
        "partial line must not be emitted"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "poll took {:?}",
        started.elapsed()
    );

    append(&path, "-way\r").await;
    assert!(task.poll().await.unwrap().is_empty());
    append(&path, "\nnext\n").await;
    let records = task.poll().await.unwrap();
    assert_eq!(values(&records), ["half-way", "next"]);
    assert_eq!(positions(&records), [15, 20]);
}

#[tokio::test]
async fn source_returns_at_most_batch_size_records_per_poll() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "1\n2\n3\n4\n5\n").await;
    let mut task = start_source(
        path.to_str().unwrap(),
        &[("batch.size", "2")],
        Arc::default(),
    )
    .await;

    let sizes: Vec<Vec<String>> = [
        task.poll().await.unwrap(),
        task.poll().await.unwrap(),
        task.poll().await.unwrap(),
    ]
    .iter()
    .map(|b| values(b))
    .collect();
    assert_eq!(sizes, [vec!["1", "2"], vec!["3", "4"], vec!["5"]]);
}

#[tokio::test]
async fn dropping_poll_futures_loses_no_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let lines: Vec<String> = (0..20_000).map(|i| format!("line number {i}")).collect();
    append(&path, &format!("{}\n", lines.join("\n"))).await;
    let mut task = start_source(
        path.to_str().unwrap(),
        &[("batch.size", "7")],
        Arc::default(),
    )
    .await;

    let mut got = Vec::new();
    let mut attempt = 0u64;
    while got.len() < lines.len() {
        attempt += 1;
        assert!(attempt < 50_000, "stuck after {} lines", got.len());
        // Cut polls short at varying points; whatever a cancelled poll had read must survive.
        let budget = Duration::from_micros(attempt % 5 * 200);
        if let Ok(batch) = tokio::time::timeout(budget, task.poll()).await {
            got.extend(values(&batch.unwrap()));
        }
    }
    assert_eq!(got, lines);
}

#[tokio::test]
async fn source_connector_rejects_a_topic_list_and_makes_one_task() {
    let mut connector = FileStreamSourceConnector::new();
    let bad = props(&[("file", "/tmp/x"), ("topic", "a,b")]);
    let message =
        "'topic' in FileStreamSourceConnector configuration requires definition of a single topic";
    let errors: Vec<String> = connector
        .validate(&bad)
        .into_iter()
        .flat_map(|v| v.errors)
        .collect();
    assert_eq!(errors, [message]);
    let err = connector.start(bad, connector_context()).await.unwrap_err();
    assert!(err.to_string().contains(message), "{err}");

    let good = props(&[("file", "/tmp/x"), ("topic", "a"), ("tasks.max", "4")]);
    connector
        .start(good.clone(), connector_context())
        .await
        .unwrap();
    assert_eq!(connector.task_configs(4).unwrap(), vec![good]);

    let zero_batch = props(&[("topic", "a"), ("batch.size", "0")]);
    assert!(
        connector
            .start(zero_batch, connector_context())
            .await
            .is_err()
    );
    assert!(
        connector
            .start(props(&[("file", "/tmp/x")]), connector_context())
            .await
            .is_err()
    );
}

fn sink_record(offset: i64, value: Value) -> SinkRecord {
    SinkRecord {
        record: ConnectRecord {
            topic: "in".into(),
            kafka_partition: Some(0),
            value,
            kafka_offset: Some(offset),
            ..ConnectRecord::default()
        },
        timestamp_type: TimestampType::CreateTime,
        original_topic: "in".into(),
        original_kafka_partition: 0,
        original_kafka_offset: offset,
    }
}

#[tokio::test]
async fn sink_appends_values_as_lines_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    append(&path, "existing\n").await;
    let mut task = FileStreamSinkTask::new();
    task.start(
        props(&[("file", path.to_str().unwrap()), ("topics", "in")]),
        SinkTaskContext::new(),
    )
    .await
    .unwrap();

    task.put(&[
        sink_record(0, "hello".into()),
        sink_record(1, Value::Int32(42)),
        sink_record(2, Value::Null),
        sink_record(3, Value::Float64(2.0)),
        sink_record(4, Value::Boolean(false)),
    ])
    .await
    .unwrap();
    let mut offsets = TopicOffsets::new();
    offsets.insert(sluice_api::TopicPartition::new("in", 0), 5);
    let committable = task.pre_commit(offsets.clone()).await.unwrap();
    assert_eq!(committable, offsets);

    let text = tokio::fs::read_to_string(&path).await.unwrap();
    assert_eq!(text, "existing\nhello\n42\nnull\n2.0\nfalse\n");

    task.put(&[sink_record(5, "more".into())]).await.unwrap();
    task.stop().await.unwrap();
    let text = tokio::fs::read_to_string(&path).await.unwrap();
    assert!(text.ends_with("false\nmore\n"), "{text:?}");
}

#[tokio::test]
async fn sink_connector_gives_every_task_the_same_config() {
    let mut connector = FileStreamSinkConnector::new();
    let config = props(&[("file", "/tmp/out"), ("topics", "a,b")]);
    assert!(
        connector
            .validate(&config)
            .iter()
            .all(|v| v.errors.is_empty())
    );
    connector
        .start(config.clone(), connector_context())
        .await
        .unwrap();
    assert_eq!(
        connector.task_configs(3).unwrap(),
        vec![config.clone(), config.clone(), config]
    );
}

#[tokio::test]
async fn sink_reports_a_file_it_cannot_create() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("out.txt");
    let mut task = FileStreamSinkTask::new();
    let err = task
        .start(
            props(&[("file", path.to_str().unwrap())]),
            SinkTaskContext::new(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Couldn't find or create file"),
        "{err}"
    );
}

#[test]
fn plugins_answer_to_class_names_and_aliases() {
    let all = plugins();
    let find = |name: &str| all.iter().find(|p| p.answers_to(name)).map(|p| p.class);
    let source = Some("org.apache.kafka.connect.file.FileStreamSourceConnector");
    let sink = Some("org.apache.kafka.connect.file.FileStreamSinkConnector");
    assert_eq!(find("FileStreamSource"), source);
    assert_eq!(find("FileStreamSourceConnector"), source);
    assert_eq!(find("FileStreamSink"), sink);
    assert_eq!(find("FileStreamSinkConnector"), sink);
    assert_eq!(
        find("org.apache.kafka.connect.file.FileStreamSinkConnector"),
        sink
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
