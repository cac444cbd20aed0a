//! The Kafka side: a consumer group over the input topic, one [`Engine`] per owned partition,
//! and transactional consume-process-produce.
//!
//! Each batch of input records becomes one transaction holding, in this order: the output
//! records, then (after they are acknowledged) a snapshot of every changed partition's state
//! on the compacted state topic, then the input offsets. A snapshot records the input offset
//! it reflects, and a newly assigned partition resumes from its latest snapshot (not from the
//! group's committed offset). Outputs are deterministic functions of state and input, so a
//! replay after a crash writes exactly the same records with the same keys: on Kafka the
//! aborted ones are invisible to `read_committed` readers; on Tansu (whose `read_committed`
//! still shows aborted records) a reader may see a record twice, but the latest value of
//! every key is the same as in an uninterrupted run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientConfig, ClientContext, Offset, Timestamp, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tracing::{debug, error, info, warn};

use crate::config::PairingConfig;
use crate::engine::{Disposition, Engine, EngineConfig, EngineState, Mode, Output};
use crate::metrics::{Metrics, now_ms};
use crate::records::{Destination, encode, parse_frame};
use crate::table::{TableMode, TablePrinter};

/// Why the job stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A Kafka client failed in a way the job cannot recover from.
    #[error("{context}: {source}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The client error.
        source: KafkaError,
    },
    /// Saved state could not be restored.
    #[error("restoring state: {0}")]
    Restore(String),
}

fn kafka(context: impl Into<String>) -> impl FnOnce(KafkaError) -> RunError {
    let context = context.into();
    move |source| RunError::Kafka { context, source }
}

/// How long one Kafka request (flush, commit, metadata) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most records in one transaction.
const MAX_BATCH: usize = 20_000;
/// Longest wait for records in one turn of the loop.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Records stamped within this much of the job's clock are live data: only then may the wall
/// clock move stream time. A replay of old records keeps pure event time.
const LIVE_HORIZON_MS: i64 = 60_000;
/// How long to ask the broker for a partition's end before moving its stream time.
const WATERMARK_TIMEOUT: Duration = Duration::from_millis(500);
/// The wait before asking again when the partition was not caught up, or the broker did not
/// answer.
const RECHECK_BEHIND: Duration = Duration::from_millis(20);
const RECHECK_UNANSWERED: Duration = Duration::from_secs(1);

/// One partition's saved state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    /// Format version.
    version: u32,
    /// The mode that wrote it.
    mode: Mode,
    /// The next input offset to process.
    next_offset: i64,
    /// The engine state after the records before `next_offset`.
    state: EngineState,
}

fn snapshot_key(topic: &str, partition: i32) -> String {
    format!("{topic}:{partition}")
}

