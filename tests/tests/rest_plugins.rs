//! Plugin listing, plugin configs and validation, config PATCH and tasks-config, over HTTP against
//! a running standalone worker with a real broker.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sluice_tests::rest;
use sluice_tests::{Tansu, WorkerProcess};

fn worker_props(tansu: &Tansu) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), tansu.bootstrap()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
    ]
}

async fn worker() -> (Tansu, WorkerProcess) {
    let tansu = Tansu::start().await;
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    (tansu, worker)
}

fn classes(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["class"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn plugins_are_listed_with_their_settings() {
    let (_tansu, worker) = worker().await;
    let (status, list) = rest::get_json(&worker.url("/connector-plugins")).await;
    assert_eq!(status, 200);
    let connectors = classes(&list);
    assert!(
        connectors.contains(&"org.apache.kafka.connect.file.FileStreamSourceConnector".to_owned())
    );
    assert!(list.as_array().is_some_and(|l| {
        l.iter()
            .all(|p| p["type"] == "source" || p["type"] == "sink")
    }));

    let (_, all) = rest::get_json(&worker.url("/connector-plugins?connectorsOnly=false")).await;
    let types: std::collections::BTreeSet<String> = all
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["type"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for t in [
        "source",
        "sink",
        "converter",
        "header_converter",
        "transformation",
        "predicate",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }

    let (status, keys) =
        rest::get_json(&worker.url("/connector-plugins/FileStreamSink/config")).await;
    assert_eq!(status, 200, "{keys}");
    let file = keys
        .as_array()
        .and_then(|k| k.iter().find(|k| k["name"] == "file"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(file["type"], "STRING");
    let (status, body) =
        rest::get_json(&worker.url("/connector-plugins/com.example.Nope/config")).await;
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(404)));
}

#[tokio::test]
async fn validation_reports_every_key_and_its_errors() {
    let (_tansu, worker) = worker().await;
    let url = worker.url("/connector-plugins/FileStreamSinkConnector/config/validate");
    let (status, body) = rest::put_json(
        &url,
        &json!({"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "name": "v", "tasks.max": 0}),
    )
    .await;
    assert_eq!(
        status, 200,
        "errors are in the body, not the status: {body}"
    );
    assert_eq!(
        body["name"],
        "org.apache.kafka.connect.file.FileStreamSinkConnector"
    );
    assert_eq!(body["error_count"], 3, "{body}");
    assert_eq!(body["groups"][0], "Common");
    let config = |name: &str| {
        body["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["value"]["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        config("topics")["value"]["errors"][0],
        "Must configure one of topics or topics.regex"
    );
    assert_eq!(config("tasks.max")["definition"]["type"], "INT");
    assert_eq!(config("tasks.max")["value"]["value"], "0");

    // The path must name the body's class.
    let (status, body) =
        rest::put_json(&url, &json!({"connector.class": "FileStreamSource"})).await;
    assert_eq!(status, 400, "{body}");

    // The original socksort demo's MQTT source validates unchanged (older class name, tasks.max as
    // a number, licence keys), with its password hidden.
    let demo_mqtt = json!({
        "name": "mqtt-source",
        "connector.class": "io.confluent.connect.mqtt.MqttConnector",
        "mqtt.server.uri": "tcp://ml234-ml234-ml234-ml234:1883",
        "mqtt.password": "Secret",
        "mqtt.username": "user",
        "mqtt.topics": "owntracks/#",
        "kafka.topic": "data_mqtt",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "tasks.max": 1,
        "confluent.topic.bootstrap.servers": "kafka-1:9092",
        "confluent.topic.replication.factor": "1"
    });
    let (status, body) = rest::put_json(
        &worker.url("/connector-plugins/MqttConnector/config/validate"),
        &demo_mqtt,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error_count"], 0, "{body}");
    assert!(
        !body.to_string().contains("Secret"),
        "the password is not echoed"
    );

    // Its Elasticsearch sink has no plugin yet: a clear "not found" listing what exists.
    let demo_es = json!({
        "name": "es_sink_jfokus19",
        "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": false,
        "topics": "lisa18",
        "key.ignore": "true",
        "schema.ignore": "true",
        "type.name": "type.name=kafkaconnect",
        "connection.url": "http://elasticsearch:9200"
    });
    let (status, body) = rest::put_json(
        &worker.url("/connector-plugins/ElasticsearchSinkConnector/config/validate"),
        &demo_es,
    )
    .await;
    if status == 400 {
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("ElasticsearchSinkConnector"), "{message}");
        assert!(
            message.contains("FileStreamSourceConnector"),
            "lists the available plugins: {message}"
        );
    } else {
        // Once the Elasticsearch plugin exists, the demo JSON must validate cleanly.
        assert_eq!(
            (status, body["error_count"].as_u64()),
            (200, Some(0)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn patch_merges_config_and_tasks_config_lists_tasks() {
    let (_tansu, worker) = worker().await;
    let (status, body) = rest::put_json(
        &worker.url("/connectors/p/config"),
        &json!({"connector.class": "VerifiableSource", "topic": "p", "tasks.max": "2", "throughput": "10"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = rest::request(
        reqwest::Method::PATCH,
        &worker.url("/connectors/p/config"),
        Some(&json!({"throughput": 5, "tasks.max": null})),
    )
    .await
    .expect("PATCH");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["throughput"], "5");
    assert!(
        body["config"].get("tasks.max").is_none(),
        "null removes a key: {body}"
    );
    let (status, _) = rest::request(
        reqwest::Method::PATCH,
        &worker.url("/connectors/absent/config"),
        Some(&json!({"a": "b"})),
    )
    .await
    .expect("PATCH");
    assert_eq!(status, 404);

    // tasks.max defaults to 1 again: one task.
    let mut tasks = Value::Null;
    for _ in 0..50 {
        tasks = rest::get_json(&worker.url("/connectors/p/tasks-config"))
            .await
            .1;
        if tasks.as_object().is_some_and(|t| t.len() == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tasks["p-0"]["topic"], "p", "{tasks}");
    assert_eq!(
        tasks["p-0"]["task.class"],
        "org.apache.kafka.connect.tools.VerifiableSourceConnector"
    );
    let (status, health) = rest::get_json(&worker.url("/health")).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("healthy")));
}
