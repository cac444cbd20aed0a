//! The data path of a sink task, in one place (Kafka's `WorkerSinkTask`):
//!
//! consumer (group `connect-NAME`) → key/value/header converters → transforms → `put` → every
//! `offset.flush.interval.ms` (or on the task's request) `pre_commit`, and only the offsets it
//! returns are committed. Records that fail conversion or transformation are skipped under
//! `errors.tolerance=all` and, if configured, copied to the dead letter queue.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use sluice_api::{
    ConnectError, ConnectRecord, Props, SinkRecord, SinkTask, SinkTaskContext, TimestampType,
    TopicOffsets, TopicPartition,
};

use super::errors::{DeadLetterQueue, ErrorHandler, Outcome, Stage};
use super::{RecordConverters, TaskEnv, TransformChain};
use crate::status::{State, TargetState};

/// Most records handed to one `put` call.
const MAX_BATCH: usize = 500;

/// Partition changes seen by the consumer, handled by the task loop.
#[derive(Debug)]
pub enum RebalanceEvent {
    /// Partitions were assigned.
    Assigned(Vec<TopicPartition>),
    /// Partitions were revoked.
    Revoked(Vec<TopicPartition>),
}

/// Consumer callbacks of a sink task. On revocation it commits the offsets the task last
/// confirmed durable, synchronously, before the partitions move to another task.
pub struct SinkConsumerContext {
    events: Mutex<mpsc::Sender<RebalanceEvent>>,
    durable: Arc<Mutex<TopicOffsets>>,
}

impl SinkConsumerContext {
    /// A context reporting to `events`, committing `durable` offsets on revocation.
    pub fn new(events: mpsc::Sender<RebalanceEvent>, durable: Arc<Mutex<TopicOffsets>>) -> Self {
        Self {
            events: Mutex::new(events),
            durable,
        }
    }

    fn send(&self, e: RebalanceEvent) {
        let _ = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(e);
    }
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

fn offsets_list(offsets: &TopicOffsets) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (tp, offset) in offsets {
        // Adding to a fresh list only fails for invalid offsets, which we never build.
        let _ = tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset));
    }
    tpl
}

impl ClientContext for SinkConsumerContext {}

impl ConsumerContext for SinkConsumerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let revoked = partitions_of(tpl);
            let to_commit: TopicOffsets = {
                let durable = self.durable.lock().unwrap_or_else(PoisonError::into_inner);
                revoked
                    .iter()
                    .filter_map(|tp| durable.get(tp).map(|o| (tp.clone(), *o)))
                    .collect()
            };
            if !to_commit.is_empty()
                && let Err(e) = consumer.commit(&offsets_list(&to_commit), CommitMode::Sync)
            {
                tracing::warn!(error = %e, "could not commit offsets of revoked partitions");
            }
            self.send(RebalanceEvent::Revoked(revoked));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.send(RebalanceEvent::Assigned(partitions_of(tpl)));
        }
    }
}

/// One running sink task and everything its data path needs.
pub struct SinkTaskRunner {
    pub(crate) env: TaskEnv,
    pub(crate) task: Box<dyn SinkTask>,
    pub(crate) task_props: Props,
    pub(crate) converters: RecordConverters,
    pub(crate) transforms: TransformChain,
    pub(crate) errors: ErrorHandler,
    pub(crate) dlq: Option<DeadLetterQueue>,
    pub(crate) consumer: Arc<StreamConsumer<SinkConsumerContext>>,
    pub(crate) events: mpsc::Receiver<RebalanceEvent>,
    pub(crate) durable: Arc<Mutex<TopicOffsets>>,
    pub(crate) context: SinkTaskContext,
    /// Topics to subscribe to, or a regex (`^...`) as librdkafka takes it.
    pub(crate) subscription: Vec<String>,
    pub(crate) assignment: BTreeSet<TopicPartition>,
    /// Next offset after the last record given to `put`, per partition.
    pub(crate) consumed: TopicOffsets,
    /// Last committed offsets, to rewind to if `pre_commit` fails.
    pub(crate) committed: TopicOffsets,
    /// Messages read while paused, delivered after resume.
    pub(crate) held: Vec<OwnedMessage>,
}

fn describe(msg: &OwnedMessage, include: bool) -> String {
    let base = format!(
        "consumed record is {{topic='{}', partition={}, offset={}, timestamp={:?}}}",
        msg.topic(),
        msg.partition(),
        msg.offset(),
        msg.timestamp().to_millis()
    );
    if include {
        format!(
            "{base} with key {:?} and value {:?}",
            msg.key().map(String::from_utf8_lossy),
            msg.payload().map(String::from_utf8_lossy)
        )
    } else {
        base
    }
}

