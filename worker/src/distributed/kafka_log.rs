//! A compacted topic read into memory and tailed, with a producer to append to it (Kafka's
//! `KafkaBasedLog`): the shape shared by the config, offsets and status stores.
//!
//! Every worker reads every partition from the beginning, without a consumer group, and hands each
//! record to the store's `apply` callback in partition order. [`KafkaLog::read_to_end`] waits until
//! everything written before the call has been applied, which is how a worker catches up on start
//! and how a writer knows its own write is visible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use sluice_api::Props;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::runtime::kafka::client_config;

/// Errors of an internal topic log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A Kafka client could not be created or a request failed.
    #[error("internal topic {topic}: {message}")]
    Kafka {
        /// The topic.
        topic: String,
        /// What failed.
        message: String,
    },
    /// Reading to the end took longer than allowed.
    #[error("timed out reading internal topic {topic} to its end after {after:?}")]
    Timeout {
        /// The topic.
        topic: String,
        /// How long it waited.
        after: Duration,
    },
}

/// One record read back from the topic.
pub struct LogRecord {
    /// The key as UTF-8 (internal topics use string or JSON keys).
    pub key: String,
    /// The value; `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Where a write landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// Consumed positions (next offset to read) per partition, with a wake-up for waiters.
#[derive(Default)]
struct Progress {
    next: Mutex<HashMap<i32, i64>>,
    advanced: Notify,
}

impl Progress {
    fn position(&self, partition: i32) -> i64 {
        self.next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&partition)
            .copied()
            .unwrap_or(0)
    }

    fn advance(&self, partition: i32, next: i64) {
        self.next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(partition, next);
        self.advanced.notify_waiters();
    }
}

/// An internal topic: tailed into a callback, appended to through a producer.
pub struct KafkaLog {
    topic: String,
    partitions: Vec<i32>,
    producer: FutureProducer,
    consumer: Arc<StreamConsumer>,
    progress: Arc<Progress>,
    stop: CancellationToken,
}

impl KafkaLog {
    /// Starts tailing `topic` from the beginning into `apply`. `client` holds the worker's client
    /// settings (bootstrap servers, security); `linger_ms` trades latency for batching.
    pub async fn start(
        client: &Props,
        topic: &str,
        client_id: &str,
        linger_ms: u32,
        apply: impl Fn(LogRecord) + Send + Sync + 'static,
    ) -> Result<Self, LogError> {
        let err = |message: String| LogError::Kafka {
            topic: topic.to_owned(),
            message,
        };
        let mut producer_props = client.clone();
        for (k, v) in [
            ("acks", "all".to_owned()),
            // Internal records must not be reordered or duplicated by retries of older batches.
            ("max.in.flight.requests.per.connection", "1".into()),
            ("enable.idempotence", "false".into()),
            ("linger.ms", linger_ms.to_string()),
            // Same key → same partition as a Java worker (murmur2, like Java's default partitioner).
            ("partitioner", "murmur2_random".into()),
            ("client.id", format!("{client_id}-producer")),
        ] {
            producer_props.insert(k.into(), v);
        }
        let producer: FutureProducer = client_config(&producer_props)
            .create()
            .map_err(|e| err(format!("could not create the producer: {e}")))?;

        let mut consumer_props = client.clone();
        for (k, v) in [
            // Never used to join a group or commit: partitions are assigned by hand.
            ("group.id", format!("{client_id}-reader")),
            ("enable.auto.commit", "false".to_owned()),
            ("enable.auto.offset.store", "false".into()),
            ("auto.offset.reset", "earliest".into()),
            ("client.id", format!("{client_id}-consumer")),
            ("fetch.wait.max.ms", "100".into()),
        ] {
            consumer_props.insert(k.into(), v);
        }
        let consumer: StreamConsumer = client_config(&consumer_props)
            .create()
            .map_err(|e| err(format!("could not create the consumer: {e}")))?;
        let consumer = Arc::new(consumer);

        let partitions = {
            let consumer = consumer.clone();
            let topic = topic.to_owned();
            tokio::task::spawn_blocking(move || {
                consumer
                    .fetch_metadata(Some(&topic), Duration::from_secs(30))
                    .map(|md| {
                        md.topics()
                            .iter()
                            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                            .collect::<Vec<i32>>()
                    })
            })
            .await
            .map_err(|e| err(e.to_string()))?
            .map_err(|e| err(format!("could not read the topic's metadata: {e}")))?
        };
        if partitions.is_empty() {
            return Err(err("the topic has no partitions".into()));
        }
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .map_err(|e| err(e.to_string()))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| err(format!("could not assign the partitions: {e}")))?;

