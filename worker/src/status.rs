//! Runtime states of connectors and tasks, and the status store that REST reads.
//!
//! In standalone mode the store is all there is. In distributed mode every change this worker
//! makes is also handed to a [`StatusPublisher`] (the status topic), and other workers' records
//! read back from the topic are applied with the `apply_*` methods, so any worker can answer
//! `GET /connectors/NAME/status` for the whole cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};

/// What a connector or task is doing (Kafka's `AbstractStatus.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not running on any worker.
    Unassigned,
    /// Running.
    Running,
    /// Paused: alive but idle.
    Paused,
    /// Failed; stays so until restarted.
    Failed,
    /// Selected for restart and not yet restarted.
    Restarting,
    /// Stopped (connectors only): shut down with no tasks.
    Stopped,
}

impl State {
    /// Upper-case name as REST renders it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unassigned => "UNASSIGNED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Failed => "FAILED",
            Self::Restarting => "RESTARTING",
            Self::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the user asked a connector to be (Kafka's `TargetState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Running.
    Started,
    /// Paused: tasks idle.
    Paused,
    /// Stopped: connector and tasks shut down.
    Stopped,
}

impl TargetState {
    /// Parses the REST `initial_state` (`RUNNING`, `PAUSED`, `STOPPED`).
    pub fn from_initial_state(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RUNNING" => Some(Self::Started),
            "PAUSED" => Some(Self::Paused),
            "STOPPED" => Some(Self::Stopped),
            _ => None,
        }
    }
}

/// The status of one connector or task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Its state.
    pub state: State,
    /// Failure description when FAILED.
    pub trace: Option<String>,
    /// The worker that reported it.
    pub worker_id: String,
    /// The group generation of that worker when it wrote the status (0 in standalone mode).
    pub generation: i32,
}

/// Where a distributed worker sends its own status changes (the status topic).
pub trait StatusPublisher: Send + Sync {
    /// A connector's status changed; `None`: it is gone (a tombstone).
    fn connector(&self, name: &str, status: Option<&Status>);
    /// A task's status changed; `None`: it is gone.
    fn task(&self, id: &TaskId, status: Option<&Status>);
    /// A connector started using a topic (`Some(task)`), or the topic was forgotten (`None`).
    fn topic(&self, connector: &str, topic: &str, discovered_by: Option<u32>);
}

/// Identifies a task.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    /// Connector name.
    pub connector: String,
    /// Task number from 0.
    pub task: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

#[derive(Default)]
struct Entries {
    connectors: BTreeMap<String, Status>,
    tasks: BTreeMap<TaskId, Status>,
    /// Topics each connector has used (KIP-558), kept with the statuses as Kafka does.
    topics: BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// Statuses of everything this worker runs. Cheap to clone; shared by the herder and the tasks.
#[derive(Clone)]
pub struct StatusStore {
    worker_id: String,
    entries: Arc<Mutex<Entries>>,
    generation: Arc<AtomicI32>,
    publisher: Arc<OnceLock<Arc<dyn StatusPublisher>>>,
}

impl StatusStore {
    /// An empty store for the worker with this id (`host:port`).
    pub fn new(worker_id: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            entries: Arc::default(),
            generation: Arc::default(),
            publisher: Arc::default(),
        }
    }

    /// Sends every later change of this worker to `publisher` too (distributed mode). Only the
    /// first call has an effect.
    pub fn set_publisher(&self, publisher: Arc<dyn StatusPublisher>) {
        let _ = self.publisher.set(publisher);
    }

    /// Sets the group generation written with this worker's statuses.
    pub fn set_generation(&self, generation: i32) {
        self.generation.store(generation, Ordering::SeqCst);
    }

    fn publisher(&self) -> Option<&Arc<dyn StatusPublisher>> {
        self.publisher.get()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn status(&self, state: State, trace: Option<String>) -> Status {
        Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.generation.load(Ordering::SeqCst),
        }
    }

    /// Whether this worker may write `state` over `current` (Kafka's "safe" writes): UNASSIGNED
    /// and FAILED never overwrite a newer generation's status written by another worker, so a
    /// worker that gave a task away cannot hide the new owner's status.
    fn may_overwrite(&self, current: Option<&Status>, state: State) -> bool {
        if !matches!(state, State::Unassigned | State::Failed) {
            return true;
        }
        current.is_none_or(|c| {
            c.worker_id == self.worker_id || c.generation <= self.generation.load(Ordering::SeqCst)
        })
    }

