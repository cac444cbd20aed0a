//! A Connect group member: finds the group coordinator, joins with protocol type `connect`,
//! runs the leader's assignment when elected, syncs, heartbeats, and rejoins when needed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::assignor::MemberInfo;
use crate::client::{ClientError, Connection};
use crate::protocol::{Assignment, ConnectProtocol, PROTOCOL_TYPE, WorkerMetadata};

/// Highest request versions this member implements.
const FIND_COORDINATOR_MAX: i16 = 6;
const JOIN_GROUP_MAX: i16 = 9;
const SYNC_GROUP_MAX: i16 = 5;
const HEARTBEAT_MAX: i16 = 4;
const LEAVE_GROUP_MAX: i16 = 5;

/// Extra time a JoinGroup/SyncGroup may take beyond the rebalance timeout (the coordinator
/// holds them until the round completes).
const JOIN_MARGIN: Duration = Duration::from_secs(5);
/// Backoff bounds for coordinator discovery and failed joins.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Pause before rejoining after a CONFIG_MISMATCH assignment.
const CONFIG_MISMATCH_BACKOFF: Duration = Duration::from_millis(250);

// Kafka error codes the member reacts to.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
const ILLEGAL_GENERATION: i16 = 22;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const MEMBER_ID_REQUIRED: i16 = 79;
const FENCED_INSTANCE_ID: i16 = 82;

/// How a member joins its group.
#[derive(Clone, Debug)]
pub struct MemberConfig {
    /// Brokers to ask for the coordinator, as `host:port`.
    pub bootstrap_servers: Vec<String>,
    /// The group id (`group.id`).
    pub group_id: String,
    /// The client id sent in request headers.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `rebalance.timeout.ms`.
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// The protocols to offer, in preference order (see [`ConnectProtocol::from_config`]).
    pub protocols: Vec<ConnectProtocol>,
}

/// What the member asks of the worker (the herder).
#[async_trait::async_trait]
pub trait GroupHandler: Send + Sync + 'static {
    /// Metadata to offer at JoinGroup: this worker's URL, config offset, current allocation.
    fn metadata(&self) -> WorkerMetadata;

    /// Leader only, between JoinGroup and SyncGroup: assignments for every member id.
    async fn assign(
        &self,
        generation: i32,
        leader_id: &str,
        protocol: ConnectProtocol,
        members: Vec<MemberInfo>,
    ) -> BTreeMap<String, Assignment>;

    /// This member's assignment for a generation; returns once revoked work has stopped.
    async fn assigned(
        &self,
        generation: i32,
        member_id: &str,
        protocol: ConnectProtocol,
        assignment: Assignment,
    );

    /// The membership was lost (session expired, fenced, coordinator unreachable beyond the
    /// session timeout): stop all work.
    async fn lost(&self);

    /// Called before every JoinGroup that follows a completed one, with the protocol of that
    /// generation. Under [`ConnectProtocol::Eager`] the worker must stop all its work here
    /// (its next assignment is complete, and others may be given its items); incremental
    /// protocols keep work running. The default does nothing.
    async fn rebalance_starting(&self, _previous: ConnectProtocol) {}
}

/// Membership state readable through the handle.
#[derive(Debug)]
struct Shared {
    member_id: Option<String>,
    generation: i32,
}

