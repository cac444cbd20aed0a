//! The task runtime: builds a task's data path (converters, transforms, error handling, Kafka
//! clients) and runs it on tokio: a source task on a thread of its own, a sink task on the
//! worker's runtime. [`source`] and [`sink`] hold the two data paths.

pub mod converters;
pub mod errors;
pub mod group_offsets;
pub mod kafka;
pub mod offsets;
mod report_queue;
pub mod sink;
pub mod source;
pub mod topic_creation;
pub mod transforms;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;
use sluice_api::{ConnectError, PluginDesc, PluginFactory, PluginMetrics, Props, SinkTaskContext};
use sluice_config::{Scrubber, WorkerConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use converters::RecordConverters;
pub use transforms::TransformChain;

use crate::metrics::{Metrics, TaskMetrics, TaskPluginMetrics};
use crate::plugins::PluginRegistry;
use crate::status::{State, StatusStore, TargetState, TaskId};
use errors::{DeadLetterQueue, ErrorHandler, ErrorSettings};
use offsets::{OffsetBackingStore, SubmittedRecords};
use sink::{SinkConsumerContext, SinkTaskRunner};
use source::SourceTaskRunner;

/// What a task's loop shares with the worker: identity, status, metrics, stop signal and target
/// state, and the timing settings.
pub struct TaskEnv {
    /// The task.
    pub id: TaskId,
    status: StatusStore,
    /// The task's metric handles.
    pub metrics: TaskMetrics,
    /// Where the plugin registers its own metrics (KIP-877), handed to it in its task context.
    pub plugin_metrics: PluginMetrics,
    worker_metrics: Arc<Metrics>,
    /// Cancelled when the task must stop.
    pub cancel: CancellationToken,
    target: watch::Receiver<TargetState>,
    scrubber: Arc<Scrubber>,
    /// `offset.flush.interval.ms`.
    pub flush_interval: Duration,
    /// `offset.flush.timeout.ms`.
    pub flush_timeout: Duration,
    /// How long shutdown may wait for in-flight records.
    pub graceful_timeout: Duration,
    /// `topic.tracking.enable`.
    track_topics: bool,
}

impl TaskEnv {
    /// The target state the user asked for.
    pub fn target(&self) -> TargetState {
        *self.target.borrow()
    }

    /// Resolves when the target state is no longer `seen`.
    pub async fn target_changed_from(&self, seen: TargetState) {
        let mut rx = self.target.clone();
        // An error means the worker dropped the task's handle; the cancel token covers that.
        if rx.wait_for(|t| *t != seen).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Records a state.
    pub fn set_state(&self, state: State) {
        self.status.put_task(&self.id, state, None);
    }

    /// The task started.
    pub fn started(&self) {
        self.worker_metrics.task_startup_success.inc();
        let state = if self.target() == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        };
        self.set_state(state);
        tracing::info!(task = %self.id, "task started");
    }

    /// The task failed: FAILED with the error (secrets scrubbed) as trace.
    pub fn fail(&self, error: &ConnectError) {
        let message = self.scrub(&format!("{}: {error}", error.java_class_name()));
        tracing::error!(task = %self.id, error = %message, "task failed; it stays FAILED until restarted");
        self.status.put_task(&self.id, State::Failed, Some(message));
    }

    /// The task stopped; unless it failed it is now UNASSIGNED.
    pub fn stopped(&self) {
        let failed = self
            .status
            .task(&self.id)
            .is_some_and(|s| s.state == State::Failed);
        if !failed {
            self.set_state(State::Unassigned);
        }
        tracing::info!(task = %self.id, "task stopped");
    }

    /// Records that the task used a topic (KIP-558), unless topic tracking is off.
    pub fn record_topic(&self, topic: &str) {
        if self.track_topics {
            self.status.record_topic(&self.id, topic);
        }
    }

    /// Replaces resolved secrets in a text by `[hidden]`.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }
}

/// Control of a running task.
pub struct TaskHandle {
    cancel: CancellationToken,
    target: watch::Sender<TargetState>,
    join: JoinHandle<()>,
}

impl TaskHandle {
    /// Pauses or resumes the task.
    pub fn set_target(&self, target: TargetState) {
        // Fails only when the task has ended, and then there is nothing to tell.
        let _ = self.target.send(target);
    }

    /// Asks the task to stop (it flushes and commits first).
    pub fn signal_stop(&self) {
        self.cancel.cancel();
    }

    /// Waits until the task has stopped or `deadline` passes; a task still running then is
    /// aborted, so it cannot linger as a zombie. Returns whether it stopped in time.
    pub async fn await_stop(self, deadline: tokio::time::Instant) -> bool {
        let abort = self.join.abort_handle();
        match tokio::time::timeout_at(deadline, self.join).await {
            Ok(_) => true,
            Err(_) => {
                abort.abort();
                false
            }
        }
    }
}

/// Runs a source task on a thread of its own with a single-threaded tokio runtime, as Kafka
/// Connect gives each task a thread. The task's data path and the helpers its plugin spawns (the
/// MQTT connection loop hands it every message) then share one thread, without cross-thread
/// wake-ups per batch, and the helpers end with the task, also when it is aborted. The handle is
/// awaited and aborted from the worker's runtime as usual. Should the thread or its runtime not
/// be created, the task runs on the worker's runtime.
fn spawn_on_own_thread<F>(name: String, task: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::warn!(task = name, error = %e, "cannot create the task's runtime; running it on the worker's");
            return tokio::spawn(task);
        }
    };
    // The thread drives the runtime until the task has ended or been aborted (`done` drops),
    // then shuts it down, which ends whatever the task left spawned. It gets the runtime only
    // once it exists, so that a thread that cannot start leaves the task to the worker's runtime.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (runtime_tx, runtime_rx) = mpsc::channel::<tokio::runtime::Runtime>();
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            if let Ok(runtime) = runtime_rx.recv() {
                runtime.block_on(async {
                    let _ = done_rx.await;
                });
                // Not waiting for blocking work the task left behind.
                runtime.shutdown_background();
            }
        });
    if let Err(e) = thread {
        tracing::warn!(task = name, error = %e, "cannot start the task's thread; running it on the worker's runtime");
        runtime.shutdown_background();
        return tokio::spawn(task);
    }
    let join = runtime.spawn(async move {
        let _done = done_tx;
        task.await;
    });
    if let Err(mpsc::SendError(runtime)) = runtime_tx.send(runtime) {
        // Only if the thread ended before taking it; the handle then reports the task cancelled.
        runtime.shutdown_background();
    }
    join
}

