//! Kafka client helpers for tests: create topics, produce, read topics back, read committed
//! offsets. They use rdkafka (bundled librdkafka) with settings that work against Tansu, and
//! panic with a clear message on any failure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, Timestamp, TopicPartitionList};

/// How long one metadata or offset request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A record read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// The topic it was read from.
    pub topic: String,
    /// Its key; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// Its value; `None` for a null value (a tombstone).
    pub value: Option<Vec<u8>>,
    /// Its headers in order, duplicates kept; a `None` value is a null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The timestamp in milliseconds since the epoch, when the record has one.
    pub timestamp: Option<i64>,
}

impl ConsumedRecord {
    /// The key as UTF-8 text (lossy), `None` for a null key.
    pub fn key_str(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned())
    }

    /// The value as UTF-8 text (lossy), `None` for a null value.
    pub fn value_str(&self) -> Option<String> {
        self.value
            .as_deref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The value parsed as JSON; panics if it is null or not JSON.
    pub fn value_json(&self) -> serde_json::Value {
        let value = self
            .value
            .as_deref()
            .unwrap_or_else(|| panic!("record at offset {} has a null value", self.offset));
        serde_json::from_slice(value).unwrap_or_else(|e| {
            panic!(
                "record at offset {} is not JSON ({e}): {}",
                self.offset,
                String::from_utf8_lossy(value)
            )
        })
    }

    /// The value of the last header named `name`; `Some(None)` when that header is null.
    pub fn header(&self, name: &str) -> Option<Option<&[u8]>> {
        self.headers
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_deref())
    }
}

/// A record to produce with [`produce_records`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// The key; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The value; `None` for a null value (a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order; a `None` value is a null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The partition; `None` lets the producer's partitioner choose.
    pub partition: Option<i32>,
    /// The CreateTime timestamp in ms; `None` for the producer's current time.
    pub timestamp: Option<i64>,
}

impl OutgoingRecord {
    /// A record with just a value.
    pub fn value(value: impl Into<Vec<u8>>) -> Self {
        Self {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// A record with a key and a value.
    pub fn keyed(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), Some(value.into())));
        self
    }

    /// Sends it to this partition.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Gives it this timestamp (ms since the epoch).
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// Client settings shared by every helper here.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        // librdkafka's errors reach the test through return values; keep stderr for the test.
        .set("log_level", "3");
    config
}

/// Creates a topic with `partitions` partitions (replication factor 1) and waits until its
/// metadata shows them.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    create_topic_with_config(bootstrap, name, partitions, &[]).await;
}

/// Creates a topic with topic-level configs (e.g. `("cleanup.policy", "compact")`).
pub async fn create_topic_with_config(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    config: &[(&str, &str)],
) {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("cannot create a Kafka admin client: {e}"));
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in config {
        topic = topic.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
    let results = admin
        .create_topics([&topic], &options)
        .await
        .unwrap_or_else(|e| panic!("creating topic {name} failed: {e}"));
    for result in results {
        if let Err((topic, code)) = result {
            panic!("creating topic {topic} failed: {code}");
        }
    }
    drop(admin);
    let bootstrap = bootstrap.to_owned();
    let topic = name.to_owned();
    blocking(move || {
        let consumer = metadata_client(&bootstrap);
        let found = wait_for_partitions(&consumer, &topic, Instant::now() + REQUEST_TIMEOUT);
        assert_eq!(
            found.len(),
            partitions as usize,
            "topic {topic} was created with {partitions} partitions but metadata shows {found:?}"
        );
    })
    .await;
}

/// Produces one record and returns its `(partition, offset)`.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, &[u8])],
) -> (i32, i64) {
    let record = OutgoingRecord {
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Some(value.to_vec())))
            .collect(),
        partition: None,
        timestamp: None,
    };
    produce_records(bootstrap, topic, &[record]).await[0]
}

/// Produces records in order with one idempotent producer and returns each one's
/// `(partition, offset)`.
pub async fn produce_records(
    bootstrap: &str,
    topic: &str,
    records: &[OutgoingRecord],
) -> Vec<(i32, i64)> {
    let producer: FutureProducer = client_config(bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap_or_else(|e| panic!("cannot create a Kafka producer: {e}"));
    // Queue every record before awaiting any delivery, so batches form.
    let deliveries: Vec<_> = records
        .iter()
        .map(|record| {
            let mut future_record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
            if let Some(key) = &record.key {
                future_record = future_record.key(key.as_slice());
            }
            if let Some(value) = &record.value {
                future_record = future_record.payload(value.as_slice());
            }
            if let Some(partition) = record.partition {
                future_record = future_record.partition(partition);
            }
            if let Some(timestamp) = record.timestamp {
                future_record = future_record.timestamp(timestamp);
            }
            if !record.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
                for (name, value) in &record.headers {
                    headers = headers.insert(Header {
                        key: name,
                        value: value.as_deref(),
                    });
                }
                future_record = future_record.headers(headers);
            }
            producer.send(future_record, Duration::from_secs(30))
        })
        .collect();
    let mut positions = Vec::with_capacity(records.len());
    for (index, delivery) in deliveries.into_iter().enumerate() {
        match delivery.await {
            Ok(delivered) => positions.push((delivered.partition, delivered.offset)),
            Err((e, _)) => panic!("producing record {index} to {topic} failed: {e}"),
        }
    }
    positions
}

