//! Leader-side assignors: eager round-robin (protocol V0) and incremental cooperative
//! (KIP-415, protocols V1/V2).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::protocol::{Assignment, ConnectorsAndTasks, TaskRef, WorkerMetadata};

/// One group member as the leader sees it in the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its decoded metadata for the selected protocol.
    pub metadata: WorkerMetadata,
}

/// Eager (V0) round-robin: complete assignments. Connectors sorted by name go first, then tasks
/// sorted by connector and number, over one circular iterator of the sorted member ids.
pub fn eager_assign(
    leader_id: &str,
    leader_url: &str,
    config_offset: i64,
    configured: &ConnectorsAndTasks,
    members: &[MemberInfo],
) -> BTreeMap<String, Assignment> {
    let ids: BTreeSet<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
    let mut sets: BTreeMap<&str, ConnectorsAndTasks> = ids
        .iter()
        .map(|id| (*id, ConnectorsAndTasks::default()))
        .collect();
    let mut cycle = ids.iter().cycle();
    for connector in &configured.connectors {
        if let Some(id) = cycle.next()
            && let Some(set) = sets.get_mut(id)
        {
            set.connectors.insert(connector.clone());
        }
    }
    for task in &configured.tasks {
        if let Some(id) = cycle.next()
            && let Some(set) = sets.get_mut(id)
        {
            set.tasks.insert(task.clone());
        }
    }
    sets.into_iter()
        .map(|(id, assigned)| {
            (
                id.to_string(),
                Assignment {
                    error: Assignment::NO_ERROR,
                    leader: leader_id.to_string(),
                    leader_url: leader_url.to_string(),
                    config_offset,
                    assigned,
                    revoked: ConnectorsAndTasks::default(),
                    delay_ms: 0,
                },
            )
        })
        .collect()
}

/// What the leader remembers of the round it last computed.
#[derive(Debug)]
struct Memory {
    generation: i32,
    /// What each member holds once it has applied that round's assignment.
    held: BTreeMap<String, ConnectorsAndTasks>,
}

/// Lost items held back while the scheduled rebalance delay runs.
#[derive(Debug)]
struct PendingLost {
    items: ConnectorsAndTasks,
    deadline: Instant,
}

/// Leader-side KIP-415 assignor with memory of the previous round.
///
/// Each round: items held but no longer configured, and items held by more than one member
/// (all but the lowest member id), are revoked at once. Items the previous round gave to a
/// member that has left are *lost*: they wait up to `max_delay` (every assignment carries the
/// remaining delay so members rejoin when it ends) unless new members with nothing to run
/// appear, which take them at once; after the delay they are assigned like new items. New
/// items go to the members with the fewest connectors (connectors) or tasks (tasks), ties by
/// member id. When neither a delay is pending nor this round revokes deleted or duplicated
/// items, members above their balanced share (within one connector and one task of each other)
/// have the surplus revoked; the next round hands it to the least loaded members.
#[derive(Debug)]
pub struct IncrementalAssignor {
    max_delay: Duration,
    memory: Option<Memory>,
    pending_lost: Option<PendingLost>,
}

impl IncrementalAssignor {
    /// An assignor with `scheduled.rebalance.max.delay.ms` = `max_delay` and no memory.
    pub fn new(max_delay: Duration) -> Self {
        IncrementalAssignor {
            max_delay,
            memory: None,
            pending_lost: None,
        }
    }

