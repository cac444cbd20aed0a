//! The source task: one MQTT connection, a bounded queue, and manual in-order acknowledgements.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sluice_api::data::SchemaRef;
use sluice_api::{
    ConnectError, ConnectRecord, Counter, Gauge, Headers, MetricName, PluginMetrics, Props, Result,
    Schema, SourceMap, SourceRecord, SourceTask, SourceTaskContext, Value, async_trait,
    task::RecordMetadata,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::acks::AckTracker;
use crate::client::{AckHandle, Client, Connection, ConnectionEvent, Message, connect};
use crate::config::MqttSettings;
use crate::{
    HEADER_CONTENT_TYPE, HEADER_DUPLICATE, HEADER_MESSAGE_ID, HEADER_QOS, HEADER_RETAINED,
    HEADER_USER_PROPERTY_PREFIX,
};

/// The longest a `poll` waits for a first message.
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);
/// First reconnect delay; doubled after each failure up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often the task logs its counters.
const STATS_INTERVAL: Duration = Duration::from_secs(60);

/// The client id of a task: `<prefix><connector>-<task>`, stable across restarts and unique
/// among the connector's tasks.
pub fn client_id(prefix: &str, connector: &str, task: u32) -> String {
    format!("{prefix}{connector}-{task}")
}

/// What the task asks of its connection loop, in order.
#[derive(Debug)]
enum Command {
    /// Acknowledge messages received on connection `generation`, in this order (skipped after
    /// a reconnect).
    Acks {
        generation: u64,
        handles: Vec<AckHandle>,
    },
    /// Disconnect cleanly, after the acknowledgements sent before.
    Disconnect,
}

/// The most commands the connection loop takes at once.
const COMMAND_BATCH: usize = 64;

/// A message taken off the connection, with the connection it came on.
#[derive(Debug)]
struct Received {
    generation: u64,
    message: Message,
}

/// Metric names of the task (exported as `kafka_connect_plugins_<name>` with `_` for `-`, and
/// `_total` after counters).
pub mod metric_names {
    /// Counter: messages received from the broker.
    pub const RECEIVED: &str = "mqtt-messages-received";
    /// Counter: acknowledgements (PUBACK/PUBREC) sent for QoS 1/2 messages.
    pub const ACKED: &str = "mqtt-messages-acked";
    /// Gauge: QoS 1/2 messages given to the worker whose acknowledgement is not sent yet (waiting
    /// for Kafka, or for earlier messages).
    pub const IN_FLIGHT: &str = "mqtt-messages-in-flight";
    /// Gauge: messages received and waiting in the buffer queue for the next poll.
    pub const QUEUED: &str = "mqtt-messages-queued";
    /// Counter: successful connections after the first (broker restarts, failovers).
    pub const RECONNECTS: &str = "mqtt-reconnects";
    /// Counter: failed connection attempts.
    pub const CONNECT_FAILURES: &str = "mqtt-connect-failures";
    /// Counter: QoS 1/2 messages of an earlier connection that were written to Kafka but not
    /// acknowledged (the broker redelivers them, so Kafka gets them twice).
    pub const ACKS_DROPPED: &str = "mqtt-acks-dropped";
}

/// The task's metrics (KIP-877 plugin metrics), also logged periodically.
#[derive(Debug, Clone, Default)]
struct TaskMetrics {
    received: Counter,
    acked: Counter,
    in_flight: Gauge,
    queued: Gauge,
    reconnects: Counter,
    connect_failures: Counter,
    acks_dropped: Counter,
}

