//! In-order release of MQTT acknowledgements.
//!
//! MQTT 3.1.1 §4.6 requires PUBACK/PUBREC in the order the PUBLISH packets arrived, while Kafka
//! confirms records in whatever order its partitions answer. [`AckTracker`] keeps the QoS 1/2
//! messages of a task in arrival order and releases acknowledgements only for the prefix whose
//! records Kafka has confirmed.
//!
//! Records are matched back to messages by (topic, packet id): within one connection the broker
//! does not reuse a packet id before it is acknowledged, and acknowledgements wait for Kafka. After
//! a reconnect, an old message and its redelivery can share a packet id; confirmations then mark
//! the *oldest* unconfirmed entries of that (topic, packet id) first, so the newest entry, the only
//! one that may be acknowledged on the current connection, is marked only once every record with
//! that topic and packet id has been confirmed.

use std::collections::{HashMap, VecDeque};

/// One message waiting for its record to be confirmed.
#[derive(Debug)]
struct Pending<T> {
    generation: u64,
    confirmed: bool,
    handle: T,
}

/// Messages awaiting confirmation, in arrival order; `T` is what acknowledging needs (the packet).
#[derive(Debug)]
pub struct AckTracker<T> {
    /// Arrival-ordered entries; entry `i` has sequence number `first_seq + i`.
    entries: VecDeque<Pending<T>>,
    first_seq: u64,
    /// Unconfirmed sequence numbers per (topic, packet id), oldest first.
    unconfirmed: HashMap<(String, u16), VecDeque<u64>>,
    /// Messages of older connections released without an acknowledgement, since the last
    /// [`AckTracker::take_stale`].
    stale: u64,
}

impl<T> Default for AckTracker<T> {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
            first_seq: 0,
            unconfirmed: HashMap::new(),
            stale: 0,
        }
    }
}

impl<T> AckTracker<T> {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message received on connection `generation`.
    pub fn push(&mut self, generation: u64, topic: &str, packet_id: u16, handle: T) {
        let seq = self.first_seq + self.entries.len() as u64;
        self.entries.push_back(Pending {
            generation,
            confirmed: false,
            handle,
        });
        self.unconfirmed
            .entry((topic.to_owned(), packet_id))
            .or_default()
            .push_back(seq);
    }

    /// Kafka confirmed (or the worker dropped) the record of a message with this topic and packet
    /// id. Returns false when no such message is waiting.
    pub fn confirm(&mut self, topic: &str, packet_id: u16) -> bool {
        let key = (topic.to_owned(), packet_id);
        let Some(queue) = self.unconfirmed.get_mut(&key) else {
            return false;
        };
        let seq = queue.pop_front();
        if queue.is_empty() {
            self.unconfirmed.remove(&key);
        }
        let Some(seq) = seq else {
            return false;
        };
        let index = (seq - self.first_seq) as usize;
        if let Some(entry) = self.entries.get_mut(index) {
            entry.confirmed = true;
        }
        true
    }

    /// Removes the confirmed prefix and returns, in arrival order, the handles received on the
    /// `current` connection: those are the ones to acknowledge. Messages from older connections
    /// are dropped silently, since the broker redelivers them on the new connection anyway.
    pub fn release(&mut self, current: u64) -> Vec<T> {
        let mut out = Vec::new();
        while self.entries.front().is_some_and(|e| e.confirmed) {
            if let Some(entry) = self.entries.pop_front() {
                self.first_seq += 1;
                if entry.generation == current {
                    out.push(entry.handle);
                } else {
                    self.stale += 1;
                }
            }
        }
        out
    }

    /// How many messages of older connections [`AckTracker::release`] dropped without an
    /// acknowledgement since the last call (the broker redelivers them).
    pub fn take_stale(&mut self) -> u64 {
        std::mem::take(&mut self.stale)
    }

    /// Whether every message has been confirmed (all that remains is releasable).
    pub fn all_confirmed(&self) -> bool {
        self.unconfirmed.is_empty()
    }

