//! Distributed mode end to end: several `sluice distributed` processes on loopback sharing one
//! Tansu broker. Work spreading and rebalancing, forwarding of REST writes, failover after
//! kill -9, restart of the whole cluster from the topics alone, and the internal topics' record
//! formats (what Sluice writes, and records written in Java Connect's format).
//!
//! Tansu notes: a kill -9 is noticed after the session timeout plus Tansu's own join delay, so
//! the failover bound below adds Tansu's measured rebalance time (see tansu.md) to Kafka's
//! `session.timeout.ms + scheduled.rebalance.max.delay.ms + 2 s`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::kafka;
use sluice_tests::rest;
use sluice_tests::{Tansu, WorkerCommand, WorkerProcess};

const WAIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(250);
const SESSION_MS: u64 = 6000;
const DELAY_MS: u64 = 2000;

fn worker_props(tansu: &Tansu) -> Vec<(String, String)> {
    [
        ("bootstrap.servers", tansu.bootstrap()),
        ("group.id", "sluice-cluster".into()),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter".into(),
        ),
        ("config.storage.topic", "connect-configs".into()),
        ("offset.storage.topic", "connect-offsets".into()),
        ("status.storage.topic", "connect-status".into()),
        ("config.storage.replication.factor", "1".into()),
        ("offset.storage.replication.factor", "1".into()),
        ("status.storage.replication.factor", "1".into()),
        ("offset.storage.partitions", "3".into()),
        ("status.storage.partitions", "2".into()),
        ("session.timeout.ms", SESSION_MS.to_string()),
        ("heartbeat.interval.ms", "1000".into()),
        ("rebalance.timeout.ms", "10000".into()),
        ("scheduled.rebalance.max.delay.ms", DELAY_MS.to_string()),
        ("offset.flush.interval.ms", "500".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn start_workers(tansu: &Tansu, n: usize) -> Vec<WorkerProcess> {
    let mut workers = Vec::new();
    for _ in 0..n {
        let mut w = WorkerCommand::distributed(worker_props(tansu)).spawn();
        w.wait_ready().await;
        workers.push(w);
    }
    for w in &workers {
        wait_joined(w).await;
    }
    workers
}

/// Waits until the worker has its first assignment (`/health` answers 200).
async fn wait_joined(w: &WorkerProcess) {
    let url = w.url("/health");
    sluice_tests::wait_until_described("the worker to join the group", WAIT, POLL, || {
        let url = url.clone();
        async move { rest::get_json(&url).await.0 == 200 }
    })
    .await;
}

async fn status(worker: &WorkerProcess, name: &str) -> (u16, Value) {
    rest::get_json(&worker.url(&format!("/connectors/{name}/status"))).await
}

/// Waits until the status (read on `worker`) satisfies `check`; returns it.
async fn wait_status(
    worker: &WorkerProcess,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = status(worker, name).await;
        if code == 200 && check(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {what}: last answer {code} {body}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// `tasks` RUNNING tasks (and a RUNNING connector).
fn running(body: &Value, tasks: usize) -> bool {
    let t = body["tasks"].as_array().cloned().unwrap_or_default();
    body["connector"]["state"] == "RUNNING"
        && t.len() == tasks
        && t.iter().all(|t| t["state"] == "RUNNING")
}

/// Task id → worker id.
fn owners(body: &Value) -> BTreeMap<u64, String> {
    body["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t["id"].as_u64().unwrap_or(u64::MAX),
                t["worker_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn counts(owners: &BTreeMap<u64, String>) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for w in owners.values() {
        *c.entry(w.clone()).or_default() += 1;
    }
    c
}

fn worker_id(w: &WorkerProcess) -> String {
    w.rest_url().trim_start_matches("http://").to_owned()
}

fn source(name: &str, tasks: u32, topic: &str, throughput: u32) -> Value {
    json!({"name": name, "config": {
        "connector.class": "org.apache.kafka.connect.tools.VerifiableSourceConnector",
        "tasks.max": tasks.to_string(),
        "topic": topic,
        "throughput": throughput.to_string(),
    }})
}

/// The follower among `workers` (the leader is the one the others forward to; any non-leader
/// works): a worker whose log says it joined as a follower.
fn a_follower(workers: &[WorkerProcess]) -> &WorkerProcess {
    workers
        .iter()
        .find(|w| w.log_text().contains("leader=false"))
        .expect("some worker is a follower")
}

#[tokio::test]
async fn three_workers_share_six_tasks_and_a_fourth_rebalances_within_one() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "spread", 1).await;
    let mut workers = start_workers(&tansu, 3).await;
    // All three must have joined before the connector is created.
    sluice_tests::wait_until_described("three workers in the group", WAIT, POLL, || {
        let joined = workers
            .iter()
            .filter(|w| w.log_text().contains("joined group with assignment"))
            .count();
        async move { joined == 3 }
    })
    .await;

    // A write sent to a follower is forwarded to the leader.
    let follower = a_follower(&workers);
    let (code, body) = rest::post_json(
        &follower.url("/connectors"),
        &source("spread", 6, "spread", 5),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let body = wait_status(&workers[0], "spread", "6 running tasks", |b| {
        running(b, 6) && counts(&owners(b)).len() == 3
    })
    .await;
    let before = owners(&body);
    let c = counts(&before);
    assert!(c.values().all(|n| *n == 2), "2/2/2 expected: {c:?}");
    // Every worker answers reads from its own view (eventually consistent: status records
    // reach each worker as it reads the status topic), and all agree on the owners.
    for w in &workers {
        wait_status(w, "spread", "the same owners on every worker", |b| {
            owners(b) == before
        })
        .await;
    }

    // A fourth worker joins: work moves to it, balanced within one, and only moved tasks stop.
    let mut fourth = WorkerCommand::distributed(worker_props(&tansu)).spawn();
    fourth.wait_ready().await;
    let new_id = worker_id(&fourth);
    let after = owners(
        &wait_status(&workers[1], "spread", "the new worker to run tasks", |b| {
            running(b, 6) && counts(&owners(b)).get(&new_id).copied().unwrap_or(0) >= 1
        })
        .await,
    );
    let c = counts(&after);
    let (min, max) = (
        c.values().min().copied().unwrap_or(0),
        c.values().max().copied().unwrap_or(0),
    );
    assert_eq!(c.len(), 4, "{c:?}");
    assert!(max - min <= 1, "balanced within one task: {c:?}");
    let moved: BTreeSet<u64> = after
        .iter()
        .filter(|(t, w)| before.get(t) != Some(w))
        .map(|(t, _)| *t)
        .collect();
    for w in &workers {
        let log = w.log_text();
        for task in 0..6u64 {
            let stopped = log.contains(&format!("task stopped task=spread-{task}\n"))
                || log.contains(&format!("task stopped task=spread-{task} "));
            if stopped {
                assert!(
                    moved.contains(&task),
                    "task {task} stayed on its worker but was stopped ({})",
                    w.rest_url()
                );
            }
        }
    }
    workers.push(fourth);
}

/// Seqnos per task in the verifiable source's topic.
async fn seqnos_by_task(tansu: &Tansu, topic: &str) -> BTreeMap<i64, Vec<i64>> {
    let mut by_task: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in kafka::consume_to_end(&tansu.bootstrap(), topic, Duration::from_secs(30)).await {
        let v = r.value_json();
        by_task
            .entry(v["task"].as_i64().unwrap_or(-1))
            .or_default()
            .push(v["seqno"].as_i64().unwrap_or(-1));
    }
    by_task
}

#[tokio::test]
async fn kill_9_of_a_worker_moves_its_tasks_and_loses_no_sequence_number() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "failover", 1).await;
    let mut workers = start_workers(&tansu, 2).await;
    sluice_tests::wait_until_described("two workers in the group", WAIT, POLL, || {
        let joined = workers
            .iter()
            .filter(|w| w.log_text().contains("joined group with assignment"))
            .count();
        async move { joined == 2 }
    })
    .await;
    let (code, body) = rest::post_json(
        &workers[0].url("/connectors"),
        &source("failover", 4, "failover", 100),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    wait_status(&workers[0], "failover", "tasks on both workers", |b| {
        running(b, 4) && counts(&owners(b)).len() == 2
    })
    .await;
    kafka::consume_all(&tansu.bootstrap(), "failover", 200, WAIT).await;

    let victim_id = worker_id(&workers[1]);
    workers[1].kill_9();
    let killed_at = Instant::now();
    let survivor_id = worker_id(&workers[0]);
    wait_status(&workers[0], "failover", "all tasks on the survivor", |b| {
        running(b, 4) && owners(b).values().all(|w| *w == survivor_id)
    })
    .await;
    let failover = killed_at.elapsed();
    println!("failover took {:.1} s", failover.as_secs_f64());
    // Kafka's bound plus Tansu's slower rebalance (a dead member is noticed after the session
    // timeout, then the join round itself takes a few seconds on Tansu).
    let bound = Duration::from_millis(SESSION_MS + DELAY_MS + 2000) + Duration::from_secs(10);
    assert!(
        failover <= bound,
        "tasks of {victim_id} ran elsewhere after {failover:?} (bound {bound:?})"
    );

    // Let the moved tasks write, then stop writing and check every seqno is there.
    kafka::consume_all(&tansu.bootstrap(), "failover", 800, WAIT).await;
    let (code, _) =
        rest::put_json(&workers[0].url("/connectors/failover/pause"), &Value::Null).await;
    assert_eq!(code, 202);
    wait_status(&workers[0], "failover", "paused", |b| {
        b["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["state"] == "PAUSED"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let by_task = seqnos_by_task(&tansu, "failover").await;
    assert_eq!(by_task.len(), 4, "{:?}", by_task.keys());
    let mut duplicates = 0;
    for (task, seqnos) in &by_task {
        let distinct: BTreeSet<i64> = seqnos.iter().copied().collect();
        let max = *distinct.last().unwrap_or(&-1);
        let missing: Vec<i64> = (0..=max).filter(|s| !distinct.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "task {task} is missing seqnos {missing:?}"
        );
        duplicates += seqnos.len() - distinct.len();
    }
    println!("duplicates after kill -9: {duplicates}");
}

#[tokio::test]
async fn a_restarted_cluster_comes_back_from_the_topics_alone() {
    let tansu = Tansu::start().await;
    kafka::create_topic(&tansu.bootstrap(), "kept", 1).await;
    kafka::create_topic(&tansu.bootstrap(), "held", 1).await;
    let mut workers = start_workers(&tansu, 2).await;
    let (code, body) = rest::post_json(
        &workers[0].url("/connectors"),
        &source("kept", 2, "kept", 50),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = rest::post_json(
        &workers[1].url("/connectors"),
        &source("held", 1, "held", 50),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    wait_status(&workers[0], "kept", "kept running", |b| running(b, 2)).await;
    wait_status(&workers[0], "held", "held running", |b| running(b, 1)).await;
    let (code, _) = rest::put_json(&workers[1].url("/connectors/held/pause"), &Value::Null).await;
    assert_eq!(code, 202);
    wait_status(&workers[0], "held", "held paused", |b| {
        b["connector"]["state"] == "PAUSED"
    })
    .await;
    kafka::consume_all(&tansu.bootstrap(), "kept", 100, WAIT).await;

    // Graceful stop of the whole cluster (offsets flushed), then a restart.
    for w in &mut workers {
        w.terminate().await;
    }
    for w in &mut workers {
        w.restart().await;
        w.wait_ready().await;
    }
    for w in &workers {
        wait_joined(w).await;
    }
    let (code, names) = rest::get_json(&workers[1].url("/connectors")).await;
    assert_eq!(code, 200);
    assert_eq!(names, json!(["held", "kept"]));
    wait_status(&workers[1], "kept", "kept running again", |b| running(b, 2)).await;
    wait_status(&workers[1], "held", "held still paused", |b| {
        b["connector"]["state"] == "PAUSED"
            && b["tasks"]
                .as_array()
                .is_some_and(|t| t.len() == 1 && t[0]["state"] == "PAUSED")
    })
    .await;
    // Offsets came back from the offsets topic: the tasks went on after their last seqno
    // instead of starting again at 0.
    let seen = kafka::consume_all(&tansu.bootstrap(), "kept", 0, WAIT)
        .await
        .len();
    kafka::consume_all(&tansu.bootstrap(), "kept", seen + 100, WAIT).await;
    let (code, _) = rest::put_json(&workers[0].url("/connectors/kept/pause"), &Value::Null).await;
    assert_eq!(code, 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (task, seqnos) in seqnos_by_task(&tansu, "kept").await {
        let zeros = seqnos.iter().filter(|s| **s == 0).count();
        assert_eq!(
            zeros, 1,
            "task {task} started over from seqno 0 after the restart"
        );
    }
}

fn string(bytes: &Option<Vec<u8>>) -> String {
    bytes
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn internal_topics_use_java_connects_record_formats_both_ways() {
    let tansu = Tansu::start().await;
    let bs = tansu.bootstrap();
    kafka::create_topic(&bs, "java-out", 1).await;
    kafka::create_topic_with_config(&bs, "connect-configs", 1, &[("cleanup.policy", "compact")])
        .await;
    kafka::create_topic_with_config(&bs, "connect-offsets", 1, &[("cleanup.policy", "compact")])
        .await;
    // What a Java worker would have written: a connector, its committed task, and an offset.
    let java = |key: &str, value: &str| {
        kafka::OutgoingRecord::keyed(key.as_bytes().to_vec(), value.as_bytes().to_vec())
    };
    kafka::produce_records(
        &bs,
        "connect-configs",
        &[
            java(
                "connector-from-java",
                r#"{"properties":{"connector.class":"org.apache.kafka.connect.tools.VerifiableSourceConnector","tasks.max":"1","topic":"java-out","throughput":"20","name":"from-java"}}"#,
            ),
            java(
                "task-from-java-0",
                r#"{"properties":{"connector.class":"org.apache.kafka.connect.tools.VerifiableSourceConnector","task.class":"org.apache.kafka.connect.tools.VerifiableSourceTask","tasks.max":"1","topic":"java-out","throughput":"20","name":"from-java","id":"0"}}"#,
            ),
            java("commit-from-java", r#"{"tasks":1}"#),
        ],
    )
    .await;
    kafka::produce_records(
        &bs,
        "connect-offsets",
        &[java(r#"["from-java",{"id":0}]"#, r#"{"seqno":41}"#)],
    )
    .await;

    let workers = start_workers(&tansu, 1).await;
    let w = &workers[0];
    wait_status(w, "from-java", "the Java-written connector running", |b| {
        running(b, 1)
    })
    .await;
    let first = kafka::consume_all(&bs, "java-out", 1, WAIT).await;
    assert_eq!(
        first[0].value_json()["seqno"],
        42,
        "the task resumes after the offset a Java worker committed"
    );

    // What Sluice writes.
    let (code, body) = rest::post_json(
        &w.url("/connectors"),
        &json!({"name": "mine", "config": {"connector.class": "VerifiableSource", "tasks.max": "1", "topic": "java-out", "throughput": "5"}, "initial_state": "PAUSED"}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    wait_status(w, "mine", "mine paused", |b| {
        b["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 1 && t[0]["state"] == "PAUSED")
    })
    .await;
    let configs: BTreeMap<String, String> =
        kafka::consume_to_end(&bs, "connect-configs", Duration::from_secs(20))
            .await
            .iter()
            .map(|r| (r.key_str().unwrap_or_default(), string(&r.value)))
            .collect();
    assert_eq!(
        configs["target-state-mine"],
        r#"{"state":"PAUSED","state.v2":"PAUSED"}"#
    );
    assert_eq!(configs["commit-mine"], r#"{"tasks":1}"#);
    let connector: Value = serde_json::from_str(&configs["connector-mine"]).unwrap();
    assert_eq!(connector["properties"]["topic"], "java-out");
    assert_eq!(connector.as_object().map(|o| o.len()), Some(1));
    let task: Value = serde_json::from_str(&configs["task-mine-0"]).unwrap();
    assert_eq!(task["properties"]["name"], "mine");
    let session: Value = serde_json::from_str(&configs["session-key"]).unwrap();
    assert_eq!(session["algorithm"], "HmacSHA256");
    assert!(session["creation-timestamp"].is_i64());

    let statuses: BTreeMap<String, String> =
        kafka::consume_to_end(&bs, "connect-status", Duration::from_secs(20))
            .await
            .iter()
            .map(|r| (r.key_str().unwrap_or_default(), string(&r.value)))
            .collect();
    let id = worker_id(w);
    let task_status: Value = serde_json::from_str(&statuses["status-task-mine-0"]).unwrap();
    assert_eq!(
        statuses["status-task-mine-0"],
        format!(
            r#"{{"state":"PAUSED","trace":null,"worker_id":"{id}","generation":{}}}"#,
            task_status["generation"]
        )
    );
    assert!(statuses.contains_key("status-topic-java-out:connector-from-java"));

    let offsets: BTreeSet<String> =
        kafka::consume_to_end(&bs, "connect-offsets", Duration::from_secs(20))
            .await
            .iter()
            .filter_map(|r| r.key_str())
            .collect();
    assert!(offsets.contains(r#"["from-java",{"id":0}]"#), "{offsets:?}");
}

#[tokio::test]
async fn a_config_topic_with_several_partitions_is_refused() {
    let tansu = Tansu::start().await;
    kafka::create_topic_with_config(
        &tansu.bootstrap(),
        "connect-configs",
        2,
        &[("cleanup.policy", "compact")],
    )
    .await;
    let mut w = WorkerCommand::distributed(worker_props(&tansu)).spawn();
    let status = w.wait_exit(Duration::from_secs(60)).await.expect("exits");
    assert_ne!(status.code(), Some(0));
    let log = w.log_text();
    assert!(log.contains("required to have a single partition"), "{log}");
}