/// Creates the state, output and input topics when missing (compacted, except the input).
pub async fn ensure_topics(config: &PairingConfig) -> Result<(), RunError> {
    let admin: AdminClient<DefaultClientContext> = client_config(config, &config.consumer_props)
        .create()
        .map_err(kafka("creating an admin client"))?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, REQUEST_TIMEOUT)
        .map_err(kafka("fetching metadata"))?;
    let existing: BTreeSet<String> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name().to_owned())
        .collect();
    let state_topic = config.state_topic();
    let wanted = [
        (state_topic.as_str(), 1, true),
        (
            config.sightings_topic.as_str(),
            config.topic_partitions,
            true,
        ),
        (config.pairs_topic.as_str(), config.topic_partitions, true),
        (config.input_topic.as_str(), config.topic_partitions, false),
    ];
    let new_topics: Vec<NewTopic> = wanted
        .iter()
        .filter(|(name, _, _)| !existing.contains(*name))
        .map(|(name, partitions, compact)| {
            let topic = NewTopic::new(name, *partitions, TopicReplication::Fixed(1));
            if *compact {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    if new_topics.is_empty() {
        return Ok(());
    }
    let results = admin
        .create_topics(&new_topics, &AdminOptions::new())
        .await
        .map_err(kafka("creating topics"))?;
    for result in results {
        match result {
            Ok(name) => info!(topic = %name, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(RunError::Kafka {
                    context: format!("creating topic {name}"),
                    source: KafkaError::AdminOp(code),
                });
            }
        }
    }
    Ok(())
}

fn client_config(config: &PairingConfig, extra: &BTreeMap<String, String>) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    for (key, value) in extra {
        client.set(key, value);
    }
    client
}

/// Reads the latest snapshot of each partition from the state topic.
#[derive(Clone)]
struct Restorer {
    config: Arc<PairingConfig>,
}

impl Restorer {
    fn read_snapshots(&self) -> Result<HashMap<i32, Snapshot>, String> {
        let config = &self.config;
        let state_topic = config.state_topic();
        let mut client = client_config(config, &config.consumer_props);
        let consumer: BaseConsumer<QuietContext> = client
            .set(
                "group.id",
                format!("{}-state-reader", config.application_id),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .create_with_context(QuietContext)
            .map_err(|e| format!("creating the state reader: {e}"))?;
        let metadata = consumer
            .fetch_metadata(Some(&state_topic), REQUEST_TIMEOUT)
            .map_err(|e| format!("metadata of {state_topic}: {e}"))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == state_topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(format!("state topic {state_topic} does not exist"));
        }
        let mut assignment = TopicPartitionList::new();
        for partition in &partitions {
            assignment
                .add_partition_offset(&state_topic, *partition, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        drop(assignment);
        let prefix = format!("{}:", config.input_topic);
        let mut snapshots = HashMap::new();
        let mut at_end = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut read = 0usize;
        while at_end.len() < partitions.len() {
            if Instant::now() > deadline {
                return Err(format!("reading {state_topic} to its end took over 120 s"));
            }
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Ok(message)) => {
                    read += 1;
                    let Some(partition) = message
                        .key()
                        .and_then(|k| std::str::from_utf8(k).ok())
                        .and_then(|k| k.strip_prefix(&prefix))
                        .and_then(|p| p.parse::<i32>().ok())
                    else {
                        continue;
                    };
                    match message.payload() {
                        None => {
                            snapshots.remove(&partition);
                        }
                        Some(bytes) => {
                            let snapshot: Snapshot =
                                serde_json::from_slice(bytes).map_err(|e| {
                                    format!(
                                        "a snapshot of partition {partition} is unreadable: {e}"
                                    )
                                })?;
                            snapshots.insert(partition, snapshot);
                        }
                    }
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    at_end.insert(partition);
                }
                Some(Err(e)) => return Err(format!("reading {state_topic}: {e}")),
            }
        }
        debug!(
            records = read,
            partitions = snapshots.len(),
            "read the state topic"
        );
        for (partition, snapshot) in &snapshots {
            if snapshot.mode != config.engine.mode {
                return Err(format!(
                    "the saved state of partition {partition} was written in {} mode, but \
                     mode={}; use another application.id to change modes",
                    snapshot.mode.name(),
                    config.engine.mode.name()
                ));
            }
        }
        Ok(snapshots)
    }
}

/// The state reader's context: end-of-partition is how it knows it is done, not an error.
struct QuietContext;

impl ClientContext for QuietContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            warn!(error = %error, "state reader: {reason}");
        }
    }
}

impl ConsumerContext for QuietContext {}

enum RebalanceEvent {
    Assigned(Vec<(i32, Option<Snapshot>)>),
    Revoked(Vec<i32>),
    Failed(String),
}

/// The consumer's context: restores state when partitions are assigned and starts them at
/// the snapshot's offset.
struct PairingContext {
    restorer: Restorer,
    events: Mutex<Vec<RebalanceEvent>>,
}

