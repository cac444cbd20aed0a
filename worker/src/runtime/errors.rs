//! Record-level error handling (KIP-298): retries of retriable failures within
//! `errors.retry.timeout`, `errors.tolerance`, error logging, and the sink dead letter queue.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

// tokio's clock, so retry deadlines follow the runtime's time (and paused time in tests).
use tokio::time::Instant;

use backon::{BackoffBuilder, ExponentialBuilder};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice_api::{ConnectError, Props};

use crate::connector_config::common_config_def;
use crate::metrics::TaskMetrics;
use crate::status::TaskId;

/// Where in the data path an error happened (Kafka's `Stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Key conversion.
    KeyConverter,
    /// Value conversion.
    ValueConverter,
    /// Header conversion.
    HeaderConverter,
    /// A transform.
    Transformation,
    /// Writing to Kafka.
    KafkaProduce,
    /// Reading from Kafka.
    KafkaConsume,
    /// The source task's poll.
    TaskPoll,
    /// The sink task's put.
    TaskPut,
}

impl Stage {
    /// Kafka's name of the stage, used in logs and dead letter queue headers.
    pub fn name(self) -> &'static str {
        match self {
            Self::KeyConverter => "KEY_CONVERTER",
            Self::ValueConverter => "VALUE_CONVERTER",
            Self::HeaderConverter => "HEADER_CONVERTER",
            Self::Transformation => "TRANSFORMATION",
            Self::KafkaProduce => "KAFKA_PRODUCE",
            Self::KafkaConsume => "KAFKA_CONSUME",
            Self::TaskPoll => "TASK_POLL",
            Self::TaskPut => "TASK_PUT",
        }
    }
}

/// The `errors.*` settings of a connector.
#[derive(Debug, Clone)]
pub struct ErrorSettings {
    /// `errors.tolerance=all`: skip bad records instead of failing.
    pub tolerate_all: bool,
    /// How long to retry a retriable failure; `None` retries forever.
    pub retry_timeout: Option<Duration>,
    /// Longest wait between retries.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub log_enable: bool,
    /// `errors.log.include.messages`.
    pub log_include_messages: bool,
}

impl ErrorSettings {
    /// Reads the settings from a connector config.
    pub fn from_props(props: &Props) -> Result<Self, ConnectError> {
        // Parse only the error keys, so a missing name or class does not matter here.
        let def = common_config_def();
        let mut only: Props = Props::new();
        for k in def.keys().iter().filter(|k| k.name.starts_with("errors.")) {
            if let Some(v) = props.get(&k.name) {
                only.insert(k.name.clone(), v.clone());
            }
        }
        only.insert("name".into(), "x".into());
        only.insert("connector.class".into(), "x".into());
        let c = def.parse(&only)?;
        let timeout = c.long("errors.retry.timeout").unwrap_or(0);
        Ok(Self {
            tolerate_all: c
                .string("errors.tolerance")
                .is_some_and(|t| t.eq_ignore_ascii_case("all")),
            retry_timeout: (timeout >= 0).then(|| Duration::from_millis(timeout.unsigned_abs())),
            retry_delay_max: Duration::from_millis(
                c.long("errors.retry.delay.max.ms")
                    .unwrap_or(60_000)
                    .unsigned_abs(),
            ),
            log_enable: c.bool("errors.log.enable").unwrap_or(false),
            log_include_messages: c.bool("errors.log.include.messages").unwrap_or(false),
        })
    }
}

/// What happened to an operation run under the error handler.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It succeeded (perhaps after retries).
    Done(T),
    /// It failed and `errors.tolerance=all` skips the record.
    Skipped(ConnectError),
}