    /// Messages received and not yet released.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_nothing_until_the_first_message_is_confirmed() {
        let mut t = AckTracker::new();
        t.push(1, "a", 1, "m1");
        t.push(1, "b", 2, "m2");
        t.push(1, "a", 3, "m3");
        assert!(t.confirm("b", 2));
        assert!(t.confirm("a", 3));
        assert!(t.release(1).is_empty());
        assert_eq!(t.len(), 3);
        assert!(!t.all_confirmed());
        assert!(t.confirm("a", 1));
        assert!(t.all_confirmed());
        assert_eq!(t.release(1), vec!["m1", "m2", "m3"]);
        assert!(t.is_empty());
    }

    #[test]
    fn releases_only_the_contiguous_confirmed_prefix() {
        let mut t = AckTracker::new();
        for id in 1..=5u16 {
            t.push(1, "t", id, id);
        }
        t.confirm("t", 1);
        t.confirm("t", 2);
        t.confirm("t", 4);
        assert_eq!(t.release(1), vec![1, 2]);
        assert_eq!(t.len(), 3);
        t.confirm("t", 5);
        assert!(t.release(1).is_empty());
        t.confirm("t", 3);
        assert_eq!(t.release(1), vec![3, 4, 5]);
    }

    #[test]
    fn unknown_confirmations_are_reported_and_change_nothing() {
        let mut t = AckTracker::new();
        t.push(1, "t", 1, 1);
        assert!(!t.confirm("t", 2));
        assert!(!t.confirm("other", 1));
        assert!(t.release(1).is_empty());
        assert!(t.confirm("t", 1));
        assert!(!t.confirm("t", 1), "a second confirmation finds nothing");
        assert_eq!(t.release(1), vec![1]);
    }

    #[test]
    fn packet_ids_reused_after_release_match_the_new_message() {
        let mut t = AckTracker::new();
        t.push(1, "t", 7, "first");
        t.confirm("t", 7);
        assert_eq!(t.release(1), vec!["first"]);
        t.push(1, "t", 7, "second");
        assert!(t.release(1).is_empty());
        t.confirm("t", 7);
        assert_eq!(t.release(1), vec!["second"]);
    }

    #[test]
    fn messages_from_older_connections_are_released_without_acks() {
        let mut t = AckTracker::new();
        t.push(1, "t", 1, "old1");
        t.push(1, "t", 2, "old2");
        // Reconnected: the broker redelivers packet 1 (same id) and sends a new packet 3.
        t.push(2, "t", 1, "redelivered1");
        t.push(2, "t", 3, "new3");
        t.confirm("t", 2);
        t.confirm("t", 1);
        // The first confirmation of (t, 1) marks the oldest entry: the redelivery still waits.
        assert!(t.release(2).is_empty(), "old1 and old2 go without acks");
        assert_eq!(t.take_stale(), 2);
        assert_eq!(t.take_stale(), 0);
        assert_eq!(t.len(), 2);
        t.confirm("t", 3);
        assert!(t.release(2).is_empty(), "redelivered1 still blocks new3");
        t.confirm("t", 1);
        assert_eq!(t.release(2), vec!["redelivered1", "new3"]);
    }

    #[test]
    fn out_of_order_confirmations_across_connections_never_ack_an_unwritten_record() {
        // Old message (t, 5) and an unrelated new message that reuses (t, 5) on a fresh session.
        let mut t = AckTracker::new();
        t.push(1, "t", 5, "old");
        t.push(2, "t", 5, "new");
        // Kafka confirms the new record first: it marks the old entry.
        t.confirm("t", 5);
        assert!(t.release(2).is_empty());
        assert_eq!(t.len(), 1, "the new entry is not released");
        // Only when both records are written is the current one acknowledged.
        t.confirm("t", 5);
        assert_eq!(t.release(2), vec!["new"]);
    }

    #[test]
    fn topics_are_matched_separately() {
        let mut t = AckTracker::new();
        t.push(1, "a", 1, "a1");
        t.push(1, "b", 1, "b1");
        t.confirm("b", 1);
        assert!(t.release(1).is_empty());
        t.confirm("a", 1);
        assert_eq!(t.release(1), vec!["a1", "b1"]);
    }

    #[test]
    fn a_large_shuffled_confirmation_order_releases_everything_in_arrival_order() {
        let mut t = AckTracker::new();
        let n = 10_000u32;
        for i in 0..n {
            t.push(1, &format!("t{}", i % 7), (i % 60_000 + 1) as u16, i);
        }
        // A deterministic permutation: stride through the indexes with a step coprime to n.
        let mut released = Vec::new();
        for k in 0..n {
            let i = (k * 7_919) % n;
            assert!(t.confirm(&format!("t{}", i % 7), (i % 60_000 + 1) as u16));
            released.extend(t.release(1));
        }
        assert_eq!(released, (0..n).collect::<Vec<_>>());
        assert!(t.is_empty());
    }
}