    /// Records a connector's state.
    pub fn put_connector(&self, name: &str, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        {
            let mut e = self.lock();
            if !self.may_overwrite(e.connectors.get(name), state) {
                return;
            }
            e.connectors.insert(name.to_owned(), s.clone());
        }
        if let Some(p) = self.publisher() {
            p.connector(name, Some(&s));
        }
    }

    /// Records a task's state.
    pub fn put_task(&self, id: &TaskId, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        {
            let mut e = self.lock();
            if !self.may_overwrite(e.tasks.get(id), state) {
                return;
            }
            e.tasks.insert(id.clone(), s.clone());
        }
        if let Some(p) = self.publisher() {
            p.task(id, Some(&s));
        }
    }

    /// Forgets a task (it no longer exists).
    pub fn remove_task(&self, id: &TaskId) {
        self.lock().tasks.remove(id);
        if let Some(p) = self.publisher() {
            p.task(id, None);
        }
    }

    /// Forgets a connector, its tasks and its topics.
    pub fn remove_connector(&self, name: &str) {
        let (tasks, topics) = {
            let mut e = self.lock();
            e.connectors.remove(name);
            let tasks: Vec<TaskId> = e
                .tasks
                .keys()
                .filter(|id| id.connector == name)
                .cloned()
                .collect();
            e.tasks.retain(|id, _| id.connector != name);
            (tasks, e.topics.remove(name).unwrap_or_default())
        };
        if let Some(p) = self.publisher() {
            p.connector(name, None);
            for id in &tasks {
                p.task(id, None);
            }
            for topic in &topics {
                p.topic(name, topic, None);
            }
        }
    }

    /// Records that a task of a connector used a topic.
    pub fn record_topic(&self, task: &TaskId, topic: &str) {
        let new = {
            let mut e = self.lock();
            let topics = e.topics.entry(task.connector.clone()).or_default();
            !topics.contains(topic) && topics.insert(topic.to_owned())
        };
        if new && let Some(p) = self.publisher() {
            p.topic(&task.connector, topic, Some(task.task));
        }
    }

    /// Applies a connector status read from the status topic (`None`: deleted).
    pub fn apply_connector(&self, name: &str, status: Option<Status>) {
        let mut e = self.lock();
        match status {
            Some(s) => e.connectors.insert(name.to_owned(), s),
            None => e.connectors.remove(name),
        };
    }

    /// Applies a task status read from the status topic (`None`: deleted).
    pub fn apply_task(&self, id: TaskId, status: Option<Status>) {
        let mut e = self.lock();
        match status {
            Some(s) => e.tasks.insert(id, s),
            None => e.tasks.remove(&id),
        };
    }

    /// Applies a topic record read from the status topic (`present == false`: forgotten).
    pub fn apply_topic(&self, connector: &str, topic: &str, present: bool) {
        let mut e = self.lock();
        if present {
            e.topics
                .entry(connector.to_owned())
                .or_default()
                .insert(topic.to_owned());
        } else if let Some(t) = e.topics.get_mut(connector) {
            t.remove(topic);
        }
    }

    /// The topics a connector has used, sorted.
    pub fn topics_of(&self, connector: &str) -> Vec<String> {
        self.lock()
            .topics
            .get(connector)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets the topics a connector has used.
    pub fn reset_topics(&self, connector: &str) {
        let topics = self.lock().topics.remove(connector).unwrap_or_default();
        if let Some(p) = self.publisher() {
            for topic in &topics {
                p.topic(connector, topic, None);
            }
        }
    }

    /// A connector's status.
    pub fn connector(&self, name: &str) -> Option<Status> {
        self.lock().connectors.get(name).cloned()
    }

    /// A task's status.
    pub fn task(&self, id: &TaskId) -> Option<Status> {
        self.lock().tasks.get(id).cloned()
    }

    /// A connector's task statuses, sorted by task number.
    pub fn tasks_of(&self, connector: &str) -> Vec<(u32, Status)> {
        self.lock()
            .tasks
            .iter()
            .filter(|(id, _)| id.connector == connector)
            .map(|(id, s)| (id.task, s.clone()))
            .collect()
    }

    /// Every task status.
    pub fn all_tasks(&self) -> Vec<(TaskId, Status)> {
        self.lock()
            .tasks
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }

    /// This worker's id.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }
}
