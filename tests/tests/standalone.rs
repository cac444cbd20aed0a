//! End-to-end tests of a standalone worker against a real Kafka-protocol broker (Tansu): the
//! example configs as users run them, converters, secrets, REST, metrics, crash recovery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_tests::kafka::{self, ConsumedRecord};
use sluice_tests::rest;
use sluice_tests::{Tansu, WorkerCommand, WorkerProcess, wait_until_described, workspace_root};

const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

fn config_file(name: &str) -> PathBuf {
    workspace_root().join("configs").join(name)
}

/// The example worker file as shipped, as (key, value) pairs.
fn example_worker_props() -> Vec<(String, String)> {
    let props = sluice_config::load_properties(&config_file("connect-standalone.properties"))
        .unwrap_or_else(|e| panic!("configs/connect-standalone.properties: {e}"));
    // The harness gives each worker its own free port instead of the file's :8083.
    props
        .into_iter()
        .filter(|(k, _)| k != "listeners")
        .collect()
}

/// Environment overrides that point the example worker at the test broker, and make commits and
/// group joins fast (Tansu holds a group's first join for half the session timeout).
fn test_env(tansu: &Tansu, offsets: &Path) -> Vec<(String, String)> {
    vec![
        ("CONNECT_BOOTSTRAP_SERVERS".into(), tansu.bootstrap()),
        (
            "CONNECT_OFFSET_STORAGE_FILE_FILENAME".into(),
            offsets.display().to_string(),
        ),
        ("CONNECT_OFFSET_FLUSH_INTERVAL_MS".into(), "500".into()),
        ("CONNECT_CONSUMER_SESSION_TIMEOUT_MS".into(), "6000".into()),
        (
            "CONNECT_CONSUMER_HEARTBEAT_INTERVAL_MS".into(),
            "1000".into(),
        ),
        (
            "CONNECT_CONSUMER_MAX_POLL_INTERVAL_MS".into(),
            "10000".into(),
        ),
        (
            "CONNECT_CONSUMER_PARTITION_ASSIGNMENT_STRATEGY".into(),
            "range".into(),
        ),
    ]
}

/// Worker props for tests that build their own file: the example's converters, plus the test
/// broker and fast settings.
fn worker_props(tansu: &Tansu, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), tansu.bootstrap()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        ("offset.flush.interval.ms".into(), "500".into()),
    ];
    props.extend(
        Tansu::fast_group_props_prefixed("consumer.")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    props
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn lines(path: &Path) -> Vec<String> {
    read(path).lines().map(str::to_owned).collect()
}

async fn wait_for_lines(path: &Path, count: usize, what: &str) {
    wait_until_described(what, WAIT, POLL, || async { lines(path).len() >= count }).await;
}

async fn wait_running(worker: &WorkerProcess, name: &str) -> Value {
    let url = worker.url(&format!("/connectors/{name}/status"));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, body) = rest::get_json(&url).await;
        let running = status == 200
            && body["connector"]["state"] == "RUNNING"
            && body["tasks"]
                .as_array()
                .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["state"] == "RUNNING"));
        if running {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "connector {name} not RUNNING after {WAIT:?}: {status} {body}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Kafka's own example: `connect-standalone.properties` with the file source and sink property
/// files, unchanged, moving lines through Kafka with the JSON converter and schemas.
#[tokio::test]
async fn example_configs_move_a_file_through_kafka() {
    let tansu = Tansu::start().await;
    let offsets_dir = sluice_tests::temp_dir();
    let offsets = offsets_dir.path().join("connect.offsets");
    let mut worker = WorkerCommand::standalone(
        example_worker_props(),
        [
            config_file("connect-file-source.properties"),
            config_file("connect-file-sink.properties"),
        ],
    )
    .with_env(test_env(&tansu, &offsets))
    .spawn();
    // One partition, as Kafka's default num.partitions gives, so the order of lines is kept.
    kafka::create_topic(&tansu.bootstrap(), "connect-test", 1).await;
    worker.wait_ready().await;

    // The example files name relative paths; the worker runs in its own directory.
    let input = worker.dir().join("test.txt");
    let output = worker.dir().join("test.sink.txt");
    let sent: Vec<String> = (0..50).map(|i| format!("line {i} with ünïcode")).collect();
    std::fs::write(&input, sent.join("\n") + "\n").expect("write test.txt");

    wait_for_lines(&output, sent.len(), "the sink file to hold every line").await;
    assert_eq!(lines(&output), sent, "lines arrive once each, in order");

    // In Kafka the values are JsonConverter envelopes with the string schema.
    let records = kafka::consume_all(&tansu.bootstrap(), "connect-test", sent.len(), WAIT).await;
    let first: Value = serde_json::from_slice(records[0].value.as_deref().unwrap_or_default())
        .expect("JSON value");
    assert_eq!(
        first,
        json!({"schema": {"type": "string", "optional": false}, "payload": sent[0]})
    );
    // A null key with schemas enabled is written as a null record key.
    assert_eq!(records[0].key, None);

    // The offsets file is where the env override put it, with the committed position.
    wait_until_described("source offsets committed", WAIT, POLL, || async {
        read(&offsets).contains(&format!(
            "\"{{\\\"position\\\":{}}}\"",
            std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0)
        ))
    })
    .await;
    let exit = worker.terminate().await;
    assert!(
        exit.success(),
        "graceful stop on SIGTERM exits 0, got {exit:?}"
    );
}

