//! Logging set-up, with secrets kept out of every log line.
//!
//! Values resolved from config providers are registered here as they are resolved; the log writer
//! replaces any of them by `[hidden]` before a line reaches stderr. This holds for whatever a
//! plugin logs, not only for the worker's own messages.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_config::Scrubber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

struct Secrets {
    values: BTreeSet<String>,
    scrubber: Scrubber,
}

static SECRETS: LazyLock<RwLock<Secrets>> = LazyLock::new(|| {
    RwLock::new(Secrets {
        values: BTreeSet::new(),
        scrubber: Scrubber::default(),
    })
});

/// Adds resolved secret values to hide from logs from now on.
pub fn register_secrets<'a>(values: impl IntoIterator<Item = &'a String>) {
    let new: Vec<&String> = {
        let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
        values
            .into_iter()
            .filter(|v| !secrets.values.contains(*v))
            .collect()
    };
    if new.is_empty() {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    secrets.values.extend(new.into_iter().cloned());
    secrets.scrubber = Scrubber::new(secrets.values.iter().cloned());
}

/// `text` with every registered secret hidden.
pub fn scrub(text: &str) -> String {
    SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .scrubber
        .scrub(text)
}

/// Writes log lines to stderr with secrets hidden.
#[derive(Clone, Copy, Default)]
pub struct ScrubbingStderr;

/// One log event's writer (the formatter writes each event in one call).
pub struct ScrubbingWriter;

impl Write for ScrubbingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for ScrubbingStderr {
    type Writer = ScrubbingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter
    }
}

/// The name of the root logger, as in Kafka's `/admin/loggers`.
pub const ROOT: &str = "root";

/// A logger's level as `/admin/loggers` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerLevel {
    /// Level name in Kafka's (log4j) spelling: `OFF`, `FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`.
    pub level: String,
    /// When it was set through the API (ms since epoch); `None` when inherited or set at start.
    pub last_modified: Option<i64>,
}

/// Why a level change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LevelError {
    /// Not a level Kafka knows.
    #[error("invalid log level '{0}'.")]
    UnknownLevel(String),
    /// Logging was not set up through [`init`] (e.g. in tests).
    #[error("log levels cannot be changed: logging is not managed by this process")]
    NotManaged,
    /// The new filter could not be built or installed.
    #[error("log levels could not be applied: {0}")]
    Apply(String),
}

struct Levels {
    /// Target directives given at start (`rdkafka=warn`), kept under every change.
    base_targets: Vec<String>,
    root: LoggerLevel,
    overrides: BTreeMap<String, LoggerLevel>,
    handle: reload::Handle<EnvFilter, tracing_subscriber::Registry>,
}

static LEVELS: OnceLock<Mutex<Levels>> = OnceLock::new();

/// Kafka's level name → tracing's; `None` for names Kafka does not know either.
fn tracing_level(kafka_level: &str) -> Option<&'static str> {
    Some(match kafka_level {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => return None,
    })
}

/// A Rust target for a logger name: Java-style dots become `::`.
fn target_of(logger: &str) -> String {
    logger.replace('.', "::")
}

/// Whether a logger name can be a tracing target. Other names (with `=`, `,`, `[`, ...) are kept
/// and shown, as Kafka keeps any name, but no code logs under them, so they stay out of the filter
/// (where they would be read as filter syntax).
fn is_target_name(logger: &str) -> bool {
    !logger.is_empty()
        && logger
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
}

fn directives(levels: &Levels) -> String {
    let mut parts = vec![
        tracing_level(&levels.root.level)
            .unwrap_or("info")
            .to_owned(),
    ];
    parts.extend(levels.base_targets.iter().cloned());
    for (logger, level) in levels.overrides.iter().filter(|(l, _)| is_target_name(l)) {
        parts.push(format!(
            "{}={}",
            target_of(logger),
            tracing_level(&level.level).unwrap_or("info")
        ));
    }
    parts.join(",")
}

/// Sets up logging to stderr (secrets hidden) with `filter` (RUST_LOG syntax), as text or JSON,
/// with levels that `/admin/loggers` can change at run time.
pub fn init(filter: &str, json: bool) {
    let env_filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(env_filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry().with(layer);
    if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(ScrubbingStderr),
            )
            .init();
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(ScrubbingStderr),
            )
            .init();
    }
    let mut root = "INFO".to_owned();
    let mut base_targets = Vec::new();
    for part in filter.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains('=') {
            base_targets.push(part.to_owned());
        } else {
            root = part.to_ascii_uppercase();
        }
    }
    let _ = LEVELS.set(Mutex::new(Levels {
        base_targets,
        root: LoggerLevel {
            level: root,
            last_modified: None,
        },
        overrides: BTreeMap::new(),
        handle,
    }));
}

