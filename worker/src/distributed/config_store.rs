//! The config topic (`config.storage.topic`): connector configs, task configs and their commits,
//! target states, restart requests and the session key, in Java Connect's record format
//! (reference §3.1), read into a [`ConfigSnapshot`].
//!
//! Task configs are buffered until their `commit-NAME` record arrives, so a reader never sees half
//! of a task set. Writes wait until they have been read back, so a worker that wrote something
//! sees it in its own snapshot before it answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_api::Props;
use tokio::sync::mpsc;

use super::kafka_log::{KafkaLog, LogError, LogRecord};
use crate::status::TargetState;

/// How long a write may take to be read back (Kafka: 30 s).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The key that signs internal REST requests (KIP-507).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The key, base64 as stored.
    pub key: String,
    /// Its algorithm, e.g. `HmacSHA256`.
    pub algorithm: String,
    /// When the leader made it (epoch ms).
    pub created_ms: i64,
}

/// A restart request written by the leader (KIP-745).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    /// Connector.
    pub connector: String,
    /// Restart the tasks too.
    pub include_tasks: bool,
    /// Restart only FAILED instances.
    pub only_failed: bool,
}

/// Everything the config topic says, as of `offset`.
#[derive(Debug, Clone, Default)]
pub struct ConfigSnapshot {
    /// Next offset of the config topic after the last applied record.
    pub offset: i64,
    /// Connector configs (raw, with `${...}` references).
    pub connectors: BTreeMap<String, Props>,
    /// Target states; a connector with none is STARTED.
    pub targets: BTreeMap<String, TargetState>,
    /// Committed task configs per connector.
    pub tasks: BTreeMap<String, Vec<Props>>,
    /// Connectors whose last commit referred to missing task records: the leader regenerates them.
    pub inconsistent: BTreeSet<String>,
    /// The current session key, if the leader has written one.
    pub session_key: Option<SessionKey>,
}

impl ConfigSnapshot {
    /// A connector's target state.
    pub fn target(&self, name: &str) -> TargetState {
        self.targets
            .get(name)
            .copied()
            .unwrap_or(TargetState::Started)
    }

    /// The number of committed tasks of a connector.
    pub fn task_count(&self, name: &str) -> usize {
        self.tasks.get(name).map_or(0, Vec::len)
    }
}

/// What changed in the config topic; the herder reacts to these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigEvent {
    /// A connector was created or its config changed.
    ConnectorUpdated(String),
    /// A connector was deleted.
    ConnectorRemoved(String),
    /// A new set of task configs was committed.
    TasksCommitted(String),
    /// A target state changed.
    TargetStateChanged(String),
    /// A restart was requested.
    Restart(RestartRequest),
    /// A new session key.
    SessionKeyChanged,
}

#[derive(Default)]
struct State {
    snapshot: ConfigSnapshot,
    /// Task records read but not yet committed.
    deferred: BTreeMap<String, BTreeMap<u32, Props>>,
}

/// The config topic, read into memory.
pub struct ConfigStore {
    log: KafkaLog,
    state: Arc<Mutex<State>>,
}

fn props_of(value: &Value) -> Option<Props> {
    value.get("properties")?.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()
    })
}

/// Splits `NAME-N` at the last `-` (connector names may contain `-`).
fn split_task_key(rest: &str) -> Option<(&str, u32)> {
    let (name, n) = rest.rsplit_once('-')?;
    Some((name, n.parse().ok()?))
}

