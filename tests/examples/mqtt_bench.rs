//! Measurements for `scripts/bench-mqtt.sh` (not a test). Each mode prints one `key: value` line.
//!
//! - `raw-mqtt PORT QOS COUNT SIZE`: a plain rumqttc subscriber (acks at once) receives COUNT
//!   messages from a concurrent publisher; records/s from the first publish to the last receipt.
//! - `raw-kafka BOOTSTRAP TOPIC COUNT SIZE`: a plain rdkafka producer with the settings of a
//!   sluice source task (acks=all, one request in flight, linger.ms=5) writes COUNT records;
//!   records/s until the last delivery report.
//! - `sluice PORT QOS COUNT SIZE BOOTSTRAP TOPIC METRICS_URL CONNECTOR`: publishes COUNT
//!   messages to `bench/q<QOS>`, which a running sluice connector copies to TOPIC; records/s from
//!   the first publish until Kafka has acknowledged COUNT more records of the connector (the
//!   worker's `source_record_write` counter, polled every 10 ms: the criterion of the raw
//!   producer's rate, and no consumer competing for the CPU while the clock runs). Afterwards, off
//!   the clock, a consumer checks that TOPIC holds the COUNT new records.
//!
//! `sluice` also prints `mean_poll_batch`, the records per `poll` of the task during the run;
//! every mode prints `cores_busy`: how many cores the whole machine kept busy
//! (every process, from `/proc/stat`) while the clock ran, which tells a CPU-bound run (all
//! cores busy) from one that waits on hand-offs between processes.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet, QoS,
    mqttbytes::v4::{Connect, Publish},
};
use sluice_tests::cli_arg as arg;
use sluice_tests::kafka;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

const TIMEOUT: Duration = Duration::from_secs(300);

/// The machine's busy and total CPU time so far, in clock ticks summed over all cores (the
/// `cpu` line of `/proc/stat`: user nice system idle iowait irq softirq steal ...).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("read /proc/stat");
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .expect("the cpu line of /proc/stat")
        .split_whitespace()
        .take(8)
        .map(|f| f.parse().expect("a tick count"))
        .collect();
    let idle = fields[3] + fields[4];
    let total: u64 = fields.iter().sum();
    (total - idle, total)
}

/// Cores kept busy between two [`machine_ticks`] readings.
fn cores_busy(before: (u64, u64), after: (u64, u64)) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = (after.1 - before.1).max(1) as f64;
    (after.0 - before.0) as f64 / total * cores
}

/// A run's rate and the cores the machine kept busy meanwhile.
struct Measured {
    records_per_second: f64,
    cores_busy: f64,
}

