//! In-order release of MQTT acknowledgements.
//!
//! MQTT 3.1.1 §4.6 requires PUBACK/PUBREC in the order the PUBLISH packets arrived, while Kafka
//! confirms records in whatever order its partitions answer. [`AckTracker`] keeps the QoS 1/2
//! messages of a task in arrival order and releases acknowledgements only for the prefix whose
//! records Kafka has confirmed.
//!
//! Records are matched back to messages by packet id: within one connection the broker does not
//! reuse a packet id before it is acknowledged, and acknowledgements wait for Kafka. After a
//! reconnect, an old message and a new one (its redelivery, or another message on a fresh
//! session) can share a packet id; confirmations then mark the *oldest* unconfirmed entry with
//! that id first, so the newest entry, the only one that may be acknowledged on the current
//! connection, is marked only once every record with that packet id has been confirmed. A
//! confirmation can thus only delay an acknowledgement, never send one early.

use std::collections::{HashMap, VecDeque};

/// One message waiting for its record to be confirmed.
#[derive(Debug)]
struct Pending<T> {
    generation: u64,
    packet_id: u16,
    confirmed: bool,
    handle: T,
}

/// The unconfirmed entries of one packet id: the oldest one's sequence number and how many.
/// More than one only across reconnects, so no per-message allocation is needed.
#[derive(Debug, Clone, Copy)]
struct Unconfirmed {
    oldest: u64,
    count: u32,
}

/// Messages awaiting confirmation, in arrival order; `T` is what acknowledging needs (the packet).
#[derive(Debug)]
pub struct AckTracker<T> {
    /// Arrival-ordered entries; entry `i` has sequence number `first_seq + i`.
    entries: VecDeque<Pending<T>>,
    first_seq: u64,
    /// The unconfirmed entries per packet id.
    unconfirmed: HashMap<u16, Unconfirmed>,
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
    pub fn push(&mut self, generation: u64, packet_id: u16, handle: T) {
        let seq = self.first_seq + self.entries.len() as u64;
        self.entries.push_back(Pending {
            generation,
            packet_id,
            confirmed: false,
            handle,
        });
        self.unconfirmed
            .entry(packet_id)
            .and_modify(|u| u.count += 1)
            .or_insert(Unconfirmed {
                oldest: seq,
                count: 1,
            });
    }

