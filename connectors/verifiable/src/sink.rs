//! VerifiableSink: one JSON line per delivered record, synced to disk on flush.

use serde_json::{Map, json};
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, Connector, ConnectorContext, DefaultValue,
    Importance, Props, Result, SinkConnector, SinkRecord, SinkTask, SinkTaskContext, TopicOffsets,
    Validator, Value, async_trait,
};
use tokio::io::AsyncWriteExt;
use tracing::{debug, info, trace};

use crate::json::value_to_json;
use crate::{numbered_task_configs, parse_task_id};
use sluice_connector_file::append::append_lines;

const FILE_CONFIG: &str = "file";

/// The sink connector's own settings: `file` (the worker handles `topics` and `topics.regex`).
pub fn sink_config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            FILE_CONFIG,
            ConfigType::String,
            DefaultValue::Required,
            Importance::High,
            "File to append one JSON line per received record to",
        )
        .validator(Validator::NonEmptyString),
    )
}

/// Records what its tasks receive, for checking delivery in reliability tests.
#[derive(Debug, Default)]
pub struct VerifiableSinkConnector {
    props: Props,
}

impl VerifiableSinkConnector {
    /// A connector that has not been started.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Connector for VerifiableSinkConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def(&self) -> ConfigDef {
        sink_config_def()
    }

    async fn start(&mut self, props: Props, _context: ConnectorContext) -> Result<()> {
        sink_config_def().parse(&props)?;
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

impl SinkConnector for VerifiableSinkConnector {}

/// Appends `{"task":..,"topic":..,"partition":..,"offset":..,"key":..,"value":..}` per record.
///
/// `task` is this sink task's `id`; `value` is the parsed JSON when the record value is a string
/// holding JSON (such as the verifiable source's values), otherwise the value rendered as JSON.
/// Several tasks may share one file: each line reaches the file in a single append.
#[derive(Default)]
pub struct VerifiableSinkTask {
    id: i32,
    path: String,
    file: Option<tokio::fs::File>,
}

impl VerifiableSinkTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON line written for one record (without the trailing newline).
    pub fn line_for(&self, record: &SinkRecord) -> String {
        let value = match &record.record.value {
            Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
            other => value_to_json(other),
        };
        let mut line = Map::new();
        line.insert("task".to_owned(), json!(self.id));
        line.insert("topic".to_owned(), json!(record.record.topic));
        line.insert(
            "partition".to_owned(),
            json!(
                record
                    .record
                    .kafka_partition
                    .unwrap_or(record.original_kafka_partition)
            ),
        );
        line.insert("offset".to_owned(), json!(record.kafka_offset()));
        line.insert("key".to_owned(), value_to_json(&record.record.key));
        line.insert("value".to_owned(), value);
        serde_json::Value::Object(line).to_string()
    }

    async fn sync(&mut self) -> Result<()> {
        if let Some(file) = &mut self.file {
            file.flush()
                .await
                .map_err(|e| ConnectError::io(format!("flushing {}", self.path), e))?;
            file.sync_data()
                .await
                .map_err(|e| ConnectError::io(format!("syncing {}", self.path), e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl SinkTask for VerifiableSinkTask {
    async fn start(&mut self, props: Props, _context: SinkTaskContext) -> Result<()> {
        let config = sink_config_def().parse(&props)?;
        let id = parse_task_id(&props)?
            .ok_or_else(|| ConnectError::config("VerifiableSinkTask config missing id"))?;
        let path = config
            .string(FILE_CONFIG)
            .ok_or_else(|| ConnectError::config("VerifiableSinkTask config missing file"))?
            .to_owned();
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|e| ConnectError::io(format!("opening {path} for VerifiableSinkTask"), e))?;
        info!(task = id, file = %path, "started VerifiableSinkTask");
        self.id = id;
        self.path = path;
        self.file = Some(file);
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for record in records {
            text.push_str(&self.line_for(record));
            text.push('\n');
        }
        trace!(task = self.id, count = records.len(), "recording records");
        let Some(file) = &mut self.file else {
            return Err(ConnectError::connect("VerifiableSinkTask put before start"));
        };
        append_lines(file, text.as_bytes())
            .await
            .map_err(|e| ConnectError::io(format!("writing to {}", self.path), e))
    }

    async fn flush(&mut self, _offsets: &TopicOffsets) -> Result<()> {
        self.sync().await
    }

    async fn stop(&mut self) -> Result<()> {
        let synced = self.sync().await;
        self.file = None;
        debug!(task = self.id, "stopped VerifiableSinkTask");
        synced
    }
}
