//! Prometheus metrics named after Kafka Connect's JMX metrics (reference §11).
//!
//! Naming: `kafka_connect_<group>_<metric>`, with Connect's dashes turned into underscores, the
//! way the Prometheus JMX exporter renders Connect's beans; tags become labels (`connector`,
//! `task`). Counters carry Prometheus' `_total` suffix; Connect's `-rate` and `-avg` figures are
//! left to PromQL (`rate()`, histogram `_sum / _count`), since Prometheus derives them from the
//! totals and histograms exposed here.
//!
//! Plugins register their own counters and gauges through `sluice_api::metrics::PluginMetrics`
//! (KIP-877); [`PluginMetricFamilies`] exports them in the `plugins` group as
//! `kafka_connect_plugins_<name>{connector,task,<extra tags>}`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-connector metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    /// Connector name.
    pub connector: String,
}

/// Labels of per-task metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// Connector name.
    pub connector: String,
    /// Task number.
    pub task: String,
}

/// Labels of status metrics: one series per state, 1 for the current one.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// Connector name.
    pub connector: String,
    /// Task number, empty for the connector itself.
    pub task: String,
    /// State in lower case (`running`, `paused`, `failed`, ...).
    pub status: String,
}

type TimeHistogram = Family<TaskLabels, Histogram, fn() -> Histogram>;

fn time_histogram() -> Histogram {
    // 0.5 ms .. ~65 s
    Histogram::new(exponential_buckets(0.5, 2.0, 18))
}

fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 16))
}

/// Every metric family of the worker.
pub struct Metrics {
    registry: Registry,
    /// What plugins registered (KIP-877).
    plugins: Arc<PluginMetricFamilies>,
    /// `connect-worker-metrics connector-count`.
    pub connector_count: Gauge,
    /// `connect-worker-metrics task-count`.
    pub task_count: Gauge,
    /// `connector-startup-attempts-total`.
    pub connector_startup_attempts: Counter,
    /// `connector-startup-success-total`.
    pub connector_startup_success: Counter,
    /// `connector-startup-failure-total`.
    pub connector_startup_failure: Counter,
    /// `task-startup-attempts-total`.
    pub task_startup_attempts: Counter,
    /// `task-startup-success-total`.
    pub task_startup_success: Counter,
    /// `task-startup-failure-total`.
    pub task_startup_failure: Counter,
    /// Per-connector task counts by state (`connector-running-task-count`, ...), refreshed on scrape.
    pub connector_task_counts: Family<StatusLabels, Gauge>,
    /// `connector-metrics status` and `connector-task-metrics status`, refreshed on scrape.
    pub status: Family<StatusLabels, Gauge>,
    source_record_poll: Family<TaskLabels, Counter>,
    source_record_write: Family<TaskLabels, Counter>,
    source_record_active_count: Family<TaskLabels, Gauge>,
    poll_batch_time_ms: TimeHistogram,
    sink_record_read: Family<TaskLabels, Counter>,
    sink_record_send: Family<TaskLabels, Counter>,
    sink_record_active_count: Family<TaskLabels, Gauge>,
    partition_count: Family<TaskLabels, Gauge>,
    put_batch_time_ms: TimeHistogram,
    offset_commit_completion: Family<TaskLabels, Counter>,
    offset_commit_skip: Family<TaskLabels, Counter>,
    offset_commit_success: Family<TaskLabels, Counter>,
    offset_commit_failure: Family<TaskLabels, Counter>,
    offset_commit_time_ms: TimeHistogram,
    batch_size: Family<TaskLabels, Histogram, fn() -> Histogram>,
    total_record_failures: Family<TaskLabels, Counter>,
    total_record_errors: Family<TaskLabels, Counter>,
    total_records_skipped: Family<TaskLabels, Counter>,
    total_retries: Family<TaskLabels, Counter>,
    total_errors_logged: Family<TaskLabels, Counter>,
    dlq_produce_requests: Family<TaskLabels, Counter>,
    dlq_produce_failures: Family<TaskLabels, Counter>,
    last_error_timestamp: Family<TaskLabels, Gauge>,
}

