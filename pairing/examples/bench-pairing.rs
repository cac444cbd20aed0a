//! Load and latency driver for `scripts/bench-pairing.sh`.
//!
//! - `bench-pairing latency BOOTSTRAP INPUT PAIRS RATE SECONDS`: plays socks in real time
//!   (event time = wall clock) at RATE frames/s and, for every pair record, prints how long
//!   after its deciding window's end + grace it arrived; then p50 and p99.
//! - `bench-pairing preload BOOTSTRAP TOPIC COUNT`: writes COUNT camera frames (a realistic
//!   sock sequence at 20 frames/s of event time) for the throughput run.
//!
//! Window settings are the job's defaults except the merge gap, passed as GAP_MS (env).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

const LABELS: &[&str] = &["Google", "Mongo", "Confluent", "Github", "Databricks"];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn env_i64(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer")
}

fn send(producer: &BaseProducer, topic: &str, label: &str, timestamp: i64) {
    let value = format!(r#"{{"image": "{label}", "probability": 97.314453125}}"#);
    let mut record = BaseRecord::to(topic)
        .key("sockfound")
        .payload(&value)
        .timestamp(timestamp)
        .partition(0);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
        }
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn latency(bootstrap: &str, input: &str, pairs: &str, rate: f64, seconds: u64) {
    let window = env_i64("WINDOW_MS", 5000);
    let grace = env_i64("GRACE_MS", 1000);
    let gap = env_i64("GAP_MS", 2000);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-pairing-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(pairs, 0, Offset::End)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    drop(assignment);
    let producer = producer(bootstrap);
    let interval = Duration::from_secs_f64(1.0 / rate);
    // A sock: 0.6 s (at least 5 frames) in view, then blank for longer than the merge gap.
    let hold_frames = ((0.6 * rate).ceil() as usize).max(5);
    let blank_frames = ((gap as f64 / 1000.0 + 0.3) * rate).ceil() as usize;
    // First frame time -> last frame time of each sock shown.
    let mut socks: HashMap<(String, i64), i64> = HashMap::new();
    let mut latencies = Vec::new();
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut next = start;
    let mut frame = 0usize;
    let mut current: Option<(String, i64)> = None;
    let mut sock_index = 0usize;
    let drain_until = end + Duration::from_millis((window + grace + gap + 2000) as u64);
    while Instant::now() < drain_until {
        if Instant::now() >= next {
            let cycle = hold_frames + blank_frames;
            let position = frame % cycle;
            let t = now_ms();
            // Keep the camera running (blank frames) while draining, so windows close.
            let label = if position < hold_frames && Instant::now() < end {
                let label = LABELS[sock_index % LABELS.len()];
                if position == 0 {
                    current = Some((label.to_owned(), t));
                }
                if let Some(key) = &current {
                    socks.insert(key.clone(), t);
                }
                label
            } else {
                if position == hold_frames {
                    sock_index += 1;
                    current = None;
                }
                "Blank"
            };
            send(&producer, input, label, t);
            producer.poll(Duration::ZERO);
            frame += 1;
            next += interval;
        }
        let wait = next.saturating_duration_since(Instant::now());
        if let Some(Ok(message)) = consumer.poll(wait.min(Duration::from_millis(5))) {
            let received = now_ms();
            let Some(value) = message
                .payload()
                .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
            else {
                continue;
            };
            let image = value["image"].as_str().unwrap_or_default().to_owned();
            let start_ms = value["window_start"].as_i64().unwrap_or_default();
            let Some(last) = socks.get(&(image.clone(), start_ms)) else {
                continue;
            };
            // The sighting is decided when the first window ending at or after last + gap
            // closes, at its end + grace.
            let decided_window_end = (last + gap + window - 1).div_euclid(window) * window;
            let due = decided_window_end + grace;
            latencies.push(received - due);
        }
    }
    drop(consumer);
    if latencies.is_empty() {
        println!("latency: no pair records received");
        std::process::exit(1);
    }
    latencies.sort_unstable();
    println!(
        "latency from window end + grace to pair record ({} pair records, {rate} frames/s): \
         p50 {} ms, p99 {} ms, max {} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}

fn preload(bootstrap: &str, topic: &str, count: usize) {
    let producer = producer(bootstrap);
    let base = 1_700_000_000_000i64;
    for i in 0..count {
        let t = base + i as i64 * 50;
        // 1.5 s of a sock, 2.5 s of blank, with the odd wrong frame.
        let cycle = (i / 80) % LABELS.len();
        let label = if i % 80 < 30 {
            if i % 17 == 5 {
                LABELS[(cycle + 1) % LABELS.len()]
            } else {
                LABELS[cycle]
            }
        } else {
            "Blank"
        };
        send(&producer, topic, label, t);
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    println!("preloaded {count} frames into {topic}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("latency") if args.len() == 7 => latency(
            &args[2],
            &args[3],
            &args[4],
            args[5].parse().expect("RATE"),
            args[6].parse().expect("SECONDS"),
        ),
        Some("preload") if args.len() == 5 => {
            preload(&args[2], &args[3], args[4].parse().expect("COUNT"))
        }
        _ => {
            eprintln!(
                "usage: bench-pairing latency BOOTSTRAP INPUT PAIRS RATE SECONDS\n       \
                 bench-pairing preload BOOTSTRAP TOPIC COUNT"
            );
            std::process::exit(2);
        }
    }
}
