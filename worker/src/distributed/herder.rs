//! The distributed herder (Kafka's `DistributedHerder`): state in the internal topics, work given
//! out by the group leader, REST writes carried out by the leader.
//!
//! How it fits together:
//! - The config topic is the source of truth. Every change read from it becomes an event; the
//!   herder then *reconciles*: it compares what this worker should run (its assignment and the
//!   config snapshot) with what it runs, stops what is no longer wanted or changed, and starts
//!   what is missing. So a config change restarts only that connector, a pause/resume only
//!   changes target states, and a revoked task is simply no longer wanted.
//! - Group membership ([`sluice_group`]) gives this worker its assignment; the broker-chosen
//!   leader computes everyone's with the incremental cooperative assignor, and asks for a
//!   rebalance whenever the set of connectors or committed tasks changes.
//! - A connector's owner generates its task configs and hands them to the leader (directly, or by
//!   the signed internal `POST /connectors/NAME/tasks`), which alone writes them.
//! - REST writes that must run elsewhere fail with [`HerderError::Forward`]; the REST layer
//!   re-sends them to the leader or owner (reference §1.4).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use sluice_api::connector::ConnectorRequests;
use sluice_api::{Connector, ConnectorContext, PluginDesc, PluginFactory, PluginType, Props};
use sluice_config::{ConfigProviders, Resolved, Scrubber};
use sluice_group::{
    Assignment, ConnectProtocol, ConnectorsAndTasks, GroupHandler, IncrementalAssignor,
    MemberHandle, MemberInfo, TaskRef, WorkerMetadata, eager_assign,
};
use tokio::sync::mpsc;

use super::config_store::{ConfigEvent, ConfigSnapshot, ConfigStore, RestartRequest, SessionKey};
use super::signature;
use crate::connector_config::{self, ValidationReport};
use crate::herder::standalone::{
    generate_task_configs, keep_hidden_passwords, name_config, require_valid, resolve, shown,
    validate_config,
};
use crate::herder::{ConnectorInfo, ConnectorOffset, ConnectorStatus, Herder, HerderError};
use crate::runtime::{TaskHandle, TaskSpec, Worker};
use crate::status::{State, Status, TargetState, TaskId};

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

fn internal(e: impl std::fmt::Display) -> HerderError {
    HerderError::Internal(e.to_string())
}

/// Settings of the distributed herder taken from the worker config.
pub struct HerderSettings {
    /// This worker's advertised REST URL.
    pub url: String,
    /// Sub-protocols offered, in preference order.
    pub protocols: Vec<ConnectProtocol>,
    /// `worker.sync.timeout.ms`.
    pub sync_timeout: Duration,
    /// `scheduled.rebalance.max.delay.ms`.
    pub max_delay: Duration,
    /// `inter.worker.key.ttl.ms`.
    pub key_ttl: Duration,
    /// `inter.worker.signature.algorithm`.
    pub signature_algorithm: String,
}

/// This worker's place in the group.
#[derive(Default, Clone)]
struct GroupState {
    generation: i32,
    member_id: String,
    leader_url: Option<String>,
    is_leader: bool,
    protocol: Option<ConnectProtocol>,
    /// What this worker must run.
    assignment: ConnectorsAndTasks,
    /// Leader only: the connectors and tasks the last assignment was computed for.
    assigned_for: Option<ConnectorsAndTasks>,
}

struct RunningConnector {
    /// `None` when it failed to start (it stays FAILED until restarted).
    instance: Option<Box<dyn Connector>>,
    /// The raw config it was started with.
    config: Props,
    target: TargetState,
}

struct RunningTask {
    handle: TaskHandle,
    /// The raw task config it was started with.
    config: Props,
}

#[derive(Default)]
struct Work {
    connectors: BTreeMap<String, RunningConnector>,
    tasks: BTreeMap<TaskId, RunningTask>,
}

enum Event {
    Config(ConfigEvent),
    Reconfigure(String),
    Failed(String, String),
}

struct Requests {
    name: String,
    events: mpsc::UnboundedSender<Event>,
}

impl ConnectorRequests for Requests {
    fn request_task_reconfiguration(&self) {
        let _ = self.events.send(Event::Reconfigure(self.name.clone()));
    }
    fn raise_error(&self, message: String) {
        let _ = self.events.send(Event::Failed(self.name.clone(), message));
    }
}

