//! The standalone herder: keeps connector configs and target states in memory, starts connectors
//! and their tasks on this worker, and carries out REST requests (Kafka's `StandaloneHerder`).
//!
//! Secrets: configs are stored and served exactly as given (with `${provider:...}` references);
//! they are resolved only when a connector or task starts, and task configs are stored with the
//! raw references put back, so resolved values never reach REST answers, logs or offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use sluice_api::connector::ConnectorRequests;
use sluice_api::{
    Connector, ConnectorContext, PluginDesc, PluginFactory, PluginType, Props, SourceMap,
    TopicPartition,
};
use sluice_config::{ConfigProviders, Resolved, Scrubber};
use tokio::sync::{Mutex, mpsc};

use super::{ConnectorInfo, ConnectorOffset, ConnectorStatus, Herder, HerderError};
use crate::connector_config::{self, ValidationError, ValidationReport};
use crate::runtime::{TaskHandle, TaskSpec, Worker};
use crate::status::{State, Status, TargetState, TaskId};

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

struct Entry {
    config: Props,
    /// Keys of PASSWORD type: shown as `[hidden]` unless they hold a `${...}` reference.
    password_keys: BTreeSet<String>,
    target: TargetState,
    plugin: PluginDesc,
    instance: Option<Box<dyn Connector>>,
    task_configs: Vec<Props>,
    tasks: BTreeMap<u32, TaskHandle>,
}

impl Entry {
    fn plugin_type(&self) -> PluginType {
        self.plugin.factory.plugin_type()
    }
}

enum ConnectorEvent {
    Reconfigure(String),
    Failed(String, String),
}

struct Requests {
    name: String,
    events: mpsc::UnboundedSender<ConnectorEvent>,
}

impl ConnectorRequests for Requests {
    fn request_task_reconfiguration(&self) {
        let _ = self
            .events
            .send(ConnectorEvent::Reconfigure(self.name.clone()));
    }
    fn raise_error(&self, message: String) {
        let _ = self
            .events
            .send(ConnectorEvent::Failed(self.name.clone(), message));
    }
}

/// What read-only requests see of a connector.
#[derive(Clone)]
struct View {
    info: ConnectorInfo,
    task_configs: Vec<(u32, Props)>,
}

struct Inner {
    worker: Worker,
    providers: ConfigProviders,
    /// Changes are serialised on this lock, which is held across plugin calls (start, stop).
    connectors: Mutex<BTreeMap<String, Entry>>,
    /// Published after every change; reads use only this, so a plugin call that hangs never
    /// stalls GET requests (Kafka's "Request timed out" complaint).
    views: std::sync::RwLock<BTreeMap<String, View>>,
    events: mpsc::UnboundedSender<ConnectorEvent>,
    ready: AtomicBool,
}

/// The standalone herder. Cheap to clone.
#[derive(Clone)]
pub struct StandaloneHerder {
    inner: Arc<Inner>,
}

pub(crate) fn validate_name(name: &str) -> Result<(), HerderError> {
    if name.is_empty() {
        return Err(HerderError::BadRequest(
            "Connector name cannot be empty".into(),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(HerderError::BadRequest(format!(
            "Connector name {name:?} contains illegal control characters"
        )));
    }
    Ok(())
}

/// Sets the config's `name` to the URL's name, or fails when the config names another connector.
pub(crate) fn name_config(name: &str, config: &mut Props) -> Result<(), HerderError> {
    validate_name(name)?;
    match config.get("name") {
        Some(n) if n != name => Err(HerderError::BadRequest(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        ))),
        _ => {
            config.insert("name".into(), name.to_owned());
            Ok(())
        }
    }
}

/// A config read back from REST shows passwords as `[hidden]`; writing it back keeps the stored
/// values of those keys.
pub(crate) fn keep_hidden_passwords<'a>(
    config: &mut Props,
    stored: &Props,
    password_keys: impl IntoIterator<Item = &'a String>,
) {
    for key in password_keys {
        if let (Some(v), Some(old)) = (config.get_mut(key), stored.get(key))
            && v == sluice_api::config::HIDDEN
        {
            *v = old.clone();
        }
    }
}

/// Resolves config-provider references; the resolved secrets are hidden from every log line
/// from then on, whoever writes it.
pub(crate) fn resolve(providers: &ConfigProviders, props: &Props) -> Result<Resolved, HerderError> {
    let resolved = providers
        .resolve(props)
        .map_err(|e| HerderError::BadRequest(e.to_string()))?;
    crate::logging::register_secrets(&resolved.secrets);
    Ok(resolved)
}