impl PairingContext {
    fn push(&self, event: RebalanceEvent) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }

    fn take(&self) -> Vec<RebalanceEvent> {
        std::mem::take(
            &mut *self
                .events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl ClientContext for PairingContext {}

impl ConsumerContext for PairingContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let topic = self.restorer.config.input_topic.clone();
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let partitions: Vec<i32> = tpl
            .elements_for_topic(&topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                info!(?partitions, "partitions assigned; restoring their state");
                match self.restorer.read_snapshots() {
                    Ok(mut snapshots) => {
                        let mut assigned = Vec::new();
                        for partition in partitions {
                            let snapshot = snapshots.remove(&partition);
                            if let Some(snapshot) = &snapshot {
                                let _ = tpl.set_partition_offset(
                                    &topic,
                                    partition,
                                    Offset::Offset(snapshot.next_offset),
                                );
                            }
                            assigned.push((partition, snapshot));
                        }
                        self.push(RebalanceEvent::Assigned(assigned));
                    }
                    Err(e) => self.push(RebalanceEvent::Failed(e)),
                }
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!(?partitions, "partitions revoked");
                self.push(RebalanceEvent::Revoked(partitions));
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                warn!(error = ?other, "rebalance error");
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            self.push(RebalanceEvent::Failed(format!(
                "applying the assignment: {e}"
            )));
        }
    }
}

/// An owned input partition.
struct Owned {
    engine: Engine,
    /// The next offset to process (`None` until the first record when there was no snapshot).
    next_offset: Option<i64>,
    /// State and offset as of the last committed transaction.
    committed: (EngineState, Option<i64>),
    /// Where stream time stood when it last moved, for moving it with the wall clock.
    anchor: Option<ClockAnchor>,
    /// No wall-clock move is tried before this (after a check found the partition behind).
    check_after: Instant,
}

impl Owned {
    fn new(state: EngineState, next_offset: Option<i64>, config: EngineConfig) -> Self {
        let engine = Engine::with_state(config, state.clone());
        Self {
            anchor: engine.stream_time().map(ClockAnchor::new),
            engine,
            next_offset,
            committed: (state, next_offset),
            check_after: Instant::now(),
        }
    }

    /// When the wall clock would decide this partition's next pending sighting.
    fn wall_clock_due(&self) -> Option<Instant> {
        let anchor = self.anchor.filter(|a| a.live)?;
        let due = self.engine.next_decision_at()?;
        Some(anchor.instant_of(due).max(self.check_after))
    }
}

/// A partition's stream time at a moment of the job's clock. While no records come, the wall
/// clock moves stream time on from there at the same pace.
#[derive(Debug, Clone, Copy)]
struct ClockAnchor {
    stream_time: i64,
    at: Instant,
    /// Whether the stream time was near the job's clock (live data rather than a replay).
    live: bool,
}

impl ClockAnchor {
    fn new(stream_time: i64) -> Self {
        Self {
            stream_time,
            at: Instant::now(),
            live: (now_ms() - stream_time).abs() <= LIVE_HORIZON_MS,
        }
    }