/// The metric handles of one task, resolved once so the data path does no label lookups.
#[derive(Clone)]
pub struct TaskMetrics {
    /// `source-record-poll-total`.
    pub source_record_poll: Counter,
    /// `source-record-write-total`.
    pub source_record_write: Counter,
    /// `source-record-active-count`: records sent and not yet acknowledged.
    pub source_record_active_count: Gauge,
    /// `poll-batch-*-time-ms`.
    pub poll_batch_time_ms: Histogram,
    /// `sink-record-read-total`.
    pub sink_record_read: Counter,
    /// `sink-record-send-total`.
    pub sink_record_send: Counter,
    /// `sink-record-active-count`: records put and not yet committed.
    pub sink_record_active_count: Gauge,
    /// `partition-count`.
    pub partition_count: Gauge,
    /// `put-batch-*-time-ms`.
    pub put_batch_time_ms: Histogram,
    /// `offset-commit-completion-total` (sink).
    pub offset_commit_completion: Counter,
    /// `offset-commit-skip-total` (sink).
    pub offset_commit_skip: Counter,
    /// Successful offset commits (`offset-commit-success-percentage` numerator).
    pub offset_commit_success: Counter,
    /// Failed offset commits.
    pub offset_commit_failure: Counter,
    /// `offset-commit-*-time-ms`.
    pub offset_commit_time_ms: Histogram,
    /// `batch-size-*`.
    pub batch_size: Histogram,
    /// `total-record-failures`.
    pub total_record_failures: Counter,
    /// `total-record-errors`.
    pub total_record_errors: Counter,
    /// `total-records-skipped`.
    pub total_records_skipped: Counter,
    /// `total-retries`.
    pub total_retries: Counter,
    /// `total-errors-logged`.
    pub total_errors_logged: Counter,
    /// `deadletterqueue-produce-requests`.
    pub dlq_produce_requests: Counter,
    /// `deadletterqueue-produce-failures`.
    pub dlq_produce_failures: Counter,
    /// `last-error-timestamp` (ms since epoch).
    pub last_error_timestamp: Gauge,
}

