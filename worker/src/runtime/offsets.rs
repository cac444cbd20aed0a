//! Source offsets: which records Kafka has acknowledged, and where committed offsets are kept.
//!
//! Keys are stored exactly as Kafka Connect writes them: the compact JSON array
//! `["connector",{...source partition...}]`, values are the compact JSON offset map. Lookups go by
//! those bytes, so the key order of a connector's partition map matters (it is preserved).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sluice_api::{OffsetStorageReader, SourceMap};

/// Errors reading or writing an offset store.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    /// The offsets file could not be read or written.
    #[error("offsets file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The offsets file is not in the expected format.
    #[error("offsets file {path} is not valid: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The background write did not finish.
    #[error("offset write was interrupted: {0}")]
    Interrupted(String),
}

/// Where committed source offsets live (a file in standalone mode, a topic in distributed mode).
#[async_trait]
pub trait OffsetBackingStore: Send + Sync {
    /// The stored value for a serialized key.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores values (`None` deletes) and makes them durable before returning.
    async fn set(&self, entries: Vec<(String, Option<String>)>) -> Result<(), OffsetStoreError>;
    /// Every stored `(key, value)` pair.
    fn entries(&self) -> Vec<(String, String)>;
}

/// The serialized offsets-topic key of a connector's source partition.
pub fn offset_key(connector: &str, partition: &SourceMap) -> String {
    serde_json::Value::Array(vec![
        serde_json::Value::String(connector.to_owned()),
        serde_json::Value::Object(partition.clone()),
    ])
    .to_string()
}

/// The standalone offsets file, rewritten whole (to a temporary file, then renamed) on each flush.
pub struct FileOffsetStore {
    path: PathBuf,
    data: Mutex<BTreeMap<String, String>>,
    // Serialises writers so an older snapshot never overwrites a newer one.
    write_lock: tokio::sync::Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct OffsetsFile {
    /// Format version of this file.
    version: u32,
    /// Serialized key → serialized value, as they would appear in the offsets topic.
    offsets: BTreeMap<String, String>,
}

impl FileOffsetStore {
    /// Opens (or starts) the offsets file at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, OffsetStoreError> {
        let path = path.into();
        let data = match std::fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => BTreeMap::new(),
            Ok(bytes) => {
                let file: OffsetsFile =
                    serde_json::from_slice(&bytes).map_err(|e| OffsetStoreError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                file.offsets
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(OffsetStoreError::Io { path, source }),
        };
        Ok(Self {
            path,
            data: Mutex::new(data),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn snapshot(&self) -> BTreeMap<String, String> {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir, path)?;
    tmp.1.write_all(bytes)?;
    tmp.1.sync_all()?;
    std::fs::rename(&tmp.0, path)?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "offsets".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let f = std::fs::File::create(&tmp)?;
    Ok((tmp, f))
}

#[async_trait]
impl OffsetBackingStore for FileOffsetStore {
    fn get(&self, key: &str) -> Option<String> {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    async fn set(&self, entries: Vec<(String, Option<String>)>) -> Result<(), OffsetStoreError> {
        let _writer = self.write_lock.lock().await;
        {
            let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
            for (k, v) in entries {
                match v {
                    Some(v) => data.insert(k, v),
                    None => data.remove(&k),
                };
            }
        }
        let file = OffsetsFile {
            version: 1,
            offsets: self.snapshot(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| OffsetStoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            write_atomically(&path, &bytes).map_err(|source| OffsetStoreError::Io { path, source })
        })
        .await
        .map_err(|e| OffsetStoreError::Interrupted(e.to_string()))?
    }

    fn entries(&self) -> Vec<(String, String)> {
        self.snapshot().into_iter().collect()
    }
}

/// A connector's view of the offset store, handed to its source tasks.
pub struct ConnectorOffsetReader {
    connector: String,
    store: Arc<dyn OffsetBackingStore>,
}

impl ConnectorOffsetReader {
    /// Reads `connector`'s offsets from `store`.
    pub fn new(connector: impl Into<String>, store: Arc<dyn OffsetBackingStore>) -> Self {
        Self {
            connector: connector.into(),
            store,
        }
    }
}

impl OffsetStorageReader for ConnectorOffsetReader {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        let raw = self.store.get(&offset_key(&self.connector, partition))?;
        match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => {
                tracing::warn!(connector = %self.connector, "ignoring a stored source offset that is not a JSON object");
                None
            }
        }
    }
}

/// Records sent to Kafka and not yet committed, per source partition, in submission order
/// (Kafka's `SubmittedRecords`). An offset may be committed only when its record and every
/// earlier record of the same partition have been acknowledged.
#[derive(Default)]
pub struct SubmittedRecords {
    next_seq: u64,
    partitions: HashMap<String, PartitionQueue>,
    pending: usize,
}

struct PartitionQueue {
    partition: SourceMap,
    records: VecDeque<Submitted>,
}

struct Submitted {
    seq: u64,
    offset: SourceMap,
    acked: bool,
}

/// Identifies a submitted record for [`SubmittedRecords::ack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedId {
    partition_key: String,
    seq: u64,
}

impl SubmittedRecords {
    /// Tracks a record about to be sent.
    pub fn submit(&mut self, partition: &SourceMap, offset: &SourceMap) -> SubmittedId {
        let partition_key = serde_json::Value::Object(partition.clone()).to_string();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.partitions
            .entry(partition_key.clone())
            .or_insert_with(|| PartitionQueue {
                partition: partition.clone(),
                records: VecDeque::new(),
            })
            .records
            .push_back(Submitted {
                seq,
                offset: offset.clone(),
                acked: false,
            });
        self.pending += 1;
        SubmittedId { partition_key, seq }
    }

