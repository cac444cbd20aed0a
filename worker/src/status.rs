//! Runtime states of connectors and tasks, and the in-memory status store that REST reads.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

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
}

impl StatusStore {
    /// An empty store for the worker with this id (`host:port`).
    pub fn new(worker_id: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            entries: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn status(&self, state: State, trace: Option<String>) -> Status {
        Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
        }
    }

    /// Records a connector's state.
    pub fn put_connector(&self, name: &str, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        self.lock().connectors.insert(name.to_owned(), s);
    }

    /// Records a task's state.
    pub fn put_task(&self, id: &TaskId, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        self.lock().tasks.insert(id.clone(), s);
    }

    /// Forgets a task (it no longer exists).
    pub fn remove_task(&self, id: &TaskId) {
        self.lock().tasks.remove(id);
    }

    /// Forgets a connector and its tasks.
    pub fn remove_connector(&self, name: &str) {
        let mut e = self.lock();
        e.connectors.remove(name);
        e.tasks.retain(|id, _| id.connector != name);
        e.topics.remove(name);
    }

    /// Records that a connector used a topic.
    pub fn record_topic(&self, connector: &str, topic: &str) {
        let mut e = self.lock();
        let topics = e.topics.entry(connector.to_owned()).or_default();
        if !topics.contains(topic) {
            topics.insert(topic.to_owned());
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
        self.lock().topics.remove(connector);
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