impl SinkTaskRunner {
    /// Runs the task until it is stopped or fails, then shuts it down cleanly.
    pub async fn run(mut self) {
        let result = self.execute().await;
        if let Err(e) = &result {
            self.env.fail(e);
        }
        self.shutdown(result.is_ok()).await;
    }

    async fn execute(&mut self) -> Result<(), ConnectError> {
        let topics: Vec<&str> = self.subscription.iter().map(String::as_str).collect();
        self.consumer.subscribe(&topics).map_err(|e| {
            ConnectError::connect(format!("Failed to subscribe to {topics:?}: {e}"))
        })?;
        // Kafka offers a sink task an errant record reporter when the connector has a dead
        // letter queue or error log.
        if self.dlq.is_some() || self.errors.settings().log_enable {
            self.context.enable_errant_record_reporter();
        }
        self.task
            .start(std::mem::take(&mut self.task_props), self.context.clone())
            .await?;
        self.env.started();
        let mut last_commit = Instant::now();
        let mut paused = false;
        loop {
            if self.env.cancel.is_cancelled() {
                return Ok(());
            }
            let want_paused = self.env.target() == TargetState::Paused;
            if want_paused != paused {
                paused = want_paused;
                self.set_paused(paused);
            }

            let seen = self.env.target();
            let first = tokio::select! {
                biased;
                _ = self.env.cancel.cancelled() => return Ok(()),
                _ = self.env.target_changed_from(seen) => None,
                m = tokio::time::timeout(Duration::from_millis(500), self.consumer.recv()) => match m {
                    Ok(Ok(m)) => Some(m.detach()),
                    Ok(Err(e)) => {
                        tracing::warn!(task = %self.env.id, error = %e, "consumer error");
                        None
                    }
                    Err(_) => None,
                },
            };
            let mut batch: Vec<OwnedMessage> = std::mem::take(&mut self.held);
            batch.extend(first);
            while batch.len() < MAX_BATCH {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(m)) => batch.push(m.detach()),
                    _ => break,
                }
            }
            self.handle_rebalance_events().await?;
            if paused {
                self.held = batch;
            } else if !batch.is_empty() {
                self.deliver(batch).await?;
            }
            self.apply_task_pauses(paused);
            self.write_errant_records().await?;
            if last_commit.elapsed() >= self.env.flush_interval
                || self.context.take_commit_request()
            {
                self.commit_offsets(false).await?;
                last_commit = Instant::now();
            }
        }
    }

    fn set_paused(&mut self, paused: bool) {
        let tpl = offsets_list(&self.assignment.iter().map(|tp| (tp.clone(), 0)).collect());
        let result = if paused {
            self.consumer.pause(&tpl)
        } else {
            self.consumer.resume(&tpl)
        };
        if let Err(e) = result {
            tracing::warn!(task = %self.env.id, error = %e, paused, "could not change consumption");
        }
        self.env.set_state(if paused {
            State::Paused
        } else {
            State::Running
        });
        if !paused {
            // Partitions the task itself paused stay paused when the connector resumes.
            self.pause_task_partitions(&self.context.paused_partitions());
        }
    }

    /// Applies the task's `SinkTaskContext::pause/resume` requests to the consumer (while the
    /// connector is paused everything stays paused; `set_paused` re-applies them on resume).
    fn apply_task_pauses(&mut self, connector_paused: bool) {
        let Some(paused) = self.context.take_pause_change() else {
            return;
        };
        if connector_paused {
            return;
        }
        let resume: TopicOffsets = self
            .assignment
            .iter()
            .filter(|tp| !paused.contains(tp))
            .map(|tp| (tp.clone(), 0))
            .collect();
        if let Err(e) = self.consumer.resume(&offsets_list(&resume)) {
            tracing::warn!(task = %self.env.id, error = %e, "could not resume partitions");
        }
        self.pause_task_partitions(&paused);
    }

    fn pause_task_partitions(&self, partitions: &[TopicPartition]) {
        let pause: TopicOffsets = partitions
            .iter()
            .filter(|tp| self.assignment.contains(*tp))
            .map(|tp| (tp.clone(), 0))
            .collect();
        if pause.is_empty() {
            return;
        }
        tracing::debug!(task = %self.env.id, partitions = pause.len(), "pausing partitions at the task's request");
        if let Err(e) = self.consumer.pause(&offsets_list(&pause)) {
            tracing::warn!(task = %self.env.id, error = %e, "could not pause partitions");
        }
    }

    /// Writes the records the task reported through its errant record reporter: converted back
    /// to bytes with the task's converters (as Kafka's `WorkerErrantRecordReporter` does), to the
    /// dead letter queue and error log. Under `errors.tolerance=none` a reported record fails the
    /// task, as in Kafka.
    async fn write_errant_records(&mut self) -> Result<(), ConnectError> {
        for errant in self.context.take_errant_records() {
            let record = &errant.record;
            let error = &errant.error;
            self.env.metrics.total_record_failures.inc();
            self.env.metrics.total_record_errors.inc();
            if self.errors.settings().log_enable {
                self.env.metrics.total_errors_logged.inc();
                tracing::error!(
                    task = %self.env.id,
                    stage = Stage::TaskPut.name(),
                    error_class = error.java_class_name(),
                    "Error encountered in task {}. Executing stage '{}', where consumed record is {{topic='{}', partition={}, offset={}}}: {}",
                    self.env.id,
                    Stage::TaskPut.name(),
                    record.original_topic,
                    record.original_kafka_partition,
                    record.original_kafka_offset,
                    self.env.scrub(&error.to_string()),
                );
            }
            if let Some(dlq) = &self.dlq {
                let message = errant_message(&self.converters, record);
                dlq.report(&message, Stage::TaskPut, error).await;
            }
            if !self.errors.settings().tolerate_all {
                return Err(ConnectError::connect(format!(
                    "Tolerance exceeded in error handler (stage {}): {error}",
                    Stage::TaskPut.name()
                )));
            }
            self.env.metrics.total_records_skipped.inc();
        }
        Ok(())
    }

    async fn handle_rebalance_events(&mut self) -> Result<(), ConnectError> {
        while let Ok(event) = self.events.try_recv() {
            match event {
                RebalanceEvent::Assigned(partitions) => {
                    if self.env.target() == TargetState::Paused {
                        let tpl =
                            offsets_list(&partitions.iter().map(|tp| (tp.clone(), 0)).collect());
                        let _ = self.consumer.pause(&tpl);
                    }
                    self.assignment.extend(partitions.iter().cloned());
                    self.task.open(&partitions).await?;
                }
                RebalanceEvent::Revoked(partitions) => {
                    for tp in &partitions {
                        self.assignment.remove(tp);
                        self.consumed.remove(tp);
                        self.committed.remove(tp);
                    }
                    self.durable
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .retain(|tp, _| !partitions.contains(tp));
                    self.held.retain(|m| {
                        !partitions.contains(&TopicPartition::new(m.topic(), m.partition()))
                    });
                    self.task.close(&partitions).await?;
                }
            }
            self.context
                .set_assignment(self.assignment.iter().cloned().collect());
            self.env
                .metrics
                .partition_count
                .set(self.assignment.len() as i64);
        }
        Ok(())
    }

    /// Converts and transforms a batch, then puts it (again and again while the task says retry).
    async fn deliver(&mut self, batch: Vec<OwnedMessage>) -> Result<(), ConnectError> {
        self.env.metrics.sink_record_read.inc_by(batch.len() as u64);
        for msg in &batch {
            self.env.record_topic(msg.topic());
        }
        let mut records = Vec::with_capacity(batch.len());
        for msg in &batch {
            if let Some(r) = to_sink_record(
                &self.errors,
                &self.transforms,
                &self.converters,
                self.dlq.as_ref(),
                msg,
            )
            .await?
            {
                records.push(r);
            }
        }
        if !records.is_empty() {
            self.env.metrics.batch_size.observe(records.len() as f64);
            let mut backoff = Duration::from_millis(100);
            loop {
                let started = Instant::now();
                let put = self.task.put(&records).await;
                self.env
                    .metrics
                    .put_batch_time_ms
                    .observe(started.elapsed().as_secs_f64() * 1000.0);
                match put {
                    Ok(()) => break,
                    Err(e) if e.is_retriable() => {
                        tracing::warn!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "retriable error from put; offering the batch again in {backoff:?}");
                        tokio::select! {
                            _ = self.env.cancel.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                    Err(e) => {
                        return Err(ConnectError::connect(format!(
                            "Exiting WorkerSinkTask due to unrecoverable exception: {e}"
                        )));
                    }
                }
            }
            self.env
                .metrics
                .sink_record_send
                .inc_by(records.len() as u64);
        }
        for msg in &batch {
            let tp = TopicPartition::new(msg.topic(), msg.partition());
            if self.assignment.contains(&tp) {
                self.consumed.insert(tp, msg.offset() + 1);
            }
        }
        self.env
            .metrics
            .sink_record_active_count
            .set(self.uncommitted_count());
        Ok(())
    }

    fn uncommitted_count(&self) -> i64 {
        self.consumed
            .iter()
            .map(|(tp, o)| o - self.committed.get(tp).copied().unwrap_or(*o))
            .sum()
    }

    /// Asks the task which offsets are durable and commits those (never past what was consumed).
    /// Fails only when a record the task reported fails the task (`errors.tolerance=none`).
    async fn commit_offsets(&mut self, sync: bool) -> Result<(), ConnectError> {
        let current: TopicOffsets = self
            .consumed
            .iter()
            .filter(|(tp, o)| self.committed.get(*tp) != Some(*o))
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        if current.is_empty() {
            self.env.metrics.offset_commit_skip.inc();
            return Ok(());
        }
        let started = Instant::now();
        let confirmed = match self.task.pre_commit(self.consumed.clone()).await {
            // Records reported before pre_commit answered are written before their offsets are
            // committed (the ErrantRecordReporter contract).
            Ok(c) => {
                self.write_errant_records().await?;
                c
            }
            Err(e) => {
                self.env.metrics.offset_commit_failure.inc();
                tracing::error!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "pre_commit failed; rewinding to the last committed offsets");
                self.rewind();
                return Ok(());
            }
        };
        let to_commit: TopicOffsets = confirmed
            .into_iter()
            .filter(|(tp, o)| {
                self.assignment.contains(tp)
                    && self.consumed.get(tp).is_some_and(|c| o <= c)
                    && self.committed.get(tp) != Some(o)
            })
            .collect();
        if to_commit.is_empty() {
            self.env.metrics.offset_commit_skip.inc();
            return Ok(());
        }
        let tpl = offsets_list(&to_commit);
        let result = if sync {
            let consumer = self.consumer.clone();
            match tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync)).await
            {
                Ok(result) => result,
                Err(_) => Err(rdkafka::error::KafkaError::Canceled),
            }
        } else {
            self.consumer.commit(&tpl, CommitMode::Async)
        };
        self.env
            .metrics
            .offset_commit_time_ms
            .observe(started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(()) => {
                self.durable
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(to_commit.clone());
                self.committed.extend(to_commit);
                self.env.metrics.offset_commit_completion.inc();
                self.env.metrics.offset_commit_success.inc();
                self.env
                    .metrics
                    .sink_record_active_count
                    .set(self.uncommitted_count());
            }
            Err(e) => {
                self.env.metrics.offset_commit_failure.inc();
                tracing::error!(task = %self.env.id, error = %e, "offset commit failed");
            }
        }
        Ok(())
    }

    /// Seeks every assigned partition back to its last committed offset, so nothing the task did
    /// not confirm is skipped.
    fn rewind(&mut self) {
        for tp in self.assignment.clone() {
            let Some(offset) = self.committed.get(&tp).copied() else {
                continue;
            };
            if let Err(e) = self.consumer.seek(
                &tp.topic,
                tp.partition,
                Offset::Offset(offset),
                Duration::from_secs(5),
            ) {
                tracing::error!(task = %self.env.id, partition = %tp, error = %e, "could not rewind");
            }
            self.consumed.insert(tp, offset);
        }
    }

    async fn shutdown(&mut self, clean: bool) {
        if clean && let Err(e) = self.commit_offsets(true).await {
            self.env.fail(&e);
        }
        if let Err(e) = self.write_errant_records().await {
            tracing::warn!(task = %self.env.id, error = %e, "records reported while stopping");
        }
        let assigned: Vec<TopicPartition> = self.assignment.iter().cloned().collect();
        if !assigned.is_empty()
            && let Err(e) = self.task.close(&assigned).await
        {
            tracing::warn!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "error closing partitions");
        }
        if let Err(e) = self.task.stop().await {
            tracing::warn!(task = %self.env.id, error = %self.env.scrub(&e.to_string()), "error stopping task");
        }
        self.consumer.unsubscribe();
        self.env.stopped();
    }
}