fn target_of(value: &Value) -> Option<TargetState> {
    // Readers prefer state.v2 (which can say STOPPED) and fall back on the legacy field.
    let s = value
        .get("state.v2")
        .and_then(Value::as_str)
        .or_else(|| value.get("state").and_then(Value::as_str))?;
    match s {
        "STARTED" => Some(TargetState::Started),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

fn target_name(t: TargetState) -> &'static str {
    match t {
        TargetState::Started => "STARTED",
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
    }
}

/// Applies one config record to the state; returns what changed.
fn apply(state: &mut State, record: &LogRecord) -> Option<ConfigEvent> {
    let snapshot = &mut state.snapshot;
    snapshot.offset = snapshot.offset.max(record.offset + 1);
    let value: Option<Value> = match &record.value {
        None => None,
        Some(bytes) => match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(key = %record.key, error = %e, "ignoring a config record that is not JSON");
                return None;
            }
        },
    };
    let key = record.key.as_str();
    if let Some(name) = key.strip_prefix("connector-") {
        return match value.as_ref().and_then(props_of) {
            Some(props) => {
                snapshot.connectors.insert(name.to_owned(), props);
                Some(ConfigEvent::ConnectorUpdated(name.to_owned()))
            }
            None => {
                snapshot.connectors.remove(name);
                snapshot.tasks.remove(name);
                snapshot.targets.remove(name);
                snapshot.inconsistent.remove(name);
                state.deferred.remove(name);
                Some(ConfigEvent::ConnectorRemoved(name.to_owned()))
            }
        };
    }
    if let Some(rest) = key.strip_prefix("task-") {
        let (name, n) = split_task_key(rest)?;
        if let Some(props) = value.as_ref().and_then(props_of) {
            state
                .deferred
                .entry(name.to_owned())
                .or_default()
                .insert(n, props);
        }
        return None;
    }
    if let Some(name) = key.strip_prefix("commit-") {
        let count = value
            .as_ref()
            .and_then(|v| v.get("tasks"))
            .and_then(Value::as_u64)? as u32;
        let mut deferred = state.deferred.remove(name).unwrap_or_default();
        let configs: Option<Vec<Props>> = (0..count).map(|i| deferred.remove(&i)).collect();
        match configs {
            Some(configs) => {
                snapshot.inconsistent.remove(name);
                snapshot.tasks.insert(name.to_owned(), configs);
            }
            None => {
                tracing::warn!(connector = %name, tasks = count, "task commit refers to missing task configs; the leader will regenerate them");
                snapshot.inconsistent.insert(name.to_owned());
            }
        }
        return Some(ConfigEvent::TasksCommitted(name.to_owned()));
    }
    if let Some(name) = key.strip_prefix("target-state-") {
        match value.as_ref().and_then(target_of) {
            Some(t) => snapshot.targets.insert(name.to_owned(), t),
            None => snapshot.targets.remove(name),
        };
        return Some(ConfigEvent::TargetStateChanged(name.to_owned()));
    }
    if let Some(name) = key.strip_prefix("restart-connector-") {
        let v = value?;
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        return Some(ConfigEvent::Restart(RestartRequest {
            connector: name.to_owned(),
            include_tasks: flag("include-tasks"),
            only_failed: flag("only-failed"),
        }));
    }
    if key == "session-key" {
        let v = value?;
        snapshot.session_key = Some(SessionKey {
            key: v.get("key")?.as_str()?.to_owned(),
            algorithm: v.get("algorithm")?.as_str()?.to_owned(),
            created_ms: v.get("creation-timestamp")?.as_i64()?,
        });
        return Some(ConfigEvent::SessionKeyChanged);
    }
    // tasks-fencing-*, logger-cluster-*: not used by this worker.
    None
}

fn properties_value(props: &Props) -> Vec<u8> {
    json!({ "properties": props }).to_string().into_bytes()
}

impl ConfigStore {
    /// Starts reading the config topic; changes are sent to `events`.
    pub async fn start(
        client: &Props,
        topic: &str,
        client_id: &str,
        events: mpsc::UnboundedSender<ConfigEvent>,
    ) -> Result<Self, LogError> {
        let state = Arc::new(Mutex::new(State::default()));
        let applied = state.clone();
        let log = KafkaLog::start(client, topic, client_id, 0, move |record| {
            let event = apply(
                &mut applied.lock().unwrap_or_else(PoisonError::into_inner),
                &record,
            );
            if let Some(e) = event {
                let _ = events.send(e);
            }
        })
        .await?;
        Ok(Self { log, state })
    }

    /// A copy of the current snapshot.
    pub fn snapshot(&self) -> ConfigSnapshot {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot
            .clone()
    }