/// A short account of `records` for a failure message: how many per key, and the first and
/// last few as `partition@offset key=value` (a full dump would push the worker's log out of
/// CI's excerpt).
fn summarize(records: &[ConsumedRecord]) -> String {
    const SHOWN: usize = 5;
    let text = |bytes: &Option<Vec<u8>>| match bytes {
        Some(b) => String::from_utf8_lossy(b).chars().take(40).collect(),
        None => "null".to_owned(),
    };
    let mut per_key = std::collections::BTreeMap::<String, usize>::new();
    for record in records {
        *per_key.entry(text(&record.key)).or_default() += 1;
    }
    let line = |r: &ConsumedRecord| {
        format!(
            "{}@{} {}={}",
            r.partition,
            r.offset,
            text(&r.key),
            text(&r.value)
        )
    };
    let mut shown: Vec<String> = records.iter().take(SHOWN).map(line).collect();
    if records.len() > 2 * SHOWN {
        shown.push("…".to_owned());
    }
    let tail_start = records.len().saturating_sub(SHOWN).max(SHOWN);
    shown.extend(records[tail_start.min(records.len())..].iter().map(line));
    format!("per key {per_key:?}; records [{}]", shown.join(", "))
}

/// Reads `topic` from the beginning of every partition until `expected_count` records have
/// arrived, and returns them in arrival order (ordered within each partition). Waits for the
/// topic to exist. Panics, listing what did arrive, if `timeout` passes first.
///
/// It assigns partitions directly (no consumer group), so it commits nothing and can be called
/// any number of times.
pub async fn consume_all(
    bootstrap: &str,
    topic: &str,
    expected_count: usize,
    timeout: Duration,
) -> Vec<ConsumedRecord> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    blocking(move || {
        let deadline = Instant::now() + timeout;
        let (consumer, _) = assigned_consumer(&bootstrap, &topic, deadline, false);
        let mut reader = GapCheckingReader::new(&consumer, &topic);
        let mut records = Vec::new();
        while records.len() < expected_count {
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "expected {expected_count} records from topic {topic} within {timeout:?} \
                     but got {}: {}",
                    records.len(),
                    summarize(&records)
                );
            }
            match reader.poll((deadline - now).min(Duration::from_millis(200))) {
                Read::Record(record) => records.push(record),
                Read::EndOfPartition(_) | Read::Nothing => {}
            }
        }
        records
    })
    .await
}

/// What [`GapCheckingReader::poll`] read.
enum Read {
    Record(ConsumedRecord),
    EndOfPartition(i32),
    Nothing,
}

/// How long a gap in a partition's offsets must persist before the reader believes it.
const GAP_CONFIRMATION: Duration = Duration::from_millis(50);

/// Reads records from an assigned consumer and re-reads any gap in a partition's offsets
/// before accepting it.
///
/// Why: Tansu (0.6, memory storage) raises a partition's high watermark when it reserves a
/// batch's offsets and stores the batch afterwards. When two producers write one partition, a
/// fetch can find the later batch stored and the earlier one not yet, and returns the later:
/// the reader moves past the earlier batch and never sees it. Kafka never does this (its high
/// watermark covers only appended batches). Gaps do occur on Kafka (transaction markers,
/// compaction), so a gap is accepted when reading again from its start, at least
/// [`GAP_CONFIRMATION`] later, still skips it.
struct GapCheckingReader<'a> {
    consumer: &'a BaseConsumer,
    topic: &'a str,
    /// Per partition: the next offset expected, and the gap suspected after it (the offset
    /// past the gap, and when it was first seen).
    partitions: BTreeMap<i32, (i64, Option<(i64, Instant)>)>,
}

impl<'a> GapCheckingReader<'a> {
    fn new(consumer: &'a BaseConsumer, topic: &'a str) -> Self {
        Self {
            consumer,
            topic,
            partitions: BTreeMap::new(),
        }
    }