/// Validates a connector config (values checked with references resolved).
pub(crate) fn validate_config(
    registry: &crate::plugins::PluginRegistry,
    providers: &ConfigProviders,
    config: &Props,
) -> Result<ValidationReport, HerderError> {
    let resolved = resolve(providers, config)?;
    connector_config::validate(registry, config, &resolved.props).map_err(|e| match e {
        ValidationError::NoConnectorClass(_) | ValidationError::UnknownConnector(_) => {
            HerderError::BadRequest(e.to_string())
        }
    })
}

/// Fails with Kafka's message when the report has errors; warns about unknown keys otherwise.
pub(crate) fn require_valid(name: &str, report: &ValidationReport) -> Result<(), HerderError> {
    if report.error_count() > 0 {
        let messages = report.error_messages();
        return Err(HerderError::BadRequest(format!(
            "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
            messages.len(),
            messages.join("\n")
        )));
    }
    warn_unknown_keys(name, report);
    Ok(())
}

impl StandaloneHerder {
    /// A herder running connectors on `worker`.
    pub fn new(worker: Worker) -> Self {
        let providers = worker.config.providers().clone();
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            worker,
            providers,
            connectors: Mutex::new(BTreeMap::new()),
            views: std::sync::RwLock::new(BTreeMap::new()),
            events: tx,
            ready: AtomicBool::new(false),
        });
        tokio::spawn(handle_events(Arc::downgrade(&inner), rx));
        Self { inner }
    }

    /// The worker this herder runs on.
    pub fn worker(&self) -> &Worker {
        &self.inner.worker
    }

    /// Marks start-up done (the connectors given on the command line exist).
    pub fn set_ready(&self) {
        self.inner.ready.store(true, Ordering::SeqCst);
    }

    /// Whether start-up is done.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// Publishes a connector's current state for reads (`None`: it is gone).
    fn publish(&self, name: &str, entry: Option<&Entry>) {
        let mut views = self
            .inner
            .views
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entry {
            Some(e) => {
                let view = View {
                    info: info_of(name, e),
                    task_configs: e
                        .task_configs
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (i as u32, shown(c, &e.password_keys)))
                        .collect(),
                };
                views.insert(name.to_owned(), view);
            }
            None => {
                views.remove(name);
            }
        }
    }

    fn view(&self, name: &str) -> Option<View> {
        self.inner
            .views
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn resolve(&self, props: &Props) -> Result<Resolved, HerderError> {
        resolve(&self.inner.providers, props)
    }

    /// Checks a connector config without creating anything.
    pub fn validate(&self, config: &Props) -> Result<ValidationReport, HerderError> {
        validate_config(&self.inner.worker.registry, &self.inner.providers, config)
    }

    /// Creates a connector, or with `replace` updates an existing one. Returns its info and
    /// whether it was created.
    pub async fn put_connector(
        &self,
        name: &str,
        mut config: Props,
        initial_state: Option<TargetState>,
        replace: bool,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        name_config(name, &mut config)?;
        let mut connectors = self.inner.connectors.lock().await;
        if let Some(existing) = connectors.get(name) {
            keep_hidden_passwords(&mut config, &existing.config, &existing.password_keys);
        }
        let report = self.validate(&config)?;
        require_valid(name, &report)?;
        tracing::debug!(connector = %name, class = %report.connector_class, keys = config.len(), "connector config is valid");
        let plugin = *self
            .inner
            .worker
            .registry
            .connector(&report.connector_class)
            .map_err(|e| HerderError::BadRequest(e.to_string()))?;
        let password_keys: BTreeSet<String> = report
            .configs
            .iter()
            .filter(|c| {
                c.definition
                    .as_ref()
                    .is_some_and(|d| d.config_type == sluice_api::ConfigType::Password)
            })
            .map(|c| c.value.name.clone())
            .collect();

        let created = match connectors.get_mut(name) {
            Some(_) if !replace => {
                return Err(HerderError::Conflict(format!(
                    "Connector {name} already exists"
                )));
            }
            Some(existing) => {
                self.stop_connector(name, existing).await;
                false
            }
            None => true,
        };
        let target = match connectors.get(name) {
            Some(existing) => existing.target,
            None => initial_state.unwrap_or(TargetState::Started),
        };
        let mut entry = Entry {
            config,
            password_keys,
            target,
            plugin,
            instance: None,
            task_configs: Vec::new(),
            tasks: BTreeMap::new(),
        };
        self.inner
            .worker
            .status
            .put_connector(name, State::Unassigned, None);
        self.publish(name, Some(&entry));
        if target == TargetState::Stopped {
            self.inner
                .worker
                .status
                .put_connector(name, State::Stopped, None);
        } else {
            self.start_connector(name, &mut entry).await;
        }
        self.publish(name, Some(&entry));
        let info = info_of(name, &entry);
        connectors.insert(name.to_owned(), entry);
        tracing::info!(connector = %name, created, "connector config stored");
        Ok((info, created))
    }

    /// Starts the connector instance, then its tasks. Failures leave it FAILED.
    async fn start_connector(&self, name: &str, entry: &mut Entry) {
        if let Some(configs) = self.start_instance(name, entry).await {
            entry.task_configs = configs;
            self.start_tasks(name, entry, None);
        }
    }

    /// Starts the connector instance and returns the task configs it asks for (in raw form), or
    /// `None` when it failed (then it is FAILED).
    async fn start_instance(&self, name: &str, entry: &mut Entry) -> Option<Vec<Props>> {
        let worker = &self.inner.worker;
        worker.metrics.connector_startup_attempts.inc();
        let resolved = match self.resolve(&entry.config) {
            Ok(r) => r,
            Err(e) => {
                self.connector_failed(name, &e.to_string(), &Scrubber::new([]));
                return None;
            }
        };
        let scrubber = Scrubber::new(resolved.secrets.clone());
        let mut instance: Box<dyn Connector> = match entry.plugin.factory {
            PluginFactory::Source { connector, .. } => connector(),
            PluginFactory::Sink { connector, .. } => connector(),
            _ => {
                self.connector_failed(name, "not a connector plugin", &scrubber);
                return None;
            }
        };
        let context = ConnectorContext::new(Arc::new(Requests {
            name: name.to_owned(),
            events: self.inner.events.clone(),
        }));
        if let Err(e) = instance.start(resolved.props.clone(), context).await {
            self.connector_failed(name, &format!("{}: {e}", e.java_class_name()), &scrubber);
            return None;
        }
        worker.metrics.connector_startup_success.inc();
        let state = if entry.target == TargetState::Paused {
            State::Paused
        } else {
            State::Running
        };
        worker.status.put_connector(name, state, None);
        tracing::info!(connector = %name, "connector started");
        let configs = self.generate_task_configs(&*instance, entry, &resolved);
        entry.instance = Some(instance);
        match configs {
            Ok(c) => Some(c),
            Err(message) => {
                self.connector_failed(name, &message, &scrubber);
                None
            }
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

    /// Asks the connector for task configs and stores them in raw form (references put back).
    fn generate_task_configs(
        &self,
        instance: &dyn Connector,
        entry: &Entry,
        resolved: &Resolved,
    ) -> Result<Vec<Props>, String> {
        generate_task_configs(instance, &entry.plugin, &entry.config, resolved)
    }
}

/// Asks a started connector for task configs, enforcing `tasks.max`, and returns them in raw form
/// (the user's `${...}` references put back, so no resolved secret is ever stored), with
/// `task.class` and, for sinks, the subscription added.
pub(crate) fn generate_task_configs(
    instance: &dyn Connector,
    plugin: &PluginDesc,
    config: &Props,
    resolved: &Resolved,
) -> Result<Vec<Props>, String> {
    {
        let max_tasks: usize = resolved
            .props
            .get("tasks.max")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(1);
        let configs = instance
            .task_configs(max_tasks)
            .map_err(|e| format!("{}: {e}", e.java_class_name()))?;
        let enforce = !resolved
            .props
            .get("tasks.max.enforce")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        if enforce && configs.len() > max_tasks {
            return Err(format!(
                "org.apache.kafka.connect.errors.TooManyTasksException: The connector {} has generated {} tasks, which is greater than {}, the maximum number of tasks it is configured to create.",
                config.get("name").map(String::as_str).unwrap_or(""),
                configs.len(),
                max_tasks
            ));
        }
        Ok(configs
            .into_iter()
            .map(|mut task| {
                // Never store a resolved secret: put the user's reference back (Kafka does too).
                for key in &resolved.keys_with_placeholders {
                    if let (Some(v), Some(raw)) = (task.get_mut(key), config.get(key)) {
                        *v = raw.clone();
                    }
                }
                task.insert("task.class".into(), plugin.class.to_owned());
                if plugin.factory.plugin_type() == PluginType::Sink {
                    for k in ["topics", "topics.regex"] {
                        if let Some(v) = config.get(k) {
                            task.insert(k.into(), v.clone());
                        }
                    }
                }
                task
            })
            .collect())
    }
}

impl StandaloneHerder {
    /// Starts the tasks (all, or only those in `only`) from the stored task configs.
    fn start_tasks(&self, name: &str, entry: &mut Entry, only: Option<&[u32]>) {
        let worker = &self.inner.worker;
        let connector_resolved = match self.resolve(&entry.config) {
            Ok(r) => r,
            Err(e) => return self.connector_failed(name, &e.to_string(), &Scrubber::new([])),
        };
        for (i, raw) in entry.task_configs.iter().enumerate() {
            if only.is_some_and(|only| !only.contains(&(i as u32))) {
                continue;
            }
            let id = TaskId {
                connector: name.to_owned(),
                task: i as u32,
            };
            let task_resolved = match self.resolve(raw) {
                Ok(r) => r,
                Err(e) => {
                    worker
                        .status
                        .put_task(&id, State::Failed, Some(e.to_string()));
                    continue;
                }
            };
            let mut secrets = connector_resolved.secrets.clone();
            secrets.extend(task_resolved.secrets);
            worker.status.put_task(&id, State::Unassigned, None);
            let handle = worker.start_task(
                TaskSpec {
                    id: id.clone(),
                    plugin: entry.plugin,
                    connector_config: connector_resolved.props.clone(),
                    task_config: task_resolved.props,
                    secrets,
                },
                entry.target,
            );
            entry.tasks.insert(id.task, handle);
        }
    }

    /// Stops tasks (all at once, sharing the graceful timeout), forgetting their statuses.
    async fn stop_tasks(&self, name: &str, entry: &mut Entry, which: Option<&[u32]>) {
        let worker = &self.inner.worker;
        let ids: Vec<u32> = match which {
            Some(ids) => ids.to_vec(),
            None => entry.tasks.keys().copied().collect(),
        };
        let handles: Vec<(u32, TaskHandle)> = ids
            .iter()
            .filter_map(|i| entry.tasks.remove(i).map(|h| (*i, h)))
            .collect();
        for (_, h) in &handles {
            h.signal_stop();
        }
        let deadline = tokio::time::Instant::now() + worker.graceful_timeout();
        for (i, h) in handles {
            if !h.await_stop(deadline).await {
                tracing::error!(connector = %name, task = i, "graceful stop of task failed within task.shutdown.graceful.timeout.ms; it was aborted");
            }
            let id = TaskId {
                connector: name.to_owned(),
                task: i,
            };
            worker.status.remove_task(&id);
            worker.metrics.remove_task(name, i);
        }
    }

    async fn stop_connector(&self, name: &str, entry: &mut Entry) {
        self.stop_tasks(name, entry, None).await;
        if let Some(mut instance) = entry.instance.take()
            && let Err(e) = instance.stop().await
        {
            tracing::warn!(connector = %name, error = %e, "error stopping connector");
        }
    }

    /// Deletes a connector, stopping it first.
    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        let mut connectors = self.inner.connectors.lock().await;
        let mut entry = connectors.remove(name).ok_or_else(|| not_found(name))?;
        self.publish(name, None);
        self.stop_connector(name, &mut entry).await;
        self.inner.worker.status.remove_connector(name);
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// Connector names, sorted.
    pub async fn connector_names(&self) -> Vec<String> {
        self.inner
            .views
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// A connector's info.
    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        self.view(name)
            .map(|v| v.info)
            .ok_or_else(|| not_found(name))
    }

    /// A connector's task configs (raw, passwords hidden), by task number.
    pub async fn task_configs(&self, name: &str) -> Result<Vec<(u32, Props)>, HerderError> {
        self.view(name)
            .map(|v| v.task_configs)
            .ok_or_else(|| not_found(name))
    }

    /// A connector's status and its tasks'.
    pub async fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        let connector_type = self
            .view(name)
            .map(|v| v.info.connector_type)
            .ok_or_else(|| {
                HerderError::NotFound(format!("No status found for connector {name}"))
            })?;
        let status = &self.inner.worker.status;
        let connector = status.connector(name).ok_or_else(|| {
            HerderError::NotFound(format!("No status found for connector {name}"))
        })?;
        Ok(ConnectorStatus {
            name: name.to_owned(),
            connector,
            tasks: status.tasks_of(name),
            connector_type,
        })
    }

    /// One task's status.
    pub async fn task_status(&self, name: &str, task: u32) -> Result<Status, HerderError> {
        self.inner
            .worker
            .status
            .task(&TaskId {
                connector: name.to_owned(),
                task,
            })
            .ok_or_else(|| HerderError::NotFound(format!("No status found for task {name}-{task}")))
    }

    /// Pauses a connector: its tasks stay alive but idle.
    pub async fn pause(&self, name: &str) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Paused).await
    }

    /// Resumes a paused or stopped connector.
    pub async fn resume(&self, name: &str) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Started).await
    }

    /// Stops a connector: it and its tasks shut down, and it keeps no tasks (KIP-875).
    pub async fn stop(&self, name: &str) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Stopped).await
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let mut connectors = self.inner.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        let previous = entry.target;
        entry.target = target;
        let status = &self.inner.worker.status;
        match (previous, target) {
            (_, TargetState::Stopped) => {
                if previous != TargetState::Stopped {
                    self.stop_connector(name, entry).await;
                    entry.task_configs.clear();
                }
                status.put_connector(name, State::Stopped, None);
            }
            (TargetState::Stopped, _) => self.start_connector(name, entry).await,
            (_, t) => {
                for h in entry.tasks.values() {
                    h.set_target(t);
                }
                let failed = status
                    .connector(name)
                    .is_some_and(|s| s.state == State::Failed);
                if !failed {
                    let state = if t == TargetState::Paused {
                        State::Paused
                    } else {
                        State::Running
                    };
                    status.put_connector(name, state, None);
                }
            }
        }
        self.publish(name, Some(entry));
        Ok(())
    }

    /// Restarts the connector instance; with `include_tasks` its tasks too; with `only_failed`
    /// only the instances that are FAILED. Returns whether anything was restarted.
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), HerderError> {
        let mut connectors = self.inner.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        self.restart_entry(name, entry, include_tasks, only_failed)
            .await;
        self.publish(name, Some(entry));
        Ok(())
    }

    async fn restart_entry(
        &self,
        name: &str,
        entry: &mut Entry,
        include_tasks: bool,
        only_failed: bool,
    ) {
        if entry.target == TargetState::Stopped {
            return;
        }
        let status = self.inner.worker.status.clone();
        let connector_failed = status
            .connector(name)
            .is_some_and(|s| s.state == State::Failed);
        let restart_connector = !only_failed || connector_failed;
        let tasks: Vec<u32> = if include_tasks {
            status
                .tasks_of(name)
                .into_iter()
                .filter(|(_, s)| !only_failed || s.state == State::Failed)
                .map(|(i, _)| i)
                .collect()
        } else {
            Vec::new()
        };
        if restart_connector {
            status.put_connector(name, State::Restarting, None);
            if let Some(mut instance) = entry.instance.take()
                && let Err(e) = instance.stop().await
            {
                tracing::warn!(connector = %name, error = %e, "error stopping connector");
            }
            if let Some(configs) = self.start_instance(name, entry).await
                && configs != entry.task_configs
            {
                // The connector now asks for different tasks: replace them all.
                self.stop_tasks(name, entry, None).await;
                entry.task_configs = configs;
                self.start_tasks(name, entry, None);
                return;
            }
        }
        if !tasks.is_empty() {
            for i in &tasks {
                status.put_task(
                    &TaskId {
                        connector: name.to_owned(),
                        task: *i,
                    },
                    State::Restarting,
                    None,
                );
            }
            self.stop_tasks(name, entry, Some(&tasks)).await;
            self.start_tasks(name, entry, Some(&tasks));
        }
    }

    /// Restarts one task.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), HerderError> {
        let mut connectors = self.inner.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        if task as usize >= entry.task_configs.len() {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        self.stop_tasks(name, entry, Some(&[task])).await;
        self.start_tasks(name, entry, Some(&[task]));
        self.publish(name, Some(entry));
        Ok(())
    }

    /// Stops every connector and task (flushing and committing), within the graceful timeout.
    pub async fn shutdown(&self) {
        let mut connectors = self.inner.connectors.lock().await;
        let deadline = tokio::time::Instant::now() + self.inner.worker.graceful_timeout();
        let mut handles = Vec::new();
        for (name, entry) in connectors.iter_mut() {
            for (i, h) in std::mem::take(&mut entry.tasks) {
                h.signal_stop();
                handles.push((name.clone(), i, h));
            }
        }
        for (name, i, h) in handles {
            if !h.await_stop(deadline).await {
                tracing::error!(connector = %name, task = i, "graceful stop of task failed; it was aborted");
            }
        }
        for (name, entry) in connectors.iter_mut() {
            if let Some(mut instance) = entry.instance.take()
                && let Err(e) = instance.stop().await
            {
                tracing::warn!(connector = %name, error = %e, "error stopping connector");
            }
        }
    }

    /// Refreshes the gauges computed from current state (counts, statuses), before a scrape.
    pub async fn refresh_metrics(&self) {
        let names = self.connector_names().await;
        super::offsets::refresh_metrics(&self.inner.worker, &names);
    }

    async fn reconfigure(&self, name: &str) {
        let mut connectors = self.inner.connectors.lock().await;
        let Some(entry) = connectors.get_mut(name) else {
            return;
        };
        let Some(instance) = entry.instance.take() else {
            return;
        };
        let result = self
            .resolve(&entry.config)
            .map_err(|e| e.to_string())
            .and_then(|resolved| self.generate_task_configs(&*instance, entry, &resolved));
        entry.instance = Some(instance);
        match result {
            Ok(configs) if configs != entry.task_configs => {
                tracing::info!(connector = %name, tasks = configs.len(), "task configs changed; restarting tasks");
                self.stop_tasks(name, entry, None).await;
                entry.task_configs = configs;
                self.start_tasks(name, entry, None);
            }
            Ok(_) => {}
            Err(message) => self.connector_failed(name, &message, &Scrubber::new([])),
        }
        self.publish(name, Some(entry));
    }
}

