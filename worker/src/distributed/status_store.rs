//! The status topic (`status.storage.topic`): every worker writes the statuses of what it runs
//! (`status-connector-NAME`, `status-task-NAME-N`, `status-topic-TOPIC:connector-NAME`, reference
//! §3.3) and reads everyone's, so REST on any worker shows the whole cluster.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sluice_api::Props;
use tokio::sync::mpsc;

use super::kafka_log::{KafkaLog, LogError, LogRecord};
use crate::status::{State, Status, StatusPublisher, StatusStore, TaskId};

/// Serialized status value, in Java's field order.
pub fn status_value(status: &Status) -> Vec<u8> {
    json!({
        "state": status.state.name(),
        "trace": status.trace,
        "worker_id": status.worker_id,
        "generation": status.generation,
    })
    .to_string()
    .into_bytes()
}

fn parse_status(bytes: &[u8]) -> Option<Status> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let state = match v.get("state")?.as_str()? {
        "UNASSIGNED" => State::Unassigned,
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        "STOPPED" => State::Stopped,
        _ => return None,
    };
    Some(Status {
        state,
        trace: v.get("trace").and_then(Value::as_str).map(str::to_owned),
        worker_id: v.get("worker_id")?.as_str()?.to_owned(),
        generation: v
            .get("generation")
            .and_then(Value::as_i64)
            .and_then(|g| i32::try_from(g).ok())
            .unwrap_or(0),
    })
}

/// Applies one status record to the store.
fn apply(store: &StatusStore, record: LogRecord) {
    let key = record.key.as_str();
    if let Some(name) = key.strip_prefix("status-connector-") {
        store.apply_connector(name, record.value.as_deref().and_then(parse_status));
    } else if let Some(rest) = key.strip_prefix("status-task-") {
        // The task number is the last `-` segment: connector names may contain `-`.
        let Some((connector, n)) = rest.rsplit_once('-') else {
            return;
        };
        let Ok(task) = n.parse() else { return };
        let id = TaskId {
            connector: connector.to_owned(),
            task,
        };
        store.apply_task(id, record.value.as_deref().and_then(parse_status));
    } else if let Some(rest) = key.strip_prefix("status-topic-") {
        let Some((topic, connector)) = rest.split_once(":connector-") else {
            return;
        };
        store.apply_topic(connector, topic, record.value.is_some());
    }
}

/// A status record to write: key and value (`None`: a tombstone).
type Write = (String, Option<Vec<u8>>);

/// Sends this worker's status changes to the topic, in order, from a background task.
struct TopicPublisher {
    writes: mpsc::UnboundedSender<Write>,
}

impl StatusPublisher for TopicPublisher {
    fn connector(&self, name: &str, status: Option<&Status>) {
        let _ = self
            .writes
            .send((format!("status-connector-{name}"), status.map(status_value)));
    }

    fn task(&self, id: &TaskId, status: Option<&Status>) {
        let _ = self.writes.send((
            format!("status-task-{}-{}", id.connector, id.task),
            status.map(status_value),
        ));
    }

    fn topic(&self, connector: &str, topic: &str, discovered_by: Option<u32>) {
        let value = discovered_by.map(|task| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            json!({"topic": {"name": topic, "connector": connector, "task": task, "discoverTimestamp": now}})
                .to_string()
                .into_bytes()
        });
        let _ = self
            .writes
            .send((format!("status-topic-{topic}:connector-{connector}"), value));
    }
}

/// The status topic, tailed into a [`StatusStore`] that also publishes this worker's changes.
pub struct StatusTopic {
    log: Arc<KafkaLog>,
}

impl StatusTopic {
    /// Starts reading the status topic into `store` and makes `store` publish to it.
    pub async fn start(
        client: &Props,
        topic: &str,
        client_id: &str,
        store: StatusStore,
    ) -> Result<Self, LogError> {
        let reader = store.clone();
        let log = Arc::new(
            KafkaLog::start(client, topic, client_id, 0, move |record| {
                apply(&reader, record)
            })
            .await?,
        );
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        let writer = log.clone();
        tokio::spawn(async move {
            while let Some((key, value)) = rx.recv().await {
                // Statuses are best effort, as in Kafka: retry a while, then log and move on.
                let mut delay = Duration::from_millis(100);
                for attempt in 0..5 {
                    match writer.send(&key, value.as_deref()).await {
                        Ok(_) => break,
                        Err(e) if attempt == 4 => {
                            tracing::error!(key = %key, error = %e, "could not write a status record")
                        }
                        Err(_) => {
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                    }
                }
            }
        });
        store.set_publisher(Arc::new(TopicPublisher { writes: tx }));
        Ok(Self { log })
    }

    /// Reads the topic to its end.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<(), LogError> {
        self.log.read_to_end(timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_byte_compatible_with_java() {
        let s = Status {
            state: State::Running,
            trace: None,
            worker_id: "10.0.0.5:8083".into(),
            generation: 12,
        };
        assert_eq!(
            String::from_utf8(status_value(&s)).unwrap(),
            r#"{"state":"RUNNING","trace":null,"worker_id":"10.0.0.5:8083","generation":12}"#
        );
        assert_eq!(parse_status(&status_value(&s)), Some(s));
    }

    #[test]
    fn java_records_are_applied() {
        let store = StatusStore::new("me:1");
        let rec = |key: &str, value: Option<&str>| LogRecord {
            key: key.into(),
            value: value.map(|v| v.as_bytes().to_vec()),
            partition: 0,
            offset: 0,
        };
        apply(
            &store,
            rec(
                "status-task-my-conn-3",
                Some(r#"{"state":"FAILED","trace":"boom","worker_id":"w:8083","generation":4}"#),
            ),
        );
        let id = TaskId {
            connector: "my-conn".into(),
            task: 3,
        };
        let s = store.task(&id).unwrap();
        assert_eq!(
            (s.state, s.trace.as_deref(), s.generation),
            (State::Failed, Some("boom"), 4)
        );
        apply(
            &store,
            rec(
                "status-topic-orders:connector-my-conn",
                Some(
                    r#"{"topic":{"name":"orders","connector":"my-conn","task":0,"discoverTimestamp":1}}"#,
                ),
            ),
        );
        assert_eq!(store.topics_of("my-conn"), vec!["orders".to_string()]);
        apply(&store, rec("status-task-my-conn-3", None));
        assert!(store.task(&id).is_none());
    }

    #[test]
    fn a_stale_worker_cannot_overwrite_a_newer_owner() {
        let store = StatusStore::new("old:1");
        store.set_generation(3);
        let id = TaskId {
            connector: "c".into(),
            task: 0,
        };
        store.apply_task(
            id.clone(),
            Some(Status {
                state: State::Running,
                trace: None,
                worker_id: "new:2".into(),
                generation: 4,
            }),
        );
        store.put_task(&id, State::Unassigned, None);
        assert_eq!(store.task(&id).unwrap().worker_id, "new:2");
        store.put_task(&id, State::Running, None);
        assert_eq!(store.task(&id).unwrap().worker_id, "old:1");
    }
}
