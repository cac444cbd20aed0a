//! End-to-end tests of the MQTT source: Mosquitto → sluice worker → Kafka (Tansu).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{Value, json};
use sluice_tests::kafka::{self, ConsumedRecord};
use sluice_tests::{
    Mosquitto, MosquittoOptions, MosquittoTls, Tansu, WorkerProcess, rest, wait_until_described,
};

const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
const CLASS: &str = "io.confluent.connect.mqtt.MqttSourceConnector";

fn worker_props(tansu: &Tansu) -> Vec<(String, String)> {
    [
        ("bootstrap.servers", tansu.bootstrap().as_str()),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
        ("offset.flush.interval.ms", "500"),
        ("config.providers", "file"),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn write_connector(dir: &Path, name: &str, config: Value) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json!({"name": name, "config": config}).to_string())
        .expect("write connector file");
    path
}

/// Publishes every payload to `topic` and waits until the broker has taken them all.
async fn publish(
    port: u16,
    credentials: Option<(&str, &str)>,
    topic: &str,
    qos: QoS,
    retain: bool,
    payloads: Vec<Vec<u8>>,
) {
    let mut options = MqttOptions::new(
        format!("test-publisher-{}", sluice_tests::free_port()),
        "127.0.0.1",
        port,
    );
    options.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, password)) = credentials {
        options.set_credentials(user, password);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    let expected = payloads.len();
    let topic = topic.to_owned();
    let sender = tokio::spawn(async move {
        for payload in payloads {
            client
                .publish(topic.clone(), qos, retain, payload)
                .await
                .expect("queue publish");
        }
        client
    });
    let mut done = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while done < expected {
        let event = tokio::time::timeout_at(deadline, eventloop.poll())
            .await
            .expect("publishing timed out")
            .expect("publisher connection failed");
        match (qos, event) {
            (QoS::AtMostOnce, Event::Outgoing(Outgoing::Publish(_)))
            | (QoS::AtLeastOnce, Event::Incoming(Packet::PubAck(_)))
            | (QoS::ExactlyOnce, Event::Incoming(Packet::PubComp(_))) => done += 1,
            _ => {}
        }
    }
    let client = sender.await.expect("publisher task");
    client.disconnect().await.ok();
    // Let the DISCONNECT (and any QoS 0 bytes) leave the socket.
    for _ in 0..3 {
        if tokio::time::timeout(Duration::from_millis(200), eventloop.poll())
            .await
            .is_err()
        {
            break;
        }
    }
}

async fn connector_status(worker: &WorkerProcess, name: &str) -> Value {
    rest::get_json(&worker.url(&format!("/connectors/{name}/status")))
        .await
        .1
}

/// The worker's `GET /metrics` text.
async fn metrics_text(worker: &WorkerProcess) -> String {
    let (status, body) = rest::get_json(&worker.url("/metrics")).await;
    assert_eq!(status, 200, "{body}");
    body.as_str().unwrap_or_default().to_owned()
}

/// The value of the series `name{labels}` in Prometheus text, if present.
fn series_value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{labels} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
}

/// Waits until every `(series, value)` of the task's plugin metrics is on `/metrics`.
async fn wait_plugin_metrics(worker: &WorkerProcess, labels: &str, expected: &[(&str, f64)]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = metrics_text(worker).await;
        let got: Vec<Option<f64>> = expected
            .iter()
            .map(|(name, _)| series_value(&text, name, labels))
            .collect();
        if got
            .iter()
            .zip(expected)
            .all(|(g, (_, want))| *g == Some(*want))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "plugin metrics never reached {expected:?}: got {got:?} in\n{text}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn header_str(record: &ConsumedRecord, name: &str) -> String {
    let value = record
        .header(name)
        .unwrap_or_else(|| panic!("header {name} missing: {record:?}"))
        .unwrap_or_else(|| panic!("header {name} is null"));
    String::from_utf8_lossy(value).into_owned()
}

