//! The sink task (B.4, B.10-B.14): `put` converts records to bulk actions and queues them; a
//! processor task cuts batches and runs up to `max.in.flight.requests - 1` bulks at once; each
//! item's outcome marks its offset processed (or records the task's failure); `pre_commit`
//! returns, per partition, the offset after the highest contiguous processed record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value as Json;
use sluice_api::{
    ConnectError, ErrantRecordReporter, Props, Result, SinkRecord, SinkTask, SinkTaskContext,
    TopicOffsets, TopicPartition, async_trait,
};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::config::{EsConfig, MalformedBehavior, NullBehavior, warn_deprecated};
use crate::encoder::{self, BulkAction};
use crate::mapping;
use crate::request_builder::{Batch, PendingRecord, bulk_body};
use crate::retry::{Backoff, call_with_retries};
use crate::service::{BulkItem, CallError, EsClient};

/// Item error types treated as malformed documents (B.12).
const MALFORMED: &[&str] = &[
    "mapper_parsing_exception",
    "document_parsing_exception",
    "strict_dynamic_mapping_exception",
    "illegal_argument_exception",
    "action_request_validation_exception",
];

/// Per-partition record of which offsets are done (B.13 async tracking).
#[derive(Debug, Default)]
struct PartitionOffsets {
    /// Offsets put but not yet compacted away: `true` once processed.
    pending: BTreeMap<i64, bool>,
    /// The offset after the highest contiguous processed record.
    committable: Option<i64>,
    /// Highest offset ever tracked; re-deliveries at or below it are not tracked again.
    max_tracked: Option<i64>,
}

/// Offsets of every assigned partition.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: BTreeMap<TopicPartition, PartitionOffsets>,
}

impl OffsetTracker {
    /// Starts tracking a record; false for a re-delivered offset (not tracked again).
    pub fn add(&mut self, tp: &TopicPartition, offset: i64) -> bool {
        // Looked up before inserting: no key copy per record.
        if !self.partitions.contains_key(tp) {
            self.partitions
                .insert(tp.clone(), PartitionOffsets::default());
        }
        let Some(p) = self.partitions.get_mut(tp) else {
            return false;
        };
        if p.max_tracked.is_some_and(|m| offset <= m) {
            return false;
        }
        p.max_tracked = Some(offset);
        p.pending.insert(offset, false);
        true
    }

    /// Marks a record processed (written, ignored, dropped or a tolerated error).
    pub fn mark_processed(&mut self, tp: &TopicPartition, offset: i64) {
        if let Some(done) = self
            .partitions
            .get_mut(tp)
            .and_then(|p| p.pending.get_mut(&offset))
        {
            *done = true;
        }
    }

    /// Drops the processed prefix of each partition, advancing what may be committed.
    fn compact(&mut self) {
        for p in self.partitions.values_mut() {
            while let Some(entry) = p.pending.first_entry() {
                if !*entry.get() {
                    break;
                }
                p.committable = Some(*entry.key() + 1);
                entry.remove();
            }
        }
    }

    /// What may be committed: partitions with nothing processed yet are left out.
    pub fn offsets(&mut self) -> TopicOffsets {
        self.compact();
        self.partitions
            .iter()
            .filter_map(|(tp, p)| p.committable.map(|o| (tp.clone(), o)))
            .collect()
    }

    /// Records tracked and not yet compacted away.
    pub fn len(&mut self) -> usize {
        self.compact();
        self.partitions.values().map(|p| p.pending.len()).sum()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Forgets revoked partitions.
    pub fn remove(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.partitions.remove(tp);
        }
    }
}

/// B.4 step 8: `Some(true)` to pause when more than 10× `max.buffered.records` offsets are
/// tracked, `Some(false)` to resume at 5× or less, `None` to leave things as they are.
fn pause_change(paused: bool, entries: usize, max_buffered: usize) -> Option<bool> {
    if !paused && entries > max_buffered.saturating_mul(10) {
        Some(true)
    } else if paused && entries <= max_buffered.saturating_mul(5) {
        Some(false)
    } else {
        None
    }
}