use super::offsets::STOPPED_REQUIRED;

impl StandaloneHerder {
    /// The connector's type and config, for the offsets endpoints, if it exists.
    fn plugin_and_config(&self, name: &str) -> Option<(PluginType, Props)> {
        self.view(name)
            .map(|v| (v.info.connector_type, v.info.config))
    }

    /// Checks the connector exists and is STOPPED with no tasks, holding the write lock.
    async fn stopped_entry(
        &self,
        name: &str,
    ) -> Result<tokio::sync::MutexGuard<'_, BTreeMap<String, Entry>>, HerderError> {
        let connectors = self.inner.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        if entry.target != TargetState::Stopped || !entry.task_configs.is_empty() {
            return Err(HerderError::BadRequest(
                STOPPED_REQUIRED.replace("{name}", name),
            ));
        }
        Ok(connectors)
    }
}

pub(crate) fn sink_partition(p: &SourceMap) -> Result<TopicPartition, HerderError> {
    let topic = p
        .get("kafka_topic")
        .and_then(|t| t.as_str())
        .ok_or_else(|| {
            HerderError::BadRequest(
            "Partitions for sink connectors must contain the key 'kafka_topic' with a string value"
                .into(),
        )
        })?;
    let partition = p
        .get("kafka_partition")
        .and_then(serde_json::Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| {
            HerderError::BadRequest(
                "Partitions for sink connectors must contain the key 'kafka_partition' with an integer value".into(),
            )
        })?;
    if p.len() != 2 {
        return Err(HerderError::BadRequest(
            "Partitions for sink connectors may only contain the keys 'kafka_topic' and 'kafka_partition'".into(),
        ));
    }
    Ok(TopicPartition::new(topic, partition))
}