    /// The next record or end-of-partition event within `timeout`; a record that jumps a gap
    /// not yet confirmed is held back (the partition is read again from the gap).
    fn poll(&mut self, timeout: Duration) -> Read {
        let topic = self.topic;
        let message = match self.consumer.poll(timeout) {
            None => return Read::Nothing,
            Some(Ok(message)) => message,
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                // Not at the end while a gap is being re-read.
                let rereading = matches!(self.partitions.get(&partition), Some((_, Some(_))));
                return if rereading {
                    Read::Nothing
                } else {
                    Read::EndOfPartition(partition)
                };
            }
            Some(Err(e)) => panic!("reading topic {topic} failed: {e}"),
        };
        let (partition, offset) = (message.partition(), message.offset());
        // Logs in tests start at offset 0.
        let (next, suspected) = self.partitions.entry(partition).or_insert((0, None));
        if offset < *next {
            return Read::Nothing; // read again after a seek
        }
        if offset > *next {
            match *suspected {
                Some((past_gap, since))
                    if past_gap == offset && since.elapsed() >= GAP_CONFIRMATION => {}
                _ => {
                    if suspected.is_none_or(|(past_gap, _)| past_gap != offset) {
                        *suspected = Some((offset, Instant::now()));
                    }
                    let from = *next;
                    drop(message);
                    std::thread::sleep(Duration::from_millis(5));
                    self.consumer
                        .seek(topic, partition, Offset::Offset(from), REQUEST_TIMEOUT)
                        .unwrap_or_else(|e| panic!("cannot re-read {topic}-{partition}: {e}"));
                    return Read::Nothing;
                }
            }
        }
        *next = offset + 1;
        *suspected = None;
        Read::Record(to_record(&message))
    }
}

/// Reads every record `topic` holds now: from the beginning of each partition up to its end
/// as the broker reports it. Waits for the topic to exist. Use it to check that a topic holds
/// exactly some records, no more.
pub async fn consume_to_end(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
) -> Vec<ConsumedRecord> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    blocking(move || {
        let deadline = Instant::now() + timeout;
        let (consumer, partitions) = assigned_consumer(&bootstrap, &topic, deadline, true);
        let mut reader = GapCheckingReader::new(&consumer, &topic);
        let mut at_end = BTreeSet::new();
        let mut records = Vec::new();
        while at_end.len() < partitions.len() {
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "reading topic {topic} to its end took more than {timeout:?}: partitions at \
                     the end {at_end:?} of {partitions:?}, {} records read",
                    records.len()
                );
            }
            match reader.poll((deadline - now).min(Duration::from_millis(200))) {
                Read::Record(record) => {
                    at_end.remove(&record.partition);
                    records.push(record);
                }
                Read::EndOfPartition(partition) => {
                    at_end.insert(partition);
                }
                Read::Nothing => {}
            }
        }
        records
    })
    .await
}

/// The offsets `group` has committed for `topic`, by partition; partitions without a committed
/// offset are left out. Does not join the group.
pub async fn committed_offsets(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let bootstrap = bootstrap.to_owned();
    let group = group.to_owned();
    let topic = topic.to_owned();
    blocking(move || {
        let consumer: BaseConsumer = client_config(&bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap_or_else(|e| panic!("cannot create a Kafka consumer: {e}"));
        let partitions = wait_for_partitions(&consumer, &topic, Instant::now() + REQUEST_TIMEOUT);
        let mut wanted = TopicPartitionList::new();
        for partition in &partitions {
            wanted.add_partition(&topic, *partition);
        }
        let committed = consumer
            .committed_offsets(wanted, REQUEST_TIMEOUT)
            .unwrap_or_else(|e| panic!("reading offsets of group {group} failed: {e}"));
        let offsets = committed
            .elements()
            .iter()
            .filter_map(|element| match element.offset() {
                Offset::Offset(offset) => Some((element.partition(), offset)),
                _ => None,
            })
            .collect();
        // A consumer hangs on drop while a list it returned is alive: drop the list first.
        drop(committed);
        drop(consumer);
        offsets
    })
    .await
}

/// The partition numbers of `topic`, or `None` if the broker does not know the topic.
pub async fn topic_partitions(bootstrap: &str, topic: &str) -> Option<Vec<i32>> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    blocking(move || partitions_now(&metadata_client(&bootstrap), &topic)).await
}

/// The names of every topic the broker knows, sorted.
pub async fn list_topics(bootstrap: &str) -> Vec<String> {
    let bootstrap = bootstrap.to_owned();
    blocking(move || {
        let metadata = metadata_client(&bootstrap)
            .fetch_metadata(None, REQUEST_TIMEOUT)
            .unwrap_or_else(|e| panic!("fetching metadata from {bootstrap} failed: {e}"));
        let mut names: Vec<String> = metadata
            .topics()
            .iter()
            .map(|t| t.name().to_owned())
            .collect();
        names.sort();
        names
    })
    .await
}

