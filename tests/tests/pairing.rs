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