pub(crate) fn sink_offset(o: &SourceMap) -> Result<i64, HerderError> {
    match o.get("kafka_offset").and_then(serde_json::Value::as_i64) {
        Some(n) if n >= 0 && o.len() == 1 => Ok(n),
        _ => Err(HerderError::BadRequest(
            "Offsets for sink connectors must contain only the key 'kafka_offset' with a non-negative integer value".into(),
        )),
    }
}

pub(crate) fn check_source_map(what: &str, m: &SourceMap) -> Result<(), HerderError> {
    // Offsets topic values may only hold primitives (Kafka's OffsetUtils).
    for (k, v) in m {
        if v.is_object() || v.is_array() {
            return Err(HerderError::BadRequest(format!(
                "The {what} map may only contain primitive values; '{k}' is not"
            )));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Herder for StandaloneHerder {
    fn worker(&self) -> &Worker {
        StandaloneHerder::worker(self)
    }
    fn is_ready(&self) -> bool {
        StandaloneHerder::is_ready(self)
    }
    fn validate(&self, config: &Props) -> Result<ValidationReport, HerderError> {
        StandaloneHerder::validate(self, config)
    }
    async fn put_connector(
        &self,
        name: &str,
        config: Props,
        initial_state: Option<TargetState>,
        replace: bool,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        StandaloneHerder::put_connector(self, name, config, initial_state, replace).await
    }
    async fn delete(&self, name: &str) -> Result<(), HerderError> {
        StandaloneHerder::delete(self, name).await
    }
    async fn connector_names(&self) -> Vec<String> {
        StandaloneHerder::connector_names(self).await
    }
    async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        StandaloneHerder::info(self, name).await
    }
    async fn task_configs(&self, name: &str) -> Result<Vec<(u32, Props)>, HerderError> {
        StandaloneHerder::task_configs(self, name).await
    }
    async fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        StandaloneHerder::status(self, name).await
    }
    async fn task_status(&self, name: &str, task: u32) -> Result<Status, HerderError> {
        StandaloneHerder::task_status(self, name, task).await
    }
    async fn pause(&self, name: &str) -> Result<(), HerderError> {
        StandaloneHerder::pause(self, name).await
    }
    async fn resume(&self, name: &str) -> Result<(), HerderError> {
        StandaloneHerder::resume(self, name).await
    }
    async fn stop(&self, name: &str) -> Result<(), HerderError> {
        StandaloneHerder::stop(self, name).await
    }
    async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), HerderError> {
        StandaloneHerder::restart(self, name, include_tasks, only_failed).await
    }
    async fn restart_task(&self, name: &str, task: u32) -> Result<(), HerderError> {
        StandaloneHerder::restart_task(self, name, task).await
    }

    async fn active_topics(&self, name: &str) -> Vec<String> {
        self.inner.worker.status.topics_of(name)
    }

    async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError> {
        // An unknown connector has no topics to forget: a no-op, as in Kafka.
        self.inner.worker.status.reset_topics(name);
        Ok(())
    }

    async fn offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, HerderError> {
        let (plugin_type, config) = self
            .plugin_and_config(name)
            .ok_or_else(|| not_found(name))?;
        super::offsets::read(&self.inner.worker, name, plugin_type, &config).await
    }

    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<String, HerderError> {
        let connectors = self.stopped_entry(name).await?;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        super::offsets::alter(
            &self.inner.worker,
            name,
            entry.plugin_type(),
            &entry.config,
            offsets,
        )
        .await
    }

    async fn reset_offsets(&self, name: &str) -> Result<String, HerderError> {
        let connectors = self.stopped_entry(name).await?;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        super::offsets::reset(&self.inner.worker, name, entry.plugin_type(), &entry.config).await
    }

    async fn refresh_metrics(&self) {
        StandaloneHerder::refresh_metrics(self).await
    }
}

