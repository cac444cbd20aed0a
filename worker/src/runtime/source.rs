//! The data path of a source task, in one place (Kafka's `WorkerSourceTask`):
//!
//! `poll` → transforms → key/value/header converters → producer `send` → on the broker's
//! acknowledgement, `commit_record` and offset tracking → every `offset.flush.interval.ms` (and on
//! stop) the offsets of fully acknowledged prefixes are written to the offset store, then `commit`.
//!
//! Acknowledgements are handled in send order (a record waits for the ones sent before it), which
//! keeps per-record bookkeeping to one queue entry and gives tasks `commit_record` calls in the
//! order of their records.
//!
//! The task serves its producer's delivery reports itself (no polling thread, no channel per
//! record: a report is matched to its record by a sequence number), after each batch and also
//! while it waits in `poll`, woken by librdkafka when reports arrive: like Kafka Connect, which
//! handles them in the producer's callback, acknowledgements (metrics, `commit_record`, offsets)
//! follow Kafka's confirmations instead of waiting for a quiet source's next batch.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};
use sluice_api::task::RecordMetadata;
use sluice_api::{ConnectError, ConnectRecord, Props, SourceRecord, SourceTask, SourceTaskContext};

use super::errors::{ErrorHandler, Outcome, Stage};
use super::offsets::{
    ConnectorOffsetReader, OffsetBackingStore, SubmittedId, SubmittedRecords, offset_key,
};
use super::report_queue::ReportQueue;
use super::{RecordConverters, TaskEnv, TransformChain};
use crate::status::{State, TargetState};

/// A record sent to Kafka and waiting for the broker's acknowledgement.
pub(crate) struct InFlight {
    /// Its entry in the offset tracking, if it has a source partition or offset.
    id: Option<SubmittedId>,
    record: SourceRecord,
    /// The topic it was written to, when a transform changed it.
    routed_to: Option<String>,
    /// Its sequence number: records in flight have consecutive ones, oldest first.
    seq: u64,
    /// The delivery report, once it has arrived.
    outcome: Option<Delivered>,
}

/// What Kafka said about a record: its partition and offset, or why it was not written.
type Delivered = Result<(i32, i64), KafkaError>;

/// How long `poll` waits for data before the task stops waiting for it to handle the
/// acknowledgements that have arrived.
const QUIET_POLL: Duration = Duration::from_millis(1);

/// How often delivery reports are looked for when librdkafka gave no queue handle to watch.
const UNWATCHED_REPORTS_POLL: Duration = Duration::from_millis(10);

/// A source task's producer, whose delivery reports the task serves itself.
pub(crate) struct SourceProducer {
    /// Declared before `kafka`, so dropped first, as librdkafka requires of queue handles.
    /// `None` only if librdkafka gave no queue handle: reports are then looked for every
    /// [`UNWATCHED_REPORTS_POLL`].
    queue: Option<ReportQueue>,
    kafka: BaseProducer<DeliveryReports>,
}

impl SourceProducer {
    /// Creates the producer and watches its queue of delivery reports.
    pub(crate) fn new(config: &ClientConfig) -> KafkaResult<Self> {
        let kafka: BaseProducer<DeliveryReports> =
            config.create_with_context(DeliveryReports::default())?;
        let queue = ReportQueue::watch(&kafka, &kafka.context().ready);
        Ok(Self { queue, kafka })
    }

    /// Waits until delivery reports wait to be served; without a watched queue, a short sleep
    /// stands in for librdkafka's signal.
    async fn reports_ready(&self) {
        if self.queue.is_some() {
            self.kafka.context().ready.notified().await;
        } else {
            tokio::time::sleep(UNWATCHED_REPORTS_POLL).await;
        }
    }
}

/// Collects the delivery reports that polling the producer serves, as (sequence number,
/// outcome); the sequence number travels with the record as its opaque.
#[derive(Default)]
pub(crate) struct DeliveryReports {
    reports: Mutex<Vec<(u64, Delivered)>>,
    /// Notified by librdkafka when reports wait in the producer's queue.
    ready: tokio::sync::Notify,
}

impl ClientContext for DeliveryReports {}

