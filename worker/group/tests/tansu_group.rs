//! Group membership against a real Tansu broker: two members split a fixed set of connectors
//! and tasks exactly once, a second member's join rebalances the first, and after a leave the
//! remaining member takes everything.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_group::{
    Assignment, ConnectProtocol, Connection, ConnectorsAndTasks, GroupHandler, IncrementalAssignor,
    MemberConfig, MemberHandle, MemberInfo, TaskRef, WorkerMetadata, eager_assign, spawn_member,
};

struct Broker {
    child: Child,
    addr: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_tansu() -> Broker {
    let binary = std::env::var("SLUICE_TANSU_BIN")
        .expect("SLUICE_TANSU_BIN must point at the Tansu broker binary (scripts/test.sh sets it)");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(binary)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .env_remove("CLUSTER_ID")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tansu");
    let broker = Broker {
        child,
        addr: format!("127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if Connection::connect(&broker.addr, "probe", Duration::from_secs(2))
            .await
            .is_ok()
        {
            return broker;
        }
        assert!(Instant::now() < deadline, "tansu did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn configured() -> ConnectorsAndTasks {
    let mut set = ConnectorsAndTasks::default();
    for (name, tasks) in [("alpha", 3), ("beta", 2)] {
        set.connectors.insert(name.to_string());
        for task in 0..tasks {
            set.tasks.insert(TaskRef::new(name, task));
        }
    }
    set
}

#[derive(Default)]
struct Seen {
    holdings: Option<ConnectorsAndTasks>,
    generations: Vec<i32>,
    delays: Vec<i32>,
    lost: usize,
}

/// A worker stand-in: runs "work" by recording it, assigns with the real assignors.
struct TestWorker {
    name: String,
    assignor: Mutex<IncrementalAssignor>,
    seen: Mutex<Seen>,
}

impl TestWorker {
    fn new(name: &str, max_delay: Duration) -> Arc<Self> {
        Arc::new(TestWorker {
            name: name.to_string(),
            assignor: Mutex::new(IncrementalAssignor::new(max_delay)),
            seen: Mutex::new(Seen::default()),
        })
    }

    fn holdings(&self) -> ConnectorsAndTasks {
        self.seen
            .lock()
            .unwrap()
            .holdings
            .clone()
            .unwrap_or_default()
    }

    fn last_generation(&self) -> i32 {
        self.seen
            .lock()
            .unwrap()
            .generations
            .last()
            .copied()
            .unwrap_or(-1)
    }
}

#[async_trait::async_trait]
impl GroupHandler for TestWorker {
    fn metadata(&self) -> WorkerMetadata {
        WorkerMetadata {
            url: format!("http://{}", self.name),
            config_offset: 0,
            allocation: self.seen.lock().unwrap().holdings.clone(),
        }
    }

    async fn assign(
        &self,
        generation: i32,
        leader_id: &str,
        protocol: ConnectProtocol,
        members: Vec<MemberInfo>,
    ) -> BTreeMap<String, Assignment> {
        let url = format!("http://{}", self.name);
        if protocol == ConnectProtocol::Eager {
            return eager_assign(leader_id, &url, 0, &configured(), &members);
        }
        self.assignor.lock().unwrap().assign(
            Instant::now(),
            generation,
            leader_id,
            &url,
            0,
            &configured(),
            &members,
        )
    }

    async fn assigned(
        &self,
        generation: i32,
        _member_id: &str,
        protocol: ConnectProtocol,
        assignment: Assignment,
    ) {
        let mut seen = self.seen.lock().unwrap();
        let mut holdings = if protocol == ConnectProtocol::Eager {
            ConnectorsAndTasks::default()
        } else {
            seen.holdings.clone().unwrap_or_default()
        };
        holdings.remove_all(&assignment.revoked);
        holdings.extend(&assignment.assigned);
        seen.holdings = Some(holdings);
        seen.generations.push(generation);
        seen.delays.push(assignment.delay_ms);
    }

    async fn lost(&self) {
        let mut seen = self.seen.lock().unwrap();
        seen.holdings = None;
        seen.lost += 1;
    }
}

fn member_config(broker: &Broker, protocols: Vec<ConnectProtocol>, group: &str) -> MemberConfig {
    MemberConfig {
        bootstrap_servers: vec![broker.addr.clone()],
        group_id: group.to_string(),
        client_id: "sluice-group-test".into(),
        session_timeout: Duration::from_millis(6000),
        rebalance_timeout: Duration::from_millis(10000),
        heartbeat_interval: Duration::from_millis(1000),
        protocols,
    }
}

async fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn exactly_once(workers: &[&TestWorker]) -> bool {
    let mut union = ConnectorsAndTasks::default();
    let mut total = 0;
    for worker in workers {
        let held = worker.holdings();
        total += held.len();
        union.extend(&held);
    }
    union == configured() && total == configured().len()
}

async fn join_rebalance_leave(protocols: Vec<ConnectProtocol>, group: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let broker = start_tansu().await;
    let a = TestWorker::new("a", Duration::from_millis(1500));
    let b = TestWorker::new("b", Duration::from_millis(1500));

    let handle_a: MemberHandle =
        spawn_member(member_config(&broker, protocols.clone(), group), a.clone());
    wait_for(
        "the first member to own everything",
        Duration::from_secs(20),
        || a.holdings() == configured(),
    )
    .await;
    let first_generation = a.last_generation();
    assert_eq!(handle_a.generation(), first_generation);
    assert!(handle_a.member_id().is_some());

    let handle_b = spawn_member(member_config(&broker, protocols.clone(), group), b.clone());
    wait_for(
        "both members to share the work exactly once",
        Duration::from_secs(25),
        || {
            let (ha, hb) = (a.holdings(), b.holdings());
            exactly_once(&[&a, &b])
                && ha.tasks.len().abs_diff(hb.tasks.len()) <= 1
                && ha.connectors.len() == 1
                && hb.connectors.len() == 1
        },
    )
    .await;
    // The first member saw the rebalance the join caused.
    assert!(a.last_generation() > first_generation);
    assert_ne!(handle_a.member_id(), handle_b.member_id());

    handle_b.leave().await;
    wait_for(
        "the remaining member to take everything",
        Duration::from_secs(20),
        || a.holdings() == configured(),
    )
    .await;
    assert_eq!(a.seen.lock().unwrap().lost, 0);
    handle_a.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_members_share_rebalance_and_take_over() {
    join_rebalance_leave(
        ConnectProtocol::from_config("sessioned").unwrap(),
        "sluice-group-incremental",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_members_share_rebalance_and_take_over() {
    join_rebalance_leave(vec![ConnectProtocol::Eager], "sluice-group-eager").await;
}

/// The leader dies without a LeaveGroup: after the session timeout and the scheduled delay the
/// survivor (now leader) runs everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_leader_death_hands_everything_to_the_survivor() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let broker = start_tansu().await;
    let protocols = ConnectProtocol::from_config("sessioned").unwrap();
    let group = "sluice-group-death";
    let a = TestWorker::new("a", Duration::from_millis(1500));
    let b = TestWorker::new("b", Duration::from_millis(1500));
    let handle_a = spawn_member(member_config(&broker, protocols.clone(), group), a.clone());
    wait_for(
        "the first member to own everything",
        Duration::from_secs(20),
        || a.holdings() == configured(),
    )
    .await;
    let handle_b = spawn_member(member_config(&broker, protocols, group), b.clone());
    wait_for(
        "both members to share the work",
        Duration::from_secs(25),
        || exactly_once(&[&a, &b]) && !a.holdings().is_empty() && !b.holdings().is_empty(),
    )
    .await;
    let died = Instant::now();
    drop(handle_a);
    wait_for(
        "the survivor to take everything",
        Duration::from_secs(25),
        || b.holdings() == configured(),
    )
    .await;
    println!(
        "survivor took over {:?} after the leader died",
        died.elapsed()
    );
    assert_eq!(b.seen.lock().unwrap().lost, 0);
    handle_b.leave().await;
}