/// Removes a task instance's plugin metrics when dropped (the task stopped).
struct RemovePluginMetrics(Arc<TaskPluginMetrics>);

impl Drop for RemovePluginMetrics {
    fn drop(&mut self) {
        self.0.remove_all();
    }
}

/// Everything needed to start one task.
pub struct TaskSpec {
    /// The task.
    pub id: TaskId,
    /// Its connector plugin.
    pub plugin: PluginDesc,
    /// The connector config, resolved.
    pub connector_config: Props,
    /// The task config, resolved.
    pub task_config: Props,
    /// Resolved secret values, to scrub from errors.
    pub secrets: Vec<String>,
}

/// Starts tasks with the worker's settings, plugins, offset store, metrics and statuses.
#[derive(Clone)]
pub struct Worker {
    /// Worker settings.
    pub config: Arc<WorkerConfig>,
    /// Plugins.
    pub registry: PluginRegistry,
    /// Source offsets.
    pub offsets: Arc<dyn OffsetBackingStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Statuses.
    pub status: StatusStore,
}

fn millis(config: &WorkerConfig, key: &str, default: i64) -> Duration {
    Duration::from_millis(
        config
            .config()
            .long(key)
            .unwrap_or(default)
            .max(0)
            .unsigned_abs(),
    )
}

enum Runner {
    Source(Box<SourceTaskRunner>),
    Sink(Box<SinkTaskRunner>),
}

impl Worker {
    /// The total time tasks get to stop (`task.shutdown.graceful.timeout.ms`).
    pub fn graceful_timeout(&self) -> Duration {
        millis(&self.config, "task.shutdown.graceful.timeout.ms", 5000)
    }