    /// Computes one round. `configured` = every connector and task in the config snapshot;
    /// returns an [`Assignment`] per member id whose `assigned` holds only items new to that
    /// member, `revoked` the items it must stop, and `delay_ms` the remaining scheduled delay
    /// (0 if none).
    #[allow(clippy::too_many_arguments)]
    pub fn assign(
        &mut self,
        now: Instant,
        generation: i32,
        leader_id: &str,
        leader_url: &str,
        config_offset: i64,
        configured: &ConnectorsAndTasks,
        members: &[MemberInfo],
    ) -> BTreeMap<String, Assignment> {
        let held: BTreeMap<String, ConnectorsAndTasks> = members
            .iter()
            .map(|m| {
                (
                    m.member_id.clone(),
                    m.metadata.allocation.clone().unwrap_or_default(),
                )
            })
            .collect();
        // Memory is only trusted when this round directly follows the one it describes.
        let memory = self
            .memory
            .take()
            .filter(|memory| memory.generation.checked_add(1) == Some(generation));

        // Deleted and duplicated items are revoked at once.
        let mut revoked: BTreeMap<String, ConnectorsAndTasks> = BTreeMap::new();
        let mut seen = ConnectorsAndTasks::default();
        for (member, items) in &held {
            let mut to_revoke = items.difference(configured);
            to_revoke.extend(&items.intersection(&seen));
            seen.extend(items);
            revoked.insert(member.clone(), to_revoke);
        }
        let forced_revocations = revoked.values().any(|r| !r.is_empty());

        let mut next: BTreeMap<String, ConnectorsAndTasks> = held
            .iter()
            .map(|(member, items)| {
                let mut kept = items.clone();
                if let Some(r) = revoked.get(member) {
                    kept.remove_all(r);
                }
                (member.clone(), kept)
            })
            .collect();
        let mut running = ConnectorsAndTasks::default();
        for items in next.values() {
            running.extend(items);
        }
        let unheld = configured.difference(&running);

        // Lost items: the previous round gave them to members that are gone.
        let mut lost = ConnectorsAndTasks::default();
        if let Some(memory) = &memory {
            for (member, items) in &memory.held {
                if !held.contains_key(member) {
                    lost.extend(items);
                }
            }
        }
        let pending = self.pending_lost.take();
        if let Some(pending) = &pending {
            lost.extend(&pending.items);
        }
        let lost = lost.intersection(&unheld);

        let mut to_assign = unheld.clone();
        let mut delay_ms = 0;
        if !lost.is_empty() && !self.max_delay.is_zero() {
            let deadline = pending
                .as_ref()
                .map(|p| p.deadline)
                .unwrap_or(now + self.max_delay);
            if now < deadline {
                let newcomers: Vec<String> = held
                    .iter()
                    .filter(|(member, items)| {
                        items.is_empty()
                            && !memory
                                .as_ref()
                                .is_some_and(|memory| memory.held.contains_key(*member))
                    })
                    .map(|(member, _)| member.clone())
                    .collect();
                to_assign.remove_all(&lost);
                if newcomers.is_empty() {
                    let remaining = deadline.saturating_duration_since(now);
                    delay_ms = i32::try_from(remaining.as_millis().max(1)).unwrap_or(i32::MAX);
                    tracing::info!(
                        lost = lost.len(),
                        delay_ms,
                        "lost connectors and tasks wait for the scheduled rebalance delay"
                    );
                    self.pending_lost = Some(PendingLost {
                        items: lost,
                        deadline,
                    });
                } else {
                    // Returning or new workers take the lost work right away.
                    distribute(&lost, &mut next, &newcomers);
                }
            }
        }
        let everyone: Vec<String> = next.keys().cloned().collect();
        distribute(&to_assign, &mut next, &everyone);

        if !forced_revocations && delay_ms == 0 {
            let balancing = balancing_revocations(&next);
            for (member, surplus) in balancing {
                if let Some(items) = next.get_mut(&member) {
                    items.remove_all(&surplus);
                }
                revoked.entry(member).or_default().extend(&surplus);
            }
        }

        let mut assignments = BTreeMap::new();
        for (member, items) in &next {
            let before = held.get(member).cloned().unwrap_or_default();
            let member_revoked = revoked.remove(member).unwrap_or_default();
            let assigned = items.difference(&before);
            assignments.insert(
                member.clone(),
                Assignment {
                    error: Assignment::NO_ERROR,
                    leader: leader_id.to_string(),
                    leader_url: leader_url.to_string(),
                    config_offset,
                    assigned,
                    revoked: member_revoked,
                    delay_ms,
                },
            );
        }
        self.memory = Some(Memory {
            generation,
            held: next,
        });
        assignments
    }
}

/// Hands out `items`: each connector to the eligible member with the fewest connectors, each
/// task to the one with the fewest tasks, ties broken by member id.
fn distribute(
    items: &ConnectorsAndTasks,
    next: &mut BTreeMap<String, ConnectorsAndTasks>,
    eligible: &[String],
) {
    for connector in &items.connectors {
        let target = eligible
            .iter()
            .min_by_key(|m| (next.get(*m).map_or(0, |s| s.connectors.len()), (*m).clone()))
            .cloned();
        if let Some(target) = target {
            next.entry(target)
                .or_default()
                .connectors
                .insert(connector.clone());
        }
    }
    for task in &items.tasks {
        let target = eligible
            .iter()
            .min_by_key(|m| (next.get(*m).map_or(0, |s| s.tasks.len()), (*m).clone()))
            .cloned();
        if let Some(target) = target {
            next.entry(target).or_default().tasks.insert(task.clone());
        }
    }
}