/// Runs blocking client code off the async runtime, passing its panics through unchanged.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a Kafka helper was cancelled: {e}"),
    }
}

fn metadata_client(bootstrap: &str) -> BaseConsumer {
    client_config(bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("cannot create a Kafka client: {e}"))
}

/// A consumer assigned every partition of `topic` from the beginning (waiting until the topic
/// exists; panics at `deadline`), and those partitions.
pub fn assigned_consumer(
    bootstrap: &str,
    topic: &str,
    deadline: Instant,
    report_end_of_partition: bool,
) -> (BaseConsumer, Vec<i32>) {
    // librdkafka insists on a group id even for manual assignment; this one never joins or
    // commits.
    static READERS: AtomicU64 = AtomicU64::new(0);
    let group = format!(
        "sluice-tests-reader-{}-{}",
        std::process::id(),
        READERS.fetch_add(1, Ordering::Relaxed)
    );
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set(
            "enable.partition.eof",
            if report_end_of_partition {
                "true"
            } else {
                "false"
            },
        )
        .create()
        .unwrap_or_else(|e| panic!("cannot create a Kafka consumer: {e}"));
    let partitions = wait_for_partitions(&consumer, topic, deadline);
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap_or_else(|e| panic!("cannot assign {topic}-{partition}: {e}"));
    }
    consumer
        .assign(&assignment)
        .unwrap_or_else(|e| panic!("cannot assign the partitions of {topic}: {e}"));
    drop(assignment);
    (consumer, partitions)
}

/// The partitions of `topic`, polling until the topic exists with partitions; panics at
/// `deadline`.
fn wait_for_partitions(consumer: &BaseConsumer, topic: &str, deadline: Instant) -> Vec<i32> {
    loop {
        if let Some(partitions) = partitions_now(consumer, topic)
            && !partitions.is_empty()
        {
            return partitions;
        }
        if Instant::now() >= deadline {
            panic!("topic {topic} did not appear in the broker's metadata in time");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The partitions of `topic` per one metadata request for all topics (asking for the topic by
/// name could make a broker create it).
fn partitions_now(consumer: &BaseConsumer, topic: &str) -> Option<Vec<i32>> {
    let metadata = consumer.fetch_metadata(None, REQUEST_TIMEOUT).ok()?;
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())?;
    let mut partitions: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    Some(partitions)
}

fn to_record<M: Message>(message: &M) -> ConsumedRecord {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    let timestamp = match message.timestamp() {
        Timestamp::NotAvailable => None,
        Timestamp::CreateTime(ms) | Timestamp::LogAppendTime(ms) => Some(ms),
    };
    ConsumedRecord {
        topic: message.topic().to_owned(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
        partition: message.partition(),
        offset: message.offset(),
        timestamp,
    }
}

/// A consumer of every partition of `topic` (waiting until `deadline` for it to exist) that
/// reports partition ends; with `skip_existing_records`, positioned after what the topic holds
/// now, so what it reads next is new. For benchmarks that count records as they arrive.
pub fn counting_consumer(
    bootstrap: &str,
    topic: &str,
    deadline: Instant,
    skip_existing_records: bool,
) -> BaseConsumer {
    let (consumer, partitions) = assigned_consumer(bootstrap, topic, deadline, true);
    if skip_existing_records {
        skip_existing(&consumer, topic, &partitions);
    }
    consumer
}

/// Reads `count` records with `consumer` (blocking), handing each to `on_record` with its index;
/// panics at `deadline` saying how many of `topic`'s records came.
pub fn read_records<F>(
    consumer: &BaseConsumer,
    topic: &str,
    count: usize,
    deadline: Instant,
    mut on_record: F,
) where
    F: FnMut(usize, &rdkafka::message::BorrowedMessage<'_>),
{
    let mut seen = 0;
    while seen < count {
        assert!(
            Instant::now() < deadline,
            "only {seen} of {count} records reached topic {topic} in time"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                on_record(seen, &message);
                seen += 1;
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => panic!("reading {topic}: {e}"),
        }
    }
}

/// Reads what `partitions` of `topic` hold now and drops it, so that what `consumer` (from
/// [`assigned_consumer`] with end-of-partition events) reads next is new. High watermarks are not
/// used: Tansu's lag behind the records of a batch.
pub fn skip_existing(consumer: &BaseConsumer, topic: &str, partitions: &[i32]) {
    let mut at_end = BTreeSet::new();
    while at_end.len() < partitions.len() {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(message)) => {
                at_end.remove(&message.partition());
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => panic!("reading {topic} timed out"),
        }
    }
}
