//! End-to-end tests of `sluice-pairing` against Tansu: scripted camera frames with fixed
//! timestamps go into `data_mqtt`; the sighting and pair records that come out are compared
//! with hand-computed tables and with the pure engine run on the same frames.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_pairing::config::SightingKeyFormat;
use sluice_pairing::engine::{Engine, EngineConfig, Frame, Mode};
use sluice_pairing::records::{Destination, encode};
use sluice_tests::Tansu;
use sluice_tests::kafka::{self, OutgoingRecord};
use sluice_tests::pairing::{PairingProcess, latest_by_key};

/// A multiple of the 5 s window, so window boundaries fall where the script says.
const BASE: i64 = 1_700_000_000_000;
const TABLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Frames of `label` every 300 ms in `[from, to)` ms after [`BASE`].
fn hold(label: &str, from: i64, to: i64) -> Vec<Frame> {
    (from..to)
        .step_by(300)
        .map(|t| Frame::new(label, BASE + t))
        .collect()
}

/// A Google sock held 7 s, a Mongo sock, a second Google sock, blank gaps, a lone wrong
/// frame, and one Mongo frame that arrives far too late.
fn scenario() -> Vec<Frame> {
    let mut frames = [
        hold("Google", 1000, 8000),
        hold("Blank", 8000, 12_000),
        hold("Mongo", 12_000, 14_000),
        hold("Blank", 14_000, 18_000),
        hold("Google", 18_000, 20_000),
        hold("Blank", 20_000, 30_000),
    ]
    .concat();
    frames[40].image = "Github".into(); // a lone wrong frame among blank ones
    frames.push(Frame::new("Mongo", BASE + 2000)); // late beyond grace in both modes
    frames.extend(hold("Blank", 30_000, 31_000));
    frames
}

fn camera_record(frame: &Frame) -> OutgoingRecord {
    let value = json!({"image": frame.image, "probability": 97.314453125}).to_string();
    OutgoingRecord {
        timestamp: Some(frame.timestamp_ms),
        partition: Some(0),
        ..OutgoingRecord::keyed("sockfound", value)
    }
}

async fn produce_frames(bootstrap: &str, frames: &[Frame]) {
    let records: Vec<OutgoingRecord> = frames.iter().map(camera_record).collect();
    kafka::produce_records(bootstrap, "data_mqtt", &records).await;
}

/// What an uninterrupted run writes, as the latest value per key: (pairs, sightings).
fn reference(mode: Mode, frames: &[Frame]) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let mut engine = Engine::new(EngineConfig {
        mode,
        ..EngineConfig::default()
    });
    let mut pairs = BTreeMap::new();
    let mut sightings = BTreeMap::new();
    for frame in frames {
        for output in engine.process(frame).outputs {
            let encoded = encode(&output, SightingKeyFormat::Text);
            let key = String::from_utf8(encoded.key).expect("text key");
            let value: Value = serde_json::from_slice(&encoded.value).expect("json");
            match encoded.destination {
                Destination::Pairs => pairs.insert(key, value),
                Destination::Sightings => sightings.insert(key, value),
            };
        }
    }
    (pairs, sightings)
}