struct Inner {
    worker: Worker,
    providers: ConfigProviders,
    configs: Arc<ConfigStore>,
    settings: HerderSettings,
    group: Mutex<GroupState>,
    assignor: tokio::sync::Mutex<IncrementalAssignor>,
    /// Changes of running work are serialised on this lock.
    work: tokio::sync::Mutex<Work>,
    member: Mutex<Option<MemberHandle>>,
    ready: AtomicBool,
    events: mpsc::UnboundedSender<Event>,
    http: reqwest::Client,
}

/// The distributed herder. Cheap to clone.
#[derive(Clone)]
pub struct DistributedHerder {
    inner: Arc<Inner>,
}

/// The connectors and tasks a config snapshot defines (what the leader assigns).
fn configured(snapshot: &ConfigSnapshot) -> ConnectorsAndTasks {
    let mut c = ConnectorsAndTasks::default();
    for name in snapshot.connectors.keys() {
        c.connectors.insert(name.clone());
        for task in 0..snapshot.task_count(name) as u32 {
            c.tasks.insert(TaskRef {
                connector: name.clone(),
                task,
            });
        }
    }
    c
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl DistributedHerder {
    /// A herder over started config store; `config_events` are the store's change events.
    pub fn new(
        worker: Worker,
        configs: Arc<ConfigStore>,
        config_events: mpsc::UnboundedReceiver<ConfigEvent>,
        settings: HerderSettings,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let providers = worker.config.providers().clone();
        let max_delay = settings.max_delay;
        let inner = Arc::new(Inner {
            worker,
            providers,
            configs,
            settings,
            group: Mutex::default(),
            assignor: tokio::sync::Mutex::new(IncrementalAssignor::new(max_delay)),
            work: tokio::sync::Mutex::default(),
            member: Mutex::new(None),
            ready: AtomicBool::new(false),
            events: tx.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .unwrap_or_default(),
        });
        let herder = Self { inner };
        tokio::spawn(forward_config_events(config_events, tx));
        tokio::spawn(herder.clone().handle_events(rx));
        herder
    }

    /// Joins the group: from now on the worker takes work.
    pub fn attach_member(&self, member: MemberHandle) {
        *self
            .inner
            .member
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(member);
    }

    /// Leaves the group and stops everything this worker runs.
    pub async fn shutdown(&self) {
        {
            let mut g = self.group();
            g.assignment = ConnectorsAndTasks::default();
        }
        let mut work = self.inner.work.lock().await;
        self.reconcile(&mut work).await;
        drop(work);
        // Leave only after the work stopped, so no task runs twice while the group moves it.
        let member = self
            .inner
            .member
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(member) = member {
            member.leave().await;
        }
    }

    fn group(&self) -> std::sync::MutexGuard<'_, GroupState> {
        self.inner
            .group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> ConfigSnapshot {
        self.inner.configs.snapshot()
    }

    fn resolve(&self, props: &Props) -> Result<Resolved, HerderError> {
        resolve(&self.inner.providers, props)
    }

    fn plugin_of(&self, config: &Props) -> Option<PluginDesc> {
        let class = config.get("connector.class")?;
        self.inner.worker.registry.connector(class).ok().copied()
    }

    /// Fails unless this worker is the leader; the REST layer then forwards to the leader.
    fn require_leader(&self) -> Result<(), HerderError> {
        let g = self.group();
        if g.is_leader {
            Ok(())
        } else {
            Err(HerderError::Forward(g.leader_url.clone()))
        }
    }

    async fn handle_events(self, mut rx: mpsc::UnboundedReceiver<Event>) {
        while let Some(event) = rx.recv().await {
            match event {
                Event::Config(ConfigEvent::Restart(request)) => self.handle_restart(&request).await,
                Event::Config(ConfigEvent::ConnectorRemoved(name)) => {
                    // Whoever ran it tombstones its statuses after stopping; so does the leader, in
                    // case nobody ran it.
                    let mut work = self.inner.work.lock().await;
                    self.reconcile(&mut work).await;
                    if self.group().is_leader {
                        self.inner.worker.status.remove_connector(&name);
                    }
                }
                Event::Config(_) => {
                    let mut work = self.inner.work.lock().await;
                    self.reconcile(&mut work).await;
                }
                Event::Reconfigure(name) => self.reconfigure(&name).await,
                Event::Failed(name, message) => {
                    self.connector_failed(&name, &message, &Scrubber::new([]))
                }
            }
            self.rebalance_if_configs_changed();
        }
    }

    /// The leader asks for a rebalance when connectors or committed tasks changed since the
    /// last assignment (Kafka does this on every connector add/remove and task commit).
    fn rebalance_if_configs_changed(&self) {
        let changed = {
            let g = self.group();
            g.is_leader && g.assigned_for.as_ref() != Some(&configured(&self.snapshot()))
        };
        if changed
            && let Some(member) = self
                .inner
                .member
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
        {
            tracing::info!("connectors or tasks changed; asking the group to rebalance");
            member.request_rejoin();
        }
    }

    /// Brings running work in line with the assignment and the config snapshot.
    async fn reconcile(&self, work: &mut Work) {
        let snapshot = self.snapshot();
        let assignment = self.group().assignment.clone();
        let status = self.inner.worker.status.clone();

        // 1. Stop tasks that are no longer ours, whose connector is gone or stopped, or whose
        //    config changed.
        let stale: Vec<TaskId> = work
            .tasks
            .iter()
            .filter(|(id, t)| {
                let wanted = assignment.tasks.contains(&TaskRef {
                    connector: id.connector.clone(),
                    task: id.task,
                });
                let desired = snapshot
                    .tasks
                    .get(&id.connector)
                    .and_then(|v| v.get(id.task as usize));
                !wanted
                    || desired != Some(&t.config)
                    || snapshot.target(&id.connector) == TargetState::Stopped
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut touched: BTreeSet<String> = stale.iter().map(|id| id.connector.clone()).collect();
        self.stop_tasks(work, &stale).await;

        // 2. Stop connector instances likewise.
        let stale: Vec<String> = work
            .connectors
            .iter()
            .filter(|(name, c)| {
                !assignment.connectors.contains(*name)
                    || snapshot.connectors.get(*name) != Some(&c.config)
                    || snapshot.target(name) == TargetState::Stopped
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(c) = work.connectors.remove(&name) {
                stop_instance(&name, c.instance).await;
            }
            if !assignment.connectors.contains(&name) {
                status.put_connector(&name, State::Unassigned, None);
            }
            touched.insert(name);
        }
        // Statuses of deleted connectors this worker ran go away with them.
        for name in touched {
            if !snapshot.connectors.contains_key(&name) {
                status.remove_connector(&name);
            }
        }

        // 3. Start connectors, or apply their target state.
        for name in &assignment.connectors {
            let Some(config) = snapshot.connectors.get(name) else {
                continue;
            };
            let target = snapshot.target(name);
            if target == TargetState::Stopped {
                if status.connector(name).map(|s| s.state) != Some(State::Stopped) {
                    status.put_connector(name, State::Stopped, None);
                }
                continue;
            }
            if let Some(running) = work.connectors.get_mut(name) {
                if running.target != target {
                    running.target = target;
                    if running.instance.is_some() {
                        status.put_connector(name, running_state(target), None);
                    }
                }
                continue;
            }
            let (running, generated) = self.start_connector(name, config, target).await;
            work.connectors.insert(name.clone(), running);
            if let Some(configs) = generated
                && (snapshot.tasks.get(name) != Some(&configs)
                    || snapshot.inconsistent.contains(name))
            {
                self.submit_task_configs(name.clone(), configs);
            }
        }

        // 4. Start tasks, or apply their target state.
        for t in &assignment.tasks {
            let Some(config) = snapshot
                .tasks
                .get(&t.connector)
                .and_then(|v| v.get(t.task as usize))
            else {
                continue;
            };
            let target = snapshot.target(&t.connector);
            let id = TaskId {
                connector: t.connector.clone(),
                task: t.task,
            };
            if let Some(running) = work.tasks.get(&id) {
                running.handle.set_target(target);
                continue;
            }
            let Some(connector_config) = snapshot.connectors.get(&t.connector) else {
                continue;
            };
            if let Some(handle) = self.start_task(&id, connector_config, config, target) {
                work.tasks.insert(
                    id,
                    RunningTask {
                        handle,
                        config: config.clone(),
                    },
                );
            }
        }
    }

    /// Starts a connector instance; returns it and the task configs it asks for (raw), or no
    /// configs when it failed (then it is FAILED).
    async fn start_connector(
        &self,
        name: &str,
        config: &Props,
        target: TargetState,
    ) -> (RunningConnector, Option<Vec<Props>>) {
        let failed = |herder: &Self, message: &str, scrubber: &Scrubber| {
            herder.connector_failed(name, message, scrubber);
            (
                RunningConnector {
                    instance: None,
                    config: config.clone(),
                    target,
                },
                None,
            )
        };
        let worker = &self.inner.worker;
        worker.metrics.connector_startup_attempts.inc();
        let Some(plugin) = self.plugin_of(config) else {
            return failed(
                self,
                "the connector class is not known to this worker",
                &Scrubber::new([]),
            );
        };
        let resolved = match self.resolve(config) {
            Ok(r) => r,
            Err(e) => return failed(self, &e.to_string(), &Scrubber::new([])),
        };
        let scrubber = Scrubber::new(resolved.secrets.clone());
        let mut instance: Box<dyn Connector> = match plugin.factory {
            PluginFactory::Source { connector, .. } => connector(),
            PluginFactory::Sink { connector, .. } => connector(),
            _ => return failed(self, "not a connector plugin", &scrubber),
        };
        let context = ConnectorContext::new(Arc::new(Requests {
            name: name.to_owned(),
            events: self.inner.events.clone(),
        }));
        if let Err(e) = instance.start(resolved.props.clone(), context).await {
            return failed(self, &format!("{}: {e}", e.java_class_name()), &scrubber);
        }
        worker.metrics.connector_startup_success.inc();
        worker
            .status
            .put_connector(name, running_state(target), None);
        tracing::info!(connector = %name, "connector started");
        let generated = match generate_task_configs(&*instance, &plugin, config, &resolved) {
            Ok(c) => Some(c),
            Err(message) => {
                self.connector_failed(name, &message, &scrubber);
                None
            }
        };
        (
            RunningConnector {
                instance: Some(instance),
                config: config.clone(),
                target,
            },
            generated,
        )
    }

    fn start_task(
        &self,
        id: &TaskId,
        connector_config: &Props,
        task_config: &Props,
        target: TargetState,
    ) -> Option<TaskHandle> {
        let worker = &self.inner.worker;
        let plugin = self.plugin_of(connector_config)?;
        let resolve = |props: &Props| self.resolve(props);
        let (connector, task) = match (resolve(connector_config), resolve(task_config)) {
            (Ok(c), Ok(t)) => (c, t),
            (Err(e), _) | (_, Err(e)) => {
                worker
                    .status
                    .put_task(id, State::Failed, Some(e.to_string()));
                return None;
            }
        };
        let mut secrets = connector.secrets;
        secrets.extend(task.secrets);
        worker.status.put_task(id, State::Unassigned, None);
        Some(worker.start_task(
            TaskSpec {
                id: id.clone(),
                plugin,
                connector_config: connector.props,
                task_config: task.props,
                secrets,
            },
            target,
        ))
    }

    /// Stops tasks together, sharing the graceful timeout; each writes UNASSIGNED as it stops.
    async fn stop_tasks(&self, work: &mut Work, ids: &[TaskId]) {
        let worker = &self.inner.worker;
        let handles: Vec<(TaskId, TaskHandle)> = ids
            .iter()
            .filter_map(|id| work.tasks.remove(id).map(|t| (id.clone(), t.handle)))
            .collect();
        for (_, h) in &handles {
            h.signal_stop();
        }
        let deadline = tokio::time::Instant::now() + worker.graceful_timeout();
        for (id, h) in handles {
            if !h.await_stop(deadline).await {
                tracing::error!(task = %id, "graceful stop of task failed within task.shutdown.graceful.timeout.ms; it was aborted");
            }
            worker.metrics.remove_task(&id.connector, id.task);
        }
    }

    fn connector_failed(&self, name: &str, message: &str, scrubber: &Scrubber) {
        let message = scrubber.scrub(message);
        self.inner.worker.metrics.connector_startup_failure.inc();
        tracing::error!(connector = %name, error = %message, "connector failed");
        self.inner
            .worker
            .status
            .put_connector(name, State::Failed, Some(message));
    }

    /// Hands new task configs to the leader, retrying while the group settles.
    fn submit_task_configs(&self, name: String, configs: Vec<Props>) {
        let herder = self.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(250);
            for _ in 0..20 {
                let (is_leader, leader_url) = {
                    let g = herder.group();
                    (g.is_leader, g.leader_url.clone())
                };
                let result = if is_leader {
                    herder.write_task_configs(&name, &configs).await
                } else if let Some(url) = leader_url {
                    herder.send_task_configs(&url, &name, &configs).await
                } else {
                    Err(HerderError::Forward(None))
                };
                match result {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(connector = %name, error = %e, "could not hand task configs to the leader yet; retrying")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            tracing::error!(connector = %name, "gave up handing task configs to the leader");
        });
    }

    /// Leader: writes task configs unless they are what is stored already.
    async fn write_task_configs(&self, name: &str, configs: &[Props]) -> Result<(), HerderError> {
        self.require_leader()?;
        let snapshot = self.snapshot();
        if !snapshot.connectors.contains_key(name) {
            return Err(not_found(name));
        }
        if snapshot.tasks.get(name).map(Vec::as_slice) == Some(configs)
            && !snapshot.inconsistent.contains(name)
        {
            return Ok(());
        }
        self.inner
            .configs
            .put_task_configs(name, configs)
            .await
            .map_err(internal)?;
        tracing::info!(connector = %name, tasks = configs.len(), "task configs committed");
        Ok(())
    }

    /// Follower: `POST <leader>/connectors/NAME/tasks`, signed with the session key.
    async fn send_task_configs(
        &self,
        leader_url: &str,
        name: &str,
        configs: &[Props],
    ) -> Result<(), HerderError> {
        let body = serde_json::to_vec(configs).map_err(internal)?;
        let url = format!(
            "{}/connectors/{}/tasks?forward=true",
            leader_url.trim_end_matches('/'),
            urlencode(name)
        );
        let mut request = self
            .inner
            .http
            .post(url)
            .header("content-type", "application/json");
        if self.group().protocol == Some(ConnectProtocol::Sessioned)
            && let Some(key) = self.snapshot().session_key
        {
            let algorithm = &self.inner.settings.signature_algorithm;
            let signature = signature::sign(&key, algorithm, &body).map_err(internal)?;
            request = request
                .header(signature::SIGNATURE_HEADER, signature)
                .header(signature::ALGORITHM_HEADER, algorithm.as_str());
        }
        let response = request.body(body).send().await.map_err(internal)?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            Err(HerderError::Internal(format!(
                "leader answered {status}: {text}"
            )))
        }
    }

    /// A running connector asked for new task configs.
    async fn reconfigure(&self, name: &str) {
        let work = self.inner.work.lock().await;
        let Some(instance) = work
            .connectors
            .get(name)
            .and_then(|c| c.instance.as_deref())
        else {
            return;
        };
        let snapshot = self.snapshot();
        let Some(config) = snapshot.connectors.get(name) else {
            return;
        };
        let Some(plugin) = self.plugin_of(config) else {
            return;
        };
        let result = self
            .resolve(config)
            .map_err(|e| e.to_string())
            .and_then(|resolved| generate_task_configs(instance, &plugin, config, &resolved));
        match result {
            Ok(configs) if snapshot.tasks.get(name) != Some(&configs) => {
                self.submit_task_configs(name.to_owned(), configs)
            }
            Ok(_) => {}
            Err(message) => self.connector_failed(name, &message, &Scrubber::new([])),
        }
    }

    /// Carries out a restart request for what this worker runs.
    async fn handle_restart(&self, request: &RestartRequest) {
        let mut work = self.inner.work.lock().await;
        let status = self.inner.worker.status.clone();
        let name = &request.connector;
        let owned = self.group().assignment.clone();
        if owned.connectors.contains(name) {
            let failed = status.connector(name).map(|s| s.state) == Some(State::Failed);
            if !request.only_failed || failed {
                status.put_connector(name, State::Restarting, None);
                if let Some(c) = work.connectors.remove(name) {
                    stop_instance(name, c.instance).await;
                }
            }
        }
        if request.include_tasks {
            let ids: Vec<TaskId> = work
                .tasks
                .keys()
                .filter(|id| &id.connector == name)
                .filter(|id| {
                    !request.only_failed || status.task(id).map(|s| s.state) == Some(State::Failed)
                })
                .cloned()
                .collect();
            for id in &ids {
                status.put_task(id, State::Restarting, None);
            }
            self.stop_tasks(&mut work, &ids).await;
        }
        // Starting again is what reconciling does for anything assigned but not running.
        self.reconcile(&mut work).await;
    }

    /// The base URL of the worker that reported a status (its id is its advertised host:port).
    fn url_of_worker(&self, worker_id: &str) -> String {
        let scheme = self
            .inner
            .settings
            .url
            .split_once("://")
            .map_or("http", |(s, _)| s);
        format!("{scheme}://{worker_id}")
    }

    fn password_keys(&self, config: &Props) -> BTreeSet<String> {
        connector_config::validate(&self.inner.worker.registry, config, config)
            .map(|report| {
                report
                    .configs
                    .iter()
                    .filter(|c| {
                        c.definition
                            .as_ref()
                            .is_some_and(|d| d.config_type == sluice_api::ConfigType::Password)
                    })
                    .map(|c| c.value.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn info_from(&self, name: &str, snapshot: &ConfigSnapshot) -> Option<ConnectorInfo> {
        let config = snapshot.connectors.get(name)?;
        let plugin_type = self
            .plugin_of(config)
            .map_or(PluginType::Source, |p| p.factory.plugin_type());
        Some(ConnectorInfo {
            name: name.to_owned(),
            config: shown(config, &self.password_keys(config)),
            tasks: (0..snapshot.task_count(name) as u32).collect(),
            connector_type: plugin_type,
        })
    }

    /// Creates a session key when the sessioned protocol is in use and there is none or it
    /// expired (leader only).
    async fn ensure_session_key(&self, snapshot: &ConfigSnapshot) {
        let ttl = self.inner.settings.key_ttl.as_millis() as i64;
        let fresh = snapshot
            .session_key
            .as_ref()
            .is_some_and(|k| now_ms() - k.created_ms < ttl);
        if fresh {
            return;
        }
        let key = SessionKey {
            key: base64::engine::general_purpose::STANDARD.encode(signature::new_key()),
            algorithm: self.inner.settings.signature_algorithm.clone(),
            created_ms: now_ms(),
        };
        if let Err(e) = self.inner.configs.put_session_key(&key).await {
            tracing::warn!(error = %e, "could not write a new session key");
        }
    }
}

fn running_state(target: TargetState) -> State {
    if target == TargetState::Paused {
        State::Paused
    } else {
        State::Running
    }
}

async fn stop_instance(name: &str, instance: Option<Box<dyn Connector>>) {
    if let Some(mut instance) = instance
        && let Err(e) = instance.stop().await
    {
        tracing::warn!(connector = %name, error = %e, "error stopping connector");
    }
}

async fn forward_config_events(
    mut rx: mpsc::UnboundedReceiver<ConfigEvent>,
    tx: mpsc::UnboundedSender<Event>,
) {
    while let Some(e) = rx.recv().await {
        if tx.send(Event::Config(e)).is_err() {
            return;
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait::async_trait]
impl GroupHandler for DistributedHerder {
    fn metadata(&self) -> WorkerMetadata {
        WorkerMetadata {
            url: self.inner.settings.url.clone(),
            config_offset: self.snapshot().offset,
            allocation: Some(self.group().assignment.clone()),
        }
    }

    async fn assign(
        &self,
        generation: i32,
        leader_id: &str,
        protocol: ConnectProtocol,
        members: Vec<MemberInfo>,
    ) -> BTreeMap<String, Assignment> {
        // The leader assigns from the newest configs.
        if let Err(e) = self
            .inner
            .configs
            .read_to_end(self.inner.settings.sync_timeout)
            .await
        {
            tracing::warn!(error = %e, "leader could not read the config topic to its end");
        }
        if protocol == ConnectProtocol::Sessioned {
            self.ensure_session_key(&self.snapshot()).await;
        }
        let snapshot = self.snapshot();
        let configured = configured(&snapshot);
        let leader_url = members
            .iter()
            .find(|m| m.member_id == leader_id)
            .map(|m| m.metadata.url.clone())
            .unwrap_or_default();
        let result = match protocol {
            ConnectProtocol::Eager => eager_assign(
                leader_id,
                &leader_url,
                snapshot.offset,
                &configured,
                &members,
            ),
            _ => self.inner.assignor.lock().await.assign(
                Instant::now(),
                generation,
                leader_id,
                &leader_url,
                snapshot.offset,
                &configured,
                &members,
            ),
        };
        self.group().assigned_for = Some(configured);
        tracing::info!(
            generation,
            members = members.len(),
            "computed assignments as leader"
        );
        result
    }

    async fn assigned(
        &self,
        generation: i32,
        member_id: &str,
        protocol: ConnectProtocol,
        assignment: Assignment,
    ) {
        // Catch up on the config topic before taking work (a worker with a stale view must not
        // start old configs).
        if self.snapshot().offset < assignment.config_offset
            && let Err(e) = self
                .inner
                .configs
                .read_to_end(self.inner.settings.sync_timeout)
                .await
        {
            tracing::warn!(error = %e, "could not catch up on the config topic");
        }
        let mut work = self.inner.work.lock().await;
        {
            let mut g = self.group();
            let is_leader = assignment.leader == member_id;
            if !is_leader {
                g.assigned_for = None;
            }
            g.generation = generation;
            g.member_id = member_id.to_owned();
            g.is_leader = is_leader;
            g.leader_url = Some(assignment.leader_url.clone()).filter(|u| !u.is_empty());
            g.protocol = Some(protocol);
            g.assignment = if protocol == ConnectProtocol::Eager {
                assignment.assigned.clone()
            } else {
                let mut next = g.assignment.clone();
                for c in &assignment.revoked.connectors {
                    next.connectors.remove(c);
                }
                for t in &assignment.revoked.tasks {
                    next.tasks.remove(t);
                }
                next.connectors
                    .extend(assignment.assigned.connectors.iter().cloned());
                next.tasks.extend(assignment.assigned.tasks.iter().cloned());
                next
            };
            tracing::info!(
                generation,
                leader = is_leader,
                connectors = g.assignment.connectors.len(),
                tasks = g.assignment.tasks.len(),
                revoked = assignment.revoked.connectors.len() + assignment.revoked.tasks.len(),
                delay_ms = assignment.delay_ms,
                "joined group with assignment"
            );
        }
        self.inner.worker.status.set_generation(generation);
        self.reconcile(&mut work).await;
        drop(work);
        self.inner.ready.store(true, Ordering::SeqCst);
        self.rebalance_if_configs_changed();
    }

    async fn lost(&self) {
        tracing::warn!("group membership lost; stopping all work until the worker rejoins");
        self.group().assignment = ConnectorsAndTasks::default();
        let mut work = self.inner.work.lock().await;
        self.reconcile(&mut work).await;
    }
}

#[async_trait::async_trait]
impl Herder for DistributedHerder {
    fn worker(&self) -> &Worker {
        &self.inner.worker
    }

    fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    fn validate(&self, config: &Props) -> Result<ValidationReport, HerderError> {
        validate_config(&self.inner.worker.registry, &self.inner.providers, config)
    }

    async fn put_connector(
        &self,
        name: &str,
        mut config: Props,
        initial_state: Option<TargetState>,
        replace: bool,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        name_config(name, &mut config)?;
        self.require_leader()?;
        let snapshot = self.snapshot();
        let existing = snapshot.connectors.get(name);
        if existing.is_some() && !replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        if let Some(existing) = existing {
            keep_hidden_passwords(&mut config, existing, &self.password_keys(existing));
        }
        let report = self.validate(&config)?;
        require_valid(name, &report)?;
        let created = existing.is_none();
        let target = if created { initial_state } else { None };
        self.inner
            .configs
            .put_connector(name, &config, target)
            .await
            .map_err(internal)?;
        tracing::info!(connector = %name, created, "connector config written to the config topic");
        let info = self
            .info_from(name, &self.snapshot())
            .ok_or_else(|| not_found(name))?;
        Ok((info, created))
    }

    async fn delete(&self, name: &str) -> Result<(), HerderError> {
        self.require_leader()?;
        if !self.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.inner
            .configs
            .remove_connector(name)
            .await
            .map_err(internal)?;
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    async fn connector_names(&self) -> Vec<String> {
        self.snapshot().connectors.keys().cloned().collect()
    }

    async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        self.info_from(name, &self.snapshot())
            .ok_or_else(|| not_found(name))
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<(u32, Props)>, HerderError> {
        let snapshot = self.snapshot();
        let config = snapshot
            .connectors
            .get(name)
            .ok_or_else(|| not_found(name))?;
        let hidden = self.password_keys(config);
        Ok(snapshot
            .tasks
            .get(name)
            .map(|tasks| {
                tasks
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i as u32, shown(c, &hidden)))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        let no_status = || HerderError::NotFound(format!("No status found for connector {name}"));
        let info = self.info(name).await.map_err(|_| no_status())?;
        let status = &self.inner.worker.status;
        let connector = status.connector(name).ok_or_else(no_status)?;
        let count = info.tasks.len() as u32;
        Ok(ConnectorStatus {
            name: name.to_owned(),
            connector,
            // Statuses of tasks beyond the committed count are leftovers of an older task set.
            tasks: status
                .tasks_of(name)
                .into_iter()
                .filter(|(i, _)| *i < count)
                .collect(),
            connector_type: info.connector_type,
        })
    }

    async fn task_status(&self, name: &str, task: u32) -> Result<Status, HerderError> {
        self.inner
            .worker
            .status
            .task(&TaskId {
                connector: name.to_owned(),
                task,
            })
            .ok_or_else(|| HerderError::NotFound(format!("No status found for task {name}-{task}")))
    }

    async fn pause(&self, name: &str) -> Result<(), HerderError> {
        // Any worker may write a target state (reference §3.1).
        if !self.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.inner
            .configs
            .put_target_state(name, TargetState::Paused)
            .await
            .map_err(internal)
    }

    async fn resume(&self, name: &str) -> Result<(), HerderError> {
        if !self.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.inner
            .configs
            .put_target_state(name, TargetState::Started)
            .await
            .map_err(internal)
    }

    async fn stop(&self, name: &str) -> Result<(), HerderError> {
        self.require_leader()?;
        if !self.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.inner
            .configs
            .put_target_state(name, TargetState::Stopped)
            .await
            .map_err(internal)?;
        // A stopped connector keeps no tasks (KIP-875): an empty committed task set.
        self.inner
            .configs
            .put_task_configs(name, &[])
            .await
            .map_err(internal)
    }

    async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), HerderError> {
        if !self.snapshot().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        if !include_tasks && !only_failed {
            // A plain connector restart runs on the worker that owns the connector.
            if !self.group().assignment.connectors.contains(name) {
                let owner = self
                    .inner
                    .worker
                    .status
                    .connector(name)
                    .map(|s| s.worker_id)
                    .filter(|w| w != self.inner.worker.status.worker_id());
                return Err(HerderError::Forward(owner.map(|w| self.url_of_worker(&w))));
            }
            self.handle_restart(&RestartRequest {
                connector: name.to_owned(),
                include_tasks: false,
                only_failed: false,
            })
            .await;
            return Ok(());
        }
        self.require_leader()?;
        self.inner
            .configs
            .put_restart(&RestartRequest {
                connector: name.to_owned(),
                include_tasks,
                only_failed,
            })
            .await
            .map_err(internal)
    }

    async fn restart_task(&self, name: &str, task: u32) -> Result<(), HerderError> {
        let snapshot = self.snapshot();
        if !snapshot.connectors.contains_key(name) {
            return Err(not_found(name));
        }
        if task as usize >= snapshot.task_count(name) {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        let id = TaskId {
            connector: name.to_owned(),
            task,
        };
        let mut work = self.inner.work.lock().await;
        if !work.tasks.contains_key(&id) {
            drop(work);
            let owner = self
                .inner
                .worker
                .status
                .task(&id)
                .map(|s| s.worker_id)
                .filter(|w| w != self.inner.worker.status.worker_id());
            return Err(HerderError::Forward(owner.map(|w| self.url_of_worker(&w))));
        }
        self.stop_tasks(&mut work, std::slice::from_ref(&id)).await;
        self.reconcile(&mut work).await;
        Ok(())
    }

    async fn active_topics(&self, name: &str) -> Vec<String> {
        self.inner.worker.status.topics_of(name)
    }

    async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError> {
        self.inner.worker.status.reset_topics(name);
        Ok(())
    }

    async fn offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, HerderError> {
        let snapshot = self.snapshot();
        let config = snapshot
            .connectors
            .get(name)
            .ok_or_else(|| not_found(name))?;
        let plugin_type = self
            .plugin_of(config)
            .map_or(PluginType::Source, |p| p.factory.plugin_type());
        crate::herder::offsets::read(&self.inner.worker, name, plugin_type, config).await
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<String, HerderError> {
        let (plugin_type, config) = self.stopped_connector(name)?;
        crate::herder::offsets::alter(&self.inner.worker, name, plugin_type, &config, offsets).await
    }

    async fn reset_offsets(&self, name: &str) -> Result<String, HerderError> {
        let (plugin_type, config) = self.stopped_connector(name)?;
        crate::herder::offsets::reset(&self.inner.worker, name, plugin_type, &config).await
    }

    async fn refresh_metrics(&self) {
        let names = self.connector_names().await;
        crate::herder::offsets::refresh_metrics(&self.inner.worker, &names);
    }

    async fn put_task_configs(
        &self,
        name: &str,
        body: &[u8],
        signature: Option<(&str, &str)>,
    ) -> Result<(), HerderError> {
        if self.group().protocol == Some(ConnectProtocol::Sessioned) {
            let key = self.snapshot().session_key;
            signature::verify(
                key.as_ref(),
                &self.inner.settings.signature_algorithm,
                signature,
                body,
            )?;
        }
        let configs: Vec<Props> = serde_json::from_slice(body)
            .map_err(|e| HerderError::BadRequest(format!("Invalid task configs: {e}")))?;
        self.write_task_configs(name, &configs).await
    }
}

impl DistributedHerder {
    /// Offsets may change only on the leader, for a STOPPED connector with no tasks.
    fn stopped_connector(&self, name: &str) -> Result<(PluginType, Props), HerderError> {
        let snapshot = self.snapshot();
        let config = snapshot
            .connectors
            .get(name)
            .ok_or_else(|| not_found(name))?;
        self.require_leader()?;
        if snapshot.target(name) != TargetState::Stopped || snapshot.task_count(name) > 0 {
            return Err(HerderError::BadRequest(
                crate::herder::offsets::STOPPED_REQUIRED.replace("{name}", name),
            ));
        }
        let plugin_type = self
            .plugin_of(config)
            .map_or(PluginType::Source, |p| p.factory.plugin_type());
        Ok((plugin_type, config.clone()))
    }
}