/// The surplus each member must give up so that connector counts and task counts each end
/// within one of each other: with `total = base * n + extra`, the `extra` most loaded members
/// (ties by member id) may keep `base + 1`, the others `base`.
fn balancing_revocations(
    next: &BTreeMap<String, ConnectorsAndTasks>,
) -> BTreeMap<String, ConnectorsAndTasks> {
    let mut revocations: BTreeMap<String, ConnectorsAndTasks> = BTreeMap::new();
    let connector_surplus = surplus(next, |s| s.connectors.len());
    for (member, count) in connector_surplus {
        let items: Vec<String> = next[&member]
            .connectors
            .iter()
            .rev()
            .take(count)
            .cloned()
            .collect();
        revocations
            .entry(member)
            .or_default()
            .connectors
            .extend(items);
    }
    let task_surplus = surplus(next, |s| s.tasks.len());
    for (member, count) in task_surplus {
        let items: Vec<TaskRef> = next[&member]
            .tasks
            .iter()
            .rev()
            .take(count)
            .cloned()
            .collect();
        revocations.entry(member).or_default().tasks.extend(items);
    }
    revocations
}

/// How many items each over-allowance member must give up, by the count `measure` takes.
fn surplus(
    next: &BTreeMap<String, ConnectorsAndTasks>,
    measure: impl Fn(&ConnectorsAndTasks) -> usize,
) -> Vec<(String, usize)> {
    let members = next.len();
    if members == 0 {
        return Vec::new();
    }
    let total: usize = next.values().map(&measure).sum();
    let base = total / members;
    let extra = total % members;
    let mut by_load: Vec<(&String, usize)> = next.iter().map(|(m, s)| (m, measure(s))).collect();
    by_load.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    by_load
        .into_iter()
        .enumerate()
        .filter_map(|(rank, (member, count))| {
            let allowed = if rank < extra { base + 1 } else { base };
            (count > allowed).then(|| (member.clone(), count - allowed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(connectors: &[(&str, u32)]) -> ConnectorsAndTasks {
        let mut set = ConnectorsAndTasks::default();
        for (name, tasks) in connectors {
            set.connectors.insert(name.to_string());
            for task in 0..*tasks {
                set.tasks.insert(TaskRef::new(*name, task));
            }
        }
        set
    }

    fn member(id: &str, allocation: Option<&ConnectorsAndTasks>) -> MemberInfo {
        MemberInfo {
            member_id: id.to_string(),
            metadata: WorkerMetadata {
                url: format!("http://{id}"),
                config_offset: 0,
                allocation: allocation.cloned(),
            },
        }
    }

    /// Applies a round's assignments to the members' holdings like workers do.
    fn apply(
        holdings: &mut BTreeMap<String, ConnectorsAndTasks>,
        assignments: &BTreeMap<String, Assignment>,
    ) {
        holdings.retain(|id, _| assignments.contains_key(id));
        for (id, assignment) in assignments {
            let held = holdings.entry(id.clone()).or_default();
            held.remove_all(&assignment.revoked);
            held.extend(&assignment.assigned);
        }
    }

    fn members_of(holdings: &BTreeMap<String, ConnectorsAndTasks>) -> Vec<MemberInfo> {
        holdings
            .iter()
            .map(|(id, set)| member(id, Some(set)))
            .collect()
    }

    fn assert_covers_once(
        holdings: &BTreeMap<String, ConnectorsAndTasks>,
        configured: &ConnectorsAndTasks,
    ) {
        let mut all = ConnectorsAndTasks::default();
        let mut total = 0;
        for set in holdings.values() {
            all.extend(set);
            total += set.len();
        }
        assert_eq!(&all, configured);
        assert_eq!(total, configured.len(), "an item is held twice");
    }

    fn task_counts(holdings: &BTreeMap<String, ConnectorsAndTasks>) -> Vec<usize> {
        holdings.values().map(|s| s.tasks.len()).collect()
    }

    #[test]
    fn eager_round_robin_connectors_then_tasks() {
        let config = configured(&[("a", 2), ("b", 1)]);
        let members = [member("m2", None), member("m1", None)];
        let out = eager_assign("m1", "http://m1", 9, &config, &members);
        // Iterator order: m1, m2 | a->m1, b->m2, a-0->m1, a-1->m2, b-0->m1
        assert_eq!(
            out["m1"].assigned,
            ConnectorsAndTasks {
                connectors: ["a".to_string()].into(),
                tasks: [TaskRef::new("a", 0), TaskRef::new("b", 0)].into(),
            }
        );
        assert_eq!(
            out["m2"].assigned,
            ConnectorsAndTasks {
                connectors: ["b".to_string()].into(),
                tasks: [TaskRef::new("a", 1)].into(),
            }
        );
        assert_eq!(out["m2"].leader, "m1");
        assert_eq!(out["m2"].config_offset, 9);
    }

    #[test]
    fn three_members_six_tasks_then_a_fourth_joins() {
        let config = configured(&[("c", 6)]);
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(10));
        let now = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2", "w3"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let out = assignor.assign(now, 1, "w1", "u", 0, &config, &members_of(&holdings));
        assert!(
            out.values()
                .all(|a| a.revoked.is_empty() && a.delay_ms == 0)
        );
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &config);
        assert_eq!(task_counts(&holdings), vec![2, 2, 2]);
        assert_eq!(holdings["w1"].connectors.len(), 1);

        // A fourth worker joins: one round of revocations, then the follow-up round.
        let before = holdings.clone();
        holdings.insert("w4".into(), ConnectorsAndTasks::default());
        let out = assignor.assign(now, 2, "w1", "u", 0, &config, &members_of(&holdings));
        let revoked: usize = out.values().map(|a| a.revoked.len()).sum();
        assert_eq!(revoked, 1, "only one task needs to move: {out:?}");
        assert!(out.values().all(|a| a.assigned.is_empty()));
        apply(&mut holdings, &out);
        let out = assignor.assign(now, 3, "w1", "u", 0, &config, &members_of(&holdings));
        assert!(out.values().all(|a| a.revoked.is_empty()));
        for id in ["w1", "w2", "w3"] {
            assert!(out[id].assigned.is_empty(), "{id} got work it did not need");
        }
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &config);
        let counts = task_counts(&holdings);
        assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
        // Every task that stayed on an old worker never stopped.
        let moved: usize = ["w1", "w2", "w3"]
            .iter()
            .map(|id| before[*id].difference(&holdings[*id]).len())
            .sum();
        assert_eq!(moved, 1);
        // A further round changes nothing.
        let out = assignor.assign(now, 4, "w1", "u", 0, &config, &members_of(&holdings));
        assert!(
            out.values()
                .all(|a| a.assigned.is_empty() && a.revoked.is_empty())
        );
    }

    #[test]
    fn vanished_member_waits_for_the_delay_then_others_take_over() {
        let config = configured(&[("c", 6)]);
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(10));
        let start = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2", "w3"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let out = assignor.assign(start, 1, "w1", "u", 0, &config, &members_of(&holdings));
        apply(&mut holdings, &out);
        let gone = holdings.remove("w3").unwrap();
        assert!(!gone.is_empty());

        let t1 = start + Duration::from_secs(1);
        let out = assignor.assign(t1, 2, "w1", "u", 0, &config, &members_of(&holdings));
        assert_eq!(out.len(), 2);
        for a in out.values() {
            assert!(a.assigned.is_empty() && a.revoked.is_empty());
            assert_eq!(a.delay_ms, 10_000);
        }
        apply(&mut holdings, &out);

        // Still inside the delay: the remaining time is reported, nothing moves.
        let t2 = start + Duration::from_secs(4);
        let out = assignor.assign(t2, 3, "w1", "u", 0, &config, &members_of(&holdings));
        for a in out.values() {
            assert!(a.assigned.is_empty() && a.revoked.is_empty());
            assert_eq!(a.delay_ms, 7_000);
        }
        apply(&mut holdings, &out);

        // After the deadline the lost work goes to the remaining workers.
        let t3 = start + Duration::from_secs(11);
        let out = assignor.assign(t3, 4, "w1", "u", 0, &config, &members_of(&holdings));
        let given: ConnectorsAndTasks = out.values().fold(Default::default(), |mut acc, a| {
            acc.extend(&a.assigned);
            acc
        });
        assert_eq!(given, gone);
        assert!(
            out.values()
                .all(|a| a.delay_ms == 0 && a.revoked.is_empty())
        );
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &config);
        assert_eq!(task_counts(&holdings), vec![3, 3]);
    }

    #[test]
    fn returning_worker_takes_lost_work_during_the_delay() {
        let config = configured(&[("c", 4)]);
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(60));
        let now = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let out = assignor.assign(now, 1, "w1", "u", 0, &config, &members_of(&holdings));
        apply(&mut holdings, &out);
        let gone = holdings.remove("w2").unwrap();
        let out = assignor.assign(now, 2, "w1", "u", 0, &config, &members_of(&holdings));
        assert!(out["w1"].delay_ms > 0);
        apply(&mut holdings, &out);
        holdings.insert("w2-again".into(), ConnectorsAndTasks::default());
        let out = assignor.assign(now, 3, "w1", "u", 0, &config, &members_of(&holdings));
        assert_eq!(out["w2-again"].assigned, gone);
        assert!(out.values().all(|a| a.delay_ms == 0));
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &config);
    }

    #[test]
    fn zero_delay_reassigns_lost_work_at_once() {
        let config = configured(&[("c", 4)]);
        let mut assignor = IncrementalAssignor::new(Duration::ZERO);
        let now = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let out = assignor.assign(now, 1, "w1", "u", 0, &config, &members_of(&holdings));
        apply(&mut holdings, &out);
        let gone = holdings.remove("w2").unwrap();
        let out = assignor.assign(now, 2, "w1", "u", 0, &config, &members_of(&holdings));
        assert_eq!(out["w1"].assigned, gone);
        assert_eq!(out["w1"].delay_ms, 0);
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &config);
    }

    #[test]
    fn deleted_connector_is_revoked() {
        let before = configured(&[("a", 2), ("b", 2)]);
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(10));
        let now = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let out = assignor.assign(now, 1, "w1", "u", 0, &before, &members_of(&holdings));
        apply(&mut holdings, &out);
        let after = configured(&[("a", 2)]);
        let out = assignor.assign(now, 2, "w1", "u", 0, &after, &members_of(&holdings));
        let revoked: ConnectorsAndTasks = out.values().fold(Default::default(), |mut acc, a| {
            acc.extend(&a.revoked);
            acc
        });
        assert_eq!(revoked, configured(&[("b", 2)]));
        assert!(
            out.values()
                .all(|a| a.assigned.is_empty() && a.delay_ms == 0)
        );
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &after);
    }

    #[test]
    fn duplicates_are_revoked_from_all_but_one() {
        let config = configured(&[("a", 2)]);
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(10));
        let both = configured(&[("a", 2)]);
        let one_task = ConnectorsAndTasks {
            connectors: Default::default(),
            tasks: [TaskRef::new("a", 1)].into(),
        };
        let members = [member("w1", Some(&both)), member("w2", Some(&one_task))];
        let out = assignor.assign(Instant::now(), 5, "w1", "u", 0, &config, &members);
        assert!(out["w1"].revoked.is_empty());
        assert_eq!(out["w2"].revoked, one_task);
        // No balancing in a round that already revokes.
        assert!(out.values().all(|a| a.assigned.is_empty()));
    }

    #[test]
    fn new_items_go_to_the_least_loaded() {
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(10));
        let now = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2", "w3"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let first = configured(&[("a", 4)]);
        let out = assignor.assign(now, 1, "w1", "u", 0, &first, &members_of(&holdings));
        apply(&mut holdings, &out);
        assert_eq!(task_counts(&holdings), vec![2, 1, 1]);
        let second = configured(&[("a", 4), ("b", 2)]);
        let out = assignor.assign(now, 2, "w1", "u", 0, &second, &members_of(&holdings));
        assert!(out["w1"].assigned.tasks.is_empty());
        assert_eq!(out["w2"].assigned.tasks.len(), 1);
        assert_eq!(out["w3"].assigned.tasks.len(), 1);
        // Connector b goes to a worker without a connector, the first by id.
        assert_eq!(out["w2"].assigned.connectors, ["b".to_string()].into());
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &second);
    }

    #[test]
    fn generation_gap_forgets_the_previous_round() {
        let config = configured(&[("c", 2)]);
        let mut assignor = IncrementalAssignor::new(Duration::from_secs(10));
        let now = Instant::now();
        let mut holdings: BTreeMap<String, ConnectorsAndTasks> = ["w1", "w2"]
            .iter()
            .map(|id| (id.to_string(), ConnectorsAndTasks::default()))
            .collect();
        let out = assignor.assign(now, 1, "w1", "u", 0, &config, &members_of(&holdings));
        apply(&mut holdings, &out);
        holdings.remove("w2");
        // Generation 3 does not follow 1: w2's items are new, not lost.
        let out = assignor.assign(now, 3, "w1", "u", 0, &config, &members_of(&holdings));
        assert_eq!(out["w1"].delay_ms, 0);
        apply(&mut holdings, &out);
        assert_covers_once(&holdings, &config);
    }
}