impl TaskMetrics {
    /// Registers every metric; one that cannot be registered still counts, unexported.
    fn register(metrics: &PluginMetrics) -> Self {
        use metric_names::*;
        let counter = |name: &str, description: &str| {
            metrics
                .counter(MetricName::new(name, description))
                .unwrap_or_else(|e| {
                    warn!(error = %e, "cannot register an MQTT metric");
                    Counter::default()
                })
        };
        let gauge = |name: &str, description: &str| {
            metrics
                .gauge(MetricName::new(name, description))
                .unwrap_or_else(|e| {
                    warn!(error = %e, "cannot register an MQTT metric");
                    Gauge::default()
                })
        };
        Self {
            received: counter(RECEIVED, "MQTT messages received from the broker"),
            acked: counter(
                ACKED,
                "MQTT acknowledgements sent after Kafka confirmed the record",
            ),
            in_flight: gauge(
                IN_FLIGHT,
                "QoS 1/2 MQTT messages given to the worker and not yet acknowledged",
            ),
            queued: gauge(QUEUED, "MQTT messages waiting in the buffer queue"),
            reconnects: counter(RECONNECTS, "MQTT connections made after the first"),
            connect_failures: counter(CONNECT_FAILURES, "Failed MQTT connection attempts"),
            acks_dropped: counter(
                ACKS_DROPPED,
                "QoS 1/2 MQTT messages of an earlier connection left unacknowledged (redelivered)",
            ),
        }
    }
}

/// Schemas of the record parts, built once per task (cloning one is a reference count).
#[derive(Debug, Clone)]
struct Schemas {
    int32: SchemaRef,
    boolean: SchemaRef,
    string: SchemaRef,
    bytes: SchemaRef,
}

impl Default for Schemas {
    fn default() -> Self {
        Self {
            int32: Schema::int32(),
            boolean: Schema::boolean(),
            string: Schema::string(),
            bytes: Schema::bytes(),
        }
    }
}

/// State shared by the task and its connection loop.
struct Shared {
    /// The current client; replaced when failing over to another broker.
    client: Mutex<Client>,
    /// Incremented on every CONNACK: acks of older connections are never sent.
    generation: AtomicU64,
    /// Why the connection loop gave up, once it has.
    fatal: Mutex<Option<String>>,
    metrics: TaskMetrics,
}