/// JSON created through REST, written for Java Connect (numbers and booleans where Connect has
/// strings), with schemas disabled at the connector level.
#[tokio::test]
async fn rest_created_connectors_and_json_without_schemas() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "plain-json", 1).await;
    let mut worker = WorkerProcess::standalone(worker_props(&tansu, &[]), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    let input = worker.dir().join("in.txt");
    std::fs::write(&input, "alpha\nbeta\n").expect("write input");

    let create = json!({
        "name": "json-src",
        "config": {
            "connector.class": "FileStreamSource",
            "tasks.max": 1,
            "file": input.display().to_string(),
            "topic": "plain-json",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": false,
            "confluent.topic.replication.factor": "1"
        }
    });
    let (status, body) = rest::post_json(&worker.url("/connectors"), &create).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "json-src");
    assert_eq!(body["type"], "source");
    assert_eq!(body["config"]["tasks.max"], "1", "numbers become strings");
    assert_eq!(body["config"]["value.converter.schemas.enable"], "false");
    assert!(
        worker.log_text().contains(
            "The configuration 'confluent.topic.replication.factor' was supplied but isn't a known config."
        ),
        "unknown keys are accepted with a warning, as in Kafka"
    );

    let records = kafka::consume_all(&tansu.bootstrap(), "plain-json", 2, WAIT).await;
    let values: Vec<String> = records
        .iter()
        .filter_map(ConsumedRecord::value_str)
        .collect();
    assert_eq!(
        values,
        vec!["\"alpha\"", "\"beta\""],
        "plain JSON strings, no envelope"
    );

    let status = wait_running(&worker, "json-src").await;
    assert_eq!(status["type"], "source");
    assert_eq!(status["tasks"][0]["id"], 0);
    assert!(
        status["connector"]["worker_id"]
            .as_str()
            .is_some_and(|w| w.contains(':'))
    );

    // The same name again is a conflict.
    let (status, body) = rest::post_json(&worker.url("/connectors"), &create).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error_code"], 409);
    assert_eq!(body["message"], "Connector json-src already exists");
}