/// Controls a spawned member.
pub struct MemberHandle {
    shared: Arc<Mutex<Shared>>,
    rejoin: Arc<Notify>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MemberHandle {
    /// Asks the member to rejoin the group (e.g. new connectors or task configs).
    pub fn request_rejoin(&self) {
        self.rejoin.notify_one();
    }

    /// Leaves the group (LeaveGroup) and waits for the member task to end. Work is not stopped
    /// through the handler: the caller does that.
    pub async fn leave(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// The member id of the last completed join, if any.
    pub fn member_id(&self) -> Option<String> {
        self.shared.lock().ok().and_then(|s| s.member_id.clone())
    }

    /// The generation of the last completed join, or -1.
    pub fn generation(&self) -> i32 {
        self.shared.lock().map(|s| s.generation).unwrap_or(-1)
    }
}

impl Drop for MemberHandle {
    fn drop(&mut self) {
        // Dropped without leave(): stop the task without a LeaveGroup.
        if self.shutdown.is_some() {
            self.task.abort();
        }
    }
}

/// Starts a member on the current tokio runtime.
pub fn spawn_member(config: MemberConfig, handler: Arc<dyn GroupHandler>) -> MemberHandle {
    let shared = Arc::new(Mutex::new(Shared {
        member_id: None,
        generation: -1,
    }));
    let rejoin = Arc::new(Notify::new());
    let (shutdown_tx, shutdown_rx) = oneshot::channel();
    let mut member = Member {
        config,
        handler,
        shared: shared.clone(),
        rejoin: rejoin.clone(),
        connection: None,
        coordinator: None,
        member_id: String::new(),
        generation: -1,
        protocol: None,
        completed_generation: None,
        last_assignment: None,
        has_assignment: false,
        last_heartbeat_ok: Instant::now(),
        backoff: MIN_BACKOFF,
    };
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = member.run() => {}
            _ = shutdown_rx => {}
        }
        member.leave_group().await;
    });
    MemberHandle {
        shared,
        rejoin,
        shutdown: Some(shutdown_tx),
        task,
    }
}

/// What to do after a join round or a heartbeat ends abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Rejoin now with the current member id.
    Rejoin,
    /// Rejoin after a pause.
    RejoinAfter(Duration),
    /// The membership is gone: report loss, forget the member id, rejoin.
    Reset,
    /// Find the coordinator again.
    Rediscover,
}

struct Member {
    config: MemberConfig,
    handler: Arc<dyn GroupHandler>,
    shared: Arc<Mutex<Shared>>,
    rejoin: Arc<Notify>,
    connection: Option<Connection>,
    coordinator: Option<String>,
    member_id: String,
    generation: i32,
    /// The protocol of the last completed join.
    protocol: Option<ConnectProtocol>,
    /// The generation of the last completed SyncGroup.
    completed_generation: Option<i32>,
    /// The assignment last received (embedded in the next metadata, as Java does).
    last_assignment: Option<Assignment>,
    has_assignment: bool,
    last_heartbeat_ok: Instant,
    backoff: Duration,
}

impl Member {
    async fn run(&mut self) {
        loop {
            let next = match self.join_round().await {
                Ok(scheduled_rejoin) => {
                    self.backoff = MIN_BACKOFF;
                    self.steady(scheduled_rejoin).await
                }
                Err(next) => next,
            };
            match next {
                Next::Rejoin => {}
                Next::RejoinAfter(pause) => tokio::time::sleep(pause).await,
                Next::Reset => self.reset().await,
                Next::Rediscover => {
                    self.connection = None;
                    self.check_session_expired().await;
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Reports the loss of membership once and forgets the member id.
    async fn reset(&mut self) {
        if self.has_assignment {
            tracing::warn!(group = %self.config.group_id, member_id = %self.member_id, "group membership lost; stopping all work");
            self.has_assignment = false;
            self.handler.lost().await;
        }
        self.member_id.clear();
        self.generation = -1;
        self.completed_generation = None;
        self.last_assignment = None;
        self.publish();
    }

    /// Without a successful heartbeat for longer than the session timeout the coordinator
    /// has dropped this member: its work may already run elsewhere.
    async fn check_session_expired(&mut self) {
        if self.has_assignment && self.last_heartbeat_ok.elapsed() > self.config.session_timeout {
            self.reset().await;
        }
    }

    fn publish(&self) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.member_id = (!self.member_id.is_empty() && self.generation >= 0)
                .then(|| self.member_id.clone());
            shared.generation = self.generation;
        }
    }

    fn request_timeout(&self) -> Duration {
        self.config.session_timeout.max(Duration::from_secs(1))
    }

    fn join_timeout(&self) -> Duration {
        self.config.rebalance_timeout + JOIN_MARGIN
    }

    fn group_id(&self) -> GroupId {
        GroupId(StrBytes::from_string(self.config.group_id.clone()))
    }

    /// Finds the coordinator through the bootstrap servers and connects to it.
    async fn connect_coordinator(&mut self) -> Result<(), Next> {
        if self.connection.as_ref().is_some_and(Connection::is_usable) {
            return Ok(());
        }
        self.connection = None;
        let timeout = self.request_timeout();
        for server in self.config.bootstrap_servers.clone() {
            let mut bootstrap =
                match Connection::connect(&server, &self.config.client_id, timeout).await {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(%server, %error, "cannot reach bootstrap server");
                        continue;
                    }
                };
            let coordinator =
                match find_coordinator(&mut bootstrap, &self.config.group_id, timeout).await {
                    Ok(coordinator) => coordinator,
                    Err(error) => {
                        tracing::warn!(%server, %error, "FindCoordinator failed");
                        continue;
                    }
                };
            let connection = if coordinator == server {
                bootstrap
            } else {
                match Connection::connect(&coordinator, &self.config.client_id, timeout).await {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(%coordinator, %error, "cannot reach the group coordinator");
                        continue;
                    }
                }
            };
            tracing::debug!(group = %self.config.group_id, %coordinator, "group coordinator found");
            self.coordinator = Some(coordinator);
            self.connection = Some(connection);
            return Ok(());
        }
        Err(Next::Rediscover)
    }