fn is_descendant(logger: &str, ancestor: &str) -> bool {
    ancestor == ROOT
        || logger
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("::"))
}

/// Every logger with a level: the root and those set through the API.
pub fn loggers() -> BTreeMap<String, LoggerLevel> {
    let Some(levels) = LEVELS.get() else {
        return BTreeMap::new();
    };
    let levels = levels.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = levels.overrides.clone();
    out.insert(ROOT.to_owned(), levels.root.clone());
    out
}

/// The level of one logger: its own, else the nearest ancestor's (then `last_modified` is null).
pub fn logger(name: &str) -> Option<LoggerLevel> {
    let levels = LEVELS.get()?.lock().unwrap_or_else(PoisonError::into_inner);
    if name == ROOT {
        return Some(levels.root.clone());
    }
    if let Some(own) = levels.overrides.get(name) {
        return Some(own.clone());
    }
    let inherited = levels
        .overrides
        .iter()
        .filter(|(logger, _)| is_descendant(name, logger))
        .max_by_key(|(logger, _)| logger.len())
        .map(|(_, l)| l.level.clone())
        .unwrap_or_else(|| levels.root.level.clone());
    Some(LoggerLevel {
        level: inherited,
        last_modified: None,
    })
}

/// Sets a logger's level, and its descendants' (all loggers for `root`), at once. Returns the
/// loggers changed, sorted.
pub fn set_level(name: &str, level: &str) -> Result<Vec<String>, LevelError> {
    let level = level.trim().to_ascii_uppercase();
    if tracing_level(&level).is_none() {
        return Err(LevelError::UnknownLevel(level));
    }
    let levels = LEVELS.get().ok_or(LevelError::NotManaged)?;
    let mut levels = levels.lock().unwrap_or_else(PoisonError::into_inner);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let new = LoggerLevel {
        level,
        last_modified: Some(now),
    };
    // Work on a copy: nothing changes unless the new filter is installed.
    let mut root = levels.root.clone();
    let mut overrides = levels.overrides.clone();
    let mut changed = vec![name.to_owned()];
    for (logger, l) in overrides.iter_mut() {
        if logger != name && is_descendant(logger, name) {
            *l = new.clone();
            changed.push(logger.clone());
        }
    }
    if name == ROOT {
        root = new;
    } else {
        overrides.insert(name.to_owned(), new);
    }
    let candidate = Levels {
        base_targets: levels.base_targets.clone(),
        root,
        overrides,
        handle: levels.handle.clone(),
    };
    let filter =
        EnvFilter::try_new(directives(&candidate)).map_err(|e| LevelError::Apply(e.to_string()))?;
    levels
        .handle
        .reload(filter)
        .map_err(|e| LevelError::Apply(e.to_string()))?;
    *levels = candidate;
    changed.sort();
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_levels_map_to_tracing_and_descendants_match() {
        assert_eq!(tracing_level("FATAL"), Some("error"));
        assert_eq!(tracing_level("OFF"), Some("off"));
        assert_eq!(tracing_level("VERBOSE"), None);
        assert!(is_descendant("sluice_worker::runtime", "sluice_worker"));
        assert!(is_descendant("org.apache.kafka.connect", "org.apache"));
        assert!(!is_descendant("sluice_workers", "sluice_worker"));
        assert!(is_descendant("anything", ROOT));
        assert_eq!(target_of("org.apache.kafka"), "org::apache::kafka");
        assert!(is_target_name("sluice_worker::rest"));
        assert!(!is_target_name("sluice_worker=trace,x"));
        assert!(!is_target_name("a[b"));
    }

    #[test]
    fn registered_secrets_are_hidden() {
        let secret = "s3cr3t-logging-test-value".to_owned();
        assert_eq!(
            scrub("x s3cr3t-logging-test-value y"),
            "x s3cr3t-logging-test-value y"
        );
        register_secrets([&secret]);
        assert_eq!(scrub("x s3cr3t-logging-test-value y"), "x [hidden] y");
    }
}
