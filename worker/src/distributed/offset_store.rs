//! The offsets topic (`offset.storage.topic`): source offsets keyed `["connector",{partition}]`
//! exactly as Java Connect writes them (reference §3.2), read into memory by every worker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sluice_api::Props;

use super::kafka_log::{KafkaLog, LogError};
use crate::runtime::offsets::{OffsetBackingStore, OffsetStoreError};

/// Source offsets kept in a Kafka topic.
pub struct KafkaOffsetStore {
    log: KafkaLog,
    data: Arc<Mutex<BTreeMap<String, String>>>,
}

impl KafkaOffsetStore {
    /// Starts reading the offsets topic.
    pub async fn start(client: &Props, topic: &str, client_id: &str) -> Result<Self, LogError> {
        let data = Arc::new(Mutex::new(BTreeMap::new()));
        let applied = data.clone();
        let log = KafkaLog::start(client, topic, client_id, 5, move |record| {
            let mut data = applied.lock().unwrap_or_else(PoisonError::into_inner);
            match record.value {
                Some(v) => data.insert(record.key, String::from_utf8_lossy(&v).into_owned()),
                None => data.remove(&record.key),
            };
        })
        .await?;
        Ok(Self { log, data })
    }

    /// Reads the topic to its end (before tasks that need offsets start).
    pub async fn read_to_end(&self, timeout: Duration) -> Result<(), LogError> {
        self.log.read_to_end(timeout).await
    }
}

#[async_trait]
impl OffsetBackingStore for KafkaOffsetStore {
    fn get(&self, key: &str) -> Option<String> {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    async fn set(&self, entries: Vec<(String, Option<String>)>) -> Result<(), OffsetStoreError> {
        let sends = entries
            .iter()
            .map(|(k, v)| self.log.send(k, v.as_deref().map(str::as_bytes)));
        for result in futures::future::join_all(sends).await {
            result.map_err(|e| OffsetStoreError::Interrupted(e.to_string()))?;
        }
        // Visible to this worker at once; other workers see it when they read the records.
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        for (k, v) in entries {
            match v {
                Some(v) => data.insert(k, v),
                None => data.remove(&k),
            };
        }
        Ok(())
    }

    fn entries(&self) -> Vec<(String, String)> {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