    /// Starts a task in the background; failures to build or start it show as FAILED status.
    pub fn start_task(&self, spec: TaskSpec, target: TargetState) -> TaskHandle {
        let cancel = CancellationToken::new();
        let (target_tx, target_rx) = watch::channel(target);
        let plugin_metrics = self
            .metrics
            .plugin_metrics(&spec.id.connector, spec.id.task);
        let env = TaskEnv {
            id: spec.id.clone(),
            status: self.status.clone(),
            metrics: self.metrics.task(&spec.id.connector, spec.id.task),
            plugin_metrics: PluginMetrics::new(plugin_metrics.clone()),
            worker_metrics: self.metrics.clone(),
            cancel: cancel.clone(),
            target: target_rx,
            scrubber: Arc::new(Scrubber::new(spec.secrets.clone())),
            flush_interval: millis(&self.config, "offset.flush.interval.ms", 60_000),
            flush_timeout: millis(&self.config, "offset.flush.timeout.ms", 5000),
            graceful_timeout: self.graceful_timeout() * 3 / 4,
            track_topics: self
                .config
                .config()
                .bool("topic.tracking.enable")
                .unwrap_or(true),
        };
        self.metrics.task_startup_attempts.inc();
        let worker = self.clone();
        let is_source = matches!(spec.plugin.factory, PluginFactory::Source { .. });
        let thread_name = spec.id.to_string();
        let task = async move {
            // Drops the plugin's metrics when the task ends, even when it is aborted.
            let _plugin_metrics = RemovePluginMetrics(plugin_metrics);
            match worker.build(spec, env).await {
                Ok(Runner::Source(r)) => r.run().await,
                Ok(Runner::Sink(r)) => r.run().await,
                Err((env, e)) => {
                    worker.metrics.task_startup_failure.inc();
                    env.fail(&e);
                }
            }
        };
        // Sinks stay on the worker's runtime: librdkafka's threads feed their consumer, and no
        // helper of theirs hands them records.
        let join = if is_source {
            spawn_on_own_thread(thread_name, task)
        } else {
            tokio::spawn(task)
        };
        TaskHandle {
            cancel,
            target: target_tx,
            join,
        }
    }

    async fn build(&self, spec: TaskSpec, env: TaskEnv) -> Result<Runner, (TaskEnv, ConnectError)> {
        match self.try_build(spec, &env).await {
            Ok(parts) => Ok(parts.into_runner(env)),
            Err(e) => Err((env, e)),
        }
    }

    async fn try_build(&self, spec: TaskSpec, env: &TaskEnv) -> Result<Parts, ConnectError> {
        let worker_props = self.config.props();
        let converters =
            RecordConverters::build(&self.registry, worker_props, &spec.connector_config)?;
        let transforms = TransformChain::build(&self.registry, &spec.connector_config)?;
        let errors = ErrorHandler::new(
            ErrorSettings::from_props(&spec.connector_config)?,
            env.metrics.clone(),
            spec.id.clone(),
        );
        let kafka_error = |what: &str, e: rdkafka::error::KafkaError| {
            ConnectError::config(format!("Could not create the task's Kafka {what}: {e}"))
        };
        match spec.plugin.factory {
            PluginFactory::Source { task, .. } => {
                let producer = source::SourceProducer::new(&kafka::client_config(
                    &kafka::source_producer_props(worker_props, &spec.connector_config, &spec.id),
                ))
                .map_err(|e| kafka_error("producer", e))?;
                let topic_creator = topic_creation::TopicCreator::new(
                    worker_props,
                    self.config
                        .config()
                        .bool("topic.creation.enable")
                        .unwrap_or(true),
                    &spec.connector_config,
                )?;
                Ok(Parts::Source {
                    topic_creator,
                    task: task(),
                    task_props: spec.task_config,
                    converters,
                    transforms,
                    errors,
                    producer,
                    offsets: self.offsets.clone(),
                })
            }
            PluginFactory::Sink { task, .. } => {
                let subscription = subscription(&spec.connector_config)?;
                let (events_tx, events_rx) = mpsc::channel();
                let durable = Arc::new(Mutex::new(Default::default()));
                let consumer: StreamConsumer<SinkConsumerContext> = kafka::client_config(
                    &kafka::sink_consumer_props(worker_props, &spec.connector_config, &spec.id),
                )
                .create_with_context(SinkConsumerContext::new(events_tx, durable.clone()))
                .map_err(|e| kafka_error("consumer", e))?;
                let dlq = self.dead_letter_queue(&spec, env).await?;
                Ok(Parts::Sink {
                    task: task(),
                    task_props: spec.task_config,
                    converters,
                    transforms,
                    errors,
                    dlq,
                    consumer: Arc::new(consumer),
                    events: events_rx,
                    durable,
                    subscription,
                })
            }
            _ => Err(ConnectError::config(format!(
                "{} is not a connector",
                spec.plugin.class
            ))),
        }
    }