    /// One JoinGroup + SyncGroup round and the handler's `assigned`. Returns when the member
    /// should rejoin on its own (after the assignment's delay), if ever.
    async fn join_round(&mut self) -> Result<Option<Instant>, Next> {
        self.connect_coordinator().await?;
        if let Some(previous) = self.protocol {
            self.handler.rebalance_starting(previous).await;
        }
        let metadata = self.handler.metadata();
        let protocols: Vec<JoinGroupRequestProtocol> = self
            .config
            .protocols
            .iter()
            .map(|p| {
                JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(p.name()))
                    .with_metadata(
                        metadata.encode_with_last_assignment(*p, self.last_assignment.as_ref()),
                    )
            })
            .collect();

        // JoinGroup, repeated once when the coordinator hands out a member id first.
        let group_id = self.group_id();
        let timeout = self.join_timeout();
        let response = loop {
            let connection = self.connection.as_mut().ok_or(Next::Rediscover)?;
            let version = connection
                .version_for::<JoinGroupRequest>(JOIN_GROUP_MAX)
                .map_err(|e| fatal_client_error(&e))?;
            let mut request = JoinGroupRequest::default()
                .with_group_id(group_id.clone())
                .with_session_timeout_ms(millis(self.config.session_timeout))
                .with_member_id(StrBytes::from_string(self.member_id.clone()))
                .with_protocol_type(StrBytes::from_static_str(PROTOCOL_TYPE))
                .with_protocols(protocols.clone());
            if version >= 1 {
                request = request.with_rebalance_timeout_ms(millis(self.config.rebalance_timeout));
            }
            tracing::debug!(group = %self.config.group_id, member_id = %self.member_id, version, "sending JoinGroup");
            let response = connection
                .send(&request, version, timeout)
                .await
                .map_err(|e| transport_error("JoinGroup", &e))?;
            match response.error_code {
                0 => break response,
                MEMBER_ID_REQUIRED => {
                    self.member_id = response.member_id.to_string();
                }
                UNKNOWN_MEMBER_ID => {
                    tracing::info!(member_id = %self.member_id, "coordinator does not know this member id; rejoining as a new member");
                    return Err(Next::Reset);
                }
                code => return Err(self.error_next("JoinGroup", code)),
            }
        };