    /// Marks a record acknowledged by Kafka (or dropped on purpose).
    pub fn ack(&mut self, id: &SubmittedId) {
        let Some(queue) = self.partitions.get_mut(&id.partition_key) else {
            return;
        };
        if let Ok(i) = queue.records.binary_search_by_key(&id.seq, |r| r.seq)
            && !queue.records[i].acked
        {
            queue.records[i].acked = true;
            self.pending -= 1;
        }
    }

    /// Records sent and not acknowledged.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Removes the acknowledged prefix of every partition and returns, per partition, the offset of
    /// the last record in it: the offsets that are safe to commit.
    pub fn committable(&mut self) -> Vec<(SourceMap, SourceMap)> {
        let mut out = Vec::new();
        self.partitions.retain(|_, queue| {
            let mut last = None;
            while queue.records.front().is_some_and(|r| r.acked) {
                last = queue.records.pop_front().map(|r| r.offset);
            }
            if let Some(offset) = last
                && !offset.is_empty()
            {
                out.push((queue.partition.clone(), offset));
            }
            !queue.records.is_empty()
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> SourceMap {
        match v {
            serde_json::Value::Object(m) => m,
            _ => SourceMap::new(),
        }
    }

    #[test]
    fn key_is_kafka_connect_json() {
        let p = map(json!({"filename": "/tmp/a.txt"}));
        assert_eq!(
            offset_key("src", &p),
            r#"["src",{"filename":"/tmp/a.txt"}]"#
        );
        let p = map(json!({"z": 1, "a": 2}));
        assert_eq!(
            offset_key("c", &p),
            r#"["c",{"z":1,"a":2}]"#,
            "partition key order is kept"
        );
    }

    #[test]
    fn only_the_acknowledged_prefix_is_committable() {
        let mut s = SubmittedRecords::default();
        let p = map(json!({"f": "a"}));
        let ids: Vec<_> = (1..=3)
            .map(|i| s.submit(&p, &map(json!({"position": i}))))
            .collect();
        s.ack(&ids[1]);
        assert!(
            s.committable().is_empty(),
            "record 1 is not acknowledged yet"
        );
        s.ack(&ids[0]);
        assert_eq!(
            s.committable(),
            vec![(p.clone(), map(json!({"position": 2})))]
        );
        assert_eq!(s.pending(), 1);
        s.ack(&ids[2]);
        assert_eq!(s.committable(), vec![(p, map(json!({"position": 3})))]);
        assert_eq!(s.pending(), 0);
    }

    #[tokio::test]
    async fn file_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let store = FileOffsetStore::open(&path).unwrap();
        store
            .set(vec![
                ("k1".into(), Some("{\"position\":5}".into())),
                ("k2".into(), Some("{}".into())),
            ])
            .await
            .unwrap();
        store.set(vec![("k2".into(), None)]).await.unwrap();
        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(reopened.get("k1").as_deref(), Some("{\"position\":5}"));
        assert_eq!(reopened.get("k2"), None);
    }

    #[test]
    fn corrupt_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, b"not json").unwrap();
        let err = FileOffsetStore::open(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("offsets.json"), "{err}");
    }
}