/// State shared by `put`, the processor and the bulk requests.
struct Shared {
    /// Records queued or in flight.
    buffered: AtomicUsize,
    /// Signalled when records finish.
    space: Notify,
    tracker: Mutex<OffsetTracker>,
    /// The first failure; the task fails on the next `put` or `pre_commit` (B.12).
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn tracker(&self) -> std::sync::MutexGuard<'_, OffsetTracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, message: String) {
        let mut slot = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            tracing::error!("{message}");
            *slot = Some(message);
        }
    }

    fn check(&self) -> Result<()> {
        match &*self.failure.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(message) => Err(ConnectError::connect(message.clone())),
            None => Ok(()),
        }
    }

    fn finish(&self, n: usize) {
        self.buffered.fetch_sub(n, Ordering::SeqCst);
        self.space.notify_waiters();
    }
}

enum Command {
    Add(Box<PendingRecord>),
    /// Send what is batched now; reply once it is dispatched.
    Flush(Option<oneshot::Sender<()>>),
}

struct Running {
    config: Arc<EsConfig>,
    client: Arc<EsClient>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    context: SinkTaskContext,
    reporter: Option<ErrantRecordReporter>,
    ready_resources: HashSet<String>,
    /// Index or data stream name by topic (B.6), worked out once per topic.
    resources: HashMap<String, String>,
    paused: bool,
    backoff: Backoff,
}

/// The Elasticsearch sink task.
#[derive(Default)]
pub struct ElasticsearchSinkTask {
    running: Option<Running>,
}

impl ElasticsearchSinkTask {
    fn running(&mut self) -> Result<&mut Running> {
        self.running
            .as_mut()
            .ok_or_else(|| ConnectError::connect("the Elasticsearch sink task is not started"))
    }
}

fn backoff_of(config: &EsConfig) -> Backoff {
    Backoff {
        base: config.retry_backoff,
        max: config.retry_backoff_max,
        max_retries: config.max_retries,
    }
}

#[async_trait]
impl SinkTask for ElasticsearchSinkTask {
    async fn start(&mut self, props: Props, context: SinkTaskContext) -> Result<()> {
        warn_deprecated(&props);
        let config = Arc::new(EsConfig::parse(&props)?);
        let client = Arc::new(EsClient::new(&config).map_err(ConnectError::config)?);
        check_version(&config, &client).await?;
        let shared = Arc::new(Shared {
            buffered: AtomicUsize::new(0),
            space: Notify::new(),
            tracker: Mutex::new(OffsetTracker::default()),
            failure: Mutex::new(None),
        });
        let reporter = context.errant_record_reporter();
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(processor(
            receiver,
            config.clone(),
            client.clone(),
            shared.clone(),
            reporter.clone(),
        ));
        self.running = Some(Running {
            backoff: backoff_of(&config),
            config,
            client,
            shared,
            commands,
            context,
            reporter,
            ready_resources: HashSet::new(),
            resources: HashMap::new(),
            paused: false,
        });
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        let run = self.running()?;
        run.shared.check()?;
        run.update_pause();
        for record in records {
            run.put_one(record).await?;
        }
        run.update_pause();
        Ok(())
    }