/// Rebuilds a Kafka message from a record a task reported, with the task's converters; a part
/// that cannot be converted back is left empty rather than losing the report.
fn errant_message(conv: &RecordConverters, record: &SinkRecord) -> OwnedMessage {
    let topic = &record.original_topic;
    let r = &record.record;
    let key = conv
        .key
        .from_connect_data(topic, r.key_schema.as_deref(), &r.key)
        .unwrap_or_default();
    let value = conv
        .value
        .from_connect_data(topic, r.value_schema.as_deref(), &r.value)
        .unwrap_or_default();
    let mut headers = rdkafka::message::OwnedHeaders::new();
    for h in &r.headers {
        let bytes = conv
            .header
            .from_connect_header(topic, &h.key, h.schema.as_deref(), &h.value)
            .unwrap_or_default();
        headers = headers.insert(rdkafka::message::Header {
            key: &h.key,
            value: bytes.as_deref(),
        });
    }
    let timestamp = match (record.timestamp_type, r.timestamp) {
        (TimestampType::LogAppendTime, Some(t)) => rdkafka::Timestamp::LogAppendTime(t),
        (_, Some(t)) => rdkafka::Timestamp::CreateTime(t),
        (_, None) => rdkafka::Timestamp::NotAvailable,
    };
    OwnedMessage::new(
        value,
        key,
        topic.clone(),
        timestamp,
        record.original_kafka_partition,
        record.original_kafka_offset,
        Some(headers),
    )
}

