//! Plugin metrics, modelled on Kafka's KIP-877 `PluginMetrics`.
//!
//! A task gets a [`PluginMetrics`] handle from its context ([`crate::SourceTaskContext::metrics`],
//! [`crate::SinkTaskContext::metrics`]) and registers [`Counter`]s and [`Gauge`]s by name,
//! description and optional extra tags. The runtime adds the `connector` and `task` tags, exports
//! the metrics (Sluice: `GET /metrics` as `kafka_connect_plugins_<name>{connector,task,...}`,
//! the group being `plugins` as in KIP-877), and removes them when the task stops.
//!
//! Counters and gauges are atomics behind an [`Arc`]: updating one on the data path costs one
//! atomic operation, no lock and no lookup. Keep the handles returned at registration and update
//! them; registering again under the same name and tags replaces the earlier metric.
//!
//! ```
//! use sluice_api::metrics::{MetricName, PluginMetrics};
//!
//! # fn main() -> Result<(), sluice_api::metrics::MetricsError> {
//! let metrics = PluginMetrics::detached(); // a task gets its handle from its context
//! let received = metrics.counter(MetricName::new("mqtt-messages-received", "Messages received"))?;
//! let in_flight = metrics.gauge(
//!     MetricName::new("mqtt-messages-in-flight", "Messages not yet acknowledged").tag("qos", "1"),
//! )?;
//! received.inc();
//! in_flight.set(3);
//! assert_eq!((received.get(), in_flight.get()), (1, 3));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::error::ConnectError;

/// Tags the runtime adds to every plugin metric; a plugin cannot set them itself.
pub const RESERVED_TAGS: &[&str] = &["connector", "task"];

/// A count that only goes up (events, messages). Cheap to clone: clones share the value.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (queue lengths, things in flight). Cheap to clone: clones share
/// the value.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// Adds `n` (which may be negative).
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A registered metric, as the runtime sees it.
#[derive(Clone, Debug)]
pub enum Metric {
    /// A counter.
    Counter(Counter),
    /// A gauge.
    Gauge(Gauge),
}

impl Metric {
    /// `"counter"` or `"gauge"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Metric::Counter(_) => "counter",
            Metric::Gauge(_) => "gauge",
        }
    }
}

/// The name, description and extra tags of a metric (KIP-877 `MetricName`).
///
/// Names and tag keys use ASCII letters, digits, `-`, `_` and `.`, and start with a letter
/// (Kafka style such as `messages-received` is fine: exporters turn `-` and `.` into `_`).
/// Counter names should not end in `-total`: Prometheus exporters add `_total` themselves.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricName {
    /// The metric's name, unique within the plugin group.
    pub name: String,
    /// What it measures, for humans (Prometheus `HELP`).
    pub description: String,
    /// Extra tags beyond the runtime's `connector` and `task`.
    pub tags: BTreeMap<String, String>,
}

impl MetricName {
    /// A name with a description and no extra tags.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            tags: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) an extra tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Checks the name and tag keys (see the type's documentation).
    pub fn validate(&self) -> Result<(), MetricsError> {
        if !valid_identifier(&self.name) {
            return Err(MetricsError::InvalidName(self.name.clone()));
        }
        for key in self.tags.keys() {
            if RESERVED_TAGS.contains(&key.as_str()) {
                return Err(MetricsError::ReservedTag {
                    metric: self.name.clone(),
                    tag: key.clone(),
                });
            }
            if !valid_identifier(key) {
                return Err(MetricsError::InvalidTag {
                    metric: self.name.clone(),
                    tag: key.clone(),
                });
            }
        }
        Ok(())
    }
}

fn valid_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The name is empty or has characters other than letters, digits, `-`, `_`, `.`.
    #[error(
        "invalid metric name '{0}': use ASCII letters, digits, '-', '_' and '.', starting with a letter"
    )]
    InvalidName(String),
    /// A tag key is not a valid identifier.
    #[error("invalid tag '{tag}' on metric '{metric}'")]
    InvalidTag {
        /// The metric.
        metric: String,
        /// The tag key.
        tag: String,
    },
    /// A tag the runtime sets itself ([`RESERVED_TAGS`]).
    #[error("metric '{metric}' may not set the tag '{tag}': the runtime adds it")]
    ReservedTag {
        /// The metric.
        metric: String,
        /// The tag key.
        tag: String,
    },
    /// The name is already registered as another kind of metric (by this or another plugin).
    #[error("metric '{name}' is already registered as a {existing}, not a {requested}")]
    KindConflict {
        /// The metric.
        name: String,
        /// The kind it has.
        existing: &'static str,
        /// The kind asked for.
        requested: &'static str,
    },
}

impl From<MetricsError> for ConnectError {
    fn from(e: MetricsError) -> Self {
        ConnectError::Config(e.to_string())
    }
}