    async fn pre_commit(&mut self, _offsets: TopicOffsets) -> Result<TopicOffsets> {
        let run = self.running()?;
        run.shared.check()?;
        if run.config.flush_synchronously {
            // Bounded by flush.timeout.ms (Confluent waits forever here).
            run.flush_and_wait(run.config.flush_timeout).await?;
            run.shared.check()?;
        } else {
            let _ = run.commands.send(Command::Flush(None));
        }
        Ok(run.shared.tracker().offsets())
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if let Some(run) = self.running.as_mut() {
            run.shared.tracker().remove(partitions);
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(run) = self.running.take() {
            let timeout = run.config.flush_timeout;
            if let Err(e) = run.flush_and_wait(timeout).await {
                tracing::error!(error = %e, "Failed to process outstanding requests in time while closing the ElasticsearchClient");
            }
        }
        Ok(())
    }
}

/// `GET /` (B.15): ES < 7 is refused, data streams need 7.9, ES ≥ 8 turns on compat headers. An
/// unreachable cluster only gives a warning here, as in Confluent's connector.
async fn check_version(config: &EsConfig, client: &EsClient) -> Result<()> {
    let root = match client.request(Method::GET, "/", None).await {
        Ok((_, json)) => json,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the Elasticsearch version; assuming a current one");
            return Ok(());
        }
    };
    let number = root
        .pointer("/version/number")
        .and_then(Json::as_str)
        .unwrap_or("");
    let mut parts = number.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    tracing::info!(version = number, "connected to Elasticsearch");
    if major < 7 {
        return Err(ConnectError::config(format!(
            "Connector requires Elasticsearch version 7.0.0 or later, but the cluster runs {number}"
        )));
    }
    if config.is_data_stream() && major == 7 && minor < 9 {
        return Err(ConnectError::config(format!(
            "Data streams need Elasticsearch 7.9.0 or later, but the cluster runs {number}"
        )));
    }
    client.set_compat(major >= 8);
    Ok(())
}

impl Running {
    /// B.4 step 8: pause every assigned partition while more than 10× `max.buffered.records`
    /// offsets are tracked (records stuck behind an unfinished one), resume at 5×.
    fn update_pause(&mut self) {
        let entries = self.shared.tracker().len();
        let Some(pause) = pause_change(self.paused, entries, self.config.max_buffered_records)
        else {
            return;
        };
        let assignment = self.context.assignment();
        if pause {
            tracing::info!(
                entries,
                "pausing all partitions: too many records awaiting their offset"
            );
            self.context.pause(&assignment);
        } else {
            tracing::info!(entries, "resuming all partitions");
            self.context.resume(&assignment);
        }
        self.paused = pause;
    }