impl ProducerContext for DeliveryReports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let outcome = match result {
            Ok(message) => Ok((message.partition(), message.offset())),
            Err((error, _)) => Err(error.clone()),
        };
        self.reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((seq as u64, outcome));
    }
}

/// One running source task and everything its data path needs.
pub struct SourceTaskRunner {
    pub(crate) env: TaskEnv,
    pub(crate) task: Box<dyn SourceTask>,
    pub(crate) task_props: Props,
    pub(crate) converters: RecordConverters,
    pub(crate) transforms: TransformChain,
    pub(crate) errors: ErrorHandler,
    pub(crate) producer: SourceProducer,
    pub(crate) offsets: Arc<dyn OffsetBackingStore>,
    /// Creates missing topics when the connector asks for it (KIP-158).
    pub(crate) topic_creator: Option<super::topic_creation::TopicCreator>,
    pub(crate) submitted: SubmittedRecords,
    /// Sent records, oldest first.
    pub(crate) in_flight: VecDeque<InFlight>,
    /// The sequence number of the next record sent.
    pub(crate) next_seq: u64,
    /// Reports taken from the producer's context (kept to reuse its allocation).
    pub(crate) reports: Vec<(u64, Delivered)>,
    /// Offsets taken from `submitted` but not yet written (a failed write is retried next time).
    pub(crate) unflushed: BTreeMap<String, String>,
    /// Topics recorded as used (KIP-558) during the current poll batch: the status store is told
    /// once per topic and batch, not per record, and again after a topic reset.
    pub(crate) active_topics: HashSet<String>,
}

/// Converted bytes of one record, ready for the producer; borrowed from the record where the
/// converter passes bytes or text through.
struct Serialized<'r> {
    key: Option<Cow<'r, [u8]>>,
    value: Option<Cow<'r, [u8]>>,
    /// Converted header values, in the order of the record's headers.
    headers: Vec<Option<Cow<'r, [u8]>>>,
}

fn describe(record: &ConnectRecord, include: bool) -> String {
    if include {
        format!(
            "source record is {{topic='{}', partition={:?}, timestamp={:?}, key={:?}, value={:?}}}",
            record.topic, record.kafka_partition, record.timestamp, record.key, record.value
        )
    } else {
        format!("source record is for topic '{}'", record.topic)
    }
}

impl SourceTaskRunner {
    /// Runs the task until it is stopped or fails, then shuts it down cleanly.
    pub async fn run(mut self) {
        let result = self.execute().await;
        if let Err(e) = &result {
            self.env.fail(e);
        }
        self.shutdown().await;
        // Dropping the producer purges and flushes it (up to 500 ms): not on the runtime.
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }

    async fn execute(&mut self) -> Result<(), ConnectError> {
        let context = SourceTaskContext {
            connector: self.env.id.connector.clone(),
            task_id: self.env.id.task,
            offsets: Arc::new(ConnectorOffsetReader::new(
                self.env.id.connector.clone(),
                self.offsets.clone(),
            )),
            metrics: self.env.plugin_metrics.clone(),
        };
        self.task
            .start(std::mem::take(&mut self.task_props), context)
            .await?;
        self.env.started();
        let mut last_flush = Instant::now();
        loop {
            if self.env.cancel.is_cancelled() {
                return Ok(());
            }
            if self.env.target() == TargetState::Paused {
                self.env.set_state(State::Paused);
                while self.env.target() == TargetState::Paused {
                    tokio::select! {
                        _ = self.env.cancel.cancelled() => return Ok(()),
                        _ = self.env.target_changed_from(TargetState::Paused) => {}
                        _ = tokio::time::sleep(self.env.flush_interval) => {}
                    }
                    self.drain_acks()?;
                    self.commit_offsets().await;
                    last_flush = Instant::now();
                }
                self.env.set_state(State::Running);
            }

            let polled = tokio::select! {
                biased;
                _ = self.env.cancel.cancelled() => return Ok(()),
                polled = self.task.poll() => Some(polled),
                // Confirmations that arrive while the task waits for data are handled then;
                // `poll` keeps what it has taken until it returns it (the trait's contract), so
                // dropping it here loses nothing. Only once `poll` has waited a moment: a busy
                // source's next batch comes sooner, and its own round of acknowledgements costs
                // no extra wake-up.
                () = async {
                    tokio::time::sleep(QUIET_POLL).await;
                    self.producer.reports_ready().await;
                }, if !self.in_flight.is_empty() => None,
            };
            if let Some(polled) = polled {
                self.send_batch(polled).await?;
            }
            self.drain_acks()?;
            if last_flush.elapsed() >= self.env.flush_interval {
                self.commit_offsets().await;
                last_flush = Instant::now();
            }
        }
    }