/// The runtime side of [`PluginMetrics`]: where the metrics of one task (or other plugin
/// instance) are registered. The runtime implements it and adds its own tags; plugins use
/// [`PluginMetrics`] instead.
pub trait MetricsRegistry: Send + Sync {
    /// Registers `metric` under `name` (already validated), replacing a metric registered under
    /// the same name and tags by this registry.
    fn add(&self, name: &MetricName, metric: Metric) -> Result<(), MetricsError>;

    /// Unregisters the metric with this name and tags, if any.
    fn remove(&self, name: &MetricName);
}

/// A plugin's handle for registering metrics (KIP-877 `PluginMetrics`). Cheap to clone.
#[derive(Clone, Default)]
pub struct PluginMetrics {
    /// `None`: metrics are counted but exported nowhere.
    registry: Option<Arc<dyn MetricsRegistry>>,
}

impl fmt::Debug for PluginMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginMetrics")
            .field("exported", &self.registry.is_some())
            .finish()
    }
}

impl PluginMetrics {
    /// Runtime side: a handle that registers into `registry`.
    pub fn new(registry: Arc<dyn MetricsRegistry>) -> Self {
        Self {
            registry: Some(registry),
        }
    }

    /// A handle whose metrics work but are exported nowhere (for tests, or a runtime without
    /// metrics). Names are still validated.
    pub fn detached() -> Self {
        Self::default()
    }

    /// Registers a counter and returns its handle.
    pub fn counter(&self, name: MetricName) -> Result<Counter, MetricsError> {
        let counter = Counter::default();
        self.add(&name, Metric::Counter(counter.clone()))?;
        Ok(counter)
    }

    /// Registers a gauge and returns its handle.
    pub fn gauge(&self, name: MetricName) -> Result<Gauge, MetricsError> {
        let gauge = Gauge::default();
        self.add(&name, Metric::Gauge(gauge.clone()))?;
        Ok(gauge)
    }

    /// Registers a metric created elsewhere (e.g. one counter shared by several names).
    pub fn add(&self, name: &MetricName, metric: Metric) -> Result<(), MetricsError> {
        name.validate()?;
        match &self.registry {
            Some(registry) => registry.add(name, metric),
            None => Ok(()),
        }
    }

    /// Unregisters a metric before the task stops (the runtime removes the rest at stop).
    pub fn remove(&self, name: &MetricName) {
        if let Some(registry) = &self.registry {
            registry.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(MetricName, Metric)>>);

    impl MetricsRegistry for Recorder {
        fn add(&self, name: &MetricName, metric: Metric) -> Result<(), MetricsError> {
            let mut all = self.0.lock().unwrap();
            all.retain(|(n, _)| n != name);
            all.push((name.clone(), metric));
            Ok(())
        }
        fn remove(&self, name: &MetricName) {
            self.0.lock().unwrap().retain(|(n, _)| n != name);
        }
    }

    #[test]
    fn counters_and_gauges_share_their_value_between_clones() {
        let c = Counter::default();
        let c2 = c.clone();
        c.inc();
        c2.inc_by(4);
        assert_eq!(c.get(), 5);
        let g = Gauge::default();
        g.set(10);
        g.clone().dec();
        g.add(-4);
        g.inc();
        assert_eq!(g.get(), 6);
    }

    #[test]
    fn registered_metrics_reach_the_runtime_with_their_live_values() {
        let recorder = Arc::new(Recorder::default());
        let metrics = PluginMetrics::new(recorder.clone());
        let received = metrics
            .counter(MetricName::new("messages-received", "Messages").tag("source", "a"))
            .unwrap();
        received.inc_by(7);
        let seen = recorder.0.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0.name, "messages-received");
        assert_eq!(seen[0].0.tags.get("source").map(String::as_str), Some("a"));
        match &seen[0].1 {
            Metric::Counter(c) => assert_eq!(c.get(), 7),
            other => panic!("expected a counter, got {other:?}"),
        }
    }

    #[test]
    fn remove_unregisters() {
        let recorder = Arc::new(Recorder::default());
        let metrics = PluginMetrics::new(recorder.clone());
        let name = MetricName::new("queued", "Queued");
        metrics.gauge(name.clone()).unwrap();
        metrics.remove(&name);
        assert!(recorder.0.lock().unwrap().is_empty());
    }

    #[test]
    fn bad_names_and_reserved_tags_are_refused_even_when_detached() {
        let metrics = PluginMetrics::detached();
        for bad in ["", "1abc", "has space", "ünï", "a/b"] {
            assert_eq!(
                metrics.counter(MetricName::new(bad, "")).unwrap_err(),
                MetricsError::InvalidName(bad.to_owned())
            );
        }
        assert!(matches!(
            metrics.counter(MetricName::new("ok", "").tag("task", "1")),
            Err(MetricsError::ReservedTag { .. })
        ));
        assert!(matches!(
            metrics.gauge(MetricName::new("ok", "").tag("bad tag", "1")),
            Err(MetricsError::InvalidTag { .. })
        ));
        assert!(metrics.counter(MetricName::new("ok-name_2.x", "")).is_ok());
        let e: ConnectError = MetricsError::InvalidName("x y".into()).into();
        assert!(e.to_string().contains("x y"));
    }
}
