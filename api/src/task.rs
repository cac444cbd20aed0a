//! Tasks: the plugin instances that move data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::config::Props;
use crate::error::Result;
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
}

/// Metadata of a record the broker has acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic written to.
    pub topic: String,
    /// Partition written to.
    pub partition: i32,
    /// Offset assigned by the broker.
    pub offset: i64,
}

/// A source task: produces records from an external system.
///
/// The worker calls [`SourceTask::poll`] in a loop. `poll` should return within about a second
/// even when no data is available (an empty batch is fine), so that offsets are committed on time;
/// when the worker stops the task it drops a pending `poll` future, so any data taken from the
/// external system must stay in `self` until it is returned.
#[async_trait]
pub trait SourceTask: Send {
    /// Starts the task with its resolved configuration.
    async fn start(&mut self, props: Props, context: SourceTaskContext) -> Result<()>;

    /// Returns the next batch of records (possibly empty).
    async fn poll(&mut self) -> Result<Vec<SourceRecord>>;

    /// Called once per record when Kafka has acknowledged it (`metadata` is `Some`), or when a
    /// transform dropped it (`None`). Sources that must acknowledge upstream do it here.
    async fn commit_record(
        &mut self,
        _record: &SourceRecord,
        _metadata: Option<RecordMetadata>,
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

/// What the worker gives a sink task: its assignment and a way to ask for an early commit.
#[derive(Clone, Default)]
pub struct SinkTaskContext {
    assignment: Arc<Mutex<Vec<TopicPartition>>>,
    commit_requested: Arc<AtomicBool>,
}

impl SinkTaskContext {
    /// A context with no assignment yet.
    pub fn new() -> Self {
        Self::default()
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
    /// offer the same batch again later.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()>;

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
