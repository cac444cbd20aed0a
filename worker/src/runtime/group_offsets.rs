//! A sink connector's consumer group offsets (group `connect-NAME`), read, committed and deleted
//! for the offsets endpoints (KIP-875). librdkafka calls block, so each runs on the blocking pool.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use regex::Regex;
use sluice_api::{ConnectError, Props, TopicPartition};

use super::kafka::client_config;

const TIMEOUT: Duration = Duration::from_secs(15);
/// How long a change waits for the stopped tasks' consumers to leave the group: a leave can take
/// a few seconds to be processed (Tansu: ~4 s; Kafka: at once, up to the session timeout when a
/// task died without leaving).
const LEAVE_WAIT: Duration = Duration::from_secs(15);
const LEAVE_POLL: Duration = Duration::from_millis(500);

/// What Kafka answers while the group still has members (Kafka's `UnknownMemberIdException` for
/// a commit from outside the group, `GroupNotEmptyException` for a delete).
fn members_remain(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::NonEmptyGroup
            | RDKafkaErrorCode::RebalanceInProgress
            | RDKafkaErrorCode::IllegalGeneration
    )
}

/// The error once the group still has members after [`LEAVE_WAIT`] (Kafka Connect's wording,
/// plus the members the broker lists, so that the client holding the group can be found).
fn still_has_members(group: &str, members: &str) -> ConnectError {
    ConnectError::connect(format!(
        "Failed to alter consumer group offsets of {group}: the group still has active members, \
         either because the connector's tasks have not stopped completely yet or because the \
         connector was resumed. If the connector is stopped, the request can be safely retried. \
         {members}"
    ))
}

/// The members of `group` as the broker describes them (`client id from host`), for errors.
fn describe_members(consumer: &BaseConsumer, group: &str) -> String {
    match consumer.fetch_group_list(Some(group), TIMEOUT) {
        Ok(list) => {
            let members: Vec<String> = list
                .groups()
                .iter()
                .flat_map(|g| g.members())
                .map(|m| format!("{} from {} ({})", m.client_id(), m.client_host(), m.id()))
                .collect();
            format!("Members: [{}].", members.join(", "))
        }
        Err(e) => format!("(Could not describe the group: {e}.)"),
    }
}

fn group_consumer(props: &Props, group: &str) -> Result<BaseConsumer, ConnectError> {
    let mut cfg = client_config(props);
    cfg.set("group.id", group)
        .set("enable.auto.commit", "false");
    cfg.create()
        .map_err(|e| ConnectError::connect(format!("Could not create a Kafka client: {e}")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectError> + Send + 'static,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ConnectError::connect(format!("offset operation interrupted: {e}")))?
}

/// The committed offsets of `group` for the topics a sink subscribes to (`topics` names, or one
/// `^regex`); partitions without a committed offset are left out.
pub async fn committed(
    props: Props,
    group: String,
    subscription: Vec<String>,
) -> Result<Vec<(TopicPartition, i64)>, ConnectError> {
    blocking(move || {
        let consumer = group_consumer(&props, &group)?;
        let metadata = consumer
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| ConnectError::connect(format!("Could not read topic metadata: {e}")))?;
        let pattern = match subscription.as_slice() {
            [one] if one.starts_with('^') => Some(
                Regex::new(one)
                    .map_err(|e| ConnectError::config(format!("Invalid topics.regex: {e}")))?,
            ),
            _ => None,
        };
        let mut tpl = TopicPartitionList::new();
        for topic in metadata.topics() {
            let wanted = match &pattern {
                Some(re) => re.is_match(topic.name()),
                None => subscription.iter().any(|t| t == topic.name()),
            };
            if wanted {
                for p in topic.partitions() {
                    tpl.add_partition(topic.name(), p.id());
                }
            }
        }
        if tpl.count() == 0 {
            return Ok(Vec::new());
        }
        let committed = consumer
            .committed_offsets(tpl, TIMEOUT)
            .map_err(|e| ConnectError::connect(format!("Could not read committed offsets: {e}")))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((TopicPartition::new(e.topic(), e.partition()), o)),
                _ => None,
            })
            .collect())
    })
    .await
}

/// Commits offsets for `group`, waiting (up to [`LEAVE_WAIT`]) for the stopped tasks' consumers
/// to leave it: Kafka takes a commit from outside the group only once it has no members.
pub async fn commit(
    props: Props,
    group: String,
    offsets: Vec<(TopicPartition, i64)>,
) -> Result<(), ConnectError> {
    blocking(move || {
        let consumer = group_consumer(&props, &group)?;
        let mut tpl = TopicPartitionList::new();
        for (tp, offset) in &offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))
                .map_err(|e| ConnectError::data(format!("Invalid offset for {tp}: {e}")))?;
        }
        let deadline = std::time::Instant::now() + LEAVE_WAIT;
        loop {
            match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => return Ok(()),
                Err(KafkaError::ConsumerCommit(code)) if members_remain(code) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(still_has_members(
                            &group,
                            &describe_members(&consumer, &group),
                        ));
                    }
                    // On the blocking pool: sleeping here holds no runtime thread.
                    std::thread::sleep(LEAVE_POLL);
                }
                Err(e) => {
                    return Err(ConnectError::connect(format!(
                        "Could not commit offsets: {e}"
                    )));
                }
            }
        }
    })
    .await
}

/// Deletes `group` and so every offset it committed; a group that does not exist is fine.
pub async fn delete_group(props: Props, group: String) -> Result<(), ConnectError> {
    let admin: AdminClient<DefaultClientContext> = client_config(&props)
        .create()
        .map_err(|e| ConnectError::connect(format!("Could not create an admin client: {e}")))?;
    let deadline = tokio::time::Instant::now() + LEAVE_WAIT;
    loop {
        let results = admin
            .delete_groups(
                &[group.as_str()],
                &AdminOptions::new().request_timeout(Some(TIMEOUT)),
            )
            .await
            .map_err(|e| ConnectError::connect(format!("Could not delete group {group}: {e}")))?;
        // One group asked, one result.
        match results
            .into_iter()
            .find_map(|r| r.err().map(|(_, code)| code))
        {
            None | Some(RDKafkaErrorCode::GroupIdNotFound) => return Ok(()),
            Some(code) if members_remain(code) => {
                if tokio::time::Instant::now() >= deadline {
                    let (props, name) = (props.clone(), group.clone());
                    let members = blocking(move || {
                        Ok(describe_members(&group_consumer(&props, &name)?, &name))
                    })
                    .await
                    .unwrap_or_else(|e| format!("(Could not describe the group: {e}.)"));
                    return Err(still_has_members(&group, &members));
                }
                tokio::time::sleep(LEAVE_POLL).await;
            }
            Some(code) => {
                return Err(ConnectError::connect(format!(
                    "Could not delete consumer group {group}: {code}"
                )));
            }
        }
    }
}