fn qos_of(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn mqtt_options(name: &str, port: u16) -> MqttOptions {
    let mut options = MqttOptions::new(
        format!("bench-{name}-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    options.set_max_packet_size(1 << 20, 1 << 20);
    options.set_keep_alive(Duration::from_secs(60));
    options
}

/// Bytes of encoded PUBLISH packets the publisher hands the socket per write.
const PUBLISH_CHUNK: usize = 64 * 1024;
/// QoS 1 messages the publisher lets wait for their PUBACK: below the 65 535 packet ids, so an id
/// is never reused while its message is unacknowledged.
const PUBLISH_WINDOW: usize = 30_000;
const MAX_PACKET: usize = 1 << 20;

/// Publishes `count` messages of `size` bytes as fast as the broker takes them; returns when
/// every one is written (QoS 0) or acknowledged (QoS 1).
///
/// A lean load generator on a plain socket, the packets encoded by rumqttc's codec and written
/// in 64 KiB chunks: rumqttc's client writes each packet with a system call of its own
/// (rumqtt#810), ~1 µs per message that the publisher would take from the two cores the worker
/// and both brokers share here (where real cameras publish from other machines).
async fn publish(port: u16, topic: String, qos: QoS, count: usize, size: usize) {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("publisher connects");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut reader, mut writer) = stream.into_split();
    let mut out = BytesMut::with_capacity(PUBLISH_CHUNK + MAX_PACKET);
    let mut connect = Connect::new(format!("bench-pub-{}", std::process::id()));
    connect.keep_alive = 60;
    Packet::Connect(connect)
        .write(&mut out, MAX_PACKET)
        .expect("encode CONNECT");
    writer.write_all(&out).await.expect("send CONNECT");
    out.clear();
    let mut incoming = BytesMut::with_capacity(64 * 1024);
    match next_packet(&mut reader, &mut incoming).await {
        Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => {}
        other => panic!("publisher: broker answered {other:?} to CONNECT"),
    }
    // QoS 1: the reader counts PUBACKs (the broker sends them in order), the writer waits for
    // them whenever PUBLISH_WINDOW messages are unacknowledged.
    let (acked_tx, mut acked) = tokio::sync::watch::channel(0usize);
    let ack_reader = tokio::spawn(async move {
        let mut count_acked = 0;
        loop {
            match next_packet(&mut reader, &mut incoming).await {
                Packet::PubAck(_) => {
                    count_acked += 1;
                    if acked_tx.send(count_acked).is_err() {
                        return;
                    }
                }
                Packet::PingResp => {}
                other => panic!("publisher: unexpected {other:?}"),
            }
        }
    });
    let mut message = Publish::from_bytes(topic, qos, vec![b'x'; size].into());
    for sent in 0..count {
        if qos != QoS::AtMostOnce {
            if sent >= PUBLISH_WINDOW {
                acked
                    .wait_for(|&acked| sent - acked < PUBLISH_WINDOW)
                    .await
                    .expect("publisher's PUBACK reader");
            }
            message.pkid = (sent % usize::from(u16::MAX)) as u16 + 1;
        }
        message.write(&mut out).expect("encode PUBLISH");
        if out.len() >= PUBLISH_CHUNK {
            writer.write_all(&out).await.expect("publish");
            out.clear();
        }
    }
    writer.write_all(&out).await.expect("publish");
    if qos != QoS::AtMostOnce {
        acked
            .wait_for(|&acked| acked == count)
            .await
            .expect("publisher's PUBACK reader");
    }
    ack_reader.abort();
    out.clear();
    Packet::Disconnect
        .write(&mut out, MAX_PACKET)
        .expect("encode DISCONNECT");
    writer.write_all(&out).await.ok();
}

/// The next packet from the broker, reading more bytes into `buffer` as needed.
async fn next_packet(reader: &mut OwnedReadHalf, buffer: &mut BytesMut) -> Packet {
    loop {
        match Packet::read(buffer, MAX_PACKET) {
            Ok(packet) => return packet,
            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {
                let read = reader.read_buf(buffer).await.expect("publisher reads");
                assert!(read > 0, "the broker closed the publisher's connection");
            }
            Err(error) => panic!("publisher: undecodable packet from the broker: {error}"),
        }
    }
}

async fn raw_mqtt(port: u16, qos: QoS, count: usize, size: usize) -> Measured {
    let topic = "bench/raw";
    let (client, mut eventloop) = AsyncClient::new(mqtt_options("sub", port), 10_000);
    client.subscribe(topic, qos).await.expect("subscribe");
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.expect("subscriber") {
            break;
        }
    }
    let start = Instant::now();
    let machine_before = machine_ticks();
    let publisher = tokio::spawn(publish(port, topic.to_owned(), qos, count, size));
    let mut received = 0;
    while received < count {
        let event = tokio::time::timeout(TIMEOUT, eventloop.poll())
            .await
            .expect("raw subscriber timed out")
            .expect("subscriber connection");
        if let Event::Incoming(Packet::Publish(_)) = event {
            received += 1;
        }
    }
    let elapsed = start.elapsed();
    let machine_after = machine_ticks();
    publisher.await.expect("publisher");
    Measured {
        records_per_second: count as f64 / elapsed.as_secs_f64(),
        cores_busy: cores_busy(machine_before, machine_after),
    }
}

fn raw_kafka(bootstrap: &str, topic: &str, count: usize, size: usize) -> Measured {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "1")
        .set("enable.idempotence", "false")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let payload = vec![b'x'; size];
    // Warm up: metadata and the topic itself.
    producer
        .send(BaseRecord::to(topic).key("bench/raw").payload(&payload))
        .expect("send");
    producer.flush(TIMEOUT).expect("flush");
    let start = Instant::now();
    let machine_before = machine_ticks();
    let mut sent = 0;
    while sent < count {
        match producer.send(BaseRecord::to(topic).key("bench/raw").payload(&payload)) {
            Ok(()) => sent += 1,
            Err(_) => {
                producer.poll(Duration::from_millis(1));
            }
        }
    }
    producer.flush(TIMEOUT).expect("flush");
    Measured {
        records_per_second: count as f64 / start.elapsed().as_secs_f64(),
        cores_busy: cores_busy(machine_before, machine_ticks()),
    }
}