impl Default for TaskMetrics {
    /// Handles registered nowhere (for tests of code that records metrics).
    fn default() -> Self {
        Metrics::new().task("", 0)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let time_family =
            || TimeHistogram::new_with_constructor(time_histogram as fn() -> Histogram);
        let m = Self {
            connector_count: Gauge::default(),
            task_count: Gauge::default(),
            connector_startup_attempts: Counter::default(),
            connector_startup_success: Counter::default(),
            connector_startup_failure: Counter::default(),
            task_startup_attempts: Counter::default(),
            task_startup_success: Counter::default(),
            task_startup_failure: Counter::default(),
            connector_task_counts: Family::default(),
            status: Family::default(),
            source_record_poll: Family::default(),
            source_record_write: Family::default(),
            source_record_active_count: Family::default(),
            poll_batch_time_ms: time_family(),
            sink_record_read: Family::default(),
            sink_record_send: Family::default(),
            sink_record_active_count: Family::default(),
            partition_count: Family::default(),
            put_batch_time_ms: time_family(),
            offset_commit_completion: Family::default(),
            offset_commit_skip: Family::default(),
            offset_commit_success: Family::default(),
            offset_commit_failure: Family::default(),
            offset_commit_time_ms: time_family(),
            batch_size: Family::new_with_constructor(size_histogram as fn() -> Histogram),
            total_record_failures: Family::default(),
            total_record_errors: Family::default(),
            total_records_skipped: Family::default(),
            total_retries: Family::default(),
            total_errors_logged: Family::default(),
            dlq_produce_requests: Family::default(),
            dlq_produce_failures: Family::default(),
            last_error_timestamp: Family::default(),
            registry: Registry::default(),
            plugins: Arc::default(),
        };
        let w = "kafka_connect_connect_worker_metrics_";
        registry.register(
            format!("{w}connector_count"),
            "Connectors run by this worker",
            m.connector_count.clone(),
        );
        registry.register(
            format!("{w}task_count"),
            "Tasks run by this worker",
            m.task_count.clone(),
        );
        registry.register(
            format!("{w}connector_startup_attempts"),
            "Connector start attempts",
            m.connector_startup_attempts.clone(),
        );
        registry.register(
            format!("{w}connector_startup_success"),
            "Connector starts that succeeded",
            m.connector_startup_success.clone(),
        );
        registry.register(
            format!("{w}connector_startup_failure"),
            "Connector starts that failed",
            m.connector_startup_failure.clone(),
        );
        registry.register(
            format!("{w}task_startup_attempts"),
            "Task start attempts",
            m.task_startup_attempts.clone(),
        );
        registry.register(
            format!("{w}task_startup_success"),
            "Task starts that succeeded",
            m.task_startup_success.clone(),
        );
        registry.register(
            format!("{w}task_startup_failure"),
            "Task starts that failed",
            m.task_startup_failure.clone(),
        );
        registry.register(
            format!("{w}connector_task_count"),
            "Tasks of a connector by state (connector-running-task-count, ...)",
            m.connector_task_counts.clone(),
        );
        registry.register(
            "kafka_connect_status",
            "1 for the current state of a connector (task=\"\") or task",
            m.status.clone(),
        );
        let s = "kafka_connect_source_task_metrics_";
        registry.register(
            format!("{s}source_record_poll"),
            "Records polled from the source task",
            m.source_record_poll.clone(),
        );
        registry.register(
            format!("{s}source_record_write"),
            "Records written to Kafka (after transforms)",
            m.source_record_write.clone(),
        );
        registry.register(
            format!("{s}source_record_active_count"),
            "Records sent and not yet acknowledged",
            m.source_record_active_count.clone(),
        );
        registry.register(
            format!("{s}poll_batch_time_ms"),
            "Time to poll and process a batch",
            m.poll_batch_time_ms.clone(),
        );
        let k = "kafka_connect_sink_task_metrics_";
        registry.register(
            format!("{k}sink_record_read"),
            "Records read from Kafka",
            m.sink_record_read.clone(),
        );
        registry.register(
            format!("{k}sink_record_send"),
            "Records given to the task (after transforms)",
            m.sink_record_send.clone(),
        );
        registry.register(
            format!("{k}sink_record_active_count"),
            "Records put and not yet committed",
            m.sink_record_active_count.clone(),
        );
        registry.register(
            format!("{k}partition_count"),
            "Partitions assigned to the task",
            m.partition_count.clone(),
        );
        registry.register(
            format!("{k}put_batch_time_ms"),
            "Time of a put call",
            m.put_batch_time_ms.clone(),
        );
        registry.register(
            format!("{k}offset_commit_completion"),
            "Offset commits that completed",
            m.offset_commit_completion.clone(),
        );
        registry.register(
            format!("{k}offset_commit_skip"),
            "Offset commits skipped (nothing to commit)",
            m.offset_commit_skip.clone(),
        );
        let t = "kafka_connect_connector_task_metrics_";
        registry.register(
            format!("{t}offset_commit_success"),
            "Successful offset commits",
            m.offset_commit_success.clone(),
        );
        registry.register(
            format!("{t}offset_commit_failure"),
            "Failed offset commits",
            m.offset_commit_failure.clone(),
        );
        registry.register(
            format!("{t}offset_commit_time_ms"),
            "Time of an offset commit",
            m.offset_commit_time_ms.clone(),
        );
        registry.register(
            format!("{t}batch_size"),
            "Records per batch",
            m.batch_size.clone(),
        );
        let e = "kafka_connect_task_error_metrics_";
        registry.register(
            format!("{e}total_record_failures"),
            "Record processing failures, retries included",
            m.total_record_failures.clone(),
        );
        registry.register(
            format!("{e}total_record_errors"),
            "Records that failed after retries",
            m.total_record_errors.clone(),
        );
        registry.register(
            format!("{e}total_records_skipped"),
            "Records skipped because of errors",
            m.total_records_skipped.clone(),
        );
        registry.register(
            format!("{e}total_retries"),
            "Retries of failed operations",
            m.total_retries.clone(),
        );
        registry.register(
            format!("{e}total_errors_logged"),
            "Errors written to the log",
            m.total_errors_logged.clone(),
        );
        registry.register(
            format!("{e}deadletterqueue_produce_requests"),
            "Records sent to the dead letter queue",
            m.dlq_produce_requests.clone(),
        );
        registry.register(
            format!("{e}deadletterqueue_produce_failures"),
            "Failed dead letter queue writes",
            m.dlq_produce_failures.clone(),
        );
        registry.register(
            format!("{e}last_error_timestamp"),
            "When the last error happened (ms since epoch)",
            m.last_error_timestamp.clone(),
        );
        registry.register_collector(Box::new(m.plugins.clone()));
        Self { registry, ..m }
    }

