//! FileStreamSink: appends each record's value as a line of text to a file (or stdout).

use sluice_api::{
    ConfigDef, ConfigType, ConnectError, Connector, ConnectorContext, DefaultValue, Importance,
    Props, Result, SinkConnector, SinkRecord, SinkTask, SinkTaskContext, TopicOffsets, async_trait,
};
use tokio::io::AsyncWriteExt;
use tracing::{debug, info, trace};

use crate::append::append_lines;
use crate::render::render_value;

const FILE_CONFIG: &str = "file";

/// The sink connector's own settings: `file`, as in Kafka (the worker handles `topics` and
/// `topics.regex`).
pub fn sink_config_def() -> ConfigDef {
    ConfigDef::new().key(
        FILE_CONFIG,
        ConfigType::String,
        DefaultValue::Null,
        Importance::High,
        "Destination filename. If not specified, the standard output will be used",
    )
}

/// The file to write to; `None` writes to stdout.
fn parse_filename(props: &Props) -> Result<Option<String>> {
    let config = sink_config_def().parse(props)?;
    Ok(config
        .string(FILE_CONFIG)
        .filter(|f| !f.is_empty())
        .map(str::to_owned))
}

/// Writes records to a file (or stdout), one line per record value.
#[derive(Debug, Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

impl FileStreamSinkConnector {
    /// A connector that has not been started.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def(&self) -> ConfigDef {
        sink_config_def()
    }

    async fn start(&mut self, props: Props, _context: ConnectorContext) -> Result<()> {
        parse_filename(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for FileStreamSinkConnector {}

/// Where a sink task writes.
enum Output {
    File(tokio::fs::File),
    Stdout(tokio::io::Stdout),
}

/// Appends each record's value, rendered as text (see [`crate::render_value`]), followed by `\n`.
/// Lines reach the operating system in `put`; `flush` syncs them to disk, so offsets are committed
/// only for data that is durable.
#[derive(Default)]
pub struct FileStreamSinkTask {
    filename: Option<String>,
    output: Option<Output>,
}

impl FileStreamSinkTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        Self::default()
    }

    fn destination(&self) -> &str {
        self.filename.as_deref().unwrap_or("stdout")
    }

    async fn flush_output(&mut self) -> Result<()> {
        let destination = self.destination().to_owned();
        match &mut self.output {
            Some(Output::File(file)) => {
                file.flush()
                    .await
                    .map_err(|e| ConnectError::io(format!("flushing {destination}"), e))?;
                file.sync_data()
                    .await
                    .map_err(|e| ConnectError::io(format!("syncing {destination}"), e))?;
            }
            Some(Output::Stdout(stdout)) => stdout
                .flush()
                .await
                .map_err(|e| ConnectError::io("flushing stdout", e))?,
            None => {}
        }
        Ok(())
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, props: Props, _context: SinkTaskContext) -> Result<()> {
        let filename = parse_filename(&props)?;
        let output = match &filename {
            Some(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| {
                        ConnectError::io(
                            format!("Couldn't find or create file '{path}' for FileStreamSinkTask"),
                            e,
                        )
                    })?;
                Output::File(file)
            }
            None => Output::Stdout(tokio::io::stdout()),
        };
        self.filename = filename;
        self.output = Some(output);
        info!(
            destination = self.destination(),
            "started FileStreamSinkTask"
        );
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for record in records {
            text.push_str(&render_value(&record.record.value));
            text.push('\n');
        }
        let destination = self.destination().to_owned();
        trace!(destination = %destination, count = records.len(), "writing records");
        let written = match &mut self.output {
            Some(Output::File(file)) => append_lines(file, text.as_bytes()).await,
            Some(Output::Stdout(stdout)) => append_lines(stdout, text.as_bytes()).await,
            None => return Err(ConnectError::connect("FileStreamSinkTask put before start")),
        };
        written.map_err(|e| ConnectError::io(format!("writing to {destination}"), e))
    }

    async fn flush(&mut self, _offsets: &TopicOffsets) -> Result<()> {
        trace!(destination = self.destination(), "flushing");
        self.flush_output().await
    }

    async fn stop(&mut self) -> Result<()> {
        let flushed = self.flush_output().await;
        self.output = None;
        debug!(
            destination = self.destination(),
            "stopped FileStreamSinkTask"
        );
        flushed
    }
}
