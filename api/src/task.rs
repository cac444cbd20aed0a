//! Tasks: the plugin instances that move data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::config::Props;
use std::collections::BTreeSet;

use crate::error::{ConnectError, Result};
use crate::metrics::PluginMetrics;
use crate::record::{SinkRecord, SourceMap, SourceRecord, TopicOffsets, TopicPartition};

/// Reads source offsets the worker has committed for this connector.
pub trait OffsetStorageReader: Send + Sync {
    /// The committed offset of one source partition, if any.
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap>;
}

/// What the worker gives a source task when it starts.
#[derive(Clone)]
pub struct SourceTaskContext {
    /// Connector name.
    pub connector: String,
    /// Task number, from 0.
    pub task_id: u32,
    /// Committed offsets, to resume where the previous run stopped.
    pub offsets: Arc<dyn OffsetStorageReader>,
    /// Where the task registers its own metrics (KIP-877); the runtime tags them with the
    /// connector and task and removes them when the task stops.
    pub metrics: PluginMetrics,
}

impl SourceTaskContext {
    /// A context whose metrics are exported nowhere ([`PluginMetrics::detached`]).
    pub fn new(
        connector: impl Into<String>,
        task_id: u32,
        offsets: Arc<dyn OffsetStorageReader>,
    ) -> Self {
        Self {
            connector: connector.into(),
            task_id,
            offsets,
            metrics: PluginMetrics::detached(),
        }
    }
}

/// Metadata of a record the broker has acknowledged (borrowed: it is built for every record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMetadata<'a> {
    /// Topic written to.
    pub topic: &'a str,
    /// Partition written to.
    pub partition: i32,
    /// Offset assigned by the broker.
    pub offset: i64,
}

/// A source task: produces records from an external system.
///
/// The worker calls [`SourceTask::poll`] in a loop. `poll` should return within about a second
/// even when no data is available (an empty batch is fine), so that offsets are committed on time.
/// The worker drops a pending `poll` future when it stops the task, and when Kafka acknowledges
/// records while `poll` waits for data (to call [`SourceTask::commit_record`] at once), so `poll`
/// must be cancel-safe: any data taken from the external system stays in `self` until returned.
///
/// Each source task runs on a thread of its own (a single-threaded tokio runtime): what the task
/// spawns with `tokio::spawn` (a connection loop) runs on that thread too and ends with the task.
/// Blocking work belongs in `tokio::task::spawn_blocking`, as anywhere on tokio.
#[async_trait]
pub trait SourceTask: Send {
    /// Starts the task with its resolved configuration.
    async fn start(&mut self, props: Props, context: SourceTaskContext) -> Result<()>;

    /// Returns the next batch of records (possibly empty).
    async fn poll(&mut self) -> Result<Vec<SourceRecord>>;

    /// Called once per record when Kafka has acknowledged it (`metadata` is `Some`), or when a
    /// transform dropped it (`None`). Sources that must acknowledge upstream do it here.
    ///
    /// Not async, as Kafka's `commitRecord` must not block: it runs on the data path for every
    /// record, so it should only note the acknowledgement (and, say, queue it for sending).
    fn commit_record(
        &mut self,
        _record: &SourceRecord,
        _metadata: Option<RecordMetadata<'_>>,
    ) -> Result<()> {
        Ok(())
    }

    /// Called after the worker has committed offsets.
    async fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    /// Stops the task and releases what it holds.
    async fn stop(&mut self) -> Result<()>;
}

/// What the worker gives a sink task: its assignment, a way to ask for an early commit, to pause
/// and resume partitions (Kafka's `SinkTaskContext.pause/resume`), and the errant record reporter.
#[derive(Clone, Default)]
pub struct SinkTaskContext {
    assignment: Arc<Mutex<Vec<TopicPartition>>>,
    commit_requested: Arc<AtomicBool>,
    paused: Arc<Mutex<PauseRequests>>,
    /// `None` until the runtime enables the reporter (a dead letter queue or error log is set).
    errant: Arc<Mutex<Option<Vec<ErrantRecord>>>>,
    metrics: PluginMetrics,
}

/// The partitions a task asked to pause, and whether that changed since the runtime last looked.
#[derive(Debug, Default)]
struct PauseRequests {
    paused: BTreeSet<TopicPartition>,
    changed: bool,
}

/// A record a sink task could not write, with why (Kafka's `ErrantRecordReporter.report`).
#[derive(Debug)]
pub struct ErrantRecord {
    /// The record as the task received it.
    pub record: SinkRecord,
    /// Why it failed.
    pub error: ConnectError,
}

/// Reports records a sink task could not write to the worker's error handling (dead letter queue
/// and error log). Reports are queued; the worker writes every record reported before a
/// `pre_commit` returns before it commits the offsets that `pre_commit` returned, so a task may
/// count a reported record as done as soon as `report` returns.
#[derive(Clone)]
pub struct ErrantRecordReporter {
    queue: Arc<Mutex<Option<Vec<ErrantRecord>>>>,
}

impl ErrantRecordReporter {
    /// Queues `record` for the dead letter queue with `error` as the reason.
    pub fn report(&self, record: SinkRecord, error: ConnectError) {
        if let Some(queue) = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            queue.push(ErrantRecord { record, error });
        }
    }
}

