//! The whole sock pipeline end to end, as `scripts/demo.sh` runs it: the camera simulator
//! publishes a scripted sock sequence to Mosquitto; a distributed Sluice worker runs the
//! original demo's MQTT source (credentials from a `${file:}` secret) and an Elasticsearch sink
//! created over REST; `sluice-pairing` turns frames into sightings and pairs; the pair documents
//! must land in the Elasticsearch stand-in.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::es::EsStandIn;
use sluice_tests::pairing::PairingProcess;
use sluice_tests::{Mosquitto, Tansu, WorkerCommand, kafka, rest};

const WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn camera_to_elasticsearch_finds_the_expected_pairs() {
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start().await;
    let es = EsStandIn::start().await;
    let bs = tansu.bootstrap();
    // One partition keeps the camera's frames in order for the pairing job.
    kafka::create_topic(&bs, "data_mqtt", 1).await;

    let dir = sluice_tests::temp_dir();
    let credentials = dir.path().join("credentials.properties");
    std::fs::write(
        &credentials,
        format!(
            "MQTT_URI={}\nMQTT_USERNAME=camera\nMQTT_PASSWORD=unused-by-an-anonymous-broker\n",
            mosquitto.url()
        ),
    )
    .expect("write credentials");

    let mut props: Vec<(String, String)> = [
        ("bootstrap.servers", bs.clone()),
        ("group.id", "socks".into()),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("config.storage.topic", "socks-configs".into()),
        ("offset.storage.topic", "socks-offsets".into()),
        ("status.storage.topic", "socks-status".into()),
        ("config.storage.replication.factor", "1".into()),
        ("offset.storage.replication.factor", "1".into()),
        ("status.storage.replication.factor", "1".into()),
        ("offset.storage.partitions", "2".into()),
        ("status.storage.partitions", "2".into()),
        ("session.timeout.ms", "6000".into()),
        ("heartbeat.interval.ms", "1000".into()),
        ("offset.flush.interval.ms", "1000".into()),
        ("config.providers", "file".into()),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    props.extend(Tansu::fast_group_props_prefixed("consumer."));
    let mut worker = WorkerCommand::distributed(props).spawn();
    worker.wait_ready().await;
    let health = worker.url("/health");
    sluice_tests::wait_until_described(
        "the worker to join its group",
        WAIT,
        Duration::from_millis(200),
        || {
            let health = health.clone();
            async move { rest::get_json(&health).await.0 == 200 }
        },
    )
    .await;

    // The pairing job first: it creates its output topics, which the sink subscribes to.
    let mut pairing = PairingProcess::start(&bs, &[("application.id", "socks-pairing")]);
    pairing.wait_assigned(1, WAIT).await;

    let secret = |key: &str| format!("${{file:{}:{key}}}", credentials.display());
    let (code, body) = rest::post_json(
        &worker.url("/connectors"),
        &json!({"name": "mqtt-socks", "config": {
            "connector.class": "io.confluent.connect.mqtt.MqttSourceConnector",
            "mqtt.server.uri": secret("MQTT_URI"),
            "mqtt.username": secret("MQTT_USERNAME"),
            "mqtt.password": secret("MQTT_PASSWORD"),
            "mqtt.topics": "sockfound",
            "kafka.topic": "data_mqtt",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "tasks.max": 1,
            "confluent.topic.bootstrap.servers": bs,
            "confluent.topic.replication.factor": "1"
        }}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = rest::post_json(
        &worker.url("/connectors"),
        &json!({"name": "es-socks", "config": {
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": false,
            "topics": "sock_pairs",
            "key.ignore": "false",
            "schema.ignore": "true",
            "connection.url": es.url()
        }}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    // The MQTT task must be subscribed before the camera starts (QoS 0, no session).
    let status = worker.url("/connectors/mqtt-socks/status");
    sluice_tests::wait_until_described(
        "the MQTT source task running",
        WAIT,
        Duration::from_millis(200),
        || {
            let status = status.clone();
            async move {
                let (_, b) = rest::get_json(&status).await;
                b["tasks"][0]["state"] == "RUNNING"
            }
        },
    )
    .await;

    // Two Google socks, one Mongo sock, Blank frames between and after (they move event time
    // on, so the last windows close).
    let script = dir.path().join("socks.script");
    std::fs::write(
        &script,
        "Blank 1s\nGoogle 3s\nBlank 2s\nGoogle 3s\nBlank 2s\nMongo 3s\nBlank 10s\n",
    )
    .expect("write script");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let output = tokio::process::Command::new(sluice_tests::pairing::camera_bin())
        .args([
            "--broker".to_owned(),
            mosquitto.url(),
            "--topic".into(),
            "sockfound".into(),
            "--script".into(),
            script.display().to_string(),
            "--seed".into(),
            "3".into(),
            "--wrong-frame".into(),
            "0".into(),
            "--phantom-frame".into(),
            "0".into(),
        ])
        .kill_on_drop(true)
        .output()
        .await
        .expect("sluice-camera ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let deadline = Instant::now() + WAIT;
    loop {
        let google = es.doc("sock_pairs", "Google").await;
        let mongo = es.doc("sock_pairs", "Mongo").await;
        let source = |d: &Option<Value>| d.as_ref().map(|d| d["_source"].clone());
        if let (Some(g), Some(m)) = (source(&google), source(&mongo))
            && g["pair_seen"] == "Pair"
        {
            assert_eq!(g["number_socks_seen"], 2, "{g}");
            assert_eq!(m["pair_seen"], "Un-matched", "{m}");
            assert_eq!(m["number_socks_seen"], 1, "{m}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pair documents did not arrive: {:?}; pairing log:\n{}\nworker log:\n{}",
            es.search_all("sock_pairs").await,
            pairing.log_text(),
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let docs = es.search_all("sock_pairs").await;
    assert_eq!(docs.len(), 2, "only the two brands seen: {docs:?}");
}