    /// Reads the topic to its end.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<(), LogError> {
        self.log.read_to_end(timeout).await
    }

    async fn write(&self, key: &str, value: Option<Vec<u8>>) -> Result<(), LogError> {
        let written = self.log.send(key, value.as_deref()).await?;
        self.log.wait_applied(written, WRITE_TIMEOUT).await
    }

    /// Writes a connector config, preceded by its target state when one is given.
    pub async fn put_connector(
        &self,
        name: &str,
        config: &Props,
        target: Option<TargetState>,
    ) -> Result<(), LogError> {
        if let Some(t) = target {
            self.put_target_state(name, t).await?;
        }
        self.write(&format!("connector-{name}"), Some(properties_value(config)))
            .await
    }

    /// Deletes a connector: tombstones for its config and target state.
    pub async fn remove_connector(&self, name: &str) -> Result<(), LogError> {
        self.write(&format!("target-state-{name}"), None).await?;
        self.write(&format!("connector-{name}"), None).await
    }

    /// Writes a connector's task configs, then the commit that makes them visible.
    pub async fn put_task_configs(&self, name: &str, configs: &[Props]) -> Result<(), LogError> {
        for (i, c) in configs.iter().enumerate() {
            self.log
                .send(&format!("task-{name}-{i}"), Some(&properties_value(c)))
                .await?;
        }
        self.write(
            &format!("commit-{name}"),
            Some(json!({ "tasks": configs.len() }).to_string().into_bytes()),
        )
        .await
    }

    /// Writes a target state (STOPPED is written as PAUSED in the legacy field for old readers).
    pub async fn put_target_state(&self, name: &str, target: TargetState) -> Result<(), LogError> {
        let legacy = match target {
            TargetState::Stopped => TargetState::Paused,
            t => t,
        };
        let value = json!({"state": target_name(legacy), "state.v2": target_name(target)});
        self.write(
            &format!("target-state-{name}"),
            Some(value.to_string().into_bytes()),
        )
        .await
    }

    /// Writes a restart request.
    pub async fn put_restart(&self, request: &RestartRequest) -> Result<(), LogError> {
        let value =
            json!({"include-tasks": request.include_tasks, "only-failed": request.only_failed});
        self.write(
            &format!("restart-connector-{}", request.connector),
            Some(value.to_string().into_bytes()),
        )
        .await
    }

    /// Writes a new session key.
    pub async fn put_session_key(&self, key: &SessionKey) -> Result<(), LogError> {
        let value = json!({"key": key.key, "algorithm": key.algorithm, "creation-timestamp": key.created_ms});
        self.write("session-key", Some(value.to_string().into_bytes()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, key: &str, value: Option<&str>) -> LogRecord {
        LogRecord {
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
            partition: 0,
            offset,
        }
    }

    #[test]
    fn java_records_build_the_snapshot() {
        let mut s = State::default();
        let records = [
            record(
                0,
                "connector-my-src",
                Some(
                    r#"{"properties":{"connector.class":"FileStreamSource","name":"my-src","tasks.max":"2"}}"#,
                ),
            ),
            record(
                1,
                "target-state-my-src",
                Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
            ),
            record(2, "task-my-src-0", Some(r#"{"properties":{"file":"a"}}"#)),
            record(3, "task-my-src-1", Some(r#"{"properties":{"file":"b"}}"#)),
        ];
        for r in &records {
            apply(&mut s, r);
        }
        // Task configs stay invisible until their commit.
        assert_eq!(s.snapshot.task_count("my-src"), 0);
        let event = apply(&mut s, &record(4, "commit-my-src", Some(r#"{"tasks":2}"#)));
        assert_eq!(event, Some(ConfigEvent::TasksCommitted("my-src".into())));
        assert_eq!(s.snapshot.tasks["my-src"][1]["file"], "b");
        assert_eq!(s.snapshot.target("my-src"), TargetState::Stopped);
        assert_eq!(s.snapshot.connectors["my-src"]["tasks.max"], "2");
        assert_eq!(s.snapshot.offset, 5);

        apply(&mut s, &record(5, "connector-my-src", None));
        assert!(s.snapshot.connectors.is_empty());
        assert!(s.snapshot.tasks.is_empty());
    }

    #[test]
    fn a_commit_with_missing_tasks_marks_the_connector_inconsistent() {
        let mut s = State::default();
        apply(&mut s, &record(0, "task-c-0", Some(r#"{"properties":{}}"#)));
        apply(&mut s, &record(1, "commit-c", Some(r#"{"tasks":2}"#)));
        assert!(s.snapshot.inconsistent.contains("c"));
        assert_eq!(s.snapshot.task_count("c"), 0);
    }

    #[test]
    fn legacy_target_state_and_session_key_and_restart() {
        let mut s = State::default();
        apply(
            &mut s,
            &record(0, "target-state-x", Some(r#"{"state":"PAUSED"}"#)),
        );
        assert_eq!(s.snapshot.target("x"), TargetState::Paused);
        apply(
            &mut s,
            &record(
                1,
                "session-key",
                Some(
                    r#"{"key":"c2VjcmV0","algorithm":"HmacSHA256","creation-timestamp":1700000000000}"#,
                ),
            ),
        );
        assert_eq!(
            s.snapshot
                .session_key
                .as_ref()
                .map(|k| k.algorithm.as_str()),
            Some("HmacSHA256")
        );
        let e = apply(
            &mut s,
            &record(
                2,
                "restart-connector-a-b",
                Some(r#"{"include-tasks":true,"only-failed":false}"#),
            ),
        );
        assert_eq!(
            e,
            Some(ConfigEvent::Restart(RestartRequest {
                connector: "a-b".into(),
                include_tasks: true,
                only_failed: false
            }))
        );
    }

    #[test]
    fn task_keys_split_at_the_last_dash() {
        assert_eq!(split_task_key("my-conn-12"), Some(("my-conn", 12)));
        assert_eq!(split_task_key("nodash"), None);
    }
}