/// QoS 0, 1 and 2 with `+` and `#` filters: keys are the concrete topics, values the payload
/// bytes, headers typed as Confluent's; a retained message is flagged; unmatched topics are not read.
#[tokio::test]
async fn qos_levels_wildcards_and_retained_messages_reach_kafka() {
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions::default()).await;
    publish(
        mosquitto.port(),
        None,
        "state/lamp",
        QoS::AtLeastOnce,
        true,
        vec![b"on".to_vec()],
    )
    .await;
    let dir = sluice_tests::temp_dir();
    let connector = write_connector(
        dir.path(),
        "mqtt-qos",
        json!({
            "connector.class": "MqttSourceConnector",
            "tasks.max": "1",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.topics": "sensors/+/temp,state/#",
            "mqtt.qos": "2",
            "kafka.topic": "mqtt_qos",
        }),
    );
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), [&connector]);
    worker.wait_ready().await;
    // The retained message arrives once the subscription is in place.
    let first = kafka::consume_all(&tansu.bootstrap(), "mqtt_qos", 1, WAIT).await;
    assert_eq!(first[0].key_str().as_deref(), Some("state/lamp"));
    assert_eq!(first[0].value.as_deref(), Some(&b"on"[..]));
    assert_eq!(header_str(&first[0], "mqtt.retained"), "true");
    assert_eq!(header_str(&first[0], "mqtt.qos"), "1");

    let port = mosquitto.port();
    let batch = |tag: &str| (0..20).map(|i| format!("{tag}-{i}").into_bytes()).collect();
    publish(
        port,
        None,
        "sensors/a/temp",
        QoS::AtMostOnce,
        false,
        batch("q0"),
    )
    .await;
    publish(
        port,
        None,
        "sensors/b/temp",
        QoS::AtLeastOnce,
        false,
        batch("q1"),
    )
    .await;
    publish(
        port,
        None,
        "sensors/c/temp",
        QoS::ExactlyOnce,
        false,
        batch("q2"),
    )
    .await;
    publish(
        port,
        None,
        "other/topic",
        QoS::AtLeastOnce,
        false,
        batch("no"),
    )
    .await;
    publish(
        port,
        None,
        "sensors/a/b/temp",
        QoS::AtLeastOnce,
        false,
        batch("no"),
    )
    .await;

    let records = kafka::consume_all(&tansu.bootstrap(), "mqtt_qos", 61, WAIT).await;
    let mut by_key: BTreeMap<String, Vec<&ConsumedRecord>> = BTreeMap::new();
    for r in &records {
        by_key.entry(r.key_str().expect("key")).or_default().push(r);
    }
    assert_eq!(
        by_key.keys().cloned().collect::<Vec<_>>(),
        [
            "sensors/a/temp",
            "sensors/b/temp",
            "sensors/c/temp",
            "state/lamp"
        ],
        "only matching topics, keyed by the concrete topic"
    );
    assert_eq!(
        by_key["state/lamp"].len(),
        1,
        "the retained message arrives once"
    );
    for (key, tag, qos) in [
        ("sensors/a/temp", "q0", "0"),
        ("sensors/b/temp", "q1", "1"),
        ("sensors/c/temp", "q2", "2"),
    ] {
        let got: Vec<String> = by_key[key]
            .iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect();
        let expected: Vec<String> = (0..20).map(|i| format!("{tag}-{i}")).collect();
        assert_eq!(got, expected, "{key}: every message, in order");
        for r in &by_key[key] {
            assert_eq!(header_str(r, "mqtt.qos"), qos);
            assert_eq!(header_str(r, "mqtt.retained"), "false");
            assert_eq!(header_str(r, "mqtt.duplicate"), "false");
            let id: i32 = header_str(r, "mqtt.message.id").parse().expect("int id");
            assert_eq!(id == 0, qos == "0", "packet id is 0 exactly for QoS 0");
        }
    }
    // Nothing else arrives afterwards.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = kafka::consume_to_end(&tansu.bootstrap(), "mqtt_qos", WAIT).await;
    assert_eq!(all.len(), 61);
    let status = connector_status(&worker, "mqtt-qos").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");

    // The task's own metrics (KIP-877 plugin metrics) on the worker's /metrics: 61 messages
    // received, 41 of them QoS 1/2 (20 + 20 + the retained one) and acknowledged once Kafka had
    // them, nothing left in flight or queued, no reconnect.
    let labels = r#"{connector="mqtt-qos",task="0"}"#;
    wait_plugin_metrics(
        &worker,
        labels,
        &[
            ("kafka_connect_plugins_mqtt_messages_received_total", 61.0),
            ("kafka_connect_plugins_mqtt_messages_acked_total", 41.0),
            ("kafka_connect_plugins_mqtt_messages_in_flight", 0.0),
            ("kafka_connect_plugins_mqtt_messages_queued", 0.0),
            ("kafka_connect_plugins_mqtt_reconnects_total", 0.0),
            ("kafka_connect_plugins_mqtt_connect_failures_total", 0.0),
            ("kafka_connect_plugins_mqtt_acks_dropped_total", 0.0),
        ],
    )
    .await;
    let text = metrics_text(&worker).await;
    assert!(
        text.contains("# TYPE kafka_connect_plugins_mqtt_messages_received counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE kafka_connect_plugins_mqtt_messages_in_flight gauge"),
        "{text}"
    );
    // The runtime's own count agrees.
    assert_eq!(
        series_value(
            &text,
            "kafka_connect_source_task_metrics_source_record_write_total",
            labels
        ),
        Some(61.0),
        "{text}"
    );
    // Deleting the connector stops the task and removes its metrics.
    let (status, body) = rest::delete(&worker.url("/connectors/mqtt-qos")).await;
    assert_eq!(status, 204, "{body}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = metrics_text(&worker).await;
        if !text.contains("kafka_connect_plugins_mqtt_messages_received_total{") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "plugin metrics outlived the task:\n{text}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The original demo's configuration, unchanged but for the broker address: the older class
/// name, `tasks.max` as a JSON number, credentials from a `${file:}` secret against a Mosquitto
/// password file. A wrong password makes the task FAILED with a trace that says why.
#[tokio::test]
async fn demo_configuration_with_file_secrets_and_a_wrong_password() {
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        credentials: Some(("someuser".into(), "somepassword".into())),
        ..Default::default()
    })
    .await;
    let dir = sluice_tests::temp_dir();
    let secrets = dir.path().join("credentials.properties");
    std::fs::write(
        &secrets,
        format!(
            "MQTT_URI={}\nMQTT_USERNAME=someuser\nMQTT_PASSWORD=somepassword\n",
            mosquitto.url()
        ),
    )
    .expect("write secrets");
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<&Path>::new());
    worker.wait_ready().await;
    let secret = |key: &str| format!("${{file:{}:{key}}}", secrets.display());
    for (name, class) in [
        ("demo-old-class", "io.confluent.connect.mqtt.MqttConnector"),
        ("demo-new-class", CLASS),
    ] {
        let config = json!({
            "connector.class": class,
            "mqtt.server.uri": secret("MQTT_URI"),
            "mqtt.password": secret("MQTT_PASSWORD"),
            "mqtt.username": secret("MQTT_USERNAME"),
            "mqtt.topics": format!("owntracks/{name}/#"),
            "kafka.topic": "data_mqtt",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "tasks.max": 1,
            "name": name,
            "confluent.topic.bootstrap.servers": "kafka-1:9092",
            "confluent.topic.replication.factor": "1"
        });
        let (status, body) = rest::put_json(
            &worker.url(&format!("/connector-plugins/{class}/config/validate")),
            &config,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["error_count"], 0, "{body}");
        let (status, body) = rest::post_json(
            &worker.url("/connectors"),
            &json!({"name": name, "config": config}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    for name in ["demo-old-class", "demo-new-class"] {
        wait_until_described(&format!("{name} task running"), WAIT, POLL, || async {
            connector_status(&worker, name).await["tasks"][0]["state"] == "RUNNING"
        })
        .await;
    }
    // Subscriptions are made right after connecting; publish until the records show up.
    let mut found = Vec::new();
    for attempt in 0..20 {
        for name in ["demo-old-class", "demo-new-class"] {
            publish(
                mosquitto.port(),
                Some(("someuser", "somepassword")),
                &format!("owntracks/{name}/phone"),
                QoS::AtLeastOnce,
                false,
                vec![format!("{name}-{attempt}").into_bytes()],
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        found = kafka::consume_to_end(&tansu.bootstrap(), "data_mqtt", WAIT).await;
        let keys: std::collections::BTreeSet<String> =
            found.iter().filter_map(|r| r.key_str()).collect();
        if keys.len() == 2 {
            break;
        }
    }
    let keys: std::collections::BTreeSet<String> =
        found.iter().filter_map(|r| r.key_str()).collect();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        [
            "owntracks/demo-new-class/phone",
            "owntracks/demo-old-class/phone"
        ]
    );

    let (status, body) = rest::post_json(
        &worker.url("/connectors"),
        &json!({"name": "wrong-password", "config": {
            "connector.class": CLASS,
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.username": "someuser",
            "mqtt.password": "not-the-password",
            "mqtt.topics": "x/#",
            "max.retry.time.ms": "1500",
            "tasks.max": "1",
        }}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let deadline = tokio::time::Instant::now() + WAIT;
    let last = loop {
        let status = connector_status(&worker, "wrong-password").await;
        if status["tasks"][0]["state"] == "FAILED" {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never FAILED: {status}"
        );
        tokio::time::sleep(POLL).await;
    };
    let trace = last["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("authentication failed"), "{last}");
    assert!(
        !trace.contains("not-the-password"),
        "the password stays hidden: {trace}"
    );
    assert!(worker.is_running(), "no panic, the worker goes on");

    // A bad URI scheme is a validation error, not a start.
    let (status, body) = rest::put_json(
        &worker.url(&format!("/connector-plugins/{CLASS}/config/validate")),
        &json!({"name": "bad-uri", "connector.class": CLASS, "mqtt.server.uri": "http://127.0.0.1:1", "mqtt.topics": "a"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error_count"], 1, "{body}");
    assert!(body.to_string().contains("unsupported scheme"), "{body}");
}

/// kill -9 of the worker in the middle of 10 000 QoS 1 messages on a persistent session: after a
/// restart every message is in Kafka; duplicates are allowed and counted.
#[tokio::test]
async fn worker_killed_mid_stream_loses_no_qos1_message() {
    const COUNT: usize = 10_000;
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions::default()).await;
    let dir = sluice_tests::temp_dir();
    let connector = write_connector(
        dir.path(),
        "mqtt-crash",
        json!({
            "connector.class": CLASS,
            "tasks.max": "1",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.topics": "crash/#",
            "mqtt.qos": "1",
            "mqtt.clean.session.enabled": "false",
            "kafka.topic": "mqtt_crash",
        }),
    );
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), [&connector]);
    worker.wait_ready().await;
    // Make sure the persistent session and its subscription exist before publishing (probes
    // until one arrives: a probe sent before the task subscribed is simply not delivered).
    wait_subscribed(&tansu, mosquitto.port(), "mqtt_crash", &["crash/probe"]).await;
    let is_data = |r: &kafka::ConsumedRecord| r.key_str().as_deref() == Some("crash/data");
    // Nothing else writes to the topic yet: what is there now are the probes.
    let probes = kafka::consume_to_end(&tansu.bootstrap(), "mqtt_crash", WAIT)
        .await
        .len();

    let port = mosquitto.port();
    let fault = Arc::new(tokio::sync::Notify::new());
    let publisher = publish_around_fault(port, "crash/data", COUNT, fault.clone());
    let bootstrap = tansu.bootstrap();
    // Kill as soon as the first messages are in Kafka, while most are still on their way.
    kafka::consume_all(&bootstrap, "mqtt_crash", probes + 501, WAIT).await;
    worker.kill_9();
    fault.notify_one();
    let before_restart = kafka::consume_to_end(&bootstrap, "mqtt_crash", WAIT)
        .await
        .iter()
        .filter(|r| is_data(r))
        .count();
    assert!(
        before_restart < COUNT,
        "the kill came after everything was written ({before_restart} records): nothing tested"
    );
    publisher.await.expect("publisher");
    worker.restart().await;
    worker.wait_ready().await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let (last_count, missing) = loop {
        let records = kafka::consume_to_end(&bootstrap, "mqtt_crash", WAIT).await;
        let seen: std::collections::HashSet<String> = records
            .iter()
            .filter_map(|r| r.value.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let missing: Vec<String> = (0..COUNT)
            .map(|i| format!("m{i}"))
            .filter(|m| !seen.contains(m))
            .collect();
        if missing.is_empty() || tokio::time::Instant::now() >= deadline {
            break (records.iter().filter(|r| is_data(r)).count(), missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        missing.is_empty(),
        "{} messages missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let duplicates = last_count - COUNT;
    println!(
        "all {COUNT} messages in Kafka after kill -9 ({before_restart} records before the restart); {duplicates} duplicates"
    );

    // Every message in Kafka was acknowledged to the broker: once the redeliveries of the crash
    // have settled, a graceful restart brings nothing back (an acknowledgement lost on its way
    // would have the persistent session redeliver its message).
    let data_count = || async {
        kafka::consume_to_end(&bootstrap, "mqtt_crash", WAIT)
            .await
            .iter()
            .filter(|r| is_data(r))
            .count()
    };
    let mut settled = data_count().await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = data_count().await;
        if now == settled {
            break;
        }
        settled = now;
    }
    let exit = worker.terminate().await;
    assert!(exit.success(), "the worker stopped with {exit}");
    worker.restart().await;
    worker.wait_ready().await;
    wait_tasks_running(&worker, "mqtt-crash", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        data_count().await,
        settled,
        "the broker redelivered messages whose records Kafka had: their acknowledgements were lost"
    );
}

/// Acknowledgements follow Kafka's confirmations even while the task waits for more data: with a
/// broker that sends one unacknowledged message at a time, each message's PUBACK releases the
/// next. Were the PUBACK held until the task's next batch, every message would wait out the
/// task's empty-queue timeout (one second here): 30 messages would take 30 seconds.
#[tokio::test]
async fn acknowledgements_do_not_wait_for_the_next_message() {
    const COUNT: usize = 30;
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        inflight_window: Some(1),
        ..MosquittoOptions::default()
    })
    .await;
    let dir = sluice_tests::temp_dir();
    let connector = write_connector(
        dir.path(),
        "mqtt-window",
        json!({
            "connector.class": CLASS,
            "tasks.max": "1",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.topics": "window/#",
            "mqtt.qos": "1",
            "mqtt.clean.session.enabled": "false",
            "records.buffer.queue.empty.timeout": "1000",
            "kafka.topic": "mqtt_window",
        }),
    );
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), [&connector]);
    worker.wait_ready().await;
    wait_subscribed(&tansu, mosquitto.port(), "mqtt_window", &["window/probe"]).await;
    // Kafka's confirmations as the worker counts them (a consumer would add its own latency).
    let written = || async {
        let text = metrics_text(&worker).await;
        series_value(
            &text,
            "kafka_connect_source_task_metrics_source_record_write_total",
            r#"{connector="mqtt-window",task="0"}"#,
        )
        .unwrap_or_default() as usize
    };
    let before = written().await;

    let started = tokio::time::Instant::now();
    publish(
        mosquitto.port(),
        None,
        "window/data",
        QoS::AtLeastOnce,
        false,
        numbered(0..COUNT),
    )
    .await;
    while written().await < before + COUNT {
        assert!(
            started.elapsed() < WAIT,
            "the messages never all reached Kafka"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    // Six times below the 30 s of acknowledgements held for the next batch, with room for a
    // loaded machine (each message takes a Kafka round trip, ~10 ms here).
    assert!(
        took < Duration::from_secs(5),
        "{COUNT} messages took {took:?} through a window of one: acknowledgements waited"
    );
    let (_, missing) =
        wait_for_every_message(&tansu.bootstrap(), "mqtt_window", "m", COUNT, WAIT).await;
    assert_none_missing(&missing);
    println!("{COUNT} messages through an in-flight window of one in {took:?}");
    drop(worker);
}

/// Reads `topic` until every payload `m<i>` for `i` in `0..count` is there (or `timeout`
/// passes); returns the number of records read and the payloads still missing.
async fn wait_for_every_message(
    bootstrap: &str,
    topic: &str,
    prefix: &str,
    count: usize,
    timeout: Duration,
) -> (usize, Vec<String>) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let records = kafka::consume_to_end(bootstrap, topic, WAIT).await;
        let seen: std::collections::HashSet<String> =
            records.iter().filter_map(|r| r.value_str()).collect();
        let missing: Vec<String> = (0..count)
            .map(|i| format!("{prefix}{i}"))
            .filter(|m| !seen.contains(m))
            .collect();
        if missing.is_empty() || tokio::time::Instant::now() >= deadline {
            return (records.len(), missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn assert_none_missing(missing: &[String]) {
    assert!(
        missing.is_empty(),
        "{} messages missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// A persistent-session QoS 1 connector whose session exists on the broker (a probe went
/// through; probes are repeated until one does, since one sent before the task subscribed is
/// not delivered): returns the worker and the number of probe records in `topic`.
async fn persistent_connector(
    tansu: &Tansu,
    mosquitto: &Mosquitto,
    dir: &Path,
    name: &str,
    topic: &str,
) -> (WorkerProcess, usize) {
    let connector = write_connector(
        dir,
        name,
        json!({
            "connector.class": CLASS,
            "tasks.max": "1",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.topics": format!("{name}/#"),
            "mqtt.qos": "1",
            "mqtt.clean.session.enabled": "false",
            "max.retry.time.ms": "120000",
            "kafka.topic": topic,
        }),
    );
    let mut worker = WorkerProcess::standalone(worker_props(tansu), [&connector]);
    worker.wait_ready().await;
    wait_subscribed(tansu, mosquitto.port(), topic, &[&format!("{name}/probe")]).await;
    let probes = kafka::consume_to_end(&tansu.bootstrap(), topic, WAIT)
        .await
        .len();
    (worker, probes)
}

fn numbered(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(|i| format!("m{i}").into_bytes()).collect()
}

/// Messages published before a mid-stream fault.
const BEFORE_FAULT: usize = 3_000;

/// Publishes `m0`..`m<count>` at QoS 1 to `topic` in chunks of 1 000: the first [`BEFORE_FAULT`]
/// at once, the rest once `fault` is notified (after the kill or outage), so the fault lands in
/// the middle of the stream however fast the pipeline is (10 000 QoS 1 messages can pass in
/// well under a second).
fn publish_around_fault(
    port: u16,
    topic: &'static str,
    count: usize,
    fault: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for start in (0..count).step_by(1000) {
            if start == BEFORE_FAULT {
                fault.notified().await;
            }
            let chunk = numbered(start..(start + 1000).min(count));
            publish(port, None, topic, QoS::AtLeastOnce, false, chunk).await;
        }
    })
}

/// Mosquitto (persistence on) is killed with SIGKILL and restarted while the connector holds
/// thousands of QoS 1 messages it has not acknowledged yet, then more messages follow: every
/// message reaches Kafka, duplicates are counted.
///
/// Kafka is frozen while the connector takes in the backlog, so none of it can be acknowledged
/// before the kill: the whole backlog is in flight when the broker dies. The backlog is
/// published while the worker is stopped and given time to reach Mosquitto's persistence file
/// (saved every second): a message the broker acknowledged but had not saved when killed is lost
/// by the broker itself, which no subscriber can prevent.
#[tokio::test]
async fn mosquitto_hard_restart_mid_stream_loses_no_qos1_message() {
    const BACKLOG: usize = 10_000;
    const AFTER: usize = 2_000;
    let tansu = Tansu::start().await;
    let mut mosquitto = Mosquitto::start_with(MosquittoOptions {
        persistence: true,
        ..Default::default()
    })
    .await;
    let dir = sluice_tests::temp_dir();
    let topic = "mqtt_broker_restart";
    let (mut worker, probes) =
        persistent_connector(&tansu, &mosquitto, dir.path(), "brestart", topic).await;
    worker.terminate().await;
    publish(
        mosquitto.port(),
        None,
        "brestart/data",
        QoS::AtLeastOnce,
        false,
        numbered(0..BACKLOG),
    )
    .await;
    // Two autosaves: the whole backlog is in the persistence file.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let bootstrap = tansu.bootstrap();
    let kafka_pid = tansu_pid(tansu.port());
    nix::sys::signal::kill(kafka_pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP Tansu");
    worker.restart().await;
    worker.wait_ready().await;
    // Let the connector take in the backlog (nothing can be confirmed, so nothing is acked).
    tokio::time::sleep(Duration::from_secs(3)).await;
    mosquitto.restart(true).await;
    nix::sys::signal::kill(kafka_pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT Tansu");
    publish(
        mosquitto.port(),
        None,
        "brestart/data",
        QoS::AtLeastOnce,
        false,
        numbered(BACKLOG..BACKLOG + AFTER),
    )
    .await;
    let (count, missing) = wait_for_every_message(
        &bootstrap,
        topic,
        "m",
        BACKLOG + AFTER,
        Duration::from_secs(120),
    )
    .await;
    assert_none_missing(&missing);
    let status = connector_status(&worker, "brestart").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    let duplicates = count - probes - BACKLOG - AFTER;
    // One connection in the first run, one before the kill, at least one after it.
    let connections = worker
        .log_text()
        .matches("connected to MQTT broker")
        .count();
    assert!(connections >= 3, "{connections} connections: no reconnect");
    println!(
        "all {} messages in Kafka across a Mosquitto kill -9; {duplicates} duplicates",
        BACKLOG + AFTER,
    );
}

/// The process id of the Tansu broker listening on `port`, found through /proc (the harness
/// does not expose it).
fn tansu_pid(port: u16) -> nix::unistd::Pid {
    let listener = format!("tcp://127.0.0.1:{port}");
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "broker") && args.contains(&listener) {
            return nix::unistd::Pid::from_raw(pid);
        }
    }
    panic!("no Tansu process listens on {listener}");
}

/// Kafka stops answering (Tansu frozen with SIGSTOP for 8 s; its storage is in memory, so it
/// cannot be restarted) in the middle of 10 000 QoS 1 messages: once Kafka answers again, every
/// message arrives.
#[tokio::test]
async fn kafka_unreachable_mid_stream_loses_no_qos1_message() {
    const COUNT: usize = 10_000;
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions::default()).await;
    let dir = sluice_tests::temp_dir();
    let topic = "mqtt_kafka_pause";
    let (worker, probes) =
        persistent_connector(&tansu, &mosquitto, dir.path(), "kpause", topic).await;
    let port = mosquitto.port();
    let fault = Arc::new(tokio::sync::Notify::new());
    let publisher = publish_around_fault(port, "kpause/data", COUNT, fault.clone());
    let bootstrap = tansu.bootstrap();
    kafka::consume_all(&bootstrap, topic, 1 + 500, WAIT).await;
    let pid = tansu_pid(tansu.port());
    assert!(
        !publisher.is_finished(),
        "Kafka froze after the traffic: nothing tested"
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP Tansu");
    // The rest of the stream is published while Kafka is unreachable.
    fault.notify_one();
    tokio::time::sleep(Duration::from_secs(8)).await;
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT Tansu");
    let before = kafka::consume_to_end(&bootstrap, topic, WAIT).await.len();
    publisher.await.expect("publisher");
    let (count, missing) =
        wait_for_every_message(&bootstrap, topic, "m", COUNT, Duration::from_secs(120)).await;
    assert_none_missing(&missing);
    let status = connector_status(&worker, "kpause").await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    println!(
        "all {COUNT} messages in Kafka across an 8 s Kafka outage ({before} records right after it); {} duplicates",
        count - probes - COUNT
    );
}

/// A certificate `ca` issued for `names` (the first is also the common name), as (chain PEM,
/// key PEM).
fn issue(ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>, names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let common_name = names[0];
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).expect("names");
    // Distinct names: OpenSSL takes a certificate whose subject equals its issuer's for
    // self-signed.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let cert = params.signed_by(&key, ca).expect("sign");
    (cert.pem(), key.serialize_pem())
}

fn new_ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().expect("key"))
        .expect("CA")
}

/// Runs the openssl CLI (the tests make their PKCS#12 files and encrypted keys with it, as users
/// do) and returns what it printed; panics with its error output if it fails.
fn openssl(args: &[&str]) -> Vec<u8> {
    let output = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("run the openssl CLI");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Encrypts the private key in `key_pem` as `openssl pkcs8 -topk8 -v2 aes-256-cbc` does (an
/// `ENCRYPTED PRIVATE KEY`, PBES2 with PBKDF2) and returns the PEM text.
fn openssl_encrypted_key(key_pem: &Path, password: &str) -> String {
    let passout = format!("pass:{password}");
    let pem = openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-passout",
        &passout,
        "-in",
        utf8(key_pem),
    ]);
    String::from_utf8(pem).expect("PEM text")
}

/// Writes `pem` (certificates, and a key unless `nokeys`) as a PKCS#12 file with the openssl
/// CLI (OpenSSL 3's defaults: AES-256-CBC with PBKDF2, HMAC-SHA256 MAC).
fn openssl_pkcs12(pem: &Path, out: &Path, password: &str, nokeys: bool) {
    let passout = format!("pass:{password}");
    let mut args = vec!["pkcs12", "-export", "-passout", &passout];
    if nokeys {
        args.push("-nokeys");
    }
    args.extend(["-in", utf8(pem), "-out", utf8(out)]);
    openssl(&args);
}

/// TLS end to end with certificates generated here: Mosquitto's TLS listener requires a client
/// certificate; the connector on `ssl://` with the CA as trust store and its certificate and key
/// as key store delivers records, with PEM files and with the same material as PKCS#12 files
/// (made by the openssl CLI) and their passwords, and with a PEM key encrypted by the openssl CLI
/// and `mqtt.ssl.key.password`; a wrong key store or key password is a validation error naming
/// the file and the setting; a connector trusting another CA goes FAILED with a TLS reason.
#[tokio::test]
async fn tls_with_generated_certificates_and_an_untrusted_ca() {
    let ca = new_ca("sluice test CA");
    let (server_chain, server_key) = issue(&ca, &["localhost", "127.0.0.1"]);
    let (client_chain, client_key) = issue(&ca, &["sluice-mqtt-client"]);
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions {
        tls: Some(MosquittoTls {
            certificate_chain: server_chain,
            private_key: server_key,
            client_ca: Some(ca.as_ref().pem()),
        }),
        ..Default::default()
    })
    .await;
    let dir = sluice_tests::temp_dir();
    let trust_store = dir.path().join("ca.pem");
    std::fs::write(&trust_store, ca.as_ref().pem()).expect("write CA");
    let key_store = dir.path().join("client.pem");
    std::fs::write(&key_store, format!("{client_key}{client_chain}")).expect("write key store");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, new_ca("another CA").as_ref().pem()).expect("write other CA");
    let trust_p12 = dir.path().join("trust.p12");
    openssl_pkcs12(&trust_store, &trust_p12, "trust-pw", true);
    let key_p12 = dir.path().join("client.pfx");
    openssl_pkcs12(&key_store, &key_p12, "key-pw", false);
    let plain_key = dir.path().join("client-key.pem");
    std::fs::write(&plain_key, &client_key).expect("write key");
    let encrypted_store = dir.path().join("client-encrypted.pem");
    std::fs::write(
        &encrypted_store,
        format!(
            "{}{client_chain}",
            openssl_encrypted_key(&plain_key, "pem-key-pw")
        ),
    )
    .expect("write encrypted key store");

    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<&Path>::new());
    worker.wait_ready().await;
    let tls_config = |trust: &Path, key: &Path, kafka_topic: &str| {
        json!({
            "connector.class": CLASS,
            "tasks.max": "1",
            "mqtt.server.uri": mosquitto.tls_url(),
            "mqtt.topics": "secure/#",
            "mqtt.qos": "1",
            "mqtt.ssl.trust.store.path": trust.display().to_string(),
            "mqtt.ssl.key.store.path": key.display().to_string(),
            "max.retry.time.ms": "1500",
            "kafka.topic": kafka_topic,
        })
    };
    let mut p12_config = tls_config(&trust_p12, &key_p12, "mqtt_tls_p12");
    p12_config["mqtt.ssl.trust.store.password"] = json!("trust-pw");
    p12_config["mqtt.ssl.key.store.password"] = json!("key-pw");
    let mut encrypted_config = tls_config(&trust_store, &encrypted_store, "mqtt_tls_enc");
    encrypted_config["mqtt.ssl.key.password"] = json!("pem-key-pw");
    for (name, config) in [
        ("tls-good", tls_config(&trust_store, &key_store, "mqtt_tls")),
        ("tls-p12", p12_config.clone()),
        ("tls-encrypted-key", encrypted_config.clone()),
        (
            "tls-untrusted",
            tls_config(&other_ca, &key_store, "mqtt_tls"),
        ),
    ] {
        let (status, body) = rest::post_json(
            &worker.url("/connectors"),
            &json!({"name": name, "config": config}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    // A wrong PKCS#12 or PEM key password is refused up front, naming the file and the setting
    // but never the password.
    for (name, base, setting, file, reason) in [
        (
            "tls-wrong-password",
            &p12_config,
            "mqtt.ssl.key.store.password",
            &key_p12,
            "wrong password",
        ),
        (
            "tls-wrong-key-password",
            &encrypted_config,
            "mqtt.ssl.key.password",
            &encrypted_store,
            "cannot decrypt",
        ),
    ] {
        let mut wrong = base.clone();
        wrong[setting] = json!("not-the-password");
        let (status, body) = rest::post_json(
            &worker.url("/connectors"),
            &json!({"name": name, "config": wrong}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&file.display().to_string())
                && message.contains(reason)
                && message.contains(setting),
            "{body}"
        );
        assert!(!message.contains("not-the-password"), "{body}");
    }
    for name in ["tls-good", "tls-p12", "tls-encrypted-key"] {
        wait_until_described(&format!("{name} task running"), WAIT, POLL, || async {
            connector_status(&worker, name).await["tasks"][0]["state"] == "RUNNING"
        })
        .await;
    }
    // The subscription follows the connection; publish until a record shows up.
    let mut records = Vec::new();
    let mut p12_records = Vec::new();
    let mut encrypted_key_records = Vec::new();
    for attempt in 0..20 {
        publish(
            mosquitto.port(),
            None,
            "secure/door",
            QoS::AtLeastOnce,
            false,
            vec![format!("open-{attempt}").into_bytes()],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let topics = kafka::list_topics(&tansu.bootstrap()).await;
        if ["mqtt_tls", "mqtt_tls_p12", "mqtt_tls_enc"]
            .iter()
            .all(|wanted| topics.iter().any(|t| t == wanted))
        {
            records = kafka::consume_all(&tansu.bootstrap(), "mqtt_tls", 1, WAIT).await;
            p12_records = kafka::consume_all(&tansu.bootstrap(), "mqtt_tls_p12", 1, WAIT).await;
            encrypted_key_records =
                kafka::consume_all(&tansu.bootstrap(), "mqtt_tls_enc", 1, WAIT).await;
            break;
        }
    }
    assert!(!records.is_empty(), "nothing came through TLS (PEM)");
    assert!(
        !p12_records.is_empty(),
        "nothing came through TLS (PKCS#12)"
    );
    assert!(
        !encrypted_key_records.is_empty(),
        "nothing came through TLS (encrypted PEM key)"
    );
    for record in [&records[0], &p12_records[0], &encrypted_key_records[0]] {
        assert_eq!(record.key_str().as_deref(), Some("secure/door"));
        assert!(record.value_str().unwrap_or_default().starts_with("open-"));
    }

    let deadline = tokio::time::Instant::now() + WAIT;
    let last = loop {
        let status = connector_status(&worker, "tls-untrusted").await;
        if status["tasks"][0]["state"] == "FAILED" {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never FAILED: {status}"
        );
        tokio::time::sleep(POLL).await;
    };
    let trace = last["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("TLS error"), "{last}");
    assert!(trace.contains("invalid peer certificate"), "{last}");
    assert!(worker.is_running(), "no panic, the worker goes on");
    for name in ["tls-good", "tls-p12", "tls-encrypted-key"] {
        let good = connector_status(&worker, name).await;
        assert_eq!(good["tasks"][0]["state"], "RUNNING", "{good}");
    }
}

/// Publishes a probe to each topic until a record of every one is in `kafka_topic`: the
/// subscriptions are in place.
async fn wait_subscribed(tansu: &Tansu, port: u16, kafka_topic: &str, topics: &[&str]) {
    for attempt in 0..40 {
        for topic in topics {
            publish(
                port,
                None,
                topic,
                QoS::AtLeastOnce,
                false,
                vec![format!("probe-{attempt}").into_bytes()],
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        if !kafka::list_topics(&tansu.bootstrap())
            .await
            .iter()
            .any(|t| t == kafka_topic)
        {
            continue;
        }
        let records = kafka::consume_to_end(&tansu.bootstrap(), kafka_topic, WAIT).await;
        let keys: std::collections::HashSet<String> =
            records.iter().filter_map(|r| r.key_str()).collect();
        if topics.iter().all(|t| keys.contains(*t)) {
            return;
        }
    }
    panic!("the subscriptions to {topics:?} never delivered");
}

async fn wait_tasks_running(worker: &WorkerProcess, name: &str, tasks: usize) {
    wait_until_described(
        &format!("{name}: {tasks} tasks running"),
        WAIT,
        POLL,
        || async {
            let status = connector_status(worker, name).await;
            let states: Vec<&Value> = status["tasks"]
                .as_array()
                .map(|t| t.iter().map(|t| &t["state"]).collect())
                .unwrap_or_default();
            states.len() == tasks && states.iter().all(|s| *s == "RUNNING")
        },
    )
    .await;
}

/// `tasks.max=2` with two filters runs two tasks, one per filter, and each filter's messages
/// arrive; a `$share/` filter runs on both tasks and the broker hands each message to one of
/// them, so each arrives exactly once.
#[tokio::test]
async fn two_tasks_split_filters_and_share_a_group() {
    const COUNT: usize = 200;
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions::default()).await;
    let dir = sluice_tests::temp_dir();
    let split = write_connector(
        dir.path(),
        "mqtt-split",
        json!({
            "connector.class": CLASS,
            "tasks.max": "2",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.topics": "alpha/#,beta/#",
            "mqtt.qos": "1",
            "kafka.topic": "mqtt_split",
        }),
    );
    let shared = write_connector(
        dir.path(),
        "mqtt-shared",
        json!({
            "connector.class": CLASS,
            "tasks.max": "2",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.topics": "$share/sluice/shared/#",
            "mqtt.qos": "1",
            "kafka.topic": "mqtt_shared",
        }),
    );
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), [&split, &shared]);
    worker.wait_ready().await;
    wait_tasks_running(&worker, "mqtt-split", 2).await;
    wait_tasks_running(&worker, "mqtt-shared", 2).await;
    let log = worker.log_text();
    for (client_id, filters) in [
        ("mqtt-split-0", "[\"alpha/#\"]"),
        ("mqtt-split-1", "[\"beta/#\"]"),
        ("mqtt-shared-0", "[\"$share/sluice/shared/#\"]"),
        ("mqtt-shared-1", "[\"$share/sluice/shared/#\"]"),
    ] {
        assert!(
            log.contains(&format!("client_id=\"{client_id}\" topics={filters}")),
            "{client_id} should subscribe to {filters}"
        );
    }
    let port = mosquitto.port();
    wait_subscribed(&tansu, port, "mqtt_split", &["alpha/p", "beta/p"]).await;
    wait_subscribed(&tansu, port, "mqtt_shared", &["shared/p"]).await;
    let bootstrap = tansu.bootstrap();
    let split_probes = kafka::consume_to_end(&bootstrap, "mqtt_split", WAIT)
        .await
        .len();
    let shared_probes = kafka::consume_to_end(&bootstrap, "mqtt_shared", WAIT)
        .await
        .len();

    let batch = |tag: &str| -> Vec<Vec<u8>> {
        (0..COUNT)
            .map(|i| format!("{tag}-{i}").into_bytes())
            .collect()
    };
    publish(port, None, "alpha/x", QoS::AtLeastOnce, false, batch("a")).await;
    publish(port, None, "beta/y", QoS::AtLeastOnce, false, batch("b")).await;
    publish(port, None, "shared/z", QoS::AtLeastOnce, false, batch("s")).await;

    let records = kafka::consume_all(
        &tansu.bootstrap(),
        "mqtt_split",
        split_probes + 2 * COUNT,
        WAIT,
    )
    .await;
    for (key, tag) in [("alpha/x", "a"), ("beta/y", "b")] {
        let got: Vec<String> = records
            .iter()
            .filter(|r| r.key_str().as_deref() == Some(key))
            .filter_map(|r| r.value_str())
            .collect();
        let expected: Vec<String> = (0..COUNT).map(|i| format!("{tag}-{i}")).collect();
        assert_eq!(got, expected, "{key}: every message once, in order");
    }
    kafka::consume_all(
        &tansu.bootstrap(),
        "mqtt_shared",
        shared_probes + COUNT,
        WAIT,
    )
    .await;
    // Nothing more comes: a shared group delivers each message to one member only.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let shared_records = kafka::consume_to_end(&tansu.bootstrap(), "mqtt_shared", WAIT).await;
    let mut got: Vec<String> = shared_records
        .iter()
        .filter(|r| r.key_str().as_deref() == Some("shared/z"))
        .filter_map(|r| r.value_str())
        .collect();
    got.sort();
    let mut expected: Vec<String> = (0..COUNT).map(|i| format!("s-{i}")).collect();
    expected.sort();
    assert_eq!(got, expected, "each shared message exactly once");
    assert_eq!(shared_records.len(), shared_probes + COUNT);
}

/// `mqtt.version=5`: the connector speaks MQTT 5 (with manual acks on a persistent session);
/// a message's user properties and content type arrive as `mqtt.user.*` and
/// `mqtt.content.type` headers beside the four usual ones.
#[tokio::test]
async fn mqtt5_user_properties_and_content_type_become_headers() {
    use rumqttc::v5;
    use rumqttc::v5::mqttbytes::v5::PublishProperties;
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start_with(MosquittoOptions::default()).await;
    let dir = sluice_tests::temp_dir();
    let connector = write_connector(
        dir.path(),
        "mqtt-v5",
        json!({
            "connector.class": CLASS,
            "tasks.max": "1",
            "mqtt.server.uri": mosquitto.url(),
            "mqtt.version": "5",
            "mqtt.topics": "v5/#",
            "mqtt.qos": "1",
            "mqtt.clean.session.enabled": "false",
            "kafka.topic": "mqtt_v5",
        }),
    );
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), [&connector]);
    worker.wait_ready().await;
    wait_tasks_running(&worker, "mqtt-v5", 1).await;

    let mut options = v5::MqttOptions::new("test-v5-publisher", "127.0.0.1", mosquitto.port());
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = v5::AsyncClient::new(options, 100);
    let driver = tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let properties = PublishProperties {
        user_properties: vec![
            ("camera".into(), "sorter-1".into()),
            ("tag".into(), "left".into()),
            ("tag".into(), "right".into()),
        ],
        content_type: Some("image/jpeg".into()),
        ..Default::default()
    };
    // The subscription follows the connection: publish until a record shows up.
    let mut records = Vec::new();
    for attempt in 0..40 {
        client
            .publish_with_properties(
                "v5/cam",
                v5::mqttbytes::QoS::AtLeastOnce,
                false,
                format!("frame-{attempt}").into_bytes(),
                properties.clone(),
            )
            .await
            .expect("queue publish");
        tokio::time::sleep(Duration::from_millis(300)).await;
        if kafka::list_topics(&tansu.bootstrap())
            .await
            .iter()
            .any(|t| t == "mqtt_v5")
        {
            records = kafka::consume_all(&tansu.bootstrap(), "mqtt_v5", 1, WAIT).await;
            break;
        }
    }
    driver.abort();
    let record = records.first().expect("no MQTT 5 record arrived");
    assert_eq!(record.key_str().as_deref(), Some("v5/cam"));
    assert!(record.value_str().unwrap_or_default().starts_with("frame-"));
    assert_eq!(header_str(record, "mqtt.qos"), "1");
    assert_eq!(header_str(record, "mqtt.retained"), "false");
    assert_eq!(header_str(record, "mqtt.user.camera"), "sorter-1");
    assert_eq!(header_str(record, "mqtt.content.type"), "image/jpeg");
    let tags: Vec<String> = record
        .headers
        .iter()
        .filter(|(name, _)| name == "mqtt.user.tag")
        .filter_map(|(_, value)| value.as_deref())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert_eq!(tags, ["left", "right"], "repeated properties, in order");
    assert!(
        worker.log_text().contains("version=V5"),
        "the task ran MQTT 5"
    );
}
