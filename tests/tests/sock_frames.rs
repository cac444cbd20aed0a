//! The camera half of the sock pipeline end to end: JPEG frames published to MQTT, read by the
//! MQTT source, named by the ImageClassifier transform with the real sock model, and written to
//! Kafka as the camera's JSON messages `{"image": "<brand>", "probability": <0..100>}`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use sluice_tests::{Mosquitto, Tansu, WorkerProcess, kafka, rest, workspace_root};

const WAIT: Duration = Duration::from_secs(90);

fn photos() -> Vec<(String, PathBuf)> {
    let dir = workspace_root().join("../shared/socks");
    let mut out = Vec::new();
    for class in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let class = class.expect("entry").path();
        let brand = class
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("class-"))
            .expect("class-<brand> folders")
            .to_owned();
        for photo in std::fs::read_dir(&class).expect("photos") {
            out.push((brand.clone(), photo.expect("entry").path()));
        }
    }
    out.sort();
    out
}

fn model_file(rel: &str) -> String {
    let path: PathBuf = workspace_root().join(rel);
    assert!(
        Path::new(&path).is_file(),
        "{} is missing: run models/sock-classifier/build.sh (scripts/test.sh does)",
        path.display()
    );
    path.display().to_string()
}

async fn publish_frames(port: u16, frames: Vec<Vec<u8>>) {
    let mut options = MqttOptions::new("camera", "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    let expected = frames.len();
    let sender = tokio::spawn(async move {
        for frame in frames {
            client
                .publish("sockfound/frames", QoS::AtLeastOnce, false, frame)
                .await
                .expect("queue a frame");
        }
        client
    });
    let mut acked = 0;
    while acked < expected {
        let event = tokio::time::timeout(WAIT, eventloop.poll())
            .await
            .expect("publishing timed out")
            .expect("camera connection");
        if let Event::Incoming(Packet::PubAck(_)) = event {
            acked += 1;
        }
    }
    sender.await.expect("publisher").disconnect().await.ok();
}

#[tokio::test]
async fn camera_frames_become_the_camera_json_messages() {
    let tansu = Tansu::start().await;
    let mosquitto = Mosquitto::start().await;
    kafka::create_topic(&tansu.bootstrap(), "data_mqtt", 1).await;
    let props: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), tansu.bootstrap()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.converters.ByteArrayConverter".into(),
        ),
    ];
    let mut worker = WorkerProcess::standalone(props, Vec::<PathBuf>::new());
    worker.wait_ready().await;
    let config = json!({
        "connector.class": "io.confluent.connect.mqtt.MqttSourceConnector",
        "mqtt.server.uri": format!("tcp://127.0.0.1:{}", mosquitto.port()),
        "mqtt.topics": "sockfound/#",
        "mqtt.qos": 1,
        "mqtt.clean.session.enabled": false,
        "kafka.topic": "data_mqtt",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": false,
        "transforms": "classify",
        "transforms.classify.type": "ImageClassifier",
        "transforms.classify.model.path": model_file("models/sock-classifier/build/sock-classifier.onnx"),
        "transforms.classify.labels.path": model_file("models/sock-classifier/labels.txt")
    });
    let (status, body) = rest::put_json(&worker.url("/connectors/camera/config"), &config).await;
    assert_eq!(status, 201, "{body}");
    // The source subscribes with a persistent session; give it a moment before the camera starts.
    let status_url = worker.url("/connectors/camera/status");
    sluice_tests::wait_until_described(
        "the camera connector RUNNING",
        WAIT,
        Duration::from_millis(200),
        || async {
            let (_, body) = rest::get_json(&status_url).await;
            body["tasks"][0]["state"] == "RUNNING"
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let photos = photos();
    let frames = photos
        .iter()
        .map(|(_, p)| std::fs::read(p).expect("read a photo"))
        .collect();
    publish_frames(mosquitto.port(), frames).await;

    let records = kafka::consume_all(&tansu.bootstrap(), "data_mqtt", photos.len(), WAIT).await;
    for (record, (brand, path)) in records.iter().zip(&photos) {
        assert_eq!(record.key_str().as_deref(), Some("sockfound/frames"));
        let message: Value = record.value_json();
        let label = message["image"].as_str().unwrap_or_default();
        // Folder names are the brand in lower case, sometimes shorter ("streamset").
        assert!(
            label.to_lowercase().starts_with(brand.as_str()),
            "{}: {message}",
            path.display()
        );
        let p = message["probability"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=100.0).contains(&p), "{message}");
        assert_eq!(
            message.as_object().map(|o| o.len()),
            Some(2),
            "exactly the camera's fields: {message}"
        );
    }
}