    async fn put_one(&mut self, record: &SinkRecord) -> Result<()> {
        let tp = record.original_topic_partition();
        let offset = record.original_kafka_offset;
        self.shared.tracker().add(&tp, offset);
        if record.record.value.is_null() && self.config.null_behavior == NullBehavior::Ignore {
            self.shared.tracker().mark_processed(&tp, offset);
            return Ok(());
        }
        let topic = &record.record.topic;
        if !self.resources.contains_key(topic) {
            let resource = encoder::resource_name(&self.config, topic);
            self.resources.insert(topic.clone(), resource);
        }
        let resource = &self.resources[topic];
        if !self.ready_resources.contains(resource) {
            let resource = resource.clone();
            self.prepare_resource(&resource, topic, record).await?;
            self.ready_resources.insert(resource);
        }
        let resource = &self.resources[topic];
        let action = match encoder::encode(&self.config, record, resource) {
            Ok(Some(action)) => action,
            Ok(None) => {
                // Nothing to write (an ignored tombstone, a delete without a key): done, so the
                // partition's offset keeps moving (Confluent stalls on the keyless delete).
                self.shared.tracker().mark_processed(&tp, offset);
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, partition = %tp, offset, "could not convert a record");
                if let Some(reporter) = &self.reporter {
                    reporter.report(record.clone(), ConnectError::data(e.to_string()));
                }
                if self.config.drop_invalid_message {
                    self.shared.tracker().mark_processed(&tp, offset);
                    return Ok(());
                }
                return Err(ConnectError::connect(format!(
                    "Failed to convert the record at {tp} offset {offset} (set drop.invalid.message=true to skip such records): {e}"
                )));
            }
        };
        self.wait_for_space().await?;
        self.shared.buffered.fetch_add(1, Ordering::SeqCst);
        let pending = PendingRecord {
            partition: tp,
            offset,
            action,
            record: self.reporter.is_some().then(|| record.clone()),
        };
        self.commands
            .send(Command::Add(Box::new(pending)))
            .map_err(|_| ConnectError::connect("the bulk processor stopped"))
    }

    /// B.4 step 7: wait while `max.buffered.records` are queued or in flight, at most
    /// `flush.timeout.ms`.
    async fn wait_for_space(&self) -> Result<()> {
        if self.shared.buffered.load(Ordering::SeqCst) < self.config.max_buffered_records {
            return Ok(());
        }
        let deadline = Instant::now() + self.config.flush_timeout;
        loop {
            let notified = self.shared.space.notified();
            if self.shared.buffered.load(Ordering::SeqCst) < self.config.max_buffered_records {
                return Ok(());
            }
            self.shared.check()?;
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ConnectError::connect(format!(
                    "Could not make space in the buffer within flush.timeout.ms={} ({} records outstanding); Elasticsearch is slow or unreachable",
                    self.config.flush_timeout.as_millis(),
                    self.config.max_buffered_records
                )));
            }
        }
    }

    /// Sends what is batched and waits until nothing is queued or in flight.
    async fn flush_and_wait(&self, timeout: Duration) -> Result<()> {
        let (reply, dispatched) = oneshot::channel();
        let _ = self.commands.send(Command::Flush(Some(reply)));
        let deadline = Instant::now() + timeout;
        let _ = tokio::time::timeout_at(deadline, dispatched).await;
        loop {
            let notified = self.shared.space.notified();
            if self.shared.buffered.load(Ordering::SeqCst) == 0 {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ConnectError::connect(format!(
                    "Flush timeout expired with unflushed records: {}",
                    self.shared.buffered.load(Ordering::SeqCst)
                )));
            }
        }
    }

    /// B.4 steps 4-5: make sure the index or data stream exists (once per name), and create the
    /// mapping from the value schema when the index has none.
    async fn prepare_resource(
        &self,
        resource: &str,
        topic: &str,
        record: &SinkRecord,
    ) -> Result<()> {
        let client = &self.client;
        let external = !self.config.external_resources.is_empty();
        if !external {
            let path = format!("/{resource}");
            let exists = call_with_retries("check if index exists", &self.backoff, || {
                client.exists(&path)
            })
            .await
            .map_err(ConnectError::connect)?;
            if !exists {
                let (create_path, body) = if self.config.is_data_stream() {
                    (format!("/_data_stream/{resource}"), None)
                } else {
                    (path.clone(), Some(b"{}".to_vec()))
                };
                call_with_retries("create index", &self.backoff, || async {
                    match client
                        .request(Method::PUT, &create_path, body.clone())
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e)
                            if e.error_type().as_deref()
                                == Some("resource_already_exists_exception") =>
                        {
                            Ok(())
                        }
                        // A name ES refuses will not improve with retries.
                        Err(e)
                            if e.error_type().as_deref()
                                == Some("invalid_index_name_exception") =>
                        {
                            Err(CallError::Body(e.to_string()))
                        }
                        Err(e) => Err(e),
                    }
                })
                .await
                .map_err(ConnectError::connect)?;
                tracing::info!(resource, "created Elasticsearch resource");
            }
        }
        if !self.config.ignores_schema(topic) && !self.config.is_data_stream() {
            let path = format!("/{resource}/_mapping");
            let current = call_with_retries("get mapping", &self.backoff, || {
                client.request(Method::GET, &path, None)
            })
            .await
            .map_err(ConnectError::connect)?;
            if mapping::is_empty_mapping(&current.1) {
                let body =
                    mapping::mapping_for(record.record.value_schema.as_deref()).map_err(|e| {
                        ConnectError::connect(format!(
                            "Failed to create the mapping of {resource}: {e}"
                        ))
                    })?;
                let body = body.to_string().into_bytes();
                call_with_retries("put mapping", &self.backoff, || {
                    client.request(Method::PUT, &path, Some(body.clone()))
                })
                .await
                .map_err(ConnectError::connect)?;
                tracing::info!(resource, "created the mapping from the value schema");
            } else {
                tracing::debug!(resource, "mapping exists; not changing it");
            }
        }
        Ok(())
    }
}

