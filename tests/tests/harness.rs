//! Self-tests of the harness: the brokers start on this machine and the Kafka helpers move
//! records byte-exactly.

use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use sluice_tests::kafka::{self, OutgoingRecord};
use sluice_tests::{Mosquitto, Tansu};

/// Key, value and headers of one produced record.
type SentRecord<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Vec<(&'a str, &'a [u8])>);

#[tokio::test]
async fn tansu_round_trips_records_with_headers_byte_exact() {
    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "harness-roundtrip", 1).await;

    let binary_value: Vec<u8> = (0..=255u8).collect();
    let sent: [SentRecord<'_>; 3] = [
        (Some(b"k1"), Some(b"first"), vec![("h", b"a")]),
        (
            None,
            Some(&binary_value),
            vec![("dup", b"1"), ("dup", b"2"), ("bin", b"\x00\xff")],
        ),
        (Some(b"k3"), None, vec![("empty", b"")]),
    ];
    let mut positions = Vec::new();
    for (key, value, headers) in &sent {
        positions
            .push(kafka::produce(&bootstrap, "harness-roundtrip", *key, *value, headers).await);
    }
    assert_eq!(positions, vec![(0, 0), (0, 1), (0, 2)]);

    let records =
        kafka::consume_all(&bootstrap, "harness-roundtrip", 3, Duration::from_secs(30)).await;
    assert_eq!(records.len(), 3);
    for (record, (key, value, headers)) in records.iter().zip(&sent) {
        assert_eq!(record.topic, "harness-roundtrip");
        assert_eq!(record.key.as_deref(), *key);
        assert_eq!(record.value.as_deref(), *value);
        let expected_headers: Vec<(String, Option<Vec<u8>>)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some(v.to_vec())))
            .collect();
        assert_eq!(record.headers, expected_headers);
        assert!(record.timestamp.is_some_and(|t| t > 1_600_000_000_000));
    }
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(records[1].header("dup"), Some(Some(&b"2"[..])));

    // Reading to the end sees exactly the same records, no more.
    let to_end =
        kafka::consume_to_end(&bootstrap, "harness-roundtrip", Duration::from_secs(30)).await;
    assert_eq!(to_end, records);
}

#[tokio::test]
async fn tansu_reads_partitioned_topics_to_the_end_and_reports_committed_offsets() {
    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "harness-parts", 3).await;
    assert_eq!(
        kafka::topic_partitions(&bootstrap, "harness-parts").await,
        Some(vec![0, 1, 2])
    );
    assert!(
        kafka::topic_partitions(&bootstrap, "harness-missing")
            .await
            .is_none()
    );

    let records: Vec<OutgoingRecord> = (0..6)
        .map(|i| {
            OutgoingRecord::keyed(format!("k{i}"), format!("v{i}"))
                .with_partition(i % 3)
                .with_timestamp(1_700_000_000_000 + i64::from(i))
        })
        .collect();
    let positions = kafka::produce_records(&bootstrap, "harness-parts", &records).await;
    assert_eq!(positions.iter().filter(|(p, _)| *p == 2).count(), 2);

    let mut read =
        kafka::consume_to_end(&bootstrap, "harness-parts", Duration::from_secs(30)).await;
    read.sort_by_key(|r| r.timestamp);
    let values: Vec<String> = read.iter().filter_map(|r| r.value_str()).collect();
    assert_eq!(values, ["v0", "v1", "v2", "v3", "v4", "v5"]);
    assert_eq!(read[4].partition, 1);
    assert_eq!(read[4].timestamp, Some(1_700_000_000_004));

    // An empty topic is read to its end at once.
    kafka::create_topic(&bootstrap, "harness-empty", 2).await;
    assert!(
        kafka::consume_to_end(&bootstrap, "harness-empty", Duration::from_secs(30))
            .await
            .is_empty()
    );

    // Commit offsets through a group consumer, then read them back.
    commit_offsets(
        &bootstrap,
        "harness-group",
        "harness-parts",
        &[(0, 2), (2, 1)],
    );
    let committed = kafka::committed_offsets(&bootstrap, "harness-group", "harness-parts").await;
    assert_eq!(
        committed.into_iter().collect::<Vec<_>>(),
        vec![(0, 2), (2, 1)]
    );
    assert!(
        kafka::committed_offsets(&bootstrap, "harness-nobody", "harness-parts")
            .await
            .is_empty()
    );
}