        let progress = Arc::new(Progress::default());
        let stop = CancellationToken::new();
        tokio::spawn(tail(
            consumer.clone(),
            topic.to_owned(),
            progress.clone(),
            stop.clone(),
            apply,
        ));
        Ok(Self {
            topic: topic.to_owned(),
            partitions,
            producer,
            consumer,
            progress,
            stop,
        })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Appends a record (`None` value: a tombstone) and waits until Kafka has acknowledged it.
    pub async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<Written, LogError> {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        match self.producer.send(record, Duration::from_secs(30)).await {
            Ok(delivery) => Ok(Written {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err((e, _)) => Err(LogError::Kafka {
                topic: self.topic.clone(),
                message: format!("write of {key} failed: {e}"),
            }),
        }
    }

    /// Waits until a written record has been read back and applied.
    pub async fn wait_applied(&self, written: Written, timeout: Duration) -> Result<(), LogError> {
        self.wait_for(&[(written.partition, written.offset + 1)], timeout)
            .await
    }

    /// Waits until every record written before this call has been applied.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<(), LogError> {
        let targets = self.end_offsets().await?;
        self.wait_for(&targets, timeout).await
    }

    /// The next offset (one past the last record) of every partition.
    pub async fn end_offsets(&self) -> Result<Vec<(i32, i64)>, LogError> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        let partitions = self.partitions.clone();
        tokio::task::spawn_blocking(move || {
            partitions
                .iter()
                .map(|p| {
                    let (low, listed) =
                        consumer.fetch_watermarks(&topic, *p, Duration::from_secs(10))?;
                    // A broker may under-report ListOffsets for multi-record batches (Tansu
                    // does); the high watermark seen in fetch responses is also a lower bound.
                    let fetched = cached_high_watermark(&consumer, &topic, *p);
                    let high = listed.max(fetched);
                    // Nothing left to read in a partition whose records were all removed.
                    Ok((*p, if high <= low { 0 } else { high }))
                })
                .collect::<Result<Vec<_>, rdkafka::error::KafkaError>>()
        })
        .await
        .map_err(|e| LogError::Kafka {
            topic: self.topic.clone(),
            message: e.to_string(),
        })?
        .map_err(|e| LogError::Kafka {
            topic: self.topic.clone(),
            message: format!("could not read the end offsets: {e}"),
        })
    }

    async fn wait_for(&self, targets: &[(i32, i64)], timeout: Duration) -> Result<(), LogError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.advanced.notified();
            if targets
                .iter()
                .all(|(p, end)| self.progress.position(*p) >= *end)
            {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(LogError::Timeout {
                    topic: self.topic.clone(),
                    after: timeout,
                });
            }
        }
    }
}

impl Drop for KafkaLog {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The high watermark librdkafka last saw in a fetch response (0 when unknown). rdkafka's safe
/// API has no call for this cached value, hence the one FFI call.
fn cached_high_watermark(consumer: &StreamConsumer, topic: &str, partition: i32) -> i64 {
    let Ok(topic) = std::ffi::CString::new(topic) else {
        return 0;
    };
    let (mut low, mut high) = (0i64, 0i64);
    // SAFETY: the client pointer is valid while `consumer` is borrowed; the topic is a valid
    // NUL-terminated string; the out-pointers point to live locals. The call only reads
    // librdkafka's cached partition state.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    if err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high > 0 {
        high
    } else {
        0
    }
}

async fn tail(
    consumer: Arc<StreamConsumer>,
    topic: String,
    progress: Arc<Progress>,
    stop: CancellationToken,
    apply: impl Fn(LogRecord),
) {
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return,
            m = consumer.recv() => m,
        };
        match message {
            Ok(m) => {
                let record = LogRecord {
                    key: m
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    value: m.payload().map(<[u8]>::to_vec),
                    partition: m.partition(),
                    offset: m.offset(),
                };
                let (partition, next) = (m.partition(), m.offset() + 1);
                drop(m);
                apply(record);
                progress.advance(partition, next);
            }
            Err(e) => {
                tracing::warn!(topic = %topic, error = %e, "error reading internal topic; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
