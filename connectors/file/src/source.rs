//! FileStreamSource: one string record per line of a file (or of stdin).

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, Connector, ConnectorContext,
    DefaultValue, Importance, OffsetStorageReader, Props, Result, Schema, SourceConnector,
    SourceMap, SourceRecord, SourceTask, SourceTaskContext, Validator, Value, async_trait,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Source partition key holding the file name; the same as Kafka's, so offsets carry over.
pub const FILENAME_FIELD: &str = "filename";
/// Source offset key holding the byte position after the last emitted line; the same as Kafka's.
pub const POSITION_FIELD: &str = "position";

const FILE_CONFIG: &str = "file";
const TOPIC_CONFIG: &str = "topic";
const BATCH_SIZE_CONFIG: &str = "batch.size";
const DEFAULT_BATCH_SIZE: &str = "2000";

/// The longest a `poll` waits for new data before returning an empty batch.
const POLL_BUDGET: Duration = Duration::from_secs(1);
/// Pause between reads once the end of the input is reached.
const EOF_BACKOFF: Duration = Duration::from_millis(100);
/// How much is read from the input at a time.
const READ_CHUNK: usize = 64 * 1024;

/// The source connector's settings: `file`, `topic` and `batch.size`, as in Kafka.
pub fn source_config_def() -> ConfigDef {
    ConfigDef::new()
        .key(
            FILE_CONFIG,
            ConfigType::String,
            DefaultValue::Null,
            Importance::High,
            "Source filename. If not specified, the standard input will be used",
        )
        .define(
            ConfigKey::new(
                TOPIC_CONFIG,
                ConfigType::String,
                DefaultValue::Required,
                Importance::High,
                "The topic to publish data to",
            )
            .validator(Validator::custom(check_single_topic)),
        )
        .define(
            ConfigKey::new(
                BATCH_SIZE_CONFIG,
                ConfigType::Int,
                DefaultValue::Value(DEFAULT_BATCH_SIZE.to_owned()),
                Importance::Low,
                "The maximum number of records the source task can read from the file each time it is polled",
            )
            .validator(Validator::at_least(1.0)),
        )
}

/// The topic must be one non-empty name; a comma-separated list is a common mistake.
fn check_single_topic(
    name: &str,
    value: &sluice_api::config::ParsedValue,
) -> std::result::Result<(), String> {
    match value.as_str() {
        Some("") => Err(format!(
            "Invalid value  for configuration {name}: String must be non-empty"
        )),
        Some(topic) if topic.contains(',') => Err(
            "'topic' in FileStreamSourceConnector configuration requires definition of a single topic"
                .to_owned(),
        ),
        _ => Ok(()),
    }
}

/// Settings of a source task after parsing.
#[derive(Debug, Clone)]
struct SourceSettings {
    /// `None` reads stdin.
    filename: Option<String>,
    topic: String,
    batch_size: usize,
}

impl SourceSettings {
    fn parse(props: &Props) -> Result<Self> {
        let config = source_config_def().parse(props)?;
        let filename = config
            .string(FILE_CONFIG)
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        let topic = config
            .string(TOPIC_CONFIG)
            .ok_or_else(|| {
                ConnectError::config("FileStreamSourceTask config missing topic setting")
            })?
            .to_owned();
        let batch_size = config
            .int(BATCH_SIZE_CONFIG)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| ConnectError::config("batch.size must be at least 1"))?;
        Ok(Self {
            filename,
            topic,
            batch_size,
        })
    }
}

/// Reads lines from a file (or stdin) into one topic. Only one task: a file has one reader.
#[derive(Debug, Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