/// Bad input gets Connect's error body and status; nothing half-created stays behind.
#[tokio::test]
async fn rest_rejects_bad_input_with_connect_error_bodies() {
    let tansu = Tansu::start().await;
    let mut worker = WorkerProcess::standalone(worker_props(&tansu, &[]), Vec::<PathBuf>::new());
    worker.wait_ready().await;

    let (status, body) = rest::get_json(&worker.url("/")).await;
    assert_eq!(status, 200);
    assert!(body["version"].is_string());
    assert!(body.get("kafka_cluster_id").is_some());

    let (status, body) = rest::get_json(&worker.url("/connectors/nope/status")).await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (404, Some(404)),
        "{body}"
    );
    let (status, body) = rest::get_json(&worker.url("/connectors/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Connector nope not found");

    // Invalid config: the sink has neither topics nor topics.regex, and tasks.max is not a number.
    let bad = json!({"name": "bad-sink", "config": {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "many", "file": "/tmp/x"}});
    let (status, body) = rest::post_json(&worker.url("/connectors"), &bad).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("contains the following 3 error(s)"),
        "{message}"
    );
    assert!(
        message.contains("Must configure one of topics or topics.regex"),
        "{message}"
    );
    assert!(message.contains("tasks.max"), "{message}");

    // Unknown plugin and malformed JSON.
    let unknown = json!({"name": "u", "config": {"connector.class": "com.example.Nope"}});
    let (status, body) = rest::post_json(&worker.url("/connectors"), &unknown).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("com.example.Nope"))
    );
    let response = sluice_tests::http_client_builder()
        .build()
        .expect("an HTTP client")
        .post(worker.url("/connectors"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST /connectors");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("an error body");
    assert_eq!(body["error_code"], 400, "{body}");

    // Name in the path and in the body must agree.
    let (status, body) = rest::put_json(
        &worker.url("/connectors/one/config"),
        &json!({"name": "two", "connector.class": "FileStreamSink", "topics": "t"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = rest::get_json(&worker.url("/connectors")).await;
    assert_eq!((status, body), (200, json!([])), "nothing was created");
}

/// A `${file:...}` reference is resolved for the task (records land in the secret topic) but the
/// resolved value is in no REST answer, no log line and not in the offsets file.
#[tokio::test]
async fn file_secrets_reach_the_task_and_nothing_else() {
    let tansu = Tansu::start().await;
    let secrets_dir = sluice_tests::temp_dir();
    let secret_topic = "s3cr3t-topic-7f2c9d";
    let secrets = secrets_dir.path().join("credentials.properties");
    std::fs::write(&secrets, format!("TOPIC={secret_topic}\n")).expect("write secrets");
    kafka::create_topic(&tansu.bootstrap(), secret_topic, 1).await;

    let reference = format!("${{file:{}:TOPIC}}", secrets.display());
    let connector = secrets_dir.path().join("verifiable.json");
    std::fs::write(
        &connector,
        json!({"name": "secret-src", "config": {
            "connector.class": "org.apache.kafka.connect.tools.VerifiableSourceConnector",
            "tasks.max": "1", "topic": reference, "throughput": "50"}})
        .to_string(),
    )
    .expect("write connector file");
    let mut worker = WorkerProcess::standalone(
        worker_props(
            &tansu,
            &[
                ("config.providers", "file"),
                (
                    "config.providers.file.class",
                    "org.apache.kafka.common.config.provider.FileConfigProvider",
                ),
            ],
        ),
        [&connector],
    );
    worker.wait_ready().await;

    let records = kafka::consume_all(&tansu.bootstrap(), secret_topic, 5, WAIT).await;
    assert!(records.len() >= 5, "the task wrote to the resolved topic");

    for path in [
        "/connectors/secret-src",
        "/connectors/secret-src/config",
        "/connectors/secret-src/tasks",
        "/connectors/secret-src/status",
        "/connectors?expand=info&expand=status",
    ] {
        let (status, body) = rest::get_json(&worker.url(path)).await;
        assert_eq!(status, 200, "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains(secret_topic),
            "{path} leaks the secret: {text}"
        );
    }
    let (_, config) = rest::get_json(&worker.url("/connectors/secret-src/config")).await;
    assert_eq!(
        config["topic"],
        reference.as_str(),
        "the reference is shown as written"
    );
    let (_, tasks) = rest::get_json(&worker.url("/connectors/secret-src/tasks")).await;
    assert_eq!(
        tasks[0]["config"]["topic"],
        reference.as_str(),
        "task configs keep the reference"
    );

    // Let an offset commit happen, then stop and look at what was written.
    let offsets = worker.dir().join("connect.offsets");
    wait_until_described("an offset commit", WAIT, POLL, || async {
        read(&offsets).contains("seqno")
    })
    .await;
    worker.terminate().await;
    assert!(
        !read(&offsets).contains(secret_topic),
        "offsets file leaks the secret"
    );
    let log = worker.log_text();
    assert!(log.contains("secret-src"), "the log is the worker's log");
    assert!(!log.contains(secret_topic), "log leaks the secret:\n{log}");
}

fn positions_in(offsets: &Path) -> Option<u64> {
    let text = read(offsets);
    let file: Value = serde_json::from_str(&text).ok()?;
    file["offsets"]
        .as_object()?
        .values()
        .filter_map(|v| serde_json::from_str::<Value>(v.as_str()?).ok())
        .filter_map(|v| v["position"].as_u64())
        .max()
}

/// kill -9 between offset commits, then restart: the source resumes from the committed position,
/// so lines committed before the crash are not sent again and none is lost.
#[tokio::test]
async fn kill_9_and_restart_resumes_from_committed_offsets() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "crash-test", 1).await;
    let data = sluice_tests::temp_dir();
    let input = data.path().join("input.txt");
    let connector = data.path().join("source.properties");
    std::fs::write(
        &connector,
        format!(
            "name=crash-src\nconnector.class=FileStreamSource\ntasks.max=1\nfile={}\ntopic=crash-test\nbatch.size=100\n",
            input.display()
        ),
    )
    .expect("write connector");
    let first: Vec<String> = (0..1000).map(|i| format!("first-{i:04}")).collect();
    std::fs::write(&input, first.join("\n") + "\n").expect("write input");
    let first_len = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);

    let mut worker = WorkerProcess::standalone(worker_props(&tansu, &[]), [&connector]);
    worker.wait_ready().await;
    let offsets = worker.dir().join("connect.offsets");
    wait_until_described("the first 1000 lines committed", WAIT, POLL, || async {
        positions_in(&offsets) == Some(first_len)
    })
    .await;

    // More data, and a crash while it is being sent.
    let second: Vec<String> = (0..1000).map(|i| format!("second-{i:04}")).collect();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&input)
            .expect("open input");
        f.write_all((second.join("\n") + "\n").as_bytes())
            .expect("append");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = worker.kill_9();
    assert!(!status.success());
    worker.restart().await;
    worker.wait_ready().await;

    let total = first.len() + second.len();
    let deadline = std::time::Instant::now() + WAIT;
    let records = loop {
        let records =
            kafka::consume_to_end(&tansu.bootstrap(), "crash-test", Duration::from_secs(10)).await;
        let seen: std::collections::BTreeSet<String> = records
            .iter()
            .filter_map(ConsumedRecord::value_str)
            .collect();
        if seen.len() == total {
            break records;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {total} distinct lines in Kafka after the restart",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        if let Some(v) = r.value_str() {
            *counts.entry(v).or_default() += 1;
        }
    }
    for line in &first {
        assert_eq!(
            counts.get(line),
            Some(&1),
            "{line} was committed before the crash and must not be sent again"
        );
    }
    for line in &second {
        assert!(counts.get(line).is_some_and(|c| *c >= 1), "{line} lost");
    }
}