        self.generation = response.generation_id;
        self.member_id = response.member_id.to_string();
        let protocol_name = response
            .protocol_name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        let Some(protocol) = ConnectProtocol::from_name(&protocol_name) else {
            tracing::error!(protocol = %protocol_name, "coordinator selected an unknown Connect protocol");
            return Err(Next::RejoinAfter(MAX_BACKOFF));
        };
        let leader = response.leader.to_string();
        // The coordinator may answer a rejoin without starting a new generation (Kafka does
        // for followers with unchanged metadata; Tansu also for the leader). SyncGroup then
        // returns the assignment already applied and ignores a leader's new one, so neither
        // the assignor nor the handler runs again.
        let same_generation = self.completed_generation == Some(self.generation);
        let is_leader = leader == self.member_id && !same_generation;
        tracing::info!(
            group = %self.config.group_id,
            generation = self.generation,
            member_id = %self.member_id,
            %leader,
            protocol = protocol.name(),
            members = response.members.len(),
            "joined group"
        );

        let mut assignments = Vec::new();
        if is_leader {
            let members: Vec<MemberInfo> = response
                .members
                .iter()
                .map(|m| MemberInfo {
                    member_id: m.member_id.to_string(),
                    metadata: WorkerMetadata::decode(&m.metadata).unwrap_or_else(|error| {
                        tracing::warn!(member_id = %m.member_id, %error, "undecodable member metadata; treating it as empty");
                        WorkerMetadata {
                            url: String::new(),
                            config_offset: -1,
                            allocation: None,
                        }
                    }),
                })
                .collect();
            let member_ids: Vec<String> = members.iter().map(|m| m.member_id.clone()).collect();
            let handler = self.handler.clone();
            let generation = self.generation;
            let leader_id = self.member_id.clone();
            let task = tokio::spawn(async move {
                handler
                    .assign(generation, &leader_id, protocol, members)
                    .await
            });
            // A failed heartbeat here shows up again in SyncGroup's own error.
            let (result, _) = self.await_with_heartbeats(task).await;
            let Some(computed) = result else {
                tracing::error!("the leader's assignment failed");
                return Err(Next::RejoinAfter(MAX_BACKOFF));
            };
            for id in &member_ids {
                if !computed.contains_key(id) {
                    tracing::warn!(member_id = %id, "leader assignment has no entry for a member");
                }
            }
            assignments = computed
                .iter()
                .map(|(id, assignment)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(StrBytes::from_string(id.clone()))
                        .with_assignment(assignment.encode(protocol))
                })
                .collect();
        }

        let connection = self.connection.as_mut().ok_or(Next::Rediscover)?;
        let version = connection
            .version_for::<SyncGroupRequest>(SYNC_GROUP_MAX)
            .map_err(|e| fatal_client_error(&e))?;
        let mut request = SyncGroupRequest::default()
            .with_group_id(group_id)
            .with_generation_id(self.generation)
            .with_member_id(StrBytes::from_string(self.member_id.clone()))
            .with_assignments(assignments);
        if version >= 5 {
            request = request
                .with_protocol_type(Some(StrBytes::from_static_str(PROTOCOL_TYPE)))
                .with_protocol_name(Some(StrBytes::from_static_str(protocol.name())));
        }
        let response = connection
            .send(&request, version, timeout)
            .await
            .map_err(|e| transport_error("SyncGroup", &e))?;
        if response.error_code != 0 {
            return Err(self.error_next("SyncGroup", response.error_code));
        }
        let assignment = match Assignment::decode(&response.assignment) {
            Ok(assignment) => assignment,
            Err(error) => {
                tracing::error!(%error, bytes = response.assignment.len(), "undecodable assignment from the leader");
                return Err(Next::RejoinAfter(MAX_BACKOFF));
            }
        };
        self.last_heartbeat_ok = Instant::now();
        if same_generation && self.has_assignment {
            tracing::info!(
                group = %self.config.group_id,
                generation = self.generation,
                "coordinator kept the current generation; assignment unchanged"
            );
            return Ok(None);
        }
        self.protocol = Some(protocol);
        self.completed_generation = Some(self.generation);
        self.last_assignment = Some(assignment.clone());
        self.has_assignment = true;
        self.publish();
        tracing::info!(
            group = %self.config.group_id,
            generation = self.generation,
            error = assignment.error,
            assigned_connectors = assignment.assigned.connectors.len(),
            assigned_tasks = assignment.assigned.tasks.len(),
            revoked_connectors = assignment.revoked.connectors.len(),
            revoked_tasks = assignment.revoked.tasks.len(),
            delay_ms = assignment.delay_ms,
            "received assignment"
        );

        let revoked_any = !assignment.revoked.is_empty();
        let error = assignment.error;
        let delay_ms = assignment.delay_ms;
        let handler = self.handler.clone();
        let generation = self.generation;
        let member_id = self.member_id.clone();
        let task = tokio::spawn(async move {
            handler
                .assigned(generation, &member_id, protocol, assignment)
                .await
        });
        let (done, heartbeat_next) = self.await_with_heartbeats(task).await;
        if done.is_none() {
            tracing::error!("the handler failed while applying an assignment");
        }
        if let Some(next) = heartbeat_next {
            return Err(next);
        }
        if error == Assignment::CONFIG_MISMATCH {
            return Err(Next::RejoinAfter(CONFIG_MISMATCH_BACKOFF));
        }
        if revoked_any && protocol.is_incremental() {
            return Err(Next::Rejoin);
        }
        Ok((delay_ms > 0).then(|| Instant::now() + Duration::from_millis(delay_ms as u64)))
    }

    /// Waits for a handler task while heartbeating; returns its result (None if it panicked)
    /// and what a failed heartbeat asks for.
    async fn await_with_heartbeats<T>(
        &mut self,
        mut task: JoinHandle<T>,
    ) -> (Option<T>, Option<Next>) {
        let mut ticker = tokio::time::interval_at(
            Instant::now() + self.config.heartbeat_interval,
            self.config.heartbeat_interval,
        );
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut next = None;
        loop {
            tokio::select! {
                result = &mut task => return (result.ok(), next),
                _ = ticker.tick(), if next.is_none() => {
                    if let Err(failed) = self.heartbeat().await {
                        next = Some(failed);
                    }
                }
            }
        }
    }

    /// Heartbeats until something asks for a rejoin.
    async fn steady(&mut self, scheduled_rejoin: Option<Instant>) -> Next {
        let mut ticker = tokio::time::interval_at(
            Instant::now() + self.config.heartbeat_interval,
            self.config.heartbeat_interval,
        );
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let rejoin = self.rejoin.clone();
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Err(next) = self.heartbeat().await {
                        return next;
                    }
                }
                _ = rejoin.notified() => {
                    tracing::info!(group = %self.config.group_id, "rejoin requested");
                    return Next::Rejoin;
                }
                _ = sleep_until_opt(scheduled_rejoin) => {
                    tracing::info!(group = %self.config.group_id, "scheduled rebalance delay ended; rejoining");
                    return Next::Rejoin;
                }
            }
        }
    }

    async fn heartbeat(&mut self) -> Result<(), Next> {
        let timeout = self.request_timeout();
        let group_id = self.group_id();
        let connection = self.connection.as_mut().ok_or(Next::Rediscover)?;
        let version = connection
            .version_for::<HeartbeatRequest>(HEARTBEAT_MAX)
            .map_err(|e| fatal_client_error(&e))?;
        let request = HeartbeatRequest::default()
            .with_group_id(group_id)
            .with_generation_id(self.generation)
            .with_member_id(StrBytes::from_string(self.member_id.clone()));
        let response = connection
            .send(&request, version, timeout)
            .await
            .map_err(|e| transport_error("Heartbeat", &e))?;
        match response.error_code {
            0 => {
                self.last_heartbeat_ok = Instant::now();
                Ok(())
            }
            REBALANCE_IN_PROGRESS => {
                // The member is still in the group: the session stays alive.
                self.last_heartbeat_ok = Instant::now();
                tracing::info!(group = %self.config.group_id, "group is rebalancing; rejoining");
                Err(Next::Rejoin)
            }
            code => Err(self.error_next("Heartbeat", code)),
        }
    }

    /// Maps a group error code to the reaction.
    fn error_next(&self, api: &str, code: i16) -> Next {
        let error = ResponseError::try_from_code(code)
            .map(|e| e.to_string())
            .unwrap_or_default();
        match code {
            REBALANCE_IN_PROGRESS => {
                tracing::info!(api, "group is rebalancing; rejoining");
                Next::Rejoin
            }
            UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION | FENCED_INSTANCE_ID => {
                tracing::warn!(api, code, %error, member_id = %self.member_id, generation = self.generation, "membership no longer valid");
                Next::Reset
            }
            NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE | COORDINATOR_LOAD_IN_PROGRESS => {
                tracing::info!(api, code, %error, "coordinator moved or unavailable; rediscovering");
                Next::Rediscover
            }
            _ => {
                tracing::error!(api, code, %error, group = %self.config.group_id, "group request failed");
                Next::RejoinAfter(MAX_BACKOFF)
            }
        }
    }

    /// Sends LeaveGroup if the member has an id (best effort).
    async fn leave_group(&mut self) {
        if self.member_id.is_empty() {
            return;
        }
        let timeout = self.request_timeout();
        if !self.connection.as_ref().is_some_and(Connection::is_usable) {
            self.connection = None;
            if let Some(coordinator) = self.coordinator.clone() {
                self.connection =
                    Connection::connect(&coordinator, &self.config.client_id, timeout)
                        .await
                        .ok();
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            tracing::warn!(group = %self.config.group_id, "cannot reach the coordinator to leave the group");
            return;
        };
        let Ok(version) = connection.version_for::<LeaveGroupRequest>(LEAVE_GROUP_MAX) else {
            return;
        };
        let member_id = StrBytes::from_string(self.member_id.clone());
        let mut request = LeaveGroupRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(self.config.group_id.clone())));
        if version >= 3 {
            request =
                request.with_members(vec![MemberIdentity::default().with_member_id(member_id)]);
        } else {
            request = request.with_member_id(member_id);
        }
        match connection.send(&request, version, timeout).await {
            Ok(response) if response.error_code == 0 => {
                tracing::info!(group = %self.config.group_id, member_id = %self.member_id, "left group");
            }
            Ok(response) => {
                tracing::warn!(code = response.error_code, "LeaveGroup failed");
            }
            Err(error) => tracing::warn!(%error, "LeaveGroup failed"),
        }
        self.member_id.clear();
        self.generation = -1;
        self.publish();
    }
}

