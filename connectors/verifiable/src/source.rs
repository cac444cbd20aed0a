//! VerifiableSource: numbered records, one sequence per task, resumable from committed offsets.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, Connector, ConnectorContext,
    DefaultValue, Importance, OffsetStorageReader, Props, Result, Schema, SourceConnector,
    SourceMap, SourceRecord, SourceTask, SourceTaskContext, Validator, Value, async_trait,
};
use tokio::time::Instant;
use tracing::{debug, info};

use crate::{numbered_task_configs, parse_task_id};

/// Source partition key holding the task number, as in Kafka's VerifiableSourceTask.
pub const ID_FIELD: &str = "id";
/// Source offset key holding the sequence number of the record, as in Kafka's VerifiableSourceTask.
pub const SEQNO_FIELD: &str = "seqno";

const TOPIC_CONFIG: &str = "topic";
const THROUGHPUT_CONFIG: &str = "throughput";

/// The longest a `poll` waits before returning an empty batch.
const POLL_BUDGET: Duration = Duration::from_secs(1);
/// The most records one `poll` returns.
const MAX_BATCH: usize = 500;
/// A throttled task aims at batches worth this much time, so it neither wakes up for every record
/// nor bursts.
const BATCH_INTERVAL_SECS: f64 = 0.05;
/// Unused allowance kept after an idle spell, in seconds of throughput; bounds catch-up bursts.
const BURST_SECS: f64 = 0.1;

/// The source connector's settings: `topic` and `throughput`.
pub fn source_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                TOPIC_CONFIG,
                ConfigType::String,
                DefaultValue::Required,
                Importance::High,
                "The topic to produce to",
            )
            .validator(Validator::NonEmptyString),
        )
        .key(
            THROUGHPUT_CONFIG,
            ConfigType::Long,
            DefaultValue::Value("-1".to_owned()),
            Importance::Medium,
            "Records per second each task produces; a negative value means no limit",
        )
}

/// Generates numbered records on `tasks.max` tasks.
#[derive(Debug, Default)]
pub struct VerifiableSourceConnector {
    props: Props,
}

impl VerifiableSourceConnector {
    /// A connector that has not been started.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Connector for VerifiableSourceConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def(&self) -> ConfigDef {
        source_config_def()
    }

    async fn start(&mut self, props: Props, _context: ConnectorContext) -> Result<()> {
        source_config_def().parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(numbered_task_configs(&self.props, max_tasks))
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for VerifiableSourceConnector {}

/// Paces record production with a token bucket refilled at the configured rate.
#[derive(Debug)]
struct Throttle {
    per_second: f64,
    /// Most allowance that may build up.
    capacity: f64,
    /// Allowance to wait for before producing a batch.
    batch_target: f64,
    allowance: f64,
    last_refill: Instant,
}

impl Throttle {
    fn new(per_second: i64) -> Self {
        let per_second = per_second as f64;
        let capacity = (per_second * BURST_SECS).max(1.0);
        Self {
            per_second,
            capacity,
            batch_target: (per_second * BATCH_INTERVAL_SECS)
                .clamp(1.0, capacity.min(MAX_BATCH as f64)),
            // The first record goes out at once.
            allowance: 1.0,
            last_refill: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64()
            * self.per_second;
        self.allowance = (self.allowance + earned).min(self.capacity);
        self.last_refill = now;
    }

    /// Takes the whole records allowed now, up to `max`.
    fn take(&mut self, max: usize) -> usize {
        let count = (self.allowance.floor() as usize).min(max);
        self.allowance -= count as f64;
        count
    }

    /// How long until the allowance reaches `target`.
    fn time_until(&self, target: f64) -> Duration {
        Duration::from_secs_f64(((target - self.allowance) / self.per_second).max(0.0))
    }
}

/// How fast a task produces.
#[derive(Debug)]
enum Pace {
    Unlimited,
    Paused,
    Limited(Throttle),
}

/// Produces records `{"task":N,"seqno":S,"time_ms":T}` keyed by the task number, with source
/// partition `{"id": N}` and offset `{"seqno": S}`; on start it continues after the committed seqno.
pub struct VerifiableSourceTask {
    id: i32,
    topic: String,
    next_seqno: i64,
    pace: Pace,
}

impl Default for VerifiableSourceTask {
    fn default() -> Self {
        Self::new()
    }
}

impl VerifiableSourceTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        Self {
            id: 0,
            topic: String::new(),
            next_seqno: 0,
            pace: Pace::Unlimited,
        }
    }

    /// The sequence number the next record will carry.
    pub fn next_seqno(&self) -> i64 {
        self.next_seqno
    }

    /// How many records may go out now; waits (at most until `deadline`) for the throttle.
    async fn allowed(&mut self, deadline: Instant) -> usize {
        match &mut self.pace {
            Pace::Unlimited => MAX_BATCH,
            Pace::Paused => {
                tokio::time::sleep_until(deadline).await;
                0
            }
            Pace::Limited(throttle) => loop {
                let now = Instant::now();
                throttle.refill(now);
                if throttle.allowance >= throttle.batch_target {
                    return throttle.take(MAX_BATCH);
                }
                if now >= deadline {
                    return throttle.take(MAX_BATCH);
                }
                let wait = throttle.time_until(throttle.batch_target);
                tokio::time::sleep_until(deadline.min(now + wait)).await;
            },
        }
    }

    fn make_record(&self, seqno: i64, time_ms: i64) -> SourceRecord {
        let value = json!({"task": self.id, "seqno": seqno, "time_ms": time_ms}).to_string();
        let mut partition = SourceMap::new();
        partition.insert(ID_FIELD.to_owned(), json!(self.id));
        let mut offset = SourceMap::new();
        offset.insert(SEQNO_FIELD.to_owned(), json!(seqno));
        SourceRecord {
            source_partition: partition,
            source_offset: offset,
            record: ConnectRecord {
                topic: self.topic.clone(),
                key_schema: Some(Schema::int32()),
                key: Value::Int32(self.id),
                value_schema: Some(Schema::string()),
                value: Value::String(value),
                ..ConnectRecord::default()
            },
        }
    }
}

