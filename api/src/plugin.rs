//! How a plugin crate tells the worker what it offers.
//!
//! Plugins are compiled in: each plugin crate exposes a `plugins()` function returning
//! [`PluginDesc`]s, and the worker's registry collects them. A plugin has one canonical class
//! name (the Java class name users already write) and any number of aliases (short names, older
//! class names).

use crate::connector::{SinkConnector, SourceConnector};
use crate::converter::{Converter, HeaderConverter};
use crate::task::{SinkTask, SourceTask};
use crate::transform::{Predicate, Transform};

/// The kinds of plugin, with the names the REST API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginType {
    /// Source connector.
    Source,
    /// Sink connector.
    Sink,
    /// Key/value converter.
    Converter,
    /// Header converter.
    HeaderConverter,
    /// Single message transform.
    Transformation,
    /// Predicate.
    Predicate,
}

impl PluginType {
    /// Lower-case name as the REST API renders it (`source`, `header_converter`, ...).
    pub fn rest_name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Converter => "converter",
            Self::HeaderConverter => "header_converter",
            Self::Transformation => "transformation",
            Self::Predicate => "predicate",
        }
    }
}

/// Creates fresh plugin instances.
#[derive(Clone, Copy)]
pub enum PluginFactory {
    /// A source connector and its task type.
    Source {
        /// Creates the connector.
        connector: fn() -> Box<dyn SourceConnector>,
        /// Creates one task.
        task: fn() -> Box<dyn SourceTask>,
    },
    /// A sink connector and its task type.
    Sink {
        /// Creates the connector.
        connector: fn() -> Box<dyn SinkConnector>,
        /// Creates one task.
        task: fn() -> Box<dyn SinkTask>,
    },
    /// A converter.
    Converter(fn() -> Box<dyn Converter>),
    /// A header converter.
    HeaderConverter(fn() -> Box<dyn HeaderConverter>),
    /// A transform.
    Transform(fn() -> Box<dyn Transform>),
    /// A predicate.
    Predicate(fn() -> Box<dyn Predicate>),
}

impl PluginFactory {
    /// The kind of plugin this factory makes.
    pub fn plugin_type(&self) -> PluginType {
        match self {
            Self::Source { .. } => PluginType::Source,
            Self::Sink { .. } => PluginType::Sink,
            Self::Converter(_) => PluginType::Converter,
            Self::HeaderConverter(_) => PluginType::HeaderConverter,
            Self::Transform(_) => PluginType::Transformation,
            Self::Predicate(_) => PluginType::Predicate,
        }
    }
}

/// One plugin: its names, version and factory.
#[derive(Clone, Copy)]
pub struct PluginDesc {
    /// Canonical class name, e.g. `org.apache.kafka.connect.file.FileStreamSourceConnector`.
    pub class: &'static str,
    /// Other names accepted for it, e.g. `FileStreamSource`.
    pub aliases: &'static [&'static str],
    /// Plugin version reported by REST.
    pub version: &'static str,
    /// Creates instances.
    pub factory: PluginFactory,
}

impl PluginDesc {
    /// Whether `name` is this plugin's class name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.class == name || self.aliases.contains(&name)
    }
}