impl Shared {
    fn client(&self) -> Client {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fatal(&self) -> Option<String> {
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The running parts of a started task.
struct Running {
    settings: MqttSettings,
    client_id: String,
    shared: Arc<Shared>,
    receiver: mpsc::Receiver<Received>,
    /// Acknowledgements (and the final disconnect) for the connection loop.
    commands: mpsc::UnboundedSender<Command>,
    connection: JoinHandle<()>,
    tracker: AckTracker<AckHandle>,
    last_stats: tokio::time::Instant,
    schemas: Schemas,
}

/// The MQTT source task.
#[derive(Default)]
pub struct MqttSourceTask {
    running: Option<Running>,
}

impl MqttSourceTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A delay in [d/2, d), so that tasks reconnecting together spread out.
fn jittered(delay: Duration) -> Duration {
    let random = RandomState::new().hash_one(SystemTime::now().duration_since(UNIX_EPOCH).ok());
    let half = delay / 2;
    half + Duration::from_nanos(random % (half.as_nanos().max(1) as u64))
}

/// Drives the MQTT connection: subscribes after each CONNACK without a session, queues incoming
/// messages (waiting when the queue is full, which stops reading from the broker), sends the
/// task's acknowledgements in batches, and reconnects with exponential backoff until connecting
/// has failed for longer than `max.retry.time.ms`.
async fn connection_loop(
    mut connection: Connection,
    shared: Arc<Shared>,
    sender: mpsc::Sender<Received>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    settings: MqttSettings,
    client_id: String,
) {
    let mut broker_index = 0usize;
    let mut failing_since: Option<tokio::time::Instant> = None;
    let mut backoff = INITIAL_BACKOFF;
    let mut connected_once = false;
    // Whether the current connection is up: acknowledgements are written only then, so they
    // never interrupt a connection attempt.
    let mut connected = false;
    let mut batch = Vec::with_capacity(COMMAND_BATCH);
    let mut acks = Vec::new();
    loop {
        // Borrowed, not cloned: this runs for every message.
        let broker = &settings.brokers[broker_index];
        let event = tokio::select! {
            biased;
            // Interrupting a poll is safe: rumqttc keeps what it has read and buffered.
            taken = commands.recv_many(&mut batch, COMMAND_BATCH), if connected => {
                if taken == 0 {
                    return; // the task is gone
                }
                let current = shared.generation.load(Ordering::SeqCst);
                let mut disconnect = false;
                for command in batch.drain(..) {
                    match command {
                        Command::Acks { generation, handles } if generation == current => acks.extend(handles),
                        Command::Acks { handles, .. } => shared.metrics.acks_dropped.inc_by(handles.len() as u64),
                        Command::Disconnect => disconnect = true,
                    }
                }
                let sent = connection.send_acks(&acks, settings.connect_timeout.max(Duration::from_secs(1))).await;
                let count = acks.len() as u64;
                acks.clear();
                match sent {
                    Ok(()) => {
                        shared.metrics.acked.inc_by(count);
                        if disconnect {
                            shared.client().try_disconnect();
                        }
                        continue;
                    }
                    Err(reason) => ConnectionEvent::Failed(reason),
                }
            }
            event = connection.next(broker) => event,
        };
        match event {
            ConnectionEvent::Connected { session_present } => {
                connected = true;
                let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
                if connected_once {
                    shared.metrics.reconnects.inc();
                }
                failing_since = None;
                backoff = INITIAL_BACKOFF;
                info!(client_id, broker = %broker.original, session_present, generation, "connected to MQTT broker");
                if (!session_present || !connected_once)
                    && let Err(e) = shared
                        .client()
                        .try_subscribe(&settings.topics, settings.qos)
                {
                    warn!(client_id, error = %e, "could not queue the subscription");
                }
                connected_once = true;
            }
            ConnectionEvent::Subscribed(results) => {
                for (result, filter) in results.iter().zip(&settings.topics) {
                    match result {
                        None => debug!(client_id, filter, "subscribed"),
                        Some(reason) => {
                            warn!(
                                client_id,
                                filter, reason, "the broker refused the subscription"
                            )
                        }
                    }
                }
            }
            ConnectionEvent::Message(message) => {
                shared.metrics.received.inc();
                let received = Received {
                    generation: shared.generation.load(Ordering::SeqCst),
                    message,
                };
                // Waiting for room (a full queue) stops reading from the broker: back-pressure.
                let sent = match sender.try_send(received) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Full(received)) => {
                        sender.send(received).await.map_err(drop)
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
                };
                if sent.is_err() {
                    return;
                }
            }
            ConnectionEvent::Other => {}
            ConnectionEvent::Failed(reason) => {
                connected = false;
                shared.metrics.connect_failures.inc();
                let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                let failed_for = since.elapsed();
                if failed_for >= settings.max_retry_time {
                    let message = format!(
                        "Giving up on MQTT after {} ms of failed connection attempts (max.retry.time.ms={}): {reason}",
                        failed_for.as_millis(),
                        settings.max_retry_time.as_millis()
                    );
                    *shared.fatal.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
                    return;
                }
                warn!(client_id, error = %reason, "MQTT connection failed; retrying");
                let remaining = settings.max_retry_time - failed_for;
                tokio::time::sleep(jittered(backoff).min(remaining)).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                if settings.brokers.len() > 1 {
                    // Fail over to the next broker: a new client and connection for its address.
                    broker_index = (broker_index + 1) % settings.brokers.len();
                    let next = &settings.brokers[broker_index];
                    match connect(next, &settings, &client_id) {
                        Ok((client, next_connection)) => {
                            *shared.client.lock().unwrap_or_else(PoisonError::into_inner) = client;
                            connection = next_connection;
                            connected_once = false;
                        }
                        Err(e) => warn!(client_id, error = %e, "cannot configure failover broker"),
                    }
                }
            }
        }
    }
}

/// Now, in milliseconds since the epoch: the timestamp of the records made now.
fn now_ms() -> Option<i64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .ok()
}

/// The record of a message, stamped `timestamp` (wall-clock time of the conversion, as
/// Confluent's); the topic and payload move into it without copies.
fn to_record(
    kafka_topic: &str,
    schemas: &Schemas,
    timestamp: Option<i64>,
    message: Message,
) -> SourceRecord {
    let mut headers = Headers::new();
    headers.add(
        HEADER_MESSAGE_ID,
        Some(schemas.int32.clone()),
        Value::Int32(i32::from(message.packet_id)),
    );
    headers.add(
        HEADER_QOS,
        Some(schemas.int32.clone()),
        Value::Int32(i32::from(message.qos)),
    );
    headers.add(
        HEADER_RETAINED,
        Some(schemas.boolean.clone()),
        Value::Boolean(message.retain),
    );
    headers.add(
        HEADER_DUPLICATE,
        Some(schemas.boolean.clone()),
        Value::Boolean(message.dup),
    );
    for (key, value) in message.user_properties {
        headers.add(
            format!("{HEADER_USER_PROPERTY_PREFIX}{key}"),
            Some(schemas.string.clone()),
            Value::String(value),
        );
    }
    if let Some(content_type) = message.content_type {
        headers.add(
            HEADER_CONTENT_TYPE,
            Some(schemas.string.clone()),
            Value::String(content_type),
        );
    }
    SourceRecord {
        source_partition: SourceMap::new(),
        source_offset: SourceMap::new(),
        record: ConnectRecord {
            topic: kafka_topic.to_owned(),
            kafka_partition: None,
            key_schema: Some(schemas.string.clone()),
            key: Value::String(message.topic),
            value_schema: Some(schemas.bytes.clone()),
            value: Value::Bytes(message.payload),
            timestamp,
            headers,
            kafka_offset: None,
        },
    }
}

/// The (topic, packet id) of a QoS 1/2 record, read back from its key and headers.
fn ack_key(record: &SourceRecord) -> Option<(&str, u16)> {
    let qos = match record.record.headers.last_with_name(HEADER_QOS)?.value {
        Value::Int32(q) => q,
        _ => return None,
    };
    if qos == 0 {
        return None;
    }
    let packet_id = match record
        .record
        .headers
        .last_with_name(HEADER_MESSAGE_ID)?
        .value
    {
        Value::Int32(id) => u16::try_from(id).ok()?,
        _ => return None,
    };
    Some((record.record.key.as_str()?, packet_id))
}

impl Running {
    /// Hands the released acknowledgements to the connection loop, in order, as one batch (one
    /// write to the broker).
    fn send_acks(&mut self) {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let handles = self.tracker.release(generation);
        if !handles.is_empty() {
            // Fails only once the connection loop has ended, when acknowledging is moot.
            let _ = self.commands.send(Command::Acks {
                generation,
                handles,
            });
        }
        let metrics = &self.shared.metrics;
        metrics.acks_dropped.inc_by(self.tracker.take_stale());
        self.update_in_flight();
    }

