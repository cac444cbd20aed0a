//! Connector lifecycle through REST on a standalone worker: pause, resume, task restart,
//! connector restart, stop, delete, against a real broker (Tansu).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::kafka;
use sluice_tests::rest;
use sluice_tests::{Tansu, WorkerProcess};

const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

fn worker_props(tansu: &Tansu) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), tansu.bootstrap()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        ("offset.flush.interval.ms".into(), "500".into()),
    ]
}

/// Waits until `check` accepts the connector's status body; panics with the last body.
async fn wait_status(
    worker: &WorkerProcess,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let url = worker.url(&format!("/connectors/{name}/status"));
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = rest::get_json(&url).await;
        if status == 200 && check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {what}: last status {status} {body}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn states(body: &Value) -> (String, Vec<String>) {
    let connector = body["connector"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let tasks = body["tasks"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["state"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (connector, tasks)
}

fn all(body: &Value, state: &str) -> bool {
    let (c, t) = states(body);
    c == state && !t.is_empty() && t.iter().all(|s| s == state)
}

/// Every seqno in the topic; only for a topic nobody is writing to right now (reading "to the
/// end" never ends while records keep arriving).
async fn seqnos(tansu: &Tansu, topic: &str) -> Vec<i64> {
    kafka::consume_to_end(&tansu.bootstrap(), topic, Duration::from_secs(20))
        .await
        .iter()
        .map(|r| r.value_json()["seqno"].as_i64().unwrap_or(-1))
        .collect()
}

/// Waits until the topic holds at least `n` records (while a source is writing to it).
async fn at_least(tansu: &Tansu, topic: &str, n: usize) {
    kafka::consume_all(&tansu.bootstrap(), topic, n, WAIT).await;
}

async fn pause(worker: &WorkerProcess) {
    let (status, _) = rest::put_json(&worker.url("/connectors/life/pause"), &Value::Null).await;
    assert_eq!(status, 202);
    wait_status(worker, "life", "PAUSED", |b| all(b, "PAUSED")).await;
}

async fn resume(worker: &WorkerProcess) {
    let (status, _) = rest::put_json(&worker.url("/connectors/life/resume"), &Value::Null).await;
    assert_eq!(status, 202);
    wait_status(worker, "life", "RUNNING", |b| all(b, "RUNNING")).await;
}

#[tokio::test]
async fn pause_resume_restart_stop_and_delete() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "life", 1).await;
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    let create = json!({"name": "life", "config": {
        "connector.class": "VerifiableSource", "tasks.max": "1", "topic": "life", "throughput": "50"}});
    let (status, body) = rest::post_json(&worker.url("/connectors"), &create).await;
    assert_eq!(status, 201, "{body}");
    wait_status(&worker, "life", "RUNNING", |b| all(b, "RUNNING")).await;
    let (status, health) = rest::get_json(&worker.url("/health")).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("healthy")));

    // Pause: the task stays, idle; nothing new arrives.
    pause(&worker).await;
    let paused_count = seqnos(&tansu, "life").await.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        seqnos(&tansu, "life").await.len(),
        paused_count,
        "a paused source produces nothing"
    );

    // Resume: records flow again.
    resume(&worker).await;
    at_least(&tansu, "life", paused_count + 10).await;

    // Restarting the task resumes from its committed offset: the sequence goes on, no reset to 0.
    pause(&worker).await;
    let before = seqnos(&tansu, "life").await.len();
    resume(&worker).await;
    let (status, body) = rest::request(
        reqwest::Method::POST,
        &worker.url("/connectors/life/tasks/0/restart"),
        None,
    )
    .await
    .expect("restart task");
    assert_eq!(status, 204, "{body}");
    wait_status(&worker, "life", "RUNNING", |b| all(b, "RUNNING")).await;
    at_least(&tansu, "life", before + 10).await;
    pause(&worker).await;
    let after = seqnos(&tansu, "life").await;
    let zeros = after.iter().filter(|s| **s == 0).count();
    assert_eq!(
        zeros, 1,
        "the restarted task did not start over from seqno 0"
    );
    let distinct: std::collections::BTreeSet<i64> = after.iter().copied().collect();
    let max = after.iter().copied().max().unwrap_or(0);
    assert_eq!(
        distinct.len() as i64,
        max + 1,
        "no seqno skipped across the restart"
    );
    resume(&worker).await;

    // Restart with includeTasks answers 202 with the status.
    let (status, body) = rest::request(
        reqwest::Method::POST,
        &worker.url("/connectors/life/restart?includeTasks=true"),
        None,
    )
    .await
    .expect("restart connector");
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["name"], "life");
    wait_status(&worker, "life", "RUNNING", |b| all(b, "RUNNING")).await;

    // Stop: no tasks at all, STOPPED; resume brings them back.
    let (status, _) = rest::put_json(&worker.url("/connectors/life/stop"), &Value::Null).await;
    assert_eq!(status, 204);
    let body = wait_status(&worker, "life", "STOPPED", |b| {
        b["connector"]["state"] == "STOPPED" && b["tasks"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    assert_eq!(body["type"], "source");
    let (_, tasks) = rest::get_json(&worker.url("/connectors/life/tasks")).await;
    assert_eq!(tasks, json!([]));
    resume(&worker).await;

    // Delete.
    let (status, _) = rest::delete(&worker.url("/connectors/life")).await;
    assert_eq!(status, 204);
    let (status, body) = rest::get_json(&worker.url("/connectors/life")).await;
    assert_eq!(status, 404, "{body}");
    let (_, list) = rest::get_json(&worker.url("/connectors")).await;
    assert_eq!(list, json!([]));
    let settled = seqnos(&tansu, "life").await.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        seqnos(&tansu, "life").await.len(),
        settled,
        "a deleted connector's task is gone"
    );
}

/// A connector created with `initial_state: PAUSED` starts paused, and PUT config updates it.
#[tokio::test]
async fn initial_state_and_config_update() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "init-a", 1).await;
    kafka::create_topic(&tansu.bootstrap(), "init-b", 1).await;
    let mut worker = WorkerProcess::standalone(worker_props(&tansu), Vec::<PathBuf>::new());
    worker.wait_ready().await;
    let create = json!({"name": "init", "initial_state": "PAUSED", "config": {
        "connector.class": "VerifiableSource", "topic": "init-a", "throughput": "100"}});
    let (status, body) = rest::post_json(&worker.url("/connectors"), &create).await;
    assert_eq!(status, 201, "{body}");
    wait_status(&worker, "init", "PAUSED", |b| all(b, "PAUSED")).await;

    // PUT config of an existing connector: 200, and the new config takes effect.
    let (status, body) = rest::put_json(
        &worker.url("/connectors/init/config"),
        &json!({"connector.class": "VerifiableSource", "topic": "init-b", "throughput": "100"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["topic"], "init-b");
    let (status, _) = rest::put_json(&worker.url("/connectors/init/resume"), &Value::Null).await;
    assert_eq!(status, 202);
    let records = kafka::consume_all(&tansu.bootstrap(), "init-b", 5, WAIT).await;
    assert!(records.len() >= 5);

    // PUT config of a new connector: 201.
    let (status, body) = rest::put_json(
        &worker.url("/connectors/other/config"),
        &json!({"connector.class": "VerifiableSource", "topic": "init-a"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "other");
}