    /// The stream time the wall clock gives now.
    fn stream_time_now(&self) -> i64 {
        let elapsed = i64::try_from(self.at.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.stream_time.saturating_add(elapsed)
    }

    /// When the wall clock reaches `stream_time`.
    fn instant_of(&self, stream_time: i64) -> Instant {
        let ahead = u64::try_from(stream_time.saturating_sub(self.stream_time)).unwrap_or(0);
        self.at + Duration::from_millis(ahead)
    }
}

struct Polled {
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    value: Option<Vec<u8>>,
}

/// Runs the job until `stop` is set. Blocking: call it from a thread of its own.
pub fn run(
    config: Arc<PairingConfig>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    table: TableMode,
) -> Result<(), RunError> {
    let mut producer_config = client_config(&config, &config.producer_props);
    if !config.producer_props.contains_key("linger.ms") {
        producer_config.set("linger.ms", "5");
    }
    let producer: BaseProducer = producer_config
        .set("transactional.id", config.transactional_id())
        .set("enable.idempotence", "true")
        .create()
        .map_err(kafka("creating the producer"))?;
    producer.init_transactions(REQUEST_TIMEOUT).map_err(kafka(
        "initialising transactions (another instance with the same instance.id?)",
    ))?;
    let context = PairingContext {
        restorer: Restorer {
            config: config.clone(),
        },
        events: Mutex::new(Vec::new()),
    };
    let mut consumer_config = client_config(&config, &config.consumer_props);
    if !config.consumer_props.contains_key("fetch.wait.max.ms") {
        // Pair records are due as soon as a window closes; some brokers (Tansu) hold a fetch
        // for the whole wait even when records are there.
        consumer_config.set("fetch.wait.max.ms", "10");
    }
    let consumer: BaseConsumer<PairingContext> = consumer_config
        .set("group.id", &config.application_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", &config.auto_offset_reset)
        .create_with_context(context)
        .map_err(kafka("creating the consumer"))?;
    consumer
        .subscribe(&[&config.input_topic])
        .map_err(kafka("subscribing"))?;
    info!(
        input = %config.input_topic,
        group = %config.application_id,
        mode = config.engine.mode.name(),
        "consuming"
    );
    metrics.running.store(true, Ordering::Relaxed);
    let mut job = Job {
        config: config.clone(),
        metrics,
        producer,
        consumer,
        owned: BTreeMap::new(),
        printer: TablePrinter::new(table),
        last_lag_update: Instant::now(),
    };
    let result = job.run_loop(&stop);
    job.metrics.running.store(false, Ordering::Relaxed);
    info!("stopping: leaving the consumer group");
    drop(job);
    result
}

struct Job {
    config: Arc<PairingConfig>,
    metrics: Arc<Metrics>,
    producer: BaseProducer,
    consumer: BaseConsumer<PairingContext>,
    owned: BTreeMap<i32, Owned>,
    printer: TablePrinter,
    last_lag_update: Instant,
}

impl Job {
    fn run_loop(&mut self, stop: &AtomicBool) -> Result<(), RunError> {
        self.printer.update(Vec::new());
        while !stop.load(Ordering::Relaxed) {
            self.metrics.tick();
            let mut batch = Vec::new();
            let mut fresh = BTreeSet::new();
            let first = self.consumer.poll(self.poll_timeout());
            self.push_polled(first, &mut batch);
            self.apply_events(&mut fresh)?;
            if !batch.is_empty() {
                let deadline =
                    Instant::now() + Duration::from_millis(self.config.commit_interval_ms);
                while batch.len() < MAX_BATCH && Instant::now() < deadline {
                    let next = self.consumer.poll(Duration::ZERO);
                    if next.is_none() {
                        break;
                    }
                    self.push_polled(next, &mut batch);
                    if self.apply_events(&mut fresh)? {
                        break;
                    }
                }
            }
            // Records fetched before a partition was (re)assigned belong to the old assignment.
            batch
                .retain(|r| self.owned.contains_key(&r.partition) && !fresh.contains(&r.partition));
            if !batch.is_empty() {
                self.process_batch(batch)?;
            }
            if self.config.wall_clock_advance {
                self.advance_with_wall_clock()?;
            }
            if self.last_lag_update.elapsed() >= Duration::from_secs(5) {
                self.update_lag();
            }
        }
        Ok(())
    }

    fn push_polled(
        &self,
        polled: Option<Result<rdkafka::message::BorrowedMessage<'_>, KafkaError>>,
        batch: &mut Vec<Polled>,
    ) {
        match polled {
            None => {}
            Some(Ok(message)) => batch.push(Polled {
                partition: message.partition(),
                offset: message.offset(),
                timestamp: match message.timestamp() {
                    Timestamp::NotAvailable => None,
                    Timestamp::CreateTime(ms) | Timestamp::LogAppendTime(ms) => Some(ms),
                },
                value: message.payload().map(<[u8]>::to_vec),
            }),
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => warn!(error = %e, "consumer error"),
        }
    }

    /// Applies assignment changes; returns whether there were any. Partitions (re)assigned
    /// are added to `fresh`.
    fn apply_events(&mut self, fresh: &mut BTreeSet<i32>) -> Result<bool, RunError> {
        let events = self.consumer.context().take();
        let any = !events.is_empty();
        for event in events {
            match event {
                RebalanceEvent::Failed(reason) => return Err(RunError::Restore(reason)),
                RebalanceEvent::Revoked(partitions) => {
                    for partition in partitions {
                        self.owned.remove(&partition);
                        self.metrics
                            .consumer_lag
                            .remove(&vec![("partition".to_owned(), partition.to_string())]);
                    }
                }
                RebalanceEvent::Assigned(partitions) => {
                    for (partition, snapshot) in partitions {
                        let (state, next_offset) = match snapshot {
                            Some(s) => {
                                info!(
                                    partition,
                                    next_offset = s.next_offset,
                                    "resuming from saved state"
                                );
                                (s.state, Some(s.next_offset))
                            }
                            None => (EngineState::default(), None),
                        };
                        self.owned.insert(
                            partition,
                            Owned::new(state, next_offset, self.engine_config()),
                        );
                        fresh.insert(partition);
                    }
                }
            }
        }
        if any {
            self.metrics
                .assigned_partitions
                .set(self.owned.len() as i64);
            self.refresh_table();
        }
        Ok(any)
    }

    fn engine_config(&self) -> EngineConfig {
        self.config.engine.clone()
    }

    fn process_batch(&mut self, batch: Vec<Polled>) -> Result<(), RunError> {
        let mut outputs: Vec<(Output, i64)> = Vec::new();
        let mut first_offsets: BTreeMap<i32, i64> = BTreeMap::new();
        let field = self.config.timestamp_field.as_deref();
        for record in batch {
            let Some(owned) = self.owned.get_mut(&record.partition) else {
                continue;
            };
            if owned.next_offset.is_some_and(|next| record.offset < next) {
                continue;
            }
            first_offsets
                .entry(record.partition)
                .or_insert(record.offset);
            owned.next_offset = Some(record.offset + 1);
            self.metrics.records_in.inc();
            let frame = match parse_frame(record.value.as_deref(), record.timestamp, field) {
                Ok(frame) => frame,
                Err(e) => {
                    self.metrics.records_invalid.inc();
                    debug!(partition = record.partition, offset = record.offset, error = %e, "skipping a record");
                    continue;
                }
            };
            let stream_time_before = owned.engine.stream_time();
            let step = owned.engine.process(&frame);
            if owned.engine.stream_time() != stream_time_before {
                owned.anchor = owned.engine.stream_time().map(ClockAnchor::new);
            }
            match step.disposition {
                Disposition::Counted => {}
                Disposition::Blank => {
                    self.metrics.records_blank.inc();
                }
                Disposition::Late => {
                    self.metrics.records_late_dropped.inc();
                    debug!(image = %frame.image, timestamp = frame.timestamp_ms, "dropping a late record");
                }
            }
            outputs.extend(step.outputs.into_iter().map(|o| (o, step.timestamp_ms)));
        }
        if first_offsets.is_empty() {
            return Ok(());
        }
        self.commit_and_account(&outputs, &first_offsets)
            .map(|_| ())
    }

    /// How long the loop may wait for records: until the wall clock is due to decide a
    /// sighting, at most [`POLL_INTERVAL`].
    fn poll_timeout(&self) -> Duration {
        if !self.config.wall_clock_advance {
            return POLL_INTERVAL;
        }
        let now = Instant::now();
        self.owned
            .values()
            .filter_map(Owned::wall_clock_due)
            .min()
            .map_or(POLL_INTERVAL, |due| {
                due.saturating_duration_since(now).min(POLL_INTERVAL)
            })
    }

    /// `stream.time.advance=wall-clock` (sighting mode): a sighting is due at its window's
    /// end + grace, also when no frame follows it. For each partition whose live data has a
    /// sighting due by the wall clock, and that has nothing more to read on the broker, moves
    /// its stream time to the wall clock's and commits what that decides, as one transaction.
    /// A partition with records still to read waits for them: they carry their own time.
    fn advance_with_wall_clock(&mut self) -> Result<(), RunError> {
        let now = Instant::now();
        let mut outputs: Vec<(Output, i64)> = Vec::new();
        let mut advanced: BTreeMap<i32, i64> = BTreeMap::new();
        for (partition, owned) in &mut self.owned {
            let (Some(due), Some(anchor), Some(next_offset)) =
                (owned.wall_clock_due(), owned.anchor, owned.next_offset)
            else {
                continue;
            };
            if due > now {
                continue;
            }
            match self.consumer.fetch_watermarks(
                &self.config.input_topic,
                *partition,
                WATERMARK_TIMEOUT,
            ) {
                Ok((_, high)) if next_offset >= high => {}
                Ok(_) => {
                    owned.check_after = now + RECHECK_BEHIND;
                    continue;
                }
                Err(e) => {
                    debug!(partition, error = %e, "cannot read the partition's end; not moving its stream time");
                    owned.check_after = now + RECHECK_UNANSWERED;
                    continue;
                }
            }
            let stream_time = anchor.stream_time_now();
            let decided = owned.engine.advance(stream_time);
            debug!(
                partition,
                stream_time,
                outputs = decided.len(),
                "moved stream time with the wall clock"
            );
            outputs.extend(decided.into_iter().map(|o| (o, stream_time)));
            advanced.insert(*partition, next_offset);
        }
        if advanced.is_empty() {
            return Ok(());
        }
        let count = advanced.len() as u64;
        if self.commit_and_account(&outputs, &advanced)? {
            self.metrics.wall_clock_advances.inc_by(count);
        }
        Ok(())
    }

    /// Commits `outputs` with the state of the `partitions` (to their first offset in this
    /// transaction) and accounts for it; returns whether it committed. An abortable failure
    /// rolls the partitions back to their last committed state, to be processed again.
    fn commit_and_account(
        &mut self,
        outputs: &[(Output, i64)],
        first_offsets: &BTreeMap<i32, i64>,
    ) -> Result<bool, RunError> {
        let started = Instant::now();
        let committed = self.commit(outputs, first_offsets);
        debug!(
            outputs = outputs.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "transaction"
        );
        match committed {
            Ok(()) => {
                self.metrics
                    .transactions
                    .get_or_create(&vec![("result".to_owned(), "committed".to_owned())])
                    .inc();
                for partition in first_offsets.keys() {
                    if let Some(owned) = self.owned.get_mut(partition) {
                        owned.committed = (owned.engine.state().clone(), owned.next_offset);
                    }
                }
                for (output, _) in outputs {
                    match output {
                        Output::Sighting(_) => self.metrics.sightings.inc(),
                        Output::Pair(_) => self.metrics.pair_records.inc(),
                    };
                }
                if !outputs.is_empty() {
                    self.refresh_table();
                }
                Ok(true)
            }
            Err(TxnFailure::Fatal(e)) => Err(e),
            Err(TxnFailure::Abortable(e)) => {
                warn!(error = %e, "transaction failed; aborting and processing the batch again");
                self.metrics
                    .transactions
                    .get_or_create(&vec![("result".to_owned(), "aborted".to_owned())])
                    .inc();
                if let Err(abort_error) = self.producer.abort_transaction(REQUEST_TIMEOUT) {
                    return Err(RunError::Kafka {
                        context: "aborting a transaction".into(),
                        source: abort_error,
                    });
                }
                self.rollback(first_offsets);
                Ok(false)
            }
        }
    }

    /// Returns the given partitions to their last committed state and input position.
    fn rollback(&mut self, first_offsets: &BTreeMap<i32, i64>) {
        let config = self.engine_config();
        for (partition, first_offset) in first_offsets {
            let Some(owned) = self.owned.get_mut(partition) else {
                continue;
            };
            let (state, next_offset) = owned.committed.clone();
            *owned = Owned::new(state, next_offset, config.clone());
            let resume = next_offset.unwrap_or(*first_offset);
            if let Err(e) = self.consumer.seek(
                &self.config.input_topic,
                *partition,
                Offset::Offset(resume),
                REQUEST_TIMEOUT,
            ) {
                warn!(partition, error = %e, "cannot rewind the partition");
            }
        }
    }

    fn commit(
        &self,
        outputs: &[(Output, i64)],
        partitions: &BTreeMap<i32, i64>,
    ) -> Result<(), TxnFailure> {
        let producer = &self.producer;
        producer
            .begin_transaction()
            .map_err(|e| TxnFailure::classify("beginning a transaction", e))?;
        for (output, timestamp) in outputs {
            let encoded = encode(output, self.config.sightings_key_format);
            let topic = match encoded.destination {
                Destination::Sightings => &self.config.sightings_topic,
                Destination::Pairs => &self.config.pairs_topic,
            };
            self.send(topic, &encoded.key, Some(&encoded.value), *timestamp)?;
        }
        // Outputs first, acknowledged: a snapshot never gets ahead of what it produced.
        self.flush()
            .map_err(|e| TxnFailure::classify("flushing outputs", e))?;
        let state_topic = self.config.state_topic();
        let mut offsets = TopicPartitionList::new();
        for partition in partitions.keys() {
            let Some(owned) = self.owned.get(partition) else {
                continue;
            };
            let Some(next_offset) = owned.next_offset else {
                continue;
            };
            let snapshot = Snapshot {
                version: 1,
                mode: self.config.engine.mode,
                next_offset,
                state: owned.engine.state().clone(),
            };
            let value = serde_json::to_vec(&snapshot).map_err(|e| {
                TxnFailure::Fatal(RunError::Restore(format!("cannot serialise state: {e}")))
            })?;
            let key = snapshot_key(&self.config.input_topic, *partition);
            let timestamp = owned.engine.stream_time().unwrap_or(0);
            self.send(&state_topic, key.as_bytes(), Some(&value), timestamp)?;
            offsets
                .add_partition_offset(
                    &self.config.input_topic,
                    *partition,
                    Offset::Offset(next_offset),
                )
                .map_err(|e| TxnFailure::classify("listing offsets", e))?;
        }
        self.flush()
            .map_err(|e| TxnFailure::classify("flushing the state", e))?;
        let group = self.consumer.group_metadata().ok_or_else(|| {
            TxnFailure::Abortable(RunError::Restore("no consumer group metadata yet".into()))
        })?;
        producer
            .send_offsets_to_transaction(&offsets, &group, REQUEST_TIMEOUT)
            .map_err(|e| TxnFailure::classify("adding offsets to the transaction", e))?;
        producer
            .commit_transaction(REQUEST_TIMEOUT)
            .map_err(|e| TxnFailure::classify("committing", e))
    }

    /// Waits until every queued record is acknowledged. rdkafka's own `flush` polls in steps
    /// of up to 100 ms, which would add that much to every transaction.
    fn flush(&self) -> Result<(), KafkaError> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        while self.producer.in_flight_count() > 0 {
            if Instant::now() >= deadline {
                return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
            }
            self.producer.poll(Duration::from_millis(1));
        }
        Ok(())
    }

    fn send(
        &self,
        topic: &str,
        key: &[u8],
        value: Option<&Vec<u8>>,
        timestamp: i64,
    ) -> Result<(), TxnFailure> {
        let mut record = BaseRecord::<[u8], Vec<u8>>::to(topic)
            .key(key)
            .timestamp(timestamp);
        if let Some(value) = value {
            record = record.payload(value);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(TxnFailure::classify("producing", e)),
            }
        }
    }