    /// QoS 1/2 messages given to the worker whose acknowledgement is not released yet.
    fn update_in_flight(&self) {
        self.shared.metrics.in_flight.set(self.tracker.len() as i64);
    }

    fn log_stats(&mut self) {
        if self.last_stats.elapsed() < STATS_INTERVAL {
            return;
        }
        self.last_stats = tokio::time::Instant::now();
        let m = &self.shared.metrics;
        info!(
            client_id = self.client_id,
            received = m.received.get(),
            acked = m.acked.get(),
            in_flight = m.in_flight.get(),
            queued = self.receiver.len(),
            reconnects = m.reconnects.get(),
            connect_failures = m.connect_failures.get(),
            acks_dropped = m.acks_dropped.get(),
            "MQTT source task counters"
        );
    }
}

#[async_trait]
impl SourceTask for MqttSourceTask {
    async fn start(&mut self, props: Props, context: SourceTaskContext) -> Result<()> {
        let settings = MqttSettings::parse(&props)?;
        let client_id = client_id(
            &settings.client_id_prefix,
            &context.connector,
            context.task_id,
        );
        let (client, connection) = connect(&settings.brokers[0], &settings, &client_id)?;
        let shared = Arc::new(Shared {
            client: Mutex::new(client),
            generation: AtomicU64::new(0),
            fatal: Mutex::new(None),
            metrics: TaskMetrics::register(&context.metrics),
        });
        let (sender, receiver) = mpsc::channel(settings.queue_size);
        let (commands, command_receiver) = mpsc::unbounded_channel();
        info!(client_id, topics = ?settings.topics, qos = settings.qos, clean_session = settings.clean_session, version = ?settings.version, "starting MQTT source task");
        let connection = tokio::spawn(connection_loop(
            connection,
            shared.clone(),
            sender,
            command_receiver,
            settings.clone(),
            client_id.clone(),
        ));
        self.running = Some(Running {
            settings,
            client_id,
            shared,
            receiver,
            commands,
            connection,
            tracker: AckTracker::new(),
            last_stats: tokio::time::Instant::now(),
            schemas: Schemas::default(),
        });
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let Some(running) = self.running.as_mut() else {
            return Err(ConnectError::connect("the MQTT task was not started"));
        };
        running.send_acks();
        running.log_stats();
        if let Some(reason) = running.shared.fatal() {
            return Err(ConnectError::connect(reason));
        }
        let wait = running.settings.empty_timeout.min(MAX_POLL_WAIT);
        // Cancel-safe: a message leaves the channel only in the synchronous part below.
        let first = match tokio::time::timeout(wait, running.receiver.recv()).await {
            Ok(Some(first)) => first,
            Ok(None) => {
                return Err(ConnectError::connect(
                    running
                        .shared
                        .fatal()
                        .unwrap_or_else(|| "the MQTT connection stopped unexpectedly".to_owned()),
                ));
            }
            Err(_) => return Ok(Vec::new()),
        };
        let mut batch =
            Vec::with_capacity((running.receiver.len() + 1).min(running.settings.max_batch));
        // One clock read per batch: the batch is converted within microseconds.
        let timestamp = now_ms();
        let mut next = Some(first);
        while let Some(Received {
            generation,
            message,
        }) = next
        {
            if let Some(handle) = message.ack_handle() {
                running.tracker.push(generation, message.packet_id, handle);
            }
            batch.push(to_record(
                &running.settings.kafka_topic,
                &running.schemas,
                timestamp,
                message,
            ));
            next = if batch.len() < running.settings.max_batch {
                running.receiver.try_recv().ok()
            } else {
                None
            };
        }
        let metrics = &running.shared.metrics;
        metrics.queued.set(running.receiver.len() as i64);
        running.update_in_flight();
        Ok(batch)
    }