/// Asks `connection` for the coordinator of `group`; returns its `host:port`.
async fn find_coordinator(
    connection: &mut Connection,
    group: &str,
    timeout: Duration,
) -> Result<String, String> {
    let version = connection
        .version_for::<FindCoordinatorRequest>(FIND_COORDINATOR_MAX)
        .map_err(|e| e.to_string())?;
    let key = StrBytes::from_string(group.to_string());
    let request = if version >= 4 {
        FindCoordinatorRequest::default().with_coordinator_keys(vec![key])
    } else {
        FindCoordinatorRequest::default().with_key(key)
    };
    let response = connection
        .send(&request, version, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let (error_code, host, port) = if version >= 4 {
        let coordinator = response
            .coordinators
            .first()
            .ok_or_else(|| "FindCoordinator returned no coordinator".to_string())?;
        (
            coordinator.error_code,
            coordinator.host.to_string(),
            coordinator.port,
        )
    } else {
        (
            response.error_code,
            response.host.to_string(),
            response.port,
        )
    };
    if error_code != 0 {
        let error = ResponseError::try_from_code(error_code)
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(format!("FindCoordinator error {error_code} {error}"));
    }
    Ok(format!("{host}:{port}"))
}

fn transport_error(api: &str, error: &ClientError) -> Next {
    tracing::warn!(api, %error, "request to the coordinator failed");
    Next::Rediscover
}

fn fatal_client_error(error: &ClientError) -> Next {
    tracing::error!(%error, "cannot talk to the group coordinator");
    Next::RejoinAfter(MAX_BACKOFF)
}

fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