    /// Sends what `poll` returned, record by record.
    async fn send_batch(
        &mut self,
        polled: Result<Vec<SourceRecord>, ConnectError>,
    ) -> Result<(), ConnectError> {
        let records = match polled {
            Ok(records) => records,
            Err(e) if e.is_retriable() => {
                tracing::warn!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "retriable error from poll; polling again");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        // Like Connect's poll-batch time: processing a polled batch, not waiting for it.
        let started = Instant::now();
        if !records.is_empty() {
            self.env
                .metrics
                .source_record_poll
                .inc_by(records.len() as u64);
            self.env.metrics.batch_size.observe(records.len() as f64);
        }
        self.active_topics.clear();
        for record in records {
            self.send(record).await?;
        }
        self.env
            .metrics
            .poll_batch_time_ms
            .observe(started.elapsed().as_secs_f64() * 1000.0);
        Ok(())
    }

    /// Transforms, converts and sends one record; dropped or skipped records count as delivered.
    async fn send(&mut self, record: SourceRecord) -> Result<(), ConnectError> {
        // A record without source partition and offset has nothing to commit: not tracked.
        let id =
            (!record.source_partition.is_empty() || !record.source_offset.is_empty()).then(|| {
                self.submitted
                    .submit(&record.source_partition, &record.source_offset)
            });
        // The transformed record is the polled one itself when there are no transforms (no copy).
        let transformed = transform(&self.errors, &self.transforms, &record).await?;
        let serialized = match &transformed {
            Some(out) => convert(&self.errors, &self.converters, out).await?,
            None => None,
        };
        let (Some(out), Some(serialized)) = (&transformed, serialized) else {
            if let Some(id) = &id {
                self.submitted.ack(id);
            }
            self.task.commit_record(&record, None)?;
            return Ok(());
        };
        let topic = out.topic.as_str();
        if let Some(creator) = &mut self.topic_creator {
            let mut attempts = 0;
            loop {
                match creator.ensure(topic).await {
                    Ok(()) => break,
                    Err(e) if e.is_retriable() && attempts < 5 => {
                        attempts += 1;
                        tracing::warn!(task = %self.env.id, error = %e, "retrying topic creation");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let seq = self.next_seq;
        let mut produced: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(topic, seq as usize);
        if !serialized.headers.is_empty() {
            let headers = out.headers.iter().zip(&serialized.headers).fold(
                OwnedHeaders::new_with_capacity(serialized.headers.len()),
                |h, (header, value)| {
                    h.insert(Header {
                        key: &header.key,
                        value: value.as_deref(),
                    })
                },
            );
            produced = produced.headers(headers);
        }
        if let Some(k) = &serialized.key {
            produced = produced.key(k.as_ref());
        }
        if let Some(v) = &serialized.value {
            produced = produced.payload(v.as_ref());
        }
        if let Some(p) = out.kafka_partition {
            produced = produced.partition(p);
        }
        if let Some(ts) = out.timestamp {
            produced = produced.timestamp(ts);
        }
        loop {
            match self.producer.kafka.send(produced) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The producer's queue is full: let acknowledgements catch up, then retry.
                    produced = back;
                    self.drain_acks()?;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    return Err(ConnectError::connect(format!(
                        "Failed to send a record to topic '{topic}': {e}"
                    )));
                }
            }
        }
        self.next_seq += 1;
        self.env.metrics.source_record_active_count.inc();
        if !self.active_topics.contains(topic) {
            self.env.record_topic(topic);
            self.active_topics.insert(topic.to_owned());
        }
        let routed_to = (topic != record.record.topic).then(|| topic.to_owned());
        drop(serialized);
        drop(transformed);
        self.in_flight.push_back(InFlight {
            id,
            record,
            routed_to,
            seq,
            outcome: None,
        });
        Ok(())
    }

    /// Serves the delivery reports that are ready, without waiting, and files each with its
    /// record.
    fn collect_reports(&mut self) {
        /// Events served per call at most (a bound in case the queue never looks empty).
        const MAX_EVENTS: usize = 1000;
        let producer = &self.producer;
        // One event (a batch of reports) per call with a zero timeout. Serving every waiting event
        // empties the queue, so that librdkafka signals the next report.
        for _ in 0..MAX_EVENTS {
            producer.kafka.poll(Duration::ZERO);
            if producer.queue.as_ref().is_none_or(ReportQueue::is_empty) {
                break;
            }
        }
        std::mem::swap(
            &mut *producer
                .kafka
                .context()
                .reports
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            &mut self.reports,
        );
        let first = self.in_flight.front().map_or(0, |oldest| oldest.seq);
        for (seq, outcome) in self.reports.drain(..) {
            let entry = seq
                .checked_sub(first)
                .and_then(|index| self.in_flight.get_mut(index as usize));
            if let Some(entry) = entry {
                entry.outcome = Some(outcome);
            }
        }
    }

    /// Handles the acknowledgements that have arrived, in send order, without waiting.
    fn drain_acks(&mut self) -> Result<(), ConnectError> {
        self.collect_reports();
        while self
            .in_flight
            .front()
            .is_some_and(|oldest| oldest.outcome.is_some())
        {
            if let Some(sent) = self.in_flight.pop_front() {
                self.handle_ack(sent)?;
            }
        }
        Ok(())
    }

    fn handle_ack(
        &mut self,
        InFlight {
            id,
            record,
            routed_to,
            outcome,
            ..
        }: InFlight,
    ) -> Result<(), ConnectError> {
        self.env.metrics.source_record_active_count.dec();
        let metadata = match outcome {
            Some(Ok((partition, offset))) => {
                self.env.metrics.source_record_write.inc();
                Some(RecordMetadata {
                    topic: routed_to.as_deref().unwrap_or(&record.record.topic),
                    partition,
                    offset,
                })
            }
            Some(Err(e)) => self.produce_failed(&record, &e.to_string())?,
            None => self.produce_failed(&record, "no delivery report")?,
        };
        if let Some(id) = &id {
            self.submitted.ack(id);
        }
        self.task.commit_record(&record, metadata)
    }

    /// A record Kafka refused: skipped under `errors.tolerance=all`, fatal otherwise.
    fn produce_failed(
        &self,
        record: &SourceRecord,
        error: &str,
    ) -> Result<Option<RecordMetadata<'static>>, ConnectError> {
        self.env.metrics.total_record_failures.inc();
        self.env.metrics.total_record_errors.inc();
        if self.errors.settings().tolerate_all {
            self.env.metrics.total_records_skipped.inc();
            tracing::error!(task = %self.env.id, topic = %record.record.topic, %error, "skipping a record Kafka did not accept (errors.tolerance=all)");
            Ok(None)
        } else {
            Err(ConnectError::connect(format!(
                "Unrecoverable exception from producer send callback: {error}"
            )))
        }
    }

    /// Writes the offsets of every fully acknowledged prefix, then tells the task.
    async fn commit_offsets(&mut self) {
        for (partition, offset) in self.submitted.committable() {
            self.unflushed.insert(
                offset_key(&self.env.id.connector, &partition),
                serde_json::Value::Object(offset).to_string(),
            );
        }
        if self.unflushed.is_empty() {
            return;
        }
        let entries: Vec<(String, Option<String>)> = self
            .unflushed
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let started = Instant::now();
        let written = tokio::time::timeout(self.env.flush_timeout, self.offsets.set(entries)).await;
        self.env
            .metrics
            .offset_commit_time_ms
            .observe(started.elapsed().as_secs_f64() * 1000.0);
        match written {
            Ok(Ok(())) => {
                tracing::debug!(task = %self.env.id, partitions = self.unflushed.len(), "committed source offsets");
                self.unflushed.clear();
                self.env.metrics.offset_commit_success.inc();
                if let Err(e) = self.task.commit().await {
                    tracing::warn!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "task commit failed");
                }
            }
            Ok(Err(e)) => {
                self.env.metrics.offset_commit_failure.inc();
                tracing::error!(task = %self.env.id, error = %e, "failed to commit source offsets; will retry");
            }
            Err(_) => {
                self.env.metrics.offset_commit_failure.inc();
                tracing::error!(task = %self.env.id, timeout_ms = self.env.flush_timeout.as_millis() as u64, "timed out committing source offsets; will retry");
            }
        }
    }

    /// Waits (within the graceful timeout) for in-flight records, commits offsets, stops the task.
    async fn shutdown(&mut self) {
        let deadline = tokio::time::Instant::now() + self.env.graceful_timeout;
        loop {
            if let Err(e) = self.drain_acks() {
                self.env.fail(&e);
                break;
            }
            if self.in_flight.is_empty() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(task = %self.env.id, pending = self.in_flight.len(), "records still unacknowledged at shutdown; their offsets are not committed");
                break;
            }
            let _ = tokio::time::timeout_at(deadline, self.producer.reports_ready()).await;
        }
        self.commit_offsets().await;
        if let Err(e) = self.task.stop().await {
            tracing::warn!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "error stopping task");
        }
        self.env.stopped();
    }
}