/// The seqno after the committed one, or 0 when nothing was committed.
fn resume_seqno(offsets: &dyn OffsetStorageReader, id: i32) -> Result<i64> {
    let mut partition = SourceMap::new();
    partition.insert(ID_FIELD.to_owned(), json!(id));
    let Some(offset) = offsets.offset(&partition) else {
        return Ok(0);
    };
    offset
        .get(SEQNO_FIELD)
        .and_then(serde_json::Value::as_i64)
        .map(|committed| committed + 1)
        .ok_or_else(|| {
            ConnectError::connect(format!(
                "committed offset {} of VerifiableSourceTask {id} has no integer seqno",
                serde_json::Value::Object(offset.clone())
            ))
        })
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[async_trait]
impl SourceTask for VerifiableSourceTask {
    async fn start(&mut self, props: Props, context: SourceTaskContext) -> Result<()> {
        let config = source_config_def().parse(&props)?;
        let id = match parse_task_id(&props)? {
            Some(id) => id,
            None => i32::try_from(context.task_id)
                .map_err(|_| ConnectError::config("task number does not fit an INT"))?,
        };
        let topic = config
            .string(TOPIC_CONFIG)
            .ok_or_else(|| ConnectError::config("VerifiableSourceTask config missing topic"))?
            .to_owned();
        let throughput = config.long(THROUGHPUT_CONFIG).unwrap_or(-1);
        self.next_seqno = resume_seqno(context.offsets.as_ref(), id)?;
        self.id = id;
        self.topic = topic;
        self.pace = match throughput {
            t if t < 0 => Pace::Unlimited,
            0 => Pace::Paused,
            t => Pace::Limited(Throttle::new(t)),
        };
        info!(
            connector = %context.connector, task = id, topic = %self.topic, throughput,
            seqno = self.next_seqno, "started VerifiableSourceTask"
        );
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let deadline = Instant::now() + POLL_BUDGET;
        let count = self.allowed(deadline).await;
        // From here on nothing awaits, so a dropped poll cannot skip seqnos.
        let time_ms = now_millis();
        let first = self.next_seqno;
        let records: Vec<SourceRecord> = (first..first + count as i64)
            .map(|seqno| self.make_record(seqno, time_ms))
            .collect();
        self.next_seqno += count as i64;
        Ok(records)
    }

    async fn stop(&mut self) -> Result<()> {
        debug!(
            task = self.id,
            next_seqno = self.next_seqno,
            "stopped VerifiableSourceTask"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_never_lets_more_than_rate_plus_burst_through() {
        let mut throttle = Throttle::new(100);
        let start = throttle.last_refill;
        let mut taken = throttle.take(MAX_BATCH);
        // Ask every 7 ms over 2 simulated seconds.
        for step in 1..=285u64 {
            throttle.refill(start + Duration::from_millis(step * 7));
            taken += throttle.take(MAX_BATCH);
        }
        // 1.995 s at 100/s, plus the first record and the burst allowance.
        assert!((190..=211).contains(&taken), "took {taken}");
    }

    #[test]
    fn idle_time_does_not_buy_a_large_burst() {
        let mut throttle = Throttle::new(1000);
        let start = throttle.last_refill;
        throttle.refill(start + Duration::from_secs(60));
        assert_eq!(throttle.take(MAX_BATCH), 100);
    }
}