    /// Where the plugin of one task instance registers its metrics; dropping or
    /// [`TaskPluginMetrics::remove_all`] does not happen by itself: the runtime calls it when the
    /// task stops.
    pub fn plugin_metrics(&self, connector: &str, task: u32) -> Arc<TaskPluginMetrics> {
        Arc::new(TaskPluginMetrics {
            families: self.plugins.clone(),
            connector: connector.to_owned(),
            task: task.to_string(),
            owner: self.plugins.next_owner.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The handles of one task (created on first use).
    pub fn task(&self, connector: &str, task: u32) -> TaskMetrics {
        let l = TaskLabels {
            connector: connector.to_owned(),
            task: task.to_string(),
        };
        TaskMetrics {
            source_record_poll: self.source_record_poll.get_or_create(&l).clone(),
            source_record_write: self.source_record_write.get_or_create(&l).clone(),
            source_record_active_count: self.source_record_active_count.get_or_create(&l).clone(),
            poll_batch_time_ms: self.poll_batch_time_ms.get_or_create(&l).clone(),
            sink_record_read: self.sink_record_read.get_or_create(&l).clone(),
            sink_record_send: self.sink_record_send.get_or_create(&l).clone(),
            sink_record_active_count: self.sink_record_active_count.get_or_create(&l).clone(),
            partition_count: self.partition_count.get_or_create(&l).clone(),
            put_batch_time_ms: self.put_batch_time_ms.get_or_create(&l).clone(),
            offset_commit_completion: self.offset_commit_completion.get_or_create(&l).clone(),
            offset_commit_skip: self.offset_commit_skip.get_or_create(&l).clone(),
            offset_commit_success: self.offset_commit_success.get_or_create(&l).clone(),
            offset_commit_failure: self.offset_commit_failure.get_or_create(&l).clone(),
            offset_commit_time_ms: self.offset_commit_time_ms.get_or_create(&l).clone(),
            batch_size: self.batch_size.get_or_create(&l).clone(),
            total_record_failures: self.total_record_failures.get_or_create(&l).clone(),
            total_record_errors: self.total_record_errors.get_or_create(&l).clone(),
            total_records_skipped: self.total_records_skipped.get_or_create(&l).clone(),
            total_retries: self.total_retries.get_or_create(&l).clone(),
            total_errors_logged: self.total_errors_logged.get_or_create(&l).clone(),
            dlq_produce_requests: self.dlq_produce_requests.get_or_create(&l).clone(),
            dlq_produce_failures: self.dlq_produce_failures.get_or_create(&l).clone(),
            last_error_timestamp: self.last_error_timestamp.get_or_create(&l).clone(),
        }
    }

    /// Drops a removed task's series, as Connect unregisters a stopped task's metrics.
    pub fn remove_task(&self, connector: &str, task: u32) {
        let l = TaskLabels {
            connector: connector.to_owned(),
            task: task.to_string(),
        };
        self.source_record_poll.remove(&l);
        self.source_record_write.remove(&l);
        self.source_record_active_count.remove(&l);
        self.poll_batch_time_ms.remove(&l);
        self.sink_record_read.remove(&l);
        self.sink_record_send.remove(&l);
        self.sink_record_active_count.remove(&l);
        self.partition_count.remove(&l);
        self.put_batch_time_ms.remove(&l);
        self.offset_commit_completion.remove(&l);
        self.offset_commit_skip.remove(&l);
        self.offset_commit_success.remove(&l);
        self.offset_commit_failure.remove(&l);
        self.offset_commit_time_ms.remove(&l);
        self.batch_size.remove(&l);
        self.total_record_failures.remove(&l);
        self.total_record_errors.remove(&l);
        self.total_records_skipped.remove(&l);
        self.total_retries.remove(&l);
        self.total_errors_logged.remove(&l);
        self.dlq_produce_requests.remove(&l);
        self.dlq_produce_failures.remove(&l);
        self.last_error_timestamp.remove(&l);
        self.plugins.remove_task(&l.connector, &l.task);
    }

    /// Renders every metric in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Prefix of the metrics plugins register: Connect's `plugins` group (KIP-877).
pub const PLUGIN_METRICS_PREFIX: &str = "kafka_connect_plugins_";

/// A Prometheus name from a plugin metric name: `kafka_connect_plugins_` + the name in lower
/// case with `-` and `.` as `_` (as the JMX exporter renders Connect's names); a counter loses a
/// trailing `_total`, which the encoder adds back.
pub fn plugin_metric_name(name: &str, counter: bool) -> String {
    let mut out = String::with_capacity(PLUGIN_METRICS_PREFIX.len() + name.len());
    out.push_str(PLUGIN_METRICS_PREFIX);
    out.extend(name.chars().map(|c| match c {
        'a'..='z' | '0'..='9' | '_' => c,
        'A'..='Z' => c.to_ascii_lowercase(),
        _ => '_',
    }));
    if counter && let Some(stripped) = out.strip_suffix("_total") {
        out.truncate(stripped.len());
    }
    out
}

/// Labels of one plugin series: `connector`, `task`, then the extra tags in name order.
type PluginLabels = Vec<(String, String)>;

#[derive(Debug)]
struct PluginSeries {
    /// The [`TaskPluginMetrics`] that registered it.
    owner: u64,
    metric: sluice_api::metrics::Metric,
}

#[derive(Debug)]
struct PluginFamily {
    help: String,
    kind: &'static str,
    series: BTreeMap<PluginLabels, PluginSeries>,
}

/// Every metric plugins registered, by Prometheus name; rendered on each scrape.
#[derive(Debug, Default)]
pub struct PluginMetricFamilies {
    families: Mutex<BTreeMap<String, PluginFamily>>,
    next_owner: AtomicU64,
}

impl PluginMetricFamilies {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PluginFamily>> {
        self.families.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn key(
        connector: &str,
        task: &str,
        name: &sluice_api::MetricName,
        counter: bool,
    ) -> (String, PluginLabels) {
        let mut labels = vec![
            ("connector".to_owned(), connector.to_owned()),
            ("task".to_owned(), task.to_owned()),
        ];
        labels.extend(name.tags.iter().map(|(k, v)| {
            let key = k
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            (key, v.clone())
        }));
        (plugin_metric_name(&name.name, counter), labels)
    }

    /// Drops every series of a task, whichever instance registered it.
    pub fn remove_task(&self, connector: &str, task: &str) {
        self.lock().retain(|_, family| {
            family
                .series
                .retain(|labels, _| !(labels[0].1 == connector && labels[1].1 == task));
            !family.series.is_empty()
        });
    }

    fn remove_owner(&self, owner: u64) {
        self.lock().retain(|_, family| {
            family.series.retain(|_, s| s.owner != owner);
            !family.series.is_empty()
        });
    }
}

impl Collector for PluginMetricFamilies {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use sluice_api::metrics::Metric;
        for (name, family) in self.lock().iter() {
            let metric_type = match family.kind {
                "counter" => MetricType::Counter,
                _ => MetricType::Gauge,
            };
            let mut metric = encoder.encode_descriptor(name, &family.help, None, metric_type)?;
            for (labels, series) in &family.series {
                let mut one = metric.encode_family(labels)?;
                match &series.metric {
                    Metric::Counter(c) => {
                        one.encode_counter::<NoLabelSet, _, u64>(&c.get(), None::<&Exemplar<_, _>>)?
                    }
                    Metric::Gauge(g) => one.encode_gauge(&g.get())?,
                }
            }
        }
        Ok(())
    }
}

/// The metrics registry of one task instance: adds the `connector` and `task` labels, and
/// removes what it registered when the runtime calls [`TaskPluginMetrics::remove_all`] (the task
/// stopped). A restarted task instance registering the same names takes the series over.
#[derive(Debug)]
pub struct TaskPluginMetrics {
    families: Arc<PluginMetricFamilies>,
    connector: String,
    task: String,
    owner: u64,
}

impl TaskPluginMetrics {
    /// Removes every metric this instance registered (and no other instance's).
    pub fn remove_all(&self) {
        self.families.remove_owner(self.owner);
    }
}

impl sluice_api::metrics::MetricsRegistry for TaskPluginMetrics {
    fn add(
        &self,
        name: &sluice_api::MetricName,
        metric: sluice_api::metrics::Metric,
    ) -> Result<(), sluice_api::MetricsError> {
        let counter = matches!(metric, sluice_api::metrics::Metric::Counter(_));
        let (key, labels) = PluginMetricFamilies::key(&self.connector, &self.task, name, counter);
        let mut families = self.families.lock();
        let family = families.entry(key).or_insert_with(|| PluginFamily {
            help: name.description.clone(),
            kind: metric.kind(),
            series: BTreeMap::new(),
        });
        if family.kind != metric.kind() {
            return Err(sluice_api::MetricsError::KindConflict {
                name: name.name.clone(),
                existing: family.kind,
                requested: metric.kind(),
            });
        }
        family.series.insert(
            labels,
            PluginSeries {
                owner: self.owner,
                metric,
            },
        );
        Ok(())
    }

    fn remove(&self, name: &sluice_api::MetricName) {
        let mut families = self.families.lock();
        for counter in [true, false] {
            let (key, labels) =
                PluginMetricFamilies::key(&self.connector, &self.task, name, counter);
            if let Some(family) = families.get_mut(&key) {
                if family
                    .series
                    .get(&labels)
                    .is_some_and(|s| s.owner == self.owner)
                {
                    family.series.remove(&labels);
                }
                if family.series.is_empty() {
                    families.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{MetricName, MetricsError, PluginMetrics};

    #[test]
    fn plugin_metrics_are_exported_in_the_plugins_group_with_task_labels() {
        let metrics = Metrics::new();
        let plugin = PluginMetrics::new(metrics.plugin_metrics("mqtt-src", 2));
        let received = plugin
            .counter(MetricName::new(
                "mqtt-messages-received",
                "Messages received",
            ))
            .unwrap();
        let in_flight = plugin
            .gauge(MetricName::new("mqtt.in-flight", "In flight").tag("broker", "b-1"))
            .unwrap();
        received.inc_by(42);
        in_flight.set(-3);
        let text = metrics.encode();
        assert!(
            text.contains("# TYPE kafka_connect_plugins_mqtt_messages_received counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP kafka_connect_plugins_mqtt_messages_received Messages received"),
            "{text}"
        );
        assert!(
            text.contains(
                "kafka_connect_plugins_mqtt_messages_received_total{connector=\"mqtt-src\",task=\"2\"} 42"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "kafka_connect_plugins_mqtt_in_flight{connector=\"mqtt-src\",task=\"2\",broker=\"b-1\"} -3"
            ),
            "{text}"
        );
        // Live values: no re-registration needed.
        received.inc();
        assert!(metrics.encode().contains("task=\"2\"} 43"));
    }

    #[test]
    fn counter_names_ending_in_total_are_not_doubled() {
        assert_eq!(
            plugin_metric_name("Records-Total", true),
            "kafka_connect_plugins_records"
        );
        assert_eq!(
            plugin_metric_name("records-total", false),
            "kafka_connect_plugins_records_total"
        );
    }

    #[test]
    fn stopping_a_task_instance_removes_only_its_own_series() {
        let metrics = Metrics::new();
        let first = metrics.plugin_metrics("c", 0);
        let other_task = metrics.plugin_metrics("c", 1);
        PluginMetrics::new(first.clone())
            .counter(MetricName::new("hits", "Hits"))
            .unwrap()
            .inc();
        PluginMetrics::new(other_task.clone())
            .counter(MetricName::new("hits", "Hits"))
            .unwrap()
            .inc_by(5);
        // A restarted instance of task 0 takes its series over before the old one is cleaned up.
        let restarted = metrics.plugin_metrics("c", 0);
        PluginMetrics::new(restarted.clone())
            .counter(MetricName::new("hits", "Hits"))
            .unwrap()
            .inc_by(9);
        first.remove_all();
        let text = metrics.encode();
        assert!(text.contains("{connector=\"c\",task=\"0\"} 9"), "{text}");
        assert!(text.contains("{connector=\"c\",task=\"1\"} 5"), "{text}");
        restarted.remove_all();
        let text = metrics.encode();
        assert!(!text.contains("task=\"0\"} "), "{text}");
        metrics.remove_task("c", 1);
        assert!(!metrics.encode().contains("kafka_connect_plugins_hits"));
    }

    #[test]
    fn one_name_cannot_be_a_counter_and_a_gauge() {
        let metrics = Metrics::new();
        let a = PluginMetrics::new(metrics.plugin_metrics("a", 0));
        let b = PluginMetrics::new(metrics.plugin_metrics("b", 0));
        a.counter(MetricName::new("things", "Things")).unwrap();
        assert!(matches!(
            b.gauge(MetricName::new("things", "Things")),
            Err(MetricsError::KindConflict { .. })
        ));
        let name = MetricName::new("gone", "Gone");
        a.gauge(name.clone()).unwrap();
        a.remove(&name);
        assert!(!metrics.encode().contains("kafka_connect_plugins_gone"));
        // Once removed, the name is free for another kind.
        b.counter(name).unwrap();
    }
}