/// Runs record operations with retries and tolerance (Kafka's `RetryWithToleranceOperator`).
pub struct ErrorHandler {
    settings: ErrorSettings,
    metrics: TaskMetrics,
    task: TaskId,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl ErrorHandler {
    /// A handler for one task.
    pub fn new(settings: ErrorSettings, metrics: TaskMetrics, task: TaskId) -> Self {
        Self {
            settings,
            metrics,
            task,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &ErrorSettings {
        &self.settings
    }

    /// Runs `op`, retrying retriable failures within `errors.retry.timeout`. A failure that is not
    /// retried (or out of retries) is skipped under `errors.tolerance=all`, and otherwise returned
    /// as the error that fails the task. `describe` names the record, for error logs.
    pub async fn run<T, F, Fut>(
        &self,
        stage: Stage,
        describe: impl Fn(bool) -> String,
        mut op: F,
    ) -> Result<Outcome<T>, ConnectError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectError>>,
    {
        let started = Instant::now();
        // Built at the first failure only: this runs for every record and stage.
        let mut delays: Option<backon::ExponentialBackoff> = None;
        loop {
            let err = match op().await {
                Ok(v) => return Ok(Outcome::Done(v)),
                Err(e) => e,
            };
            self.metrics.total_record_failures.inc();
            self.metrics.last_error_timestamp.set(now_ms());
            if err.is_retriable() {
                let remaining = match self.settings.retry_timeout {
                    None => Some(Duration::MAX),
                    Some(limit) => limit.checked_sub(started.elapsed()),
                };
                let delay = delays
                    .get_or_insert_with(|| {
                        ExponentialBuilder::default()
                            .with_min_delay(Duration::from_millis(300))
                            .with_max_delay(self.settings.retry_delay_max)
                            .with_jitter()
                            .without_max_times()
                            .build()
                    })
                    .next();
                if let (Some(remaining), Some(delay)) = (remaining.filter(|r| !r.is_zero()), delay)
                {
                    self.metrics.total_retries.inc();
                    tracing::debug!(task = %self.task, stage = stage.name(), error = %err, "retrying");
                    tokio::time::sleep(delay.min(remaining)).await;
                    continue;
                }
            }
            self.metrics.total_record_errors.inc();
            if self.settings.log_enable {
                self.metrics.total_errors_logged.inc();
                tracing::error!(
                    task = %self.task,
                    stage = stage.name(),
                    error_class = err.java_class_name(),
                    "Error encountered in task {}. Executing stage '{}', where {}: {err}",
                    self.task,
                    stage.name(),
                    describe(self.settings.log_include_messages),
                );
            }
            if self.settings.tolerate_all {
                self.metrics.total_records_skipped.inc();
                return Ok(Outcome::Skipped(err));
            }
            return Err(ConnectError::connect(format!(
                "Tolerance exceeded in error handler (stage {}): {err}",
                stage.name()
            )));
        }
    }
}

/// Writes records that failed conversion or transformation to the dead letter queue topic, with
/// the original key, value, headers and timestamp, and optionally `__connect.errors.*` headers.
pub struct DeadLetterQueue {
    producer: FutureProducer,
    topic: String,
    context_headers: bool,
    task: TaskId,
    metrics: TaskMetrics,
}

impl DeadLetterQueue {
    /// A reporter writing to `topic` with `producer`.
    pub fn new(
        producer: FutureProducer,
        topic: String,
        context_headers: bool,
        task: TaskId,
        metrics: TaskMetrics,
    ) -> Self {
        Self {
            producer,
            topic,
            context_headers,
            task,
            metrics,
        }
    }

    /// Sends the original record; a failure is logged and counted, never fatal.
    pub async fn report(&self, original: &OwnedMessage, stage: Stage, error: &ConnectError) {
        self.metrics.dlq_produce_requests.inc();
        let mut headers = OwnedHeaders::new();
        if let Some(h) = original.headers() {
            for i in 0..h.count() {
                let header = h.get(i);
                headers = headers.insert(Header {
                    key: header.key,
                    value: header.value,
                });
            }
        }
        if self.context_headers {
            let partition = original.partition().to_string();
            let offset = original.offset().to_string();
            let task_id = self.task.task.to_string();
            let message = error.to_string();
            let pairs: [(&str, &str); 9] = [
                ("__connect.errors.topic", original.topic()),
                ("__connect.errors.partition", &partition),
                ("__connect.errors.offset", &offset),
                ("__connect.errors.connector.name", &self.task.connector),
                ("__connect.errors.task.id", &task_id),
                ("__connect.errors.stage", stage.name()),
                (
                    "__connect.errors.exception.class.name",
                    error.java_class_name(),
                ),
                ("__connect.errors.exception.message", &message),
                ("__connect.errors.exception.stacktrace", &message),
            ];
            for (key, value) in pairs {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
        }
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&self.topic).headers(headers);
        if let Some(k) = original.key() {
            record = record.key(k);
        }
        if let Some(v) = original.payload() {
            record = record.payload(v);
        }
        if let Some(ts) = original.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        if let Err((e, _)) = self.producer.send(record, Duration::from_secs(30)).await {
            self.metrics.dlq_produce_failures.inc();
            tracing::error!(task = %self.task, topic = %self.topic, error = %e, "could not write a failed record to the dead letter queue");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn handler(pairs: &[(&str, &str)]) -> (ErrorHandler, TaskMetrics) {
        let props: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let metrics = TaskMetrics::default();
        let h = ErrorHandler::new(
            ErrorSettings::from_props(&props).unwrap(),
            metrics.clone(),
            TaskId {
                connector: "c".into(),
                task: 0,
            },
        );
        (h, metrics)
    }

    #[tokio::test]
    async fn tolerance_none_fails_on_first_data_error() {
        let (h, m) = handler(&[]);
        let r = h
            .run(
                Stage::ValueConverter,
                |_| String::new(),
                || async { Err::<(), _>(ConnectError::data("bad")) },
            )
            .await;
        let err = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("Tolerance exceeded") && err.contains("VALUE_CONVERTER"),
            "{err}"
        );
        assert_eq!(m.total_record_errors.get(), 1);
    }

    #[tokio::test]
    async fn tolerance_all_skips_and_counts() {
        let (h, m) = handler(&[("errors.tolerance", "all"), ("errors.log.enable", "true")]);
        let r = h
            .run(
                Stage::Transformation,
                |_| String::new(),
                || async { Err::<(), _>(ConnectError::data("bad")) },
            )
            .await
            .unwrap();
        assert!(matches!(r, Outcome::Skipped(_)));
        assert_eq!(m.total_records_skipped.get(), 1);
        assert_eq!(m.total_errors_logged.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_errors_are_retried_within_the_timeout() {
        let (h, m) = handler(&[
            ("errors.retry.timeout", "10000"),
            ("errors.retry.delay.max.ms", "1000"),
        ]);
        let calls = AtomicU32::new(0);
        let r = h
            .run(
                Stage::Transformation,
                |_| String::new(),
                || {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n < 3 {
                            Err(ConnectError::retriable("later"))
                        } else {
                            Ok(n)
                        }
                    }
                },
            )
            .await
            .unwrap();
        assert!(matches!(r, Outcome::Done(3)));
        assert_eq!(m.total_retries.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_timeout() {
        let (h, _) = handler(&[
            ("errors.retry.timeout", "2000"),
            ("errors.retry.delay.max.ms", "500"),
        ]);
        let calls = AtomicU32::new(0);
        let r = h
            .run(
                Stage::Transformation,
                |_| String::new(),
                || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err::<(), _>(ConnectError::retriable("never")) }
                },
            )
            .await;
        assert!(r.is_err());
        let n = calls.load(Ordering::SeqCst);
        assert!(
            (3..=20).contains(&n),
            "{n} attempts in 2 s with delays up to 500 ms"
        );
    }
}