/// Waits until the latest value per key of `topic` equals `expected`.
async fn wait_for_table(bootstrap: &str, topic: &str, expected: &BTreeMap<String, Value>) {
    let deadline = Instant::now() + TABLE_TIMEOUT;
    loop {
        let records = kafka::consume_to_end(bootstrap, topic, Duration::from_secs(20)).await;
        let latest = latest_by_key(&records);
        if &latest == expected {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "topic {topic} did not reach the expected table within {TABLE_TIMEOUT:?}\n\
                 expected: {expected:#?}\nlatest: {latest:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn counts(table: &BTreeMap<String, Value>) -> BTreeMap<String, (u64, String)> {
    table
        .iter()
        .map(|(image, row)| {
            (
                image.clone(),
                (
                    row["number_socks_seen"].as_u64().expect("count"),
                    row["pair_seen"].as_str().expect("label").to_owned(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scripted_frames_give_the_expected_sightings_and_pairs_in_both_modes() {
    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "data_mqtt", 1).await;
    let frames = scenario();
    produce_frames(&bootstrap, &frames).await;

    let sighting_pairs = "sighting_pairs";
    let compatible_pairs = "compatible_pairs";
    let mut sighting = PairingProcess::start(
        &bootstrap,
        &[
            ("application.id", "pairing-sighting"),
            ("sightings.topic", "sighting_sightings"),
            ("pairs.topic", sighting_pairs),
        ],
    );
    let mut compatible = PairingProcess::start(
        &bootstrap,
        &[
            ("mode", "compatible"),
            ("application.id", "pairing-compatible"),
            ("sightings.topic", "compatible_sightings"),
            ("pairs.topic", compatible_pairs),
        ],
    );
    sighting.wait_assigned(1, Duration::from_secs(30)).await;
    compatible.wait_assigned(1, Duration::from_secs(30)).await;

    // Sighting mode: the 7 s hold is one sock, so Google is a pair.
    let (pairs, sightings) = reference(Mode::Sighting, &frames);
    assert_eq!(
        counts(&pairs),
        BTreeMap::from([
            ("Google".into(), (2, "Pair".into())),
            ("Mongo".into(), (1, "Un-matched".into())),
        ])
    );
    assert_eq!(
        sightings.keys().cloned().collect::<Vec<_>>(),
        vec![
            format!("Google@{}", BASE + 1000),
            format!("Google@{}", BASE + 18_000),
            format!("Mongo@{}", BASE + 12_000),
        ]
    );
    wait_for_table(&bootstrap, sighting_pairs, &pairs).await;
    wait_for_table(&bootstrap, "sighting_sightings", &sightings).await;

    // Compatible mode: the 7 s hold spans two windows and counts twice.
    let (pairs, sightings) = reference(Mode::Compatible, &frames);
    assert_eq!(
        counts(&pairs),
        BTreeMap::from([
            ("Google".into(), (3, "Un-matched".into())),
            ("Mongo".into(), (1, "Un-matched".into())),
        ])
    );
    assert_eq!(sightings.len(), 4);
    wait_for_table(&bootstrap, compatible_pairs, &pairs).await;
    wait_for_table(&bootstrap, "compatible_sightings", &sightings).await;
    // Every change is a record: one per window frame from the 4th on, plus intermediate rows.
    let records =
        kafka::consume_to_end(&bootstrap, compatible_pairs, Duration::from_secs(20)).await;
    assert!(records.len() > 20, "{} pair records", records.len());

    for job in [&sighting, &compatible] {
        assert_eq!(
            job.metric("sluice_pairing_records_in_total").await,
            Some(frames.len() as f64)
        );
        assert_eq!(
            job.metric("sluice_pairing_records_late_dropped_total")
                .await,
            Some(1.0)
        );
    }
    assert_eq!(sighting.metric("sluice_pairing_pairs").await, Some(1.0));
    assert!(sighting.terminate().await.is_some_and(|s| s.success()));
    assert!(compatible.terminate().await.is_some_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_sequence_then_restart_gives_the_table_of_an_uninterrupted_run() {
    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "data_mqtt", 1).await;
    let frames = scenario();
    let split = frames
        .iter()
        .position(|f| f.timestamp_ms >= BASE + 12_000)
        .expect("split point");
    produce_frames(&bootstrap, &frames[..split]).await;

    let mut job = PairingProcess::start(&bootstrap, &[("commit.interval.ms", "20")]);
    job.wait_assigned(1, Duration::from_secs(30)).await;
    // The first Google sighting is decided within the first part.
    let deadline = Instant::now() + TABLE_TIMEOUT;
    while kafka::consume_to_end(&bootstrap, "sock_pairs", Duration::from_secs(20))
        .await
        .is_empty()
    {
        assert!(Instant::now() < deadline, "no pair record before the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Feed the rest in small batches and kill the job while it is working on them.
    let rest = &frames[split..];
    let chunks: Vec<&[Frame]> = rest.chunks(8).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        produce_frames(&bootstrap, chunk).await;
        if i == chunks.len() / 2 {
            job.kill_9();
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    job.restart();
    let (pairs, sightings) = reference(Mode::Sighting, &frames);
    wait_for_table(&bootstrap, "sock_pairs", &pairs).await;
    wait_for_table(&bootstrap, "sock_sightings", &sightings).await;
    assert!(
        job.log_text().contains("resuming from saved state"),
        "the restarted job did not resume from its snapshot"
    );
    // Nothing counted twice: the pair records never exceed the reference counts.
    let records = kafka::consume_to_end(&bootstrap, "sock_pairs", Duration::from_secs(20)).await;
    for record in &records {
        let value = record.value_json();
        let image = value["image"].as_str().expect("image");
        assert!(
            value["number_socks_seen"].as_u64() <= pairs[image]["number_socks_seen"].as_u64(),
            "{value} exceeds the final count"
        );
    }
    assert!(job.terminate().await.is_some_and(|s| s.success()));
}

/// Subscribes to `topic` and collects every payload until `stop` resolves (plus a moment).
async fn collect_mqtt(
    url: &str,
    topic: &str,
) -> (
    tokio::task::JoinHandle<Vec<Vec<u8>>>,
    tokio::sync::oneshot::Sender<()>,
) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut options = MqttOptions::new("camera-test-subscriber", "127.0.0.1", port);
    options.set_max_packet_size(16 * 1024 * 1024, 16 * 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    client
        .subscribe(topic, QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    // Wait for the subscription to be acknowledged before anything is published.
    loop {
        match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            other => panic!("subscribing to Mosquitto failed: {other:?}"),
        }
    }
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let _client = client;
        let mut payloads = Vec::new();
        let mut stopping_at: Option<Instant> = None;
        loop {
            if stopping_at.is_none() && stop_rx.try_recv().is_ok() {
                stopping_at = Some(Instant::now() + Duration::from_millis(500));
            }
            if stopping_at.is_some_and(|at| Instant::now() >= at) {
                return payloads;
            }
            if let Ok(Ok(Event::Incoming(Packet::Publish(publish)))) =
                tokio::time::timeout(Duration::from_millis(50), eventloop.poll()).await
            {
                payloads.push(publish.payload.to_vec());
            }
        }
    });
    (handle, stop_tx)
}

async fn run_camera(args: &[String]) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(sluice_tests::pairing::camera_bin())
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("sluice-camera finished within 60 s")
    .expect("sluice-camera ran");
    assert!(
        output.status.success(),
        "sluice-camera failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_camera_simulator_publishes_the_scripted_frames_to_mosquitto() {
    use sluice_camera_sim::{Noise, Rng, frames, parse_script};
    let mosquitto = sluice_tests::Mosquitto::start().await;
    let dir = sluice_tests::temp_dir();
    let script_text = "Blank 1s\nGoogle 3s\nBlank 2s\nMongo 2s\nBlank 1s\n";
    let script_path = dir.path().join("socks.script");
    std::fs::write(&script_path, script_text).expect("write script");
    let (collector, stop) = collect_mqtt(&mosquitto.url(), "sockfound").await;
    run_camera(&[
        "--broker".into(),
        mosquitto.url(),
        "--script".into(),
        script_path.display().to_string(),
        "--seed".into(),
        "11".into(),
        "--speed".into(),
        "10".into(),
    ])
    .await;
    let _ = stop.send(());
    let payloads = collector.await.expect("collector");

    // Exactly the frames the script and seed give, in order, in the camera's JSON shape.
    let script = parse_script(script_text).expect("script");
    let expected = frames(&script, &Noise::default(), &mut Rng::new(11), 0);
    assert!((25..=40).contains(&expected.len()), "{}", expected.len());
    let received: Vec<Value> = payloads
        .iter()
        .map(|p| serde_json::from_slice(p).expect("JSON payload"))
        .collect();
    assert_eq!(received.len(), expected.len(), "{received:?}");
    for (got, want) in received.iter().zip(&expected) {
        let object = got.as_object().expect("object");
        assert_eq!(object.len(), 2, "{got}");
        assert_eq!(got["image"], want.label.as_str());
        assert_eq!(got["probability"].as_f64(), Some(want.probability));
    }
    // A run of Google frames, blank runs around it, and any wrong frame alone.
    let labels: Vec<&str> = received
        .iter()
        .map(|v| v["image"].as_str().expect("label"))
        .collect();
    assert_eq!(labels.first(), Some(&"Blank"));
    assert!(
        labels.iter().filter(|l| **l == "Google").count() >= 8,
        "{labels:?}"
    );
    assert!(
        labels.iter().filter(|l| **l == "Mongo").count() >= 5,
        "{labels:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_camera_simulator_publishes_jpeg_frames_from_a_folder() {
    let socks = sluice_tests::workspace_root().join("../shared/socks");
    assert!(
        socks.is_dir(),
        "{} is missing (the shared sock photos)",
        socks.display()
    );
    let mosquitto = sluice_tests::Mosquitto::start().await;
    let dir = sluice_tests::temp_dir();
    let script_path = dir.path().join("socks.script");
    std::fs::write(&script_path, "Google 1s\nBlank 1s\nMongo 1s\n").expect("write script");
    let (collector, stop) = collect_mqtt(&mosquitto.url(), "frames").await;
    run_camera(&[
        "--broker".into(),
        mosquitto.url(),
        "--topic".into(),
        "frames".into(),
        "--images".into(),
        socks.display().to_string(),
        "--script".into(),
        script_path.display().to_string(),
        "--wrong-frame".into(),
        "0".into(),
        "--phantom-frame".into(),
        "0".into(),
        "--speed".into(),
        "10".into(),
    ])
    .await;
    let _ = stop.send(());
    let payloads = collector.await.expect("collector");
    assert!((8..=13).contains(&payloads.len()), "{}", payloads.len());
    let photos_of = |folder: &str| -> Vec<Vec<u8>> {
        std::fs::read_dir(socks.join(folder))
            .expect("folder")
            .map(|e| std::fs::read(e.expect("entry").path()).expect("photo"))
            .collect()
    };
    let (google, mongo) = (photos_of("class-google"), photos_of("class-mongo"));
    let (mut from_google, mut from_mongo, mut generated) = (0, 0, 0);
    for payload in &payloads {
        assert_eq!(&payload[..2], &[0xFF, 0xD8], "not a JPEG");
        if google.contains(payload) {
            from_google += 1;
        } else if mongo.contains(payload) {
            from_mongo += 1;
        } else {
            generated += 1;
        }
    }
    assert!(
        from_google >= 3 && from_mongo >= 3 && generated >= 3,
        "{from_google} {from_mongo} {generated}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_split_the_input_partitions() {
    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "data_mqtt", 2).await;
    let mut first = PairingProcess::start(&bootstrap, &[("instance.id", "a")]);
    first.wait_assigned(2, Duration::from_secs(30)).await;
    let second = PairingProcess::start(&bootstrap, &[("instance.id", "b")]);
    // After the rebalance each owns one partition.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let a = first
            .health()
            .await
            .map(|(_, b)| b["assigned_partitions"].clone());
        let b = second
            .health()
            .await
            .map(|(_, b)| b["assigned_partitions"].clone());
        if a == Some(json!(1)) && b == Some(json!(1)) {
            break;
        }
        assert!(Instant::now() < deadline, "no split: {a:?} {b:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A camera per partition: Google twice on partition 0, Mongo once on partition 1.
    let camera_0 = [
        hold("Google", 1000, 3000),
        hold("Blank", 3000, 6000),
        hold("Google", 6000, 8000),
        hold("Blank", 8000, 20_000),
    ]
    .concat();
    let camera_1 = [hold("Mongo", 2000, 4000), hold("Blank", 4000, 20_000)].concat();
    let mut records: Vec<OutgoingRecord> = camera_0.iter().map(camera_record).collect();
    records.extend(camera_1.iter().map(|f| camera_record(f).with_partition(1)));
    kafka::produce_records(&bootstrap, "data_mqtt", &records).await;
    let mut expected = reference(Mode::Sighting, &camera_0).0;
    expected.extend(reference(Mode::Sighting, &camera_1).0);
    assert_eq!(
        counts(&expected),
        BTreeMap::from([
            ("Google".into(), (2, "Pair".into())),
            ("Mongo".into(), (1, "Un-matched".into())),
        ])
    );
    wait_for_table(&bootstrap, "sock_pairs", &expected).await;
    // Each instance processed its own partition's records, none twice.
    let a = first.metric("sluice_pairing_records_in_total").await;
    let b = second.metric("sluice_pairing_records_in_total").await;
    let mut seen = [a.unwrap_or(0.0) as usize, b.unwrap_or(0.0) as usize];
    seen.sort_unstable();
    let mut sizes = [camera_0.len(), camera_1.len()];
    sizes.sort_unstable();
    assert_eq!(seen, sizes);
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_sock_is_decided_by_the_wall_clock_when_no_frame_follows_it() {
    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "data_mqtt", 1).await;
    // The default (stream.time.advance=wall-clock) and Kafka Streams' behaviour side by side.
    let mut wall_clock = PairingProcess::start(
        &bootstrap,
        &[
            ("application.id", "pairing-wall-clock"),
            ("sightings.topic", "wall_clock_sightings"),
            ("pairs.topic", "wall_clock_pairs"),
        ],
    );
    let mut records_only = PairingProcess::start(
        &bootstrap,
        &[
            ("application.id", "pairing-records"),
            ("sightings.topic", "records_sightings"),
            ("pairs.topic", "records_pairs"),
            ("stream.time.advance", "records"),
        ],
    );
    wall_clock.wait_assigned(1, Duration::from_secs(30)).await;
    records_only.wait_assigned(1, Duration::from_secs(30)).await;

    // A live Google sock (5 frames up to now), then the camera goes quiet.
    let first = now_ms() - 1500;
    let frames: Vec<Frame> = (0..5)
        .map(|i| Frame::new("Google", first + i * 300))
        .collect();
    produce_frames(&bootstrap, &frames).await;
    // Decided once the window holding last frame + merge gap has closed, plus grace.
    let last = first + 1200;
    let due = (last + 2000).div_euclid(5000) * 5000 + 5000 + 1000;

    let deadline = Instant::now() + Duration::from_secs(40);
    let pair = loop {
        let records =
            kafka::consume_to_end(&bootstrap, "wall_clock_pairs", Duration::from_secs(20)).await;
        if let Some(record) = records.first() {
            break record.value_json();
        }
        assert!(
            Instant::now() < deadline,
            "no pair record without a further frame; log:\n{}",
            wall_clock.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(now_ms() >= due, "decided before its window closed: {pair}");
    assert_eq!(pair["image"], "Google");
    assert_eq!(pair["number_socks_seen"], 1);
    assert_eq!(pair["pair_seen"], "Un-matched");
    assert_eq!(pair["window_start"], first);
    assert!(
        wall_clock
            .metric("sluice_pairing_wall_clock_advances_total")
            .await
            .is_some_and(|n| n >= 1.0)
    );
    // With stream time moved by records only, the same frames decide nothing yet.
    assert_eq!(
        records_only.metric("sluice_pairing_records_in_total").await,
        Some(frames.len() as f64)
    );
    assert!(
        kafka::consume_to_end(&bootstrap, "records_pairs", Duration::from_secs(20))
            .await
            .is_empty()
    );
    // The next frame decides it there too.
    produce_frames(&bootstrap, &[Frame::new("Blank", now_ms())]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while kafka::consume_to_end(&bootstrap, "records_pairs", Duration::from_secs(20))
        .await
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the next frame decided nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(wall_clock.terminate().await.is_some_and(|s| s.success()));
    assert!(records_only.terminate().await.is_some_and(|s| s.success()));
}