    fn commit_record(
        &mut self,
        record: &SourceRecord,
        _metadata: Option<RecordMetadata<'_>>,
    ) -> Result<()> {
        let Some(running) = self.running.as_mut() else {
            return Ok(());
        };
        if let Some((topic, packet_id)) = ack_key(record) {
            if !running.tracker.confirm(packet_id) {
                debug!(
                    topic,
                    packet_id, "no pending MQTT message for a committed record"
                );
            }
            // Acknowledgements go out in batches: at the next poll (which follows the worker's
            // round of commits), or here once nothing is left waiting for Kafka (the last
            // records before a pause or a quiet spell).
            if running.tracker.all_confirmed() {
                running.send_acks();
            }
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(mut running) = self.running.take() {
            running.send_acks();
            // A clean DISCONNECT after those acknowledgements; the broker keeps a persistent
            // session for the next start.
            let _ = running.commands.send(Command::Disconnect);
            tokio::time::sleep(Duration::from_millis(50)).await;
            running.connection.abort();
            info!(
                client_id = running.client_id,
                unacked = running.tracker.len(),
                "stopped MQTT source task"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::{Publish, QoS};

    #[test]
    fn records_have_the_confluent_shape() {
        let mut publish = Publish::new("sensors/a/temp", QoS::AtLeastOnce, b"21.5".to_vec());
        publish.pkid = 42;
        publish.retain = true;
        let record = to_record(
            "data_mqtt",
            &Schemas::default(),
            Some(1_700_000_000_123),
            Message::from_v4(publish),
        );
        assert_eq!(record.record.topic, "data_mqtt");
        assert_eq!(record.record.timestamp, Some(1_700_000_000_123));
        assert_eq!(record.record.key, Value::String("sensors/a/temp".into()));
        assert_eq!(record.record.value, Value::Bytes(b"21.5".to_vec()));
        assert_eq!(record.record.kafka_partition, None);
        let h = &record.record.headers;
        assert_eq!(
            h.last_with_name(HEADER_MESSAGE_ID).unwrap().value,
            Value::Int32(42)
        );
        assert_eq!(h.last_with_name(HEADER_QOS).unwrap().value, Value::Int32(1));
        assert_eq!(
            h.last_with_name(HEADER_RETAINED).unwrap().value,
            Value::Boolean(true)
        );
        assert_eq!(
            h.last_with_name(HEADER_DUPLICATE).unwrap().value,
            Value::Boolean(false)
        );
        assert!(record.source_partition.is_empty() && record.source_offset.is_empty());
        assert_eq!(ack_key(&record), Some(("sensors/a/temp", 42)));
    }

    #[test]
    fn mqtt5_user_properties_and_content_type_become_extra_headers() {
        use rumqttc::v5::mqttbytes::v5::{Publish as V5Publish, PublishProperties};
        let properties = PublishProperties {
            user_properties: vec![
                ("camera".into(), "sorter-1".into()),
                ("tag".into(), "a".into()),
                ("tag".into(), "b".into()),
            ],
            content_type: Some("image/jpeg".into()),
            ..Default::default()
        };
        let mut publish = V5Publish::new(
            "cam/1",
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            b"jpg".to_vec(),
            Some(properties),
        );
        publish.pkid = 9;
        let record = to_record(
            "frames",
            &Schemas::default(),
            now_ms(),
            Message::from_v5(publish),
        );
        assert_eq!(record.record.key, Value::String("cam/1".into()));
        let h = &record.record.headers;
        assert_eq!(h.last_with_name(HEADER_QOS).unwrap().value, Value::Int32(1));
        assert_eq!(
            h.last_with_name("mqtt.user.camera").unwrap().value,
            Value::String("sorter-1".into())
        );
        let tags: Vec<&Value> = h
            .iter()
            .filter(|h| h.key == "mqtt.user.tag")
            .map(|h| &h.value)
            .collect();
        assert_eq!(
            tags,
            [&Value::String("a".into()), &Value::String("b".into())]
        );
        assert_eq!(
            h.last_with_name(HEADER_CONTENT_TYPE).unwrap().value,
            Value::String("image/jpeg".into())
        );
        assert_eq!(ack_key(&record), Some(("cam/1", 9)));
    }

    #[test]
    fn qos0_records_need_no_ack() {
        let publish = Publish::new("t", QoS::AtMostOnce, b"x".to_vec());
        assert_eq!(
            ack_key(&to_record(
                "k",
                &Schemas::default(),
                now_ms(),
                Message::from_v4(publish)
            )),
            None
        );
    }

    #[test]
    fn the_task_registers_its_metrics_by_name() {
        use sluice_api::metrics::{Metric, MetricsError, MetricsRegistry};
        #[derive(Default)]
        struct Names(Mutex<Vec<(String, &'static str)>>);
        impl MetricsRegistry for Names {
            fn add(&self, name: &MetricName, metric: Metric) -> Result<(), MetricsError> {
                self.0
                    .lock()
                    .unwrap()
                    .push((name.name.clone(), metric.kind()));
                Ok(())
            }
            fn remove(&self, _name: &MetricName) {}
        }
        let names = Arc::new(Names::default());
        let metrics = TaskMetrics::register(&PluginMetrics::new(names.clone()));
        metrics.received.inc();
        let mut got = names.0.lock().unwrap().clone();
        got.sort();
        use metric_names::*;
        let mut expected = vec![
            (RECEIVED.to_owned(), "counter"),
            (ACKED.to_owned(), "counter"),
            (IN_FLIGHT.to_owned(), "gauge"),
            (QUEUED.to_owned(), "gauge"),
            (RECONNECTS.to_owned(), "counter"),
            (CONNECT_FAILURES.to_owned(), "counter"),
            (ACKS_DROPPED.to_owned(), "counter"),
        ];
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn client_ids_are_stable_and_distinct_per_task() {
        assert_eq!(client_id("", "mqtt-src", 0), "mqtt-src-0");
        assert_eq!(client_id("sluice-", "mqtt-src", 1), "sluice-mqtt-src-1");
        assert_ne!(client_id("", "c", 0), client_id("", "c", 1));
    }

    #[test]
    fn jitter_stays_within_half_to_full_delay() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(1000));
            assert!(d >= Duration::from_millis(500) && d < Duration::from_millis(1000));
        }
    }
}