impl SinkTaskContext {
    /// A context with no assignment yet, whose metrics are exported nowhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runtime side: a context with no assignment yet whose task registers its metrics in
    /// `metrics`.
    pub fn with_metrics(metrics: PluginMetrics) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// Where the task registers its own metrics (KIP-877); the runtime tags them with the
    /// connector and task and removes them when the task stops.
    pub fn metrics(&self) -> &PluginMetrics {
        &self.metrics
    }

    /// The partitions currently assigned to the task.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks the worker to call `pre_commit` and commit as soon as possible.
    pub fn request_commit(&self) {
        self.commit_requested.store(true, Ordering::SeqCst);
    }

    /// Stops fetching from these partitions until [`SinkTaskContext::resume`] (back-pressure);
    /// `put` keeps being called, with records of other partitions.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        let mut p = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        for tp in partitions {
            p.changed |= p.paused.insert(tp.clone());
        }
    }

    /// Fetches from these partitions again.
    pub fn resume(&self, partitions: &[TopicPartition]) {
        let mut p = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        for tp in partitions {
            p.changed |= p.paused.remove(tp);
        }
    }

    /// The partitions the task has paused.
    pub fn paused_partitions(&self) -> Vec<TopicPartition> {
        let p = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        p.paused.iter().cloned().collect()
    }

    /// The errant record reporter, if the connector has a dead letter queue or error log
    /// (as in Kafka, `None` otherwise).
    pub fn errant_record_reporter(&self) -> Option<ErrantRecordReporter> {
        self.errant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
            .then(|| ErrantRecordReporter {
                queue: self.errant.clone(),
            })
    }

    /// Runtime side: records the current assignment.
    pub fn set_assignment(&self, partitions: Vec<TopicPartition>) {
        *self
            .assignment
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = partitions;
    }

    /// Runtime side: whether a commit was requested since the last call (and clears the flag).
    pub fn take_commit_request(&self) -> bool {
        self.commit_requested.swap(false, Ordering::SeqCst)
    }

    /// Runtime side: the paused set, if it changed since the last call.
    pub fn take_pause_change(&self) -> Option<Vec<TopicPartition>> {
        let mut p = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut p.changed).then(|| p.paused.iter().cloned().collect())
    }

    /// Runtime side: makes [`SinkTaskContext::errant_record_reporter`] available.
    pub fn enable_errant_record_reporter(&self) {
        let mut q = self.errant.lock().unwrap_or_else(PoisonError::into_inner);
        if q.is_none() {
            *q = Some(Vec::new());
        }
    }

    /// Runtime side: the records reported since the last call.
    pub fn take_errant_records(&self) -> Vec<ErrantRecord> {
        self.errant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

/// A sink task: writes records read from Kafka to an external system.
///
/// Offsets are committed only for what [`SinkTask::pre_commit`] returns, so a task that buffers
/// must make the data durable in `flush`/`pre_commit` before saying so.
#[async_trait]
pub trait SinkTask: Send {
    /// Starts the task with its resolved configuration.
    async fn start(&mut self, props: Props, context: SinkTaskContext) -> Result<()>;

    /// Partitions were assigned to this task.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }

    /// Writes (or buffers) a batch. A [`crate::ConnectError::Retriable`] error makes the worker
    /// offer the same batch again later. The worker keeps the batch for that, so a task clones
    /// only the records it needs to keep.
    async fn put(&mut self, records: &[SinkRecord]) -> Result<()>;

    /// Makes everything put so far durable.
    async fn flush(&mut self, _offsets: &TopicOffsets) -> Result<()> {
        Ok(())
    }

    /// Returns the offsets that are safe to commit; by default flushes and returns `offsets`.
    async fn pre_commit(&mut self, offsets: TopicOffsets) -> Result<TopicOffsets> {
        self.flush(&offsets).await?;
        Ok(offsets)
    }

    /// Partitions were taken away from this task.
    async fn close(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }

    /// Stops the task and releases what it holds.
    async fn stop(&mut self) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ConnectRecord, TimestampType};

    #[test]
    fn pause_changes_are_reported_once() {
        let ctx = SinkTaskContext::new();
        assert_eq!(ctx.take_pause_change(), None);
        let tp = TopicPartition::new("t", 0);
        ctx.pause(std::slice::from_ref(&tp));
        ctx.pause(std::slice::from_ref(&tp));
        assert_eq!(ctx.take_pause_change(), Some(vec![tp.clone()]));
        assert_eq!(ctx.take_pause_change(), None);
        ctx.resume(std::slice::from_ref(&tp));
        assert_eq!(ctx.take_pause_change(), Some(vec![]));
    }

    #[test]
    fn reporter_exists_only_when_enabled_and_queues_records() {
        let ctx = SinkTaskContext::new();
        assert!(ctx.errant_record_reporter().is_none());
        ctx.enable_errant_record_reporter();
        let reporter = ctx.errant_record_reporter().expect("enabled");
        reporter.report(
            SinkRecord {
                record: ConnectRecord::new("t", crate::Value::Null),
                timestamp_type: TimestampType::NoTimestampType,
                original_topic: "t".into(),
                original_kafka_partition: 0,
                original_kafka_offset: 7,
            },
            ConnectError::data("bad"),
        );
        let taken = ctx.take_errant_records();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].record.original_kafka_offset, 7);
        assert!(ctx.take_errant_records().is_empty());
    }
}
