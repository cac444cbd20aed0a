//! # sluice-config
//!
//! Worker configuration for Sluice, read the way Kafka Connect reads it:
//!
//! * [`load_properties`]: Java `.properties` files (comments, `key=value`, `key: value`,
//!   `key value`, backslash escapes and line continuations, `\uXXXX`). Files that are valid UTF-8
//!   are read as UTF-8; anything else as Latin-1 (Java's own default for properties streams).
//! * [`env_overrides`]: `CONNECT_*` environment variables, mapped as the Confluent
//!   `cp-kafka-connect` image maps them (rules below). They win over the file.
//! * [`worker_config_def`] and [`WorkerConfig`]: every worker setting with its type, default,
//!   importance, documentation and validator, parsed into a typed [`sluice_api::Config`], with one
//!   clear error naming the key and where it came from (the file, or the environment variable).
//! * [`ConfigProviders`]: `${provider:[path:]key}` references resolved by the file, directory and
//!   environment-variable providers (Kafka's `FileConfigProvider`, `DirectoryConfigProvider`,
//!   `EnvVarConfigProvider`), including `${...}` inside the worker properties themselves.
//!   [`Scrubber`] hides resolved secrets in any text before it is logged or returned.
//! * [`load_connector_file`]: the connector files given to `sluice standalone`.
//!
//! ## Environment overrides (`CONNECT_*`)
//!
//! Only variables whose name starts with `CONNECT_` (case-sensitive) are used. The prefix is
//! removed, the rest is lower-cased, and then underscores are rewritten:
//!
//! | in the variable name | becomes | example |
//! |---|---|---|
//! | `_` between two other characters | `.` | `CONNECT_BOOTSTRAP_SERVERS` → `bootstrap.servers` |
//! | `__` | `_` | `CONNECT_FOO__BAR` → `foo_bar` |
//! | `___` | `-` | `CONNECT_METRICS___CONTEXT` → `metrics-context` |
//!
//! A lone underscore at the very start or end of the remainder is kept as `_` (the image's regex
//! only rewrites an underscore that has a non-underscore on both sides); longer runs are read left
//! to right as `___` then `__`. This is the rule of the image's `env_to_props`/`ub` tools.
//!
//! Skipped, as the image does: `CONNECT_METRIC_REPORTERS` (the image's properties template
//! excludes it). Also skipped: `CONNECT_LOG4J_*` (`CONNECT_LOG4J_ROOT_LOGLEVEL`,
//! `CONNECT_LOG4J_LOGGERS`, ...): the image feeds these to its logging template; they are not
//! worker settings and would only produce unknown-key warnings. The image's JMX settings are
//! `KAFKA_JMX_*`, which never match the prefix. When the same key is set in the file and the
//! environment, the environment wins.
//!
//! ## Why the layering is done by hand, not with the `config` crate
//!
//! The `config` crate (0.15) treats dots in keys as nesting. A worker file routinely holds both
//! `key.converter` and `key.converter.schemas.enable`; in `config` one is a string leaf and the
//! other needs `key.converter` to be a table, so whichever is set last wins and the other is lost
//! (tested with `set_override` in both orders: `get_string("key.converter")` failed with "invalid
//! type: map" or `key.converter.schemas.enable` went missing). Reading the result back as a flat
//! map yields nested tables (`key`, `transforms`), not Kafka's flat keys. Its environment source
//! also has no `__`/`___` rules. Kafka configuration is a flat string map, so this crate merges
//! plain `BTreeMap`s: file first, then the environment on top.
//!
//! ## Config providers
//!
//! ```text
//! config.providers=file,dir,env
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.file.param.allowed.paths=/etc/secrets
//! config.providers.dir.class=directory
//! config.providers.env.class=EnvVarConfigProvider
//! config.providers.env.param.allowlist.pattern=^DB_.*
//! ```
//!
//! Kafka's class names, their simple names and the short names `file`, `directory` and `env` are
//! accepted. A reference whose key is not found, or whose provider is not configured, is left
//! verbatim (as Kafka does) and a warning names the reference, never a value. A path outside
//! `allowed.paths` and an unreadable file are errors naming the configuration key that held the
//! reference. No resolved value ever appears in an error or a log line.

mod connector_file;
mod env;
mod properties;
mod providers;
mod worker;

#[cfg(test)]
mod test_support;

use std::fmt;

pub use sluice_api::Props;

pub use connector_file::{ConnectorFile, load_connector_file};
pub use env::{env_overrides, env_var_for_key};
pub use properties::{load_properties, parse_properties};
pub use providers::{ConfigProviders, ProviderKind, Resolved, Scrubber, has_placeholder};
pub use worker::{
    BASIC_AUTH_EXTENSION_CLASS, ListenerScheme, RestListener, WorkerConfig, worker_config_def,
};

/// Which kind of worker the configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `sluice standalone`: one worker, offsets in a local file, connectors from files.
    Standalone,
    /// `sluice distributed`: a group of workers sharing state through Kafka topics.
    Distributed,
}

impl Mode {
    /// Lower-case name, as in the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Distributed => "distributed",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong while reading configuration. Messages name the file and the key
/// where that applies, and never contain a value resolved from a config provider.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: could not read the file: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid Java properties.
    #[error("{path}: {detail}")]
    Syntax {
        /// The file.
        path: String,
        /// What is wrong, with the line number when known.
        detail: String,
    },
    /// A setting is missing or has a bad value.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where the value came from: a file name, or `environment variable CONNECT_X`.
        origin: String,
        /// The key.
        key: String,
        /// What is wrong, in Kafka's words where Kafka has them.
        message: String,
    },
    /// A `${provider:path:key}` reference could not be resolved.
    #[error("Could not resolve the config provider reference in \"{key}\": {message}")]
    Provider {
        /// The configuration key whose value held the reference.
        key: String,
        /// What went wrong (never the value).
        message: String,
    },
    /// A connector file given to `sluice standalone` is not usable.
    #[error("{path}: {message}")]
    ConnectorFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The configuration key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } | Self::Provider { key, .. } => Some(key),
            _ => None,
        }
    }
}