    /// Kafka confirmed (or the worker dropped) the record of a message with this packet id.
    /// Returns false when no such message is waiting.
    pub fn confirm(&mut self, packet_id: u16) -> bool {
        let Some(unconfirmed) = self.unconfirmed.get_mut(&packet_id) else {
            return false;
        };
        let index = (unconfirmed.oldest - self.first_seq) as usize;
        if let Some(entry) = self.entries.get_mut(index) {
            entry.confirmed = true;
        }
        unconfirmed.count -= 1;
        // Another entry with this id (a reconnect's): the next unconfirmed one becomes the oldest.
        let next = (unconfirmed.count > 0)
            .then(|| {
                self.entries
                    .iter()
                    .enumerate()
                    .skip(index + 1)
                    .find(|(_, e)| e.packet_id == packet_id && !e.confirmed)
                    .map(|(i, _)| self.first_seq + i as u64)
            })
            .flatten();
        match next {
            Some(seq) => unconfirmed.oldest = seq,
            None => {
                self.unconfirmed.remove(&packet_id);
            }
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
        t.push(1, 1, "m1");
        t.push(1, 2, "m2");
        t.push(1, 3, "m3");
        assert!(t.confirm(2));
        assert!(t.confirm(3));
        assert!(t.release(1).is_empty());
        assert_eq!(t.len(), 3);
        assert!(!t.all_confirmed());
        assert!(t.confirm(1));
        assert!(t.all_confirmed());
        assert_eq!(t.release(1), vec!["m1", "m2", "m3"]);
        assert!(t.is_empty());
    }

    #[test]
    fn releases_only_the_contiguous_confirmed_prefix() {
        let mut t = AckTracker::new();
        for id in 1..=5u16 {
            t.push(1, id, id);
        }
        t.confirm(1);
        t.confirm(2);
        t.confirm(4);
        assert_eq!(t.release(1), vec![1, 2]);
        assert_eq!(t.len(), 3);
        t.confirm(5);
        assert!(t.release(1).is_empty());
        t.confirm(3);
        assert_eq!(t.release(1), vec![3, 4, 5]);
    }

    #[test]
    fn unknown_confirmations_are_reported_and_change_nothing() {
        let mut t = AckTracker::new();
        t.push(1, 1, 1);
        assert!(!t.confirm(2));
        assert!(t.release(1).is_empty());
        assert!(t.confirm(1));
        assert!(!t.confirm(1), "a second confirmation finds nothing");
        assert_eq!(t.release(1), vec![1]);
    }

    #[test]
    fn packet_ids_reused_after_release_match_the_new_message() {
        let mut t = AckTracker::new();
        t.push(1, 7, "first");
        t.confirm(7);
        assert_eq!(t.release(1), vec!["first"]);
        t.push(1, 7, "second");
        assert!(t.release(1).is_empty());
        t.confirm(7);
        assert_eq!(t.release(1), vec!["second"]);
    }

    #[test]
    fn messages_from_older_connections_are_released_without_acks() {
        let mut t = AckTracker::new();
        t.push(1, 1, "old1");
        t.push(1, 2, "old2");
        // Reconnected: the broker redelivers packet 1 (same id) and sends a new packet 3.
        t.push(2, 1, "redelivered1");
        t.push(2, 3, "new3");
        t.confirm(2);
        t.confirm(1);
        // The first confirmation of packet 1 marks the oldest entry: the redelivery still waits.
        assert!(t.release(2).is_empty(), "old1 and old2 go without acks");
        assert_eq!(t.take_stale(), 2);
        assert_eq!(t.take_stale(), 0);
        assert_eq!(t.len(), 2);
        t.confirm(3);
        assert!(t.release(2).is_empty(), "redelivered1 still blocks new3");
        t.confirm(1);
        assert_eq!(t.release(2), vec!["redelivered1", "new3"]);
    }

    #[test]
    fn out_of_order_confirmations_across_connections_never_ack_an_unwritten_record() {
        // Old message 5 and an unrelated new message that reuses id 5 on a fresh session.
        let mut t = AckTracker::new();
        t.push(1, 5, "old");
        t.push(2, 5, "new");
        // Kafka confirms the new record first: it marks the old entry.
        t.confirm(5);
        assert!(t.release(2).is_empty());
        assert_eq!(t.len(), 1, "the new entry is not released");
        // Only when both records are written is the current one acknowledged.
        t.confirm(5);
        assert_eq!(t.release(2), vec!["new"]);
    }

    #[test]
    fn one_id_across_three_connections_is_confirmed_oldest_first() {
        let mut t = AckTracker::new();
        t.push(1, 9, "gen1");
        t.push(1, 4, "other");
        t.push(2, 9, "gen2");
        t.push(3, 9, "gen3");
        t.confirm(9);
        t.confirm(9);
        assert!(!t.all_confirmed());
        assert!(t.release(3).is_empty(), "\"other\" blocks the prefix");
        t.confirm(4);
        assert!(t.release(3).is_empty(), "gen3 is still unconfirmed");
        assert_eq!(t.take_stale(), 3);
        assert!(t.confirm(9));
        assert!(!t.confirm(9));
        assert_eq!(t.release(3), vec!["gen3"]);
    }

    #[test]
    fn a_large_shuffled_confirmation_order_releases_everything_in_arrival_order() {
        let mut t = AckTracker::new();
        let n = 10_000u32;
        for i in 0..n {
            t.push(1, (i % 60_000 + 1) as u16, i);
        }
        // A deterministic permutation: stride through the indexes with a step coprime to n.
        let mut released = Vec::new();
        for k in 0..n {
            let i = (k * 7_919) % n;
            assert!(t.confirm((i % 60_000 + 1) as u16));
            released.extend(t.release(1));
        }
        assert_eq!(released, (0..n).collect::<Vec<_>>());
        assert!(t.is_empty());
    }
}