/// Transforms one record; `None` when a transform dropped it or an error skipped it. Free
/// functions (not methods) so the futures borrow only the shareable parts of the task.
async fn transform<'a>(
    errors: &ErrorHandler,
    chain: &TransformChain,
    source: &'a SourceRecord,
) -> Result<Option<Cow<'a, ConnectRecord>>, ConnectError> {
    if chain.is_empty() {
        return Ok(Some(Cow::Borrowed(&source.record)));
    }
    let include = |inc: bool| describe(&source.record, inc);
    match errors
        .run(Stage::Transformation, include, || {
            chain.apply(source.record.clone())
        })
        .await?
    {
        Outcome::Done(Some(r)) => Ok(Some(Cow::Owned(r))),
        Outcome::Done(None) | Outcome::Skipped(_) => Ok(None),
    }
}

/// Converts a record's key, value and headers; `None` when an error skipped it.
async fn convert<'r>(
    errors: &ErrorHandler,
    conv: &RecordConverters,
    record: &'r ConnectRecord,
) -> Result<Option<Serialized<'r>>, ConnectError> {
    let include = |inc: bool| describe(record, inc);
    let topic = record.topic.as_str();
    let key = match convert_part(errors, Stage::KeyConverter, include, || {
        conv.key
            .from_connect_data_borrowed(topic, record.key_schema.as_deref(), &record.key)
    })
    .await?
    {
        Outcome::Done(k) => k,
        Outcome::Skipped(_) => return Ok(None),
    };
    let value = match convert_part(errors, Stage::ValueConverter, include, || {
        conv.value
            .from_connect_data_borrowed(topic, record.value_schema.as_deref(), &record.value)
    })
    .await?
    {
        Outcome::Done(v) => v,
        Outcome::Skipped(_) => return Ok(None),
    };
    let mut headers = Vec::with_capacity(record.headers.len());
    for h in &record.headers {
        match convert_part(errors, Stage::HeaderConverter, include, || {
            conv.header
                .from_connect_header_borrowed(topic, &h.key, h.schema.as_deref(), &h.value)
        })
        .await?
        {
            Outcome::Done(v) => headers.push(v),
            Outcome::Skipped(_) => return Ok(None),
        }
    }
    Ok(Some(Serialized {
        key,
        value,
        headers,
    }))
}

/// Runs one conversion directly, and only when it fails again through the error handler, which
/// retries, logs and skips as configured (a conversion is pure, so running it again is safe).
/// Keeps the handler's per-call bookkeeping (clock reads, a backoff) off the common path.
async fn convert_part<T>(
    errors: &ErrorHandler,
    stage: Stage,
    describe: impl Fn(bool) -> String,
    op: impl Fn() -> Result<T, ConnectError>,
) -> Result<Outcome<T>, ConnectError> {
    match op() {
        Ok(value) => Ok(Outcome::Done(value)),
        Err(_) => {
            errors
                .run(stage, describe, || std::future::ready(op()))
                .await
        }
    }
}