fn max_seqno_per_task(path: &Path) -> BTreeMap<u64, u64> {
    let mut max: BTreeMap<u64, u64> = BTreeMap::new();
    for line in lines(path) {
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let (Some(task), Some(seqno)) =
            (v["value"]["task"].as_u64(), v["value"]["seqno"].as_u64())
        {
            let m = max.entry(task).or_default();
            *m = (*m).max(seqno);
        }
    }
    max
}

async fn wait_for_each_task(path: &Path, seqno: u64, what: &str) {
    wait_until_described(what, WAIT, POLL, || async {
        let max = max_seqno_per_task(path);
        max.len() == 2 && max.values().all(|m| *m >= seqno)
    })
    .await;
}

/// A sink task crash between commits loses nothing: after kill -9 and restart, the sink file holds
/// every record the verifiable source produced, each task's sequence without gaps.
#[tokio::test]
async fn kill_9_of_a_sink_loses_nothing() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "verify", 2).await;
    let data = sluice_tests::temp_dir();
    let sink_file = data.path().join("sink.jsonl");
    let source = data.path().join("source.json");
    std::fs::write(
        &source,
        json!({"connector.class": "VerifiableSource", "name": "vsrc", "tasks.max": 2,
               "topic": "verify", "throughput": 200})
        .to_string(),
    )
    .expect("write source");
    let sink = data.path().join("sink.properties");
    std::fs::write(
        &sink,
        format!(
            "name=vsink\nconnector.class=org.apache.kafka.connect.tools.VerifiableSinkConnector\ntasks.max=1\ntopics=verify\nfile={}\n",
            sink_file.display()
        ),
    )
    .expect("write sink");
    let mut worker = WorkerProcess::standalone(worker_props(&tansu, &[]), [&source, &sink]);
    worker.wait_ready().await;
    // Both source tasks write to their own partition; the sink drains one partition's backlog
    // before the other's, so wait on each task's records, not on a total.
    wait_for_each_task(&sink_file, 150, "both tasks' records before the crash").await;
    let at_kill = max_seqno_per_task(&sink_file);
    worker.kill_9();
    worker.restart().await;
    worker.wait_ready().await;
    let past_kill = |seen: &BTreeMap<u64, u64>| {
        at_kill
            .iter()
            .all(|(task, max)| seen.get(task).is_some_and(|now| *now >= max + 150))
    };
    wait_until_described(
        "both tasks' records well past the crash",
        WAIT,
        POLL,
        || async { past_kill(&max_seqno_per_task(&sink_file)) },
    )
    .await;
    worker.terminate().await;

    let mut seen: BTreeMap<u64, std::collections::BTreeSet<u64>> = BTreeMap::new();
    for line in lines(&sink_file) {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let task = v["value"]["task"].as_u64().expect("task");
        let seqno = v["value"]["seqno"].as_u64().expect("seqno");
        seen.entry(task).or_default().insert(seqno);
    }
    assert_eq!(seen.len(), 2, "both source tasks' records arrive");
    for (task, seqnos) in seen {
        let max = seqnos.iter().max().copied().unwrap_or(0);
        // Records past the last one the sink saw may still be in flight; none before it is missing.
        let missing: Vec<u64> = (0..=max).filter(|s| !seqnos.contains(s)).collect();
        assert!(missing.is_empty(), "task {task} lost seqnos {missing:?}");
    }
}