/// Converts and transforms one consumed message; `None` when it was dropped or skipped. A free
/// function (not a method) so the future borrows only the shareable parts of the task.
async fn to_sink_record(
    errors: &ErrorHandler,
    chain: &TransformChain,
    conv: &RecordConverters,
    dlq: Option<&DeadLetterQueue>,
    msg: &OwnedMessage,
) -> Result<Option<SinkRecord>, ConnectError> {
    let include = |inc: bool| describe(msg, inc);
    let topic = msg.topic();
    let key = match errors
        .run(Stage::KeyConverter, include, || {
            std::future::ready(conv.key.to_connect_data(topic, msg.key()))
        })
        .await?
    {
        Outcome::Done(k) => k,
        Outcome::Skipped(e) => return skip(dlq, msg, Stage::KeyConverter, &e).await,
    };
    let value = match errors
        .run(Stage::ValueConverter, include, || {
            std::future::ready(conv.value.to_connect_data(topic, msg.payload()))
        })
        .await?
    {
        Outcome::Done(v) => v,
        Outcome::Skipped(e) => return skip(dlq, msg, Stage::ValueConverter, &e).await,
    };
    let mut headers = sluice_api::Headers::new();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            match errors
                .run(Stage::HeaderConverter, include, || {
                    std::future::ready(conv.header.to_connect_header(
                        topic,
                        header.key,
                        header.value,
                    ))
                })
                .await?
            {
                Outcome::Done(sv) => headers.add(header.key.to_owned(), sv.schema, sv.value),
                Outcome::Skipped(e) => return skip(dlq, msg, Stage::HeaderConverter, &e).await,
            }
        }
    }
    let (timestamp_type, timestamp) = match msg.timestamp() {
        rdkafka::Timestamp::NotAvailable => (TimestampType::NoTimestampType, None),
        rdkafka::Timestamp::CreateTime(t) => (TimestampType::CreateTime, Some(t)),
        rdkafka::Timestamp::LogAppendTime(t) => (TimestampType::LogAppendTime, Some(t)),
    };
    let record = ConnectRecord {
        topic: topic.to_owned(),
        kafka_partition: Some(msg.partition()),
        key_schema: key.schema,
        key: key.value,
        value_schema: value.schema,
        value: value.value,
        timestamp,
        headers,
        kafka_offset: Some(msg.offset()),
    };
    let record = if chain.is_empty() {
        record
    } else {
        match errors
            .run(Stage::Transformation, include, || {
                chain.apply(record.clone())
            })
            .await?
        {
            Outcome::Done(Some(r)) => r,
            Outcome::Done(None) => return Ok(None),
            Outcome::Skipped(e) => return skip(dlq, msg, Stage::Transformation, &e).await,
        }
    };
    Ok(Some(SinkRecord {
        record,
        timestamp_type,
        original_topic: topic.to_owned(),
        original_kafka_partition: msg.partition(),
        original_kafka_offset: msg.offset(),
    }))
}

async fn skip(
    dlq: Option<&DeadLetterQueue>,
    msg: &OwnedMessage,
    stage: Stage,
    error: &ConnectError,
) -> Result<Option<SinkRecord>, ConnectError> {
    if let Some(dlq) = dlq {
        dlq.report(msg, stage, error).await;
    }
    Ok(None)
}
