//! The sock pipeline's real throughput, for `scripts/bench-classifier.sh` (not a test):
//! `classifier_pipeline_bench PORT COUNT BOOTSTRAP TOPIC PHOTO_DIR` publishes COUNT JPEG frames
//! (the photos of PHOTO_DIR in turn) to `sockfound/frames` at QoS 1, which a running MQTT source
//! connector with the ImageClassifier transform writes to TOPIC; prints
//! `pipeline_images_per_second: N`, from the first publish until a consumer has read COUNT new
//! records from TOPIC, and `pipeline_labels_right: K/COUNT` (the label against the photo's folder).
//! With a sixth argument `warmup`, it publishes first and then waits until the topic exists and
//! holds COUNT records (the first run, which creates the topic).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sluice_tests::cli_arg as arg;
use sluice_tests::kafka;

const TIMEOUT: Duration = Duration::from_secs(600);

/// The photos of `dir` (one `class-<brand>` folder each), sorted, with their brand.
fn photos(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    for class in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let class = class.expect("entry").path();
        let Some(brand) = class
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("class-"))
            .map(str::to_owned)
        else {
            continue;
        };
        for photo in std::fs::read_dir(&class).expect("photos") {
            paths.push((brand.clone(), photo.expect("entry").path()));
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|(brand, p)| (brand, std::fs::read(&p).expect("read a photo")))
        .collect()
}

/// Publishes the frames at QoS 1; returns when every one is acknowledged.
async fn publish(port: u16, frames: Vec<Vec<u8>>) {
    let mut options = MqttOptions::new(
        format!("bench-camera-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    options.set_max_packet_size(1 << 20, 1 << 20);
    options.set_keep_alive(Duration::from_secs(60));
    let count = frames.len();
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    let sender = tokio::spawn(async move {
        for frame in frames {
            client
                .publish("sockfound/frames", QoS::AtLeastOnce, false, frame)
                .await
                .expect("queue publish");
        }
        client
    });
    let mut acked = 0;
    while acked < count {
        if let Event::Incoming(Packet::PubAck(_)) =
            eventloop.poll().await.expect("publisher connection")
        {
            acked += 1;
        }
    }
    let client = sender.await.expect("publisher task");
    client.disconnect().await.ok();
    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
}

fn counting_consumer(bootstrap: &str, topic: &str, skip_existing: bool) -> BaseConsumer {
    kafka::counting_consumer(bootstrap, topic, Instant::now() + TIMEOUT, skip_existing)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, 1, "port");
    let count: usize = arg(&args, 2, "count");
    let bootstrap: String = arg(&args, 3, "bootstrap");
    let topic: String = arg(&args, 4, "topic");
    let dir: String = arg(&args, 5, "photo dir");
    let photos = photos(Path::new(&dir));
    assert!(!photos.is_empty(), "no photos in {dir}");
    let brands: Vec<String> = (0..count)
        .map(|i| photos[i % photos.len()].0.clone())
        .collect();
    let frames: Vec<Vec<u8>> = (0..count)
        .map(|i| photos[i % photos.len()].1.clone())
        .collect();

    let warmup = args.get(6).is_some_and(|a| a == "warmup");
    let (consumer, publisher, start) = if warmup {
        let start = Instant::now();
        publish(port, frames).await;
        let consumer = tokio::task::spawn_blocking({
            let topic = topic.clone();
            move || counting_consumer(&bootstrap, &topic, false)
        })
        .await
        .expect("consumer");
        (consumer, tokio::spawn(async {}), start)
    } else {
        let consumer = counting_consumer(&bootstrap, &topic, true);
        let start = Instant::now();
        (consumer, tokio::spawn(publish(port, frames)), start)
    };
    let right = tokio::task::spawn_blocking(move || {
        let mut right = 0;
        kafka::read_records(
            &consumer,
            &topic,
            count,
            start + TIMEOUT,
            |seen, message| {
                let label = message
                    .payload()
                    .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
                    .and_then(|v| v["image"].as_str().map(str::to_lowercase))
                    .unwrap_or_default();
                // Records arrive in publish order (one MQTT topic, one partition).
                if label.starts_with(brands[seen].as_str()) {
                    right += 1;
                }
            },
        );
        right
    });
    let right = right.await.expect("counting consumer");
    let elapsed = start.elapsed();
    publisher.await.expect("publisher");
    println!(
        "pipeline_images_per_second: {:.1}",
        count as f64 / elapsed.as_secs_f64()
    );
    println!("pipeline_labels_right: {right}/{count}");
}