/// Prometheus metrics use Connect's metric names and connector/task labels.
#[tokio::test]
async fn metrics_use_connect_names() {
    let tansu = Tansu::start().await;
    let data = sluice_tests::temp_dir();
    let source = data.path().join("source.properties");
    std::fs::write(
        &source,
        "name=metered\nconnector.class=VerifiableSource\ntasks.max=1\ntopic=metered\nthroughput=100\n",
    )
    .expect("write source");
    let mut worker = WorkerProcess::standalone(worker_props(&tansu, &[]), [&source]);
    worker.wait_ready().await;
    wait_running(&worker, "metered").await;
    let url = worker.url("/metrics");
    wait_until_described("records counted in metrics", WAIT, POLL, || {
        let url = url.clone();
        async move {
            let text = reqwest::get(&url).await.ok().map(|r| r.text());
            let Some(text) = text else { return false };
            let text = text.await.unwrap_or_default();
            text.lines().any(|l| {
                l.starts_with("kafka_connect_source_task_metrics_source_record_write_total{")
                    && l.contains("connector=\"metered\"")
                    && !l.ends_with(" 0")
            })
        }
    })
    .await;
    let text = reqwest::get(&url)
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("body");
    for name in [
        "kafka_connect_connect_worker_metrics_connector_count 1",
        "kafka_connect_connect_worker_metrics_task_count 1",
        "kafka_connect_source_task_metrics_source_record_poll_total{",
        "kafka_connect_connector_task_metrics_offset_commit_success_total{",
        "kafka_connect_status{connector=\"metered\",task=\"0\",status=\"running\"} 1",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
}

/// The distributed example file is a complete, valid distributed worker config.
#[test]
fn distributed_example_config_is_valid() {
    let props = sluice_config::load_properties(&config_file("connect-distributed.properties"))
        .expect("configs/connect-distributed.properties");
    let config = sluice_config::WorkerConfig::from_sources(
        props,
        "connect-distributed.properties",
        Vec::new(),
        sluice_config::Mode::Distributed,
    )
    .expect("a valid distributed worker config");
    assert_eq!(config.config().string("group.id"), Some("connect-cluster"));
}

/// The JSON example connector files load as connector configs.
#[test]
fn example_connector_json_files_load() {
    for name in ["connect-file-source.json", "connect-file-sink.json"] {
        let file = sluice_config::load_connector_file(&config_file(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(file.name.starts_with("local-file-"), "{name}");
        assert_eq!(
            file.config.get("tasks.max").map(String::as_str),
            Some("1"),
            "{name}"
        );
    }
}

/// Source connectors create their topics as `topic.creation.*` says (KIP-158), groups first.
#[tokio::test]
async fn source_topics_are_created_as_configured() {
    let tansu = Tansu::start().await;
    let mut worker = WorkerProcess::standalone(worker_props(&tansu, &[]), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    for (name, topic) in [("one", "made-here"), ("many", "many-x")] {
        let config = json!({
            "connector.class": "VerifiableSource", "topic": topic, "throughput": "10",
            "topic.creation.default.replication.factor": 1,
            "topic.creation.default.partitions": 1,
            "topic.creation.groups": "wide",
            "topic.creation.wide.include": "many-.*",
            "topic.creation.wide.partitions": 3
        });
        let (status, body) =
            rest::put_json(&worker.url(&format!("/connectors/{name}/config")), &config).await;
        assert_eq!(status, 201, "{body}");
    }
    kafka::consume_all(&tansu.bootstrap(), "made-here", 3, WAIT).await;
    kafka::consume_all(&tansu.bootstrap(), "many-x", 3, WAIT).await;
    assert_eq!(
        kafka::topic_partitions(&tansu.bootstrap(), "made-here")
            .await
            .map(|p| p.len()),
        Some(1)
    );
    assert_eq!(
        kafka::topic_partitions(&tansu.bootstrap(), "many-x")
            .await
            .map(|p| p.len()),
        Some(3)
    );

    // Settings that cannot work are refused up front.
    let (status, body) = rest::put_json(
        &worker.url("/connectors/bad/config"),
        &json!({"connector.class": "VerifiableSource", "topic": "t",
                "topic.creation.default.partitions": 2}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("topic.creation.default.replication.factor")),
        "{body}"
    );
}
