//! Cutting records into bulk requests (B.10): a batch is sent when it holds `batch.size` actions,
//! when its estimated size reaches `bulk.size.bytes`, or when `linger.ms` has passed since its
//! first action.

use std::time::Duration;

use sluice_api::{SinkRecord, TopicPartition};
use tokio::time::Instant;

use crate::encoder::BulkAction;

/// One record on its way to Elasticsearch.
#[derive(Debug)]
pub struct PendingRecord {
    /// The partition it was read from (offsets are tracked per original partition).
    pub partition: TopicPartition,
    /// Its original offset.
    pub offset: i64,
    /// The bulk action.
    pub action: BulkAction,
    /// The record itself, kept only when there is an errant record reporter to give it to.
    pub record: Option<SinkRecord>,
}

/// The batch being filled.
#[derive(Debug, Default)]
pub struct Batch {
    records: Vec<PendingRecord>,
    bytes: usize,
    deadline: Option<Instant>,
}

impl Batch {
    /// Adds a record; the linger clock starts with the first one.
    pub fn push(&mut self, record: PendingRecord, linger: Duration) {
        if self.records.is_empty() {
            self.deadline = Some(Instant::now() + linger);
        }
        self.bytes += record.action.estimated_size();
        self.records.push(record);
    }

    /// Whether the count or size limit is reached.
    pub fn is_full(&self, batch_size: usize, max_bytes: Option<usize>) -> bool {
        self.records.len() >= batch_size || max_bytes.is_some_and(|m| self.bytes >= m)
    }

    /// When the linger time runs out, if anything is waiting.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Takes the records out, leaving an empty batch.
    pub fn take(&mut self) -> Vec<PendingRecord> {
        self.bytes = 0;
        self.deadline = None;
        std::mem::take(&mut self.records)
    }
}

/// The NDJSON body of a bulk request (D.6: every line ends with a newline).
pub fn bulk_body(records: &[PendingRecord]) -> Vec<u8> {
    let mut body = Vec::with_capacity(records.iter().map(|r| r.action.estimated_size()).sum());
    for r in records {
        r.action.write_to(&mut body);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::Op;

    fn pending(offset: i64, source_len: usize) -> PendingRecord {
        PendingRecord {
            partition: TopicPartition::new("t", 0),
            offset,
            action: BulkAction {
                op: Op::Index,
                index: "t".into(),
                id: Some(offset.to_string()),
                version: None,
                retry_on_conflict: None,
                source: Some("x".repeat(source_len)),
            },
            record: None,
        }
    }

    #[tokio::test]
    async fn cuts_by_count_and_bytes() {
        let mut b = Batch::default();
        assert!(b.deadline().is_none());
        b.push(pending(0, 10), Duration::from_millis(5));
        assert!(b.deadline().is_some());
        assert!(!b.is_full(2, None));
        b.push(pending(1, 10), Duration::from_millis(5));
        assert!(b.is_full(2, None));
        assert!(!b.is_full(10, Some(1000)));
        b.push(pending(2, 1000), Duration::from_millis(5));
        assert!(b.is_full(10, Some(1000)));
        let taken = b.take();
        assert_eq!(taken.len(), 3);
        assert!(b.is_empty() && b.deadline().is_none());
        let body = bulk_body(&taken);
        assert!(body.ends_with(b"\n"));
        assert_eq!(body.iter().filter(|c| **c == b'\n').count(), 6);
    }
}