/// Prefixes of settings meant for others (clients, converters): never "unknown".
const PASSED_ON_PREFIXES: &[&str] = &[
    "producer.override.",
    "consumer.override.",
    "admin.override.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "topic.creation.",
];

/// Warns about keys nothing defines, as Kafka does; they are kept (a plugin may read them anyway).
pub(crate) fn warn_unknown_keys(name: &str, report: &ValidationReport) {
    for c in report.configs.iter().filter(|c| c.definition.is_none()) {
        let key = c.value.name.as_str();
        if !PASSED_ON_PREFIXES.iter().any(|p| key.starts_with(p)) {
            tracing::warn!(connector = %name, "The configuration '{key}' was supplied but isn't a known config.");
        }
    }
}

/// A config as REST may show it: PASSWORD values that are not `${...}` references are hidden.
pub(crate) fn shown(config: &Props, password_keys: &BTreeSet<String>) -> Props {
    config
        .iter()
        .map(|(k, v)| {
            let hide = password_keys.contains(k) && !sluice_config::has_placeholder(v);
            let v = if hide {
                sluice_api::config::HIDDEN.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

fn info_of(name: &str, entry: &Entry) -> ConnectorInfo {
    ConnectorInfo {
        name: name.to_owned(),
        config: shown(&entry.config, &entry.password_keys),
        tasks: (0..entry.task_configs.len() as u32).collect(),
        connector_type: entry.plugin_type(),
    }
}

async fn handle_events(inner: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<ConnectorEvent>) {
    while let Some(event) = rx.recv().await {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let herder = StandaloneHerder { inner };
        match event {
            ConnectorEvent::Reconfigure(name) => herder.reconfigure(&name).await,
            ConnectorEvent::Failed(name, message) => {
                herder.connector_failed(&name, &message, &Scrubber::new([]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginRegistry;
    use sluice_api::{
        ConfigDef, ConfigType, DefaultValue, Importance, SinkConnector, SinkRecord, SinkTask,
        SinkTaskContext,
    };
    use std::time::Duration;

    struct SecretSink;

    #[async_trait::async_trait]
    impl Connector for SecretSink {
        fn version(&self) -> String {
            "test".into()
        }
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new().key(
                "secret",
                ConfigType::Password,
                DefaultValue::Required,
                Importance::High,
                "a password",
            )
        }
        async fn start(&mut self, _: Props, _: ConnectorContext) -> sluice_api::Result<()> {
            Ok(())
        }
        fn task_configs(&self, _: usize) -> sluice_api::Result<Vec<Props>> {
            Ok(vec![])
        }
        async fn stop(&mut self) -> sluice_api::Result<()> {
            Ok(())
        }
    }
    impl SinkConnector for SecretSink {}

    /// A connector whose start never returns, like a plugin stuck on an unreachable server.
    struct HangingSink;

    #[async_trait::async_trait]
    impl Connector for HangingSink {
        fn version(&self) -> String {
            "test".into()
        }
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new()
        }
        async fn start(&mut self, _: Props, _: ConnectorContext) -> sluice_api::Result<()> {
            std::future::pending().await
        }
        fn task_configs(&self, _: usize) -> sluice_api::Result<Vec<Props>> {
            Ok(vec![])
        }
        async fn stop(&mut self) -> sluice_api::Result<()> {
            Ok(())
        }
    }
    impl SinkConnector for HangingSink {}

    struct NoTask;
    #[async_trait::async_trait]
    impl SinkTask for NoTask {
        async fn start(&mut self, _: Props, _: SinkTaskContext) -> sluice_api::Result<()> {
            Ok(())
        }
        async fn put(&mut self, _: &[SinkRecord]) -> sluice_api::Result<()> {
            Ok(())
        }
        async fn stop(&mut self) -> sluice_api::Result<()> {
            Ok(())
        }
    }

    fn herder(dir: &std::path::Path) -> StandaloneHerder {
        let mut plugins = PluginRegistry::builtin().all().to_vec();
        plugins.push(PluginDesc {
            class: "com.example.SecretSink",
            aliases: &[],
            version: "test",
            factory: PluginFactory::Sink {
                connector: || Box::new(SecretSink),
                task: || Box::new(NoTask),
            },
        });
        plugins.push(PluginDesc {
            class: "com.example.HangingSink",
            aliases: &[],
            version: "test",
            factory: PluginFactory::Sink {
                connector: || Box::new(HangingSink),
                task: || Box::new(NoTask),
            },
        });
        StandaloneHerder::new(crate::runtime::test_worker(dir, plugins))
    }

    fn config(secret: &str) -> Props {
        [
            ("connector.class", "com.example.SecretSink"),
            ("topics", "t"),
            ("secret", secret),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[tokio::test]
    async fn literal_passwords_are_hidden_and_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let h = herder(dir.path());
        let (info, created) = h
            .put_connector("s", config("hunter2"), Some(TargetState::Stopped), false)
            .await
            .unwrap();
        assert!(created);
        assert_eq!(info.config["secret"], "[hidden]");
        assert_eq!(h.info("s").await.unwrap().config["secret"], "[hidden]");

        // Writing back what GET returned keeps the stored password.
        let shown = h.info("s").await.unwrap().config;
        h.put_connector("s", shown, None, true).await.unwrap();
        let stored = h.inner.connectors.lock().await["s"].config["secret"].clone();
        assert_eq!(stored, "hunter2");

        // A reference is shown as written: it is not the secret.
        h.put_connector("s", config("${env:NOPE}"), None, true)
            .await
            .unwrap();
        assert_eq!(h.info("s").await.unwrap().config["secret"], "${env:NOPE}");
    }

    #[tokio::test]
    async fn reads_do_not_wait_for_a_hanging_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let h = herder(dir.path());
        h.put_connector("ok", config("pw"), Some(TargetState::Stopped), false)
            .await
            .unwrap();
        let mut hanging = config("pw");
        hanging.insert("connector.class".into(), "com.example.HangingSink".into());
        let writer = h.clone();
        let stuck =
            tokio::spawn(async move { writer.put_connector("hang", hanging, None, false).await });
        tokio::time::sleep(Duration::from_millis(100)).await;

        let quick = Duration::from_secs(1);
        let names = tokio::time::timeout(quick, h.connector_names())
            .await
            .unwrap();
        assert_eq!(names, vec!["hang".to_owned(), "ok".to_owned()]);
        tokio::time::timeout(quick, h.info("ok"))
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(quick, h.status("ok"))
            .await
            .unwrap()
            .unwrap();
        let hang = tokio::time::timeout(quick, h.status("hang"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(hang.connector.state, State::Unassigned);
        assert!(!stuck.is_finished());
        stuck.abort();
    }
}