fn commit_offsets(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = kafka::client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    consumer
        .commit(&list, CommitMode::Sync)
        .expect("commit offsets");
}

#[tokio::test]
async fn mosquitto_accepts_tcp_connections_until_dropped() {
    let mosquitto = Mosquitto::start().await;
    let port = mosquitto.port();
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("mosquitto accepts connections");
    assert_eq!(mosquitto.url(), format!("tcp://127.0.0.1:{port}"));
    drop(mosquitto);
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "mosquitto still listens after drop"
    );
}

#[tokio::test]
async fn worker_process_starts_answers_restarts_and_stops() {
    use sluice_tests::{WorkerCommand, rest};
    use std::os::unix::process::ExitStatusExt;

    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    let props = [
        ("bootstrap.servers", bootstrap.as_str()),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
    ];
    let no_files: [&str; 0] = [];
    let mut worker = WorkerCommand::standalone(props, no_files)
        .with_env([("SLUICE_TESTS_MARKER", "harness-env")])
        .spawn();
    worker.wait_ready().await;
    let properties = std::fs::read_to_string(worker.properties_path()).expect("worker file");
    assert!(properties.contains(&format!(
        "listeners={}",
        worker.rest_url().replace(':', "\\:")
    )));
    assert!(properties.contains("offset.storage.file.filename="));
    let environ = std::fs::read(format!("/proc/{}/environ", worker.pid())).expect("environ");
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|entry| entry == b"SLUICE_TESTS_MARKER=harness-env"),
        "the worker did not get the injected environment"
    );
    let (status, _) = rest::get_json(&worker.url("/")).await;
    assert_eq!(status, 200);

    let killed = worker.kill_9();
    assert_eq!(killed.signal(), Some(9));
    assert!(!worker.is_running());
    assert!(
        rest::request(reqwest::Method::GET, worker.rest_url(), None)
            .await
            .is_err()
    );

    let first_pid = worker.pid();
    worker.restart().await;
    assert_ne!(worker.pid(), first_pid);
    worker.wait_ready().await;
    let environ = std::fs::read(format!("/proc/{}/environ", worker.pid())).expect("environ");
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|entry| entry == b"SLUICE_TESTS_MARKER=harness-env"),
        "the restarted worker lost the injected environment"
    );

    let stopped = worker.terminate().await;
    assert_ne!(stopped.signal(), Some(9), "SIGTERM, not SIGKILL, ended it");
    assert!(worker.log_text().contains("worker restarted"));
}

/// Transaction markers leave real gaps in a partition's offsets. The readers re-read a gap
/// before believing it (Tansu can hide a batch for a moment, see `kafka.rs`), and must still
/// accept real ones: every record once, in order, and nothing after the end.
#[tokio::test]
async fn readers_accept_the_gaps_that_transaction_markers_leave() {
    use rdkafka::producer::DefaultProducerContext;
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

    let tansu = Tansu::start().await;
    let bootstrap = tansu.bootstrap();
    kafka::create_topic(&bootstrap, "harness-gaps", 1).await;
    let producer_bootstrap = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let producer: ThreadedProducer<DefaultProducerContext> =
            kafka::client_config(&producer_bootstrap)
                .set("transactional.id", "harness-gaps")
                .create()
                .expect("transactional producer");
        let timeout = Duration::from_secs(30);
        producer
            .init_transactions(timeout)
            .expect("init transactions");
        for transaction in 0..4 {
            producer.begin_transaction().expect("begin");
            for i in 0..3 {
                let value = format!("t{transaction}-{i}");
                producer
                    .send(BaseRecord::<(), _>::to("harness-gaps").payload(&value))
                    .map_err(|(e, _)| e)
                    .expect("send");
            }
            producer.commit_transaction(timeout).expect("commit");
        }
    })
    .await
    .expect("producer thread");

    let expected: Vec<String> = (0..4)
        .flat_map(|t| (0..3).map(move |i| format!("t{t}-{i}")))
        .collect();
    let records = kafka::consume_all(&bootstrap, "harness-gaps", 12, Duration::from_secs(30)).await;
    let values: Vec<String> = records.iter().filter_map(|r| r.value_str()).collect();
    assert_eq!(values, expected);
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert!(
        offsets.windows(2).any(|w| w[1] > w[0] + 1),
        "the markers should leave gaps: {offsets:?}"
    );
    let to_end = kafka::consume_to_end(&bootstrap, "harness-gaps", Duration::from_secs(30)).await;
    assert_eq!(to_end, records);
}