/// Cuts batches and dispatches bulks; at most `max.in.flight.requests - 1` run at once (at least
/// one), as Confluent's BulkProcessor allows (B.10).
async fn processor(
    mut commands: mpsc::UnboundedReceiver<Command>,
    config: Arc<EsConfig>,
    client: Arc<EsClient>,
    shared: Arc<Shared>,
    reporter: Option<ErrantRecordReporter>,
) {
    let permits = Arc::new(Semaphore::new(
        config.max_in_flight.saturating_sub(1).max(1),
    ));
    let mut batch = Batch::default();
    let dispatch = |records: Vec<PendingRecord>| {
        let permits = permits.clone();
        let config = config.clone();
        let client = client.clone();
        let shared = shared.clone();
        let reporter = reporter.clone();
        async move {
            // Waiting for a permit holds the processor back: put's buffer limit does the rest.
            let Ok(permit) = permits.acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                run_bulk(records, &config, &client, &shared, reporter.as_ref()).await;
                drop(permit);
            });
        }
    };
    loop {
        let deadline = batch.deadline();
        let command = tokio::select! {
            c = commands.recv() => c,
            _ = sleep_until_opt(deadline) => {
                // Take what is already queued before sending, so a short linger still fills batches.
                while let Ok(c) = commands.try_recv() {
                    match c {
                        Command::Add(p) => {
                            batch.push(*p, config.linger);
                            if batch.is_full(config.batch_size, config.bulk_size_bytes) {
                                dispatch(batch.take()).await;
                            }
                        }
                        Command::Flush(reply) => {
                            if !batch.is_empty() {
                                dispatch(batch.take()).await;
                            }
                            if let Some(r) = reply {
                                let _ = r.send(());
                            }
                        }
                    }
                }
                if !batch.is_empty() {
                    dispatch(batch.take()).await;
                }
                continue;
            }
        };
        match command {
            None => {
                if !batch.is_empty() {
                    dispatch(batch.take()).await;
                }
                return;
            }
            Some(Command::Add(p)) => {
                batch.push(*p, config.linger);
                if batch.is_full(config.batch_size, config.bulk_size_bytes) {
                    dispatch(batch.take()).await;
                }
            }
            Some(Command::Flush(reply)) => {
                if !batch.is_empty() {
                    dispatch(batch.take()).await;
                }
                if let Some(r) = reply {
                    let _ = r.send(());
                }
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What one bulk item's response means (B.12).
#[derive(Debug, PartialEq)]
enum ItemOutcome {
    /// Done: success, not_found delete, ignored conflict, tolerated malformed document.
    Processed,
    /// Rejected with 429: retry just this item.
    Rejected(String),
    /// Fails the task.
    Fatal(String),
}

fn classify(
    item: &BulkItem,
    action: &BulkAction,
    config: &EsConfig,
    report: &mut dyn FnMut(String),
) -> ItemOutcome {
    let result = item.result();
    let Some(error) = &result.error else {
        return ItemOutcome::Processed;
    };
    let kind = if error.kind.is_empty() {
        "unknown"
    } else {
        error.kind.as_str()
    };
    let reason = &error.reason;
    let text = format!("Elasticsearch exception [type={kind}, reason={reason}]");
    if kind == "version_conflict_engine_exception" {
        if action.is_externally_versioned() {
            tracing::debug!(index = %action.index, id = ?action.id, "Ignoring version conflict: {text}");
        } else {
            tracing::warn!(index = %action.index, id = ?action.id, "Ignoring version conflict: {text}");
            if !config.is_data_stream() {
                report(format!("Indexing failed: {text}"));
            }
        }
        return ItemOutcome::Processed;
    }
    if MALFORMED.contains(&kind) {
        report(format!("Indexing failed: {text}"));
        return match config.malformed_behavior {
            MalformedBehavior::Ignore => {
                tracing::debug!(index = %action.index, id = ?action.id, "Ignoring malformed document: {text}");
                ItemOutcome::Processed
            }
            MalformedBehavior::Warn => {
                tracing::warn!(index = %action.index, id = ?action.id, "Ignoring malformed document: {text}");
                ItemOutcome::Processed
            }
            MalformedBehavior::Fail => ItemOutcome::Fatal(text),
        };
    }
    let status = result.status;
    if config.retry_rejected_items
        && (kind == "es_rejected_execution_exception"
            || (status == 429 && kind != "cluster_block_exception"))
    {
        return ItemOutcome::Rejected(text);
    }
    report(format!("Indexing failed: {text}"));
    ItemOutcome::Fatal(text)
}

/// Runs one bulk: whole-request failures are retried (B.11); items rejected with 429 are sent
/// again alone with the same backoff, up to `max.retries` times.
async fn run_bulk(
    mut records: Vec<PendingRecord>,
    config: &EsConfig,
    client: &EsClient,
    shared: &Shared,
    reporter: Option<&ErrantRecordReporter>,
) {
    let backoff = backoff_of(config);
    let mut round = 0u32;
    while !records.is_empty() {
        round += 1;
        let body = bulk_body(&records);
        let result = call_with_retries("execute bulk request", &backoff, || {
            client.bulk("/_bulk?timeout=1m", body.clone(), records.len())
        })
        .await;
        let response = match result {
            Ok(response) => response,
            Err(message) => {
                shared.fail(format!("Bulk request failed: {message}"));
                shared.finish(records.len());
                return;
            }
        };
        // `errors` says whether any item failed (D.7); the items are checked too, as they are
        // already read and a proxy might drop the flag.
        if !response.errors && response.items.iter().all(|i| i.result().error.is_none()) {
            // Every item succeeded: no outcome to sort out item by item.
            let mut tracker = shared.tracker();
            for pending in &records {
                tracker.mark_processed(&pending.partition, pending.offset);
            }
            drop(tracker);
            shared.finish(records.len());
            return;
        }
        let items = response.items;
        let mut rejected = Vec::new();
        let mut finished = 0;
        for (pending, item) in records.into_iter().zip(items.iter()) {
            let mut report = |why: String| {
                if let (Some(reporter), Some(record)) = (reporter, pending.record.as_ref()) {
                    reporter.report(record.clone(), ConnectError::connect(why));
                }
            };
            match classify(item, &pending.action, config, &mut report) {
                ItemOutcome::Processed => {
                    shared
                        .tracker()
                        .mark_processed(&pending.partition, pending.offset);
                    finished += 1;
                }
                ItemOutcome::Rejected(text) if round <= config.max_retries => {
                    tracing::debug!(partition = %pending.partition, offset = pending.offset, "item rejected, will retry: {text}");
                    rejected.push(pending);
                }
                outcome @ (ItemOutcome::Rejected(_) | ItemOutcome::Fatal(_)) => {
                    let text = match outcome {
                        ItemOutcome::Rejected(text) => {
                            // Out of retries: now it is reported like any other failure.
                            report(format!("Indexing failed: {text}"));
                            text
                        }
                        ItemOutcome::Fatal(text) => text,
                        ItemOutcome::Processed => String::new(),
                    };
                    shared.fail(format!(
                        "Indexing record failed: {text} (record {} offset {}). Please check DLQ topic for errors.",
                        pending.partition, pending.offset
                    ));
                    finished += 1;
                }
            }
        }
        shared.finish(finished);
        if !rejected.is_empty() {
            let delay = backoff.delay(round);
            tracing::warn!(
                items = rejected.len(),
                ?delay,
                "Elasticsearch rejected items with 429; retrying them"
            );
            tokio::time::sleep(delay).await;
        }
        records = rejected;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tracker_commits_only_the_contiguous_prefix() {
        let mut t = OffsetTracker::default();
        let tp = TopicPartition::new("t", 0);
        for o in 0..5 {
            assert!(t.add(&tp, o));
        }
        assert!(!t.add(&tp, 3), "re-delivered offsets are not tracked");
        assert!(t.offsets().is_empty());
        t.mark_processed(&tp, 0);
        t.mark_processed(&tp, 1);
        t.mark_processed(&tp, 3);
        assert_eq!(t.offsets().get(&tp), Some(&2));
        assert_eq!(t.len(), 3);
        t.mark_processed(&tp, 2);
        assert_eq!(t.offsets().get(&tp), Some(&4));
        t.remove(std::slice::from_ref(&tp));
        assert!(t.is_empty());
    }

    #[test]
    fn pause_at_ten_times_resume_at_five_times_the_buffer() {
        assert_eq!(pause_change(false, 100, 10), None);
        assert_eq!(pause_change(false, 101, 10), Some(true));
        assert_eq!(pause_change(true, 51, 10), None);
        assert_eq!(pause_change(true, 50, 10), Some(false));
        assert_eq!(pause_change(true, 0, 10), Some(false));
    }

    fn config(pairs: &[(&str, &str)]) -> EsConfig {
        let mut p: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.insert("connection.url".into(), "http://localhost:9200".into());
        EsConfig::parse(&p).unwrap()
    }

    fn action(version: Option<i64>) -> BulkAction {
        BulkAction {
            op: encoder::Op::Index,
            index: "t".into(),
            id: Some("k".into()),
            version,
            retry_on_conflict: None,
            source: Some("{}".into()),
        }
    }

    fn parse(item: Json) -> BulkItem {
        serde_json::from_value(item).expect("a bulk item")
    }

    fn item(kind: &str, status: u16) -> BulkItem {
        parse(
            json!({"index": {"_index": "t", "_id": "k", "status": status, "error": {"type": kind, "reason": "r"}}}),
        )
    }

    #[test]
    fn outcome_matrix_b12() {
        let reports = std::cell::RefCell::new(Vec::new());
        let c = config(&[]);
        let mut r = |s: String| reports.borrow_mut().push(s);
        assert_eq!(
            classify(
                &parse(json!({"index": {"status": 201}})),
                &action(None),
                &c,
                &mut r
            ),
            ItemOutcome::Processed
        );
        assert_eq!(
            classify(
                &parse(json!({"delete": {"status": 404, "result": "not_found"}})),
                &action(None),
                &c,
                &mut r
            ),
            ItemOutcome::Processed
        );
        assert_eq!(
            classify(
                &item("version_conflict_engine_exception", 409),
                &action(Some(3)),
                &c,
                &mut r
            ),
            ItemOutcome::Processed
        );
        assert!(reports.borrow().is_empty(), "external conflicts are silent");
        assert_eq!(
            classify(
                &item("version_conflict_engine_exception", 409),
                &action(None),
                &c,
                &mut r
            ),
            ItemOutcome::Processed
        );
        assert!(matches!(
            classify(
                &item("mapper_parsing_exception", 400),
                &action(None),
                &c,
                &mut r
            ),
            ItemOutcome::Fatal(_)
        ));
        assert!(matches!(
            classify(
                &item("es_rejected_execution_exception", 429),
                &action(None),
                &c,
                &mut r
            ),
            ItemOutcome::Rejected(_)
        ));
        assert!(matches!(
            classify(
                &item("cluster_block_exception", 429),
                &action(None),
                &c,
                &mut r
            ),
            ItemOutcome::Fatal(_)
        ));
        assert_eq!(reports.borrow().len(), 3);
        let warn = config(&[("behavior.on.malformed.documents", "warn")]);
        let ignore = config(&[("behavior.on.malformed.documents", "ignore")]);
        let mut r = |_s: String| {};
        assert_eq!(
            classify(
                &item("strict_dynamic_mapping_exception", 400),
                &action(None),
                &warn,
                &mut r
            ),
            ItemOutcome::Processed
        );
        assert_eq!(
            classify(
                &item("document_parsing_exception", 400),
                &action(None),
                &ignore,
                &mut r
            ),
            ItemOutcome::Processed
        );
        let strict = config(&[("bulk.retry.rejected.items", "false")]);
        assert!(matches!(
            classify(
                &item("es_rejected_execution_exception", 429),
                &action(None),
                &strict,
                &mut r
            ),
            ItemOutcome::Fatal(_)
        ));
    }
}