    fn update_lag(&mut self) {
        self.last_lag_update = Instant::now();
        for (partition, owned) in &self.owned {
            let Some(next) = owned.next_offset else {
                continue;
            };
            if let Ok((_, high)) = self.consumer.fetch_watermarks(
                &self.config.input_topic,
                *partition,
                Duration::from_secs(1),
            ) && high >= 0
            {
                self.metrics
                    .consumer_lag
                    .get_or_create(&vec![("partition".to_owned(), partition.to_string())])
                    .set((high - next).max(0));
            }
        }
    }

    fn refresh_table(&mut self) {
        let rows: Vec<_> = self.owned.values().flat_map(|o| o.engine.table()).collect();
        let pairs: u64 = rows.iter().map(|r| r.number_socks_seen / 2).sum();
        self.metrics.pairs.set(pairs as i64);
        self.printer.update(rows);
    }
}

enum TxnFailure {
    Fatal(RunError),
    Abortable(RunError),
}

impl TxnFailure {
    fn classify(context: &str, error: KafkaError) -> Self {
        let fatal = match &error {
            KafkaError::Transaction(e) => e.is_fatal(),
            _ => false,
        };
        let error = RunError::Kafka {
            context: context.to_owned(),
            source: error,
        };
        if fatal {
            error!(error = %error, "fatal transaction error (fenced by another instance with the same instance.id?)");
            TxnFailure::Fatal(error)
        } else {
            TxnFailure::Abortable(error)
        }
    }
}