    async fn dead_letter_queue(
        &self,
        spec: &TaskSpec,
        env: &TaskEnv,
    ) -> Result<Option<DeadLetterQueue>, ConnectError> {
        let props = &spec.connector_config;
        let Some(topic) = props
            .get("errors.deadletterqueue.topic.name")
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        let replication: i32 = props
            .get("errors.deadletterqueue.topic.replication.factor")
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(3);
        let context_headers = props
            .get("errors.deadletterqueue.context.headers.enable")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let worker_props = self.config.props();
        let admin: AdminClient<DefaultClientContext> =
            kafka::client_config(&kafka::admin_props(worker_props, props))
                .create()
                .map_err(|e| {
                    ConnectError::config(format!("Could not create an admin client: {e}"))
                })?;
        // Like Connect, create the topic when it is missing; "already exists" is fine.
        let new_topic = NewTopic::new(&topic, 1, TopicReplication::Fixed(replication));
        match admin
            .create_topics(
                [&new_topic],
                &AdminOptions::new().request_timeout(Some(Duration::from_secs(30))),
            )
            .await
        {
            Ok(results) => {
                for r in results {
                    if let Err((t, code)) = r
                        && code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists
                    {
                        tracing::warn!(topic = %t, error = %code, "could not create the dead letter queue topic");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(topic = %topic, error = %e, "could not create the dead letter queue topic")
            }
        }
        let producer: FutureProducer =
            kafka::client_config(&kafka::dlq_producer_props(worker_props, props, &spec.id))
                .create()
                .map_err(|e| {
                    ConnectError::config(format!(
                        "Could not create the dead letter queue producer: {e}"
                    ))
                })?;
        Ok(Some(DeadLetterQueue::new(
            producer,
            topic,
            context_headers,
            spec.id.clone(),
            env.metrics.clone(),
        )))
    }
}

/// A worker for unit tests: string converters, offsets in `dir`, a broker nobody listens on.
#[cfg(test)]
pub(crate) fn test_worker(dir: &std::path::Path, plugins: Vec<PluginDesc>) -> Worker {
    let props: Props = [
        ("bootstrap.servers", "127.0.0.1:1"),
        ("key.converter", "StringConverter"),
        ("value.converter", "StringConverter"),
        ("offset.storage.file.filename", "offsets"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = WorkerConfig::from_sources(
        props,
        "test.properties",
        Vec::new(),
        sluice_config::Mode::Standalone,
    )
    .expect("a valid test worker config");
    Worker {
        status: StatusStore::new("test:8083"),
        config: Arc::new(config),
        registry: PluginRegistry::from_plugins(plugins),
        offsets: Arc::new(
            offsets::FileOffsetStore::open(dir.join("offsets")).expect("an offsets file"),
        ),
        metrics: Arc::new(Metrics::new()),
    }
}

/// What a sink subscribes to: the `topics` list, or `topics.regex` as a librdkafka pattern.
pub(crate) fn subscription(props: &Props) -> Result<Vec<String>, ConnectError> {
    let topics = crate::connector_config::list(props, "topics");
    if !topics.is_empty() {
        return Ok(topics);
    }
    match props
        .get("topics.regex")
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
    {
        // librdkafka treats a subscription starting with ^ as a regex.
        Some(r) => Ok(vec![if r.starts_with('^') {
            r.to_owned()
        } else {
            format!("^{r}")
        }]),
        None => Err(ConnectError::config(
            "Must configure one of topics or topics.regex",
        )),
    }
}

// Built once per task start and consumed at once, so the size difference between variants costs
// nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Parts {
    Source {
        topic_creator: Option<topic_creation::TopicCreator>,
        task: Box<dyn sluice_api::SourceTask>,
        task_props: Props,
        converters: RecordConverters,
        transforms: TransformChain,
        errors: ErrorHandler,
        producer: source::SourceProducer,
        offsets: Arc<dyn OffsetBackingStore>,
    },
    Sink {
        task: Box<dyn sluice_api::SinkTask>,
        task_props: Props,
        converters: RecordConverters,
        transforms: TransformChain,
        errors: ErrorHandler,
        dlq: Option<DeadLetterQueue>,
        consumer: Arc<StreamConsumer<SinkConsumerContext>>,
        events: mpsc::Receiver<sink::RebalanceEvent>,
        durable: Arc<Mutex<sluice_api::TopicOffsets>>,
        subscription: Vec<String>,
    },
}

impl Parts {
    fn into_runner(self, env: TaskEnv) -> Runner {
        match self {
            Parts::Source {
                topic_creator,
                task,
                task_props,
                converters,
                transforms,
                errors,
                producer,
                offsets,
            } => Runner::Source(Box::new(SourceTaskRunner {
                env,
                task,
                task_props,
                converters,
                transforms,
                errors,
                producer,
                offsets,
                topic_creator,
                submitted: SubmittedRecords::default(),
                in_flight: Default::default(),
                next_seq: 0,
                reports: Vec::new(),
                unflushed: Default::default(),
                active_topics: Default::default(),
            })),
            Parts::Sink {
                task,
                task_props,
                converters,
                transforms,
                errors,
                dlq,
                consumer,
                events,
                durable,
                subscription,
            } => Runner::Sink(Box::new(SinkTaskRunner {
                context: SinkTaskContext::with_metrics(env.plugin_metrics.clone()),
                env,
                task,
                task_props,
                converters,
                transforms,
                errors,
                dlq,
                consumer,
                events,
                durable,
                subscription,
                assignment: BTreeSet::new(),
                consumed: Default::default(),
                committed: Default::default(),
                held: Vec::new(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A helper future that never ends and says when it is dropped (its sender drops with it).
    fn helper() -> (
        impl std::future::Future<Output = ()> + Send + 'static,
        tokio::sync::oneshot::Receiver<()>,
    ) {
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let helper = async move {
            let _dropped = dropped_tx;
            std::future::pending::<()>().await;
        };
        (helper, dropped_rx)
    }

    async fn ended(dropped: tokio::sync::oneshot::Receiver<()>) -> bool {
        tokio::time::timeout(Duration::from_secs(5), dropped)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_source_task_runs_on_a_thread_named_after_it() {
        let join = spawn_on_own_thread("src-0".to_owned(), async {
            assert_eq!(std::thread::current().name(), Some("src-0"));
        });
        join.await.expect("the task's assertion holds");
    }

    #[tokio::test]
    async fn what_a_source_task_spawns_ends_with_it() {
        let (helper, dropped) = helper();
        let join = spawn_on_own_thread("src-0".to_owned(), async move {
            tokio::spawn(helper);
        });
        join.await.expect("the task ends");
        assert!(ended(dropped).await, "the helper outlived its task");
    }

    #[tokio::test]
    async fn an_aborted_source_task_ends_with_its_helpers() {
        let (helper, dropped) = helper();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let join = spawn_on_own_thread("src-0".to_owned(), async move {
            tokio::spawn(helper);
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
        });
        started_rx.await.expect("the task starts");
        let handle = TaskHandle {
            cancel: CancellationToken::new(),
            target: watch::channel(TargetState::Started).0,
            join,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        assert!(
            !handle.await_stop(deadline).await,
            "a task that never ends is aborted"
        );
        assert!(ended(dropped).await, "the helper outlived the aborted task");
    }

    #[tokio::test]
    async fn a_panicking_source_task_reports_the_panic() {
        let join = spawn_on_own_thread("src-0".to_owned(), async {
            panic!("plugin bug");
        });
        let error = join.await.expect_err("the panic reaches the handle");
        assert!(error.is_panic());
    }
}