impl FileStreamSourceConnector {
    /// A connector that has not been started.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Connector for FileStreamSourceConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def(&self) -> ConfigDef {
        source_config_def()
    }

    async fn start(&mut self, props: Props, _context: ConnectorContext) -> Result<()> {
        SourceSettings::parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>> {
        // Only one reader of a stream makes sense, whatever tasks.max says.
        Ok(vec![self.props.clone()])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for FileStreamSourceConnector {}

/// An opened input: a file positioned at the resume offset, or stdin.
type Input = Box<dyn AsyncRead + Send + Unpin>;

/// Tails a file (or reads stdin) and emits one record per complete line.
///
/// Lines end at `\n`; a `\r` right before it is dropped too. A last line without its newline is
/// held back until the newline arrives. The source offset of a record is the byte position just
/// after its line, so a restarted task seeks there and continues with the next line.
///
/// Cancel safety: everything read is moved into `self` (the unfinished line in `partial`, complete
/// lines in `ready`) before the next `.await`, so dropping a `poll` future loses nothing.
pub struct FileStreamSourceTask {
    settings: Option<SourceSettings>,
    /// Where to start reading once the file opens (from the committed offset).
    resume_position: u64,
    input: Option<Input>,
    /// Byte position in the file after the last complete line; `None` for stdin.
    position: Option<u64>,
    /// Bytes after the last newline read so far.
    partial: Vec<u8>,
    /// Complete lines read but not yet returned by `poll`.
    ready: VecDeque<SourceRecord>,
    read_buffer: Vec<u8>,
    warned_missing: bool,
}

impl Default for FileStreamSourceTask {
    fn default() -> Self {
        Self::new()
    }
}

impl FileStreamSourceTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        Self {
            settings: None,
            resume_position: 0,
            input: None,
            position: None,
            partial: Vec::new(),
            ready: VecDeque::new(),
            read_buffer: vec![0; READ_CHUNK],
            warned_missing: false,
        }
    }

    fn settings(&self) -> Result<&SourceSettings> {
        self.settings
            .as_ref()
            .ok_or_else(|| ConnectError::connect("FileStreamSourceTask polled before start"))
    }

    fn source_partition(filename: Option<&str>) -> SourceMap {
        let mut partition = SourceMap::new();
        partition.insert(FILENAME_FIELD.to_owned(), json!(filename));
        partition
    }

    /// Opens the input if it is not open yet. `Ok(false)` when the file does not exist yet.
    async fn ensure_open(&mut self) -> Result<bool> {
        if self.input.is_some() {
            return Ok(true);
        }
        let Some(filename) = self.settings()?.filename.clone() else {
            self.input = Some(Box::new(tokio::io::stdin()));
            self.position = None;
            debug!("reading from stdin");
            return Ok(true);
        };
        let mut file = match tokio::fs::File::open(&filename).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    warn!(file = %filename, "file not found; waiting for it to be created");
                    self.warned_missing = true;
                }
                return Ok(false);
            }
            Err(e) => return Err(ConnectError::io(format!("opening {filename}"), e)),
        };
        let resume = self.resume_position;
        if resume > 0 {
            let length = file
                .metadata()
                .await
                .map_err(|e| ConnectError::io(format!("reading metadata of {filename}"), e))?
                .len();
            if resume > length {
                warn!(
                    file = %filename, position = resume, length,
                    "committed position is beyond the end of the file (was it truncated?); \
                     waiting for the file to grow past it"
                );
            }
            file.seek(SeekFrom::Start(resume))
                .await
                .map_err(|e| ConnectError::io(format!("seeking in {filename}"), e))?;
            debug!(file = %filename, position = resume, "resumed from committed offset");
        }
        info!(file = %filename, position = resume, "opened file for reading");
        self.input = Some(Box::new(file));
        self.position = Some(resume);
        self.partial.clear();
        Ok(true)
    }

    /// Splits what was read into complete lines (queued in `ready`) and a held-back remainder.
    fn take_lines(&mut self, bytes: &[u8]) -> Result<()> {
        let settings = self.settings()?;
        let topic = settings.topic.clone();
        let partition = Self::source_partition(settings.filename.as_deref());
        let scan_from = self.partial.len();
        self.partial.extend_from_slice(bytes);
        let timestamp = now_millis();

        let mut line_start = 0;
        let mut search_from = scan_from;
        while let Some(found) = self.partial[search_from..].iter().position(|&b| b == b'\n') {
            let newline = search_from + found;
            let mut line = &self.partial[line_start..newline];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            let text = String::from_utf8_lossy(line).into_owned();
            let consumed = (newline + 1 - line_start) as u64;
            self.position = self.position.map(|p| p + consumed);

            let mut offset = SourceMap::new();
            offset.insert(POSITION_FIELD.to_owned(), json!(self.position));
            self.ready.push_back(SourceRecord {
                source_partition: partition.clone(),
                source_offset: offset,
                record: ConnectRecord {
                    topic: topic.clone(),
                    value_schema: Some(Schema::string()),
                    value: Value::String(text),
                    timestamp: Some(timestamp),
                    ..ConnectRecord::default()
                },
            });
            line_start = newline + 1;
            search_from = line_start;
        }
        self.partial.drain(..line_start);
        Ok(())
    }

    /// Reads until `batch.size` lines are ready, the input has nothing more for now (and some lines
    /// are ready), or the deadline passes.
    async fn fill(&mut self, deadline: Instant) -> Result<()> {
        let batch_size = self.settings()?.batch_size;
        loop {
            if self.ready.len() >= batch_size {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            let Some(input) = self.input.as_mut() else {
                return Ok(());
            };
            // tokio's file and stdin keep an interrupted read's data for the next call, so the
            // timeout (and the worker dropping this future) loses nothing.
            let read =
                tokio::time::timeout(deadline - now, input.read(&mut self.read_buffer)).await;
            match read {
                Err(_elapsed) => return Ok(()),
                Ok(Err(e)) => {
                    let what = self.settings()?.filename.as_deref().unwrap_or("stdin");
                    return Err(ConnectError::io(format!("reading {what}"), e));
                }
                Ok(Ok(0)) => {
                    if !self.ready.is_empty() {
                        return Ok(());
                    }
                    let pause = EOF_BACKOFF.min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause).await;
                }
                Ok(Ok(n)) => {
                    let buffer = std::mem::take(&mut self.read_buffer);
                    let taken = self.take_lines(&buffer[..n]);
                    self.read_buffer = buffer;
                    taken?;
                }
            }
        }
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The committed byte position for `partition`, if any; an offset of the wrong shape is an error,
/// as in Kafka, rather than silently re-reading the file from the start.
fn committed_position(offsets: &dyn OffsetStorageReader, partition: &SourceMap) -> Result<u64> {
    let Some(offset) = offsets.offset(partition) else {
        return Ok(0);
    };
    match offset.get(POSITION_FIELD) {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(position) => position
            .as_u64()
            .ok_or_else(|| ConnectError::connect("Offset position is the incorrect type")),
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, props: Props, context: SourceTaskContext) -> Result<()> {
        let settings = SourceSettings::parse(&props)?;
        self.resume_position = match &settings.filename {
            Some(filename) => {
                let partition = Self::source_partition(Some(filename));
                committed_position(context.offsets.as_ref(), &partition)?
            }
            // Offsets mean nothing for stdin.
            None => 0,
        };
        info!(
            file = settings.filename.as_deref().unwrap_or("stdin"),
            topic = %settings.topic,
            resume_position = self.resume_position,
            "starting FileStreamSourceTask"
        );
        self.settings = Some(settings);
        self.input = None;
        self.position = None;
        self.partial.clear();
        self.ready.clear();
        self.warned_missing = false;
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let batch_size = self.settings()?.batch_size;
        let deadline = Instant::now() + POLL_BUDGET;
        if self.ready.is_empty() {
            if !self.ensure_open().await? {
                tokio::time::sleep_until(deadline).await;
                return Ok(Vec::new());
            }
            self.fill(deadline).await?;
        }
        let count = batch_size.min(self.ready.len());
        Ok(self.ready.drain(..count).collect())
    }

    async fn stop(&mut self) -> Result<()> {
        self.input = None;
        debug!("stopped FileStreamSourceTask");
        Ok(())
    }
}
