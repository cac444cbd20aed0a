//! FileStreamSource and FileStreamSink connectors, compatible with Kafka's org.apache.kafka.connect.file.
//!
//! * [`FileStreamSourceConnector`] / [`FileStreamSourceTask`]: tail a file (or stdin) and emit one
//!   string record per line, with source offsets compatible with Kafka's (`{"filename": ..}` →
//!   `{"position": ..}`), so a connector moved from a Java worker resumes where it stopped.
//! * [`FileStreamSinkConnector`] / [`FileStreamSinkTask`]: append each record's value as a line of
//!   text to a file (or stdout), made durable on flush.

pub mod append;
mod render;
mod sink;
mod source;

use sluice_api::{PluginDesc, PluginFactory, SinkConnector, SinkTask, SourceConnector, SourceTask};

pub use render::{java_double_to_string, java_float_to_string, render_value};
pub use sink::{FileStreamSinkConnector, FileStreamSinkTask, sink_config_def};
pub use source::{
    FILENAME_FIELD, FileStreamSourceConnector, FileStreamSourceTask, POSITION_FIELD,
    source_config_def,
};

/// Java class name of the source connector.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
/// Java class name of the sink connector.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

/// The plugins this crate offers: the file source and the file sink.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        PluginDesc {
            class: SOURCE_CLASS,
            aliases: &["FileStreamSource", "FileStreamSourceConnector"],
            version: env!("CARGO_PKG_VERSION"),
            factory: PluginFactory::Source {
                connector: || -> Box<dyn SourceConnector> {
                    Box::new(FileStreamSourceConnector::new())
                },
                task: || -> Box<dyn SourceTask> { Box::new(FileStreamSourceTask::new()) },
            },
        },
        PluginDesc {
            class: SINK_CLASS,
            aliases: &["FileStreamSink", "FileStreamSinkConnector"],
            version: env!("CARGO_PKG_VERSION"),
            factory: PluginFactory::Sink {
                connector: || -> Box<dyn SinkConnector> {
                    Box::new(FileStreamSinkConnector::new())
                },
                task: || -> Box<dyn SinkTask> { Box::new(FileStreamSinkTask::new()) },
            },
        },
    ]
}