/// The worker's Prometheus metrics, as text.
async fn metrics_text(http: &reqwest::Client, metrics_url: &str) -> String {
    http.get(metrics_url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("worker metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The sum over the connector's tasks of the sample `name` (`..._total`, `..._sum`, `..._count`).
fn connector_sample(metrics: &str, name: &str, connector: &str) -> f64 {
    let label = format!("connector=\"{connector}\"");
    metrics
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{'))
                && line.contains(&label)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The connector's records written to Kafka so far (acknowledged by the broker).
async fn records_written(http: &reqwest::Client, metrics_url: &str, connector: &str) -> u64 {
    let metrics = metrics_text(http, metrics_url).await;
    connector_sample(&metrics, WRITTEN, connector) as u64
}

const WRITTEN: &str = "kafka_connect_source_task_metrics_source_record_write_total";
/// The histogram of records per `poll` batch: its sum and count give the mean batch.
const BATCH_SUM: &str = "kafka_connect_connector_task_metrics_batch_size_sum";
const BATCH_COUNT: &str = "kafka_connect_connector_task_metrics_batch_size_count";

#[allow(clippy::too_many_arguments)] // the command line's arguments, in order
async fn through_sluice(
    port: u16,
    qos: QoS,
    count: usize,
    size: usize,
    bootstrap: &str,
    topic: &str,
    metrics_url: &str,
    connector: &str,
) -> Measured {
    let consumer = kafka::counting_consumer(bootstrap, topic, Instant::now() + TIMEOUT, true);
    let http = reqwest::Client::new();
    let before = metrics_text(&http, metrics_url).await;
    let target = connector_sample(&before, WRITTEN, connector) as u64 + count as u64;
    let start = Instant::now();
    let machine_before = machine_ticks();
    let publisher = tokio::spawn(publish(
        port,
        format!("bench/q{}", qos as u8),
        qos,
        count,
        size,
    ));
    loop {
        let written = records_written(&http, metrics_url, connector).await;
        if written >= target {
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "only {} of {count} records were written",
            count as u64 - (target - written)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = start.elapsed();
    let machine_after = machine_ticks();
    publisher.await.expect("publisher");
    let after = metrics_text(&http, metrics_url).await;
    let batch = |name| {
        connector_sample(&after, name, connector) - connector_sample(&before, name, connector)
    };
    println!(
        "mean_poll_batch: {:.1}",
        batch(BATCH_SUM) / batch(BATCH_COUNT).max(1.0)
    );
    // Off the clock: the records the worker reported written are really in the topic.
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        kafka::read_records(
            &consumer,
            &topic,
            count,
            Instant::now() + TIMEOUT,
            |_, _| {},
        );
    })
    .await
    .expect("counting consumer");
    Measured {
        records_per_second: count as f64 / elapsed.as_secs_f64(),
        cores_busy: cores_busy(machine_before, machine_after),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or_default();
    let measured = match mode {
        "raw-mqtt" => {
            raw_mqtt(
                arg(&args, 2, "port"),
                qos_of(arg(&args, 3, "qos")),
                arg(&args, 4, "count"),
                arg(&args, 5, "size"),
            )
            .await
        }
        "raw-kafka" => {
            let bootstrap: String = arg(&args, 2, "bootstrap");
            let topic: String = arg(&args, 3, "topic");
            let (count, size) = (arg(&args, 4, "count"), arg(&args, 5, "size"));
            tokio::task::spawn_blocking(move || raw_kafka(&bootstrap, &topic, count, size))
                .await
                .expect("raw kafka")
        }
        "sluice" => {
            let bootstrap: String = arg(&args, 6, "bootstrap");
            let topic: String = arg(&args, 7, "topic");
            let metrics_url: String = arg(&args, 8, "metrics url");
            let connector: String = arg(&args, 9, "connector");
            through_sluice(
                arg(&args, 2, "port"),
                qos_of(arg(&args, 3, "qos")),
                arg(&args, 4, "count"),
                arg(&args, 5, "size"),
                &bootstrap,
                &topic,
                &metrics_url,
                &connector,
            )
            .await
        }
        _ => panic!("usage: mqtt_bench raw-mqtt|raw-kafka|sluice ... (see the source)"),
    };
    println!(
        "{mode}_records_per_second: {:.0}",
        measured.records_per_second
    );
    println!("cores_busy: {:.2}", measured.cores_busy);
}
