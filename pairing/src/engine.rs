//! The windowing and pairing logic of one input partition: pure and synchronous (no Kafka, no
//! clock), so that scripted sequences with fixed timestamps give exactly known results.
//!
//! Time is event time only. *Stream time* is the largest timestamp seen so far; it moves only
//! when records arrive. Windows are tumbling, `window_size_ms` long and aligned to the Unix
//! epoch; the window `[s, s + size)` *closes* once stream time reaches `s + size + grace`.
//! A record whose window has closed is *late*: it is dropped and reported as
//! [`Disposition::Late`].
//!
//! Two modes:
//! - [`Mode::Compatible`] does what socksort's ksqlDB statements did (with the record cache
//!   off): per (image, window) a count; once it reaches `min_frames` (the original
//!   `count(*) > 3`) the window is a sighting, and every further frame in it re-emits the
//!   sighting row; per image the number of sighting windows, re-emitted on every change,
//!   including the subtract-then-add intermediate row of a table aggregation. Blank frames are
//!   filtered out before the aggregation, so they do not move its stream time.
//! - [`Mode::Sighting`] (the default) counts socks, not windows: the frames of one label form
//!   a cluster while consecutive frames are less than `merge_gap_ms` apart; a cluster is a
//!   sighting when some `min_frames` of its frames lie within `window_size_ms`. A cluster is
//!   decided when no frame can join it any more: when the windows up to its last frame plus
//!   the merge gap have closed. Each sighting is emitted exactly once. Blank frames move
//!   stream time (the camera sends them all the time), which closes windows promptly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How sightings are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Bursts of frames merged across gaps shorter than the merge gap; one sock, one sighting.
    Sighting,
    /// The original ksqlDB statements: one sighting per epoch-aligned window with enough frames.
    Compatible,
}

impl Mode {
    /// The name used in configuration files (`sighting` or `compatible`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sighting => "sighting",
            Mode::Compatible => "compatible",
        }
    }
}

/// Settings of the pairing logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Sighting or compatible mode.
    pub mode: Mode,
    /// The label meaning "no sock"; compared case-sensitively.
    pub blank_label: String,
    /// Tumbling window size in ms (compatible mode: the sighting window; sighting mode: the
    /// span within which `min_frames` frames make a burst, and the unit in which time closes).
    pub window_size_ms: i64,
    /// Frames needed for a sighting (the original `count(*) > 3` is 4).
    pub min_frames: u32,
    /// Sighting mode: frames of one label less than this apart belong to the same sighting.
    pub merge_gap_ms: i64,
    /// How long after its end a window still accepts late records.
    pub grace_ms: i64,
    /// Compatible mode: emit the intermediate pair row (count - 1) that a table aggregation's
    /// subtract-then-add produces when a sighting window is updated.
    pub intermediate_rows: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Sighting,
            blank_label: "Blank".to_owned(),
            window_size_ms: 5000,
            min_frames: 4,
            merge_gap_ms: 2000,
            grace_ms: 1000,
            intermediate_rows: true,
        }
    }
}

/// One classified camera frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The label (`"Google"`, `"Blank"`, ...).
    pub image: String,
    /// Event time in ms since the epoch.
    pub timestamp_ms: i64,
}

impl Frame {
    /// A frame of `image` at `timestamp_ms`.
    pub fn new(image: impl Into<String>, timestamp_ms: i64) -> Self {
        Self {
            image: image.into(),
            timestamp_ms,
        }
    }
}

/// A sighting of one sock (sighting mode) or one qualifying window (compatible mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The label.
    pub image: String,
    /// Compatible mode: the window start. Sighting mode: the first frame's time.
    pub window_start: i64,
    /// Compatible mode: the window end (exclusive). Sighting mode: the last frame's time
    /// (inclusive, as for a session window).
    pub window_end: i64,
    /// Frames counted so far (compatible) or in the whole sighting.
    pub frames: u64,
    /// The time shown as `last_seen`: the window start (compatible, as the original), the last
    /// frame (sighting mode).
    pub last_seen_ms: i64,
}

/// The pair state of one image after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairUpdate {
    /// The label.
    pub image: String,
    /// Sightings counted for this image.
    pub number_socks_seen: u64,
    /// `window_start` of the sighting behind this change.
    pub window_start: i64,
    /// `last_seen_ms` of the sighting behind this change.
    pub last_seen_ms: i64,
}

impl PairUpdate {
    /// `"Pair"` when the count is even, else `"Un-matched"` (the original `(n/2)*2 = n` test).
    pub fn pair_seen(&self) -> &'static str {
        pair_label(self.number_socks_seen)
    }
}

/// `"Pair"` for an even count, `"Un-matched"` for an odd one.
pub fn pair_label(count: u64) -> &'static str {
    if count.is_multiple_of(2) {
        "Pair"
    } else {
        "Un-matched"
    }
}

/// A result to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A new or updated sighting (for the sightings topic).
    Sighting(Sighting),
    /// A new pair state of an image (for the pairs topic).
    Pair(PairUpdate),
}

/// What happened to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Taken into account.
    Counted,
    /// The blank label: not counted (in sighting mode it still moved stream time).
    Blank,
    /// Its window had closed: dropped.
    Late,
}

/// The result of processing one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What happened to the frame.
    pub disposition: Disposition,
    /// Records to publish, in order. Each carries the stream time at which it was produced as
    /// [`Step::timestamp_ms`].
    pub outputs: Vec<Output>,
    /// Stream time after this frame (the timestamp for the outputs).
    pub timestamp_ms: i64,
}

/// Per-image state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ImageState {
    /// Sightings counted.
    sightings: u64,
    /// The sighting behind the latest count: (window_start, last_seen_ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest: Option<(i64, i64)>,
    /// Compatible mode: frame counts of the windows still open, by window start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    windows: BTreeMap<i64, u64>,
    /// Sighting mode: timestamps (sorted) of frames not yet decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    frames: Vec<i64>,
}

/// Everything the engine remembers; serialisable for the changelog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// The largest timestamp seen (of counted frames only, in compatible mode).
    #[serde(default)]
    stream_time: Option<i64>,
    /// By label.
    #[serde(default)]
    images: BTreeMap<String, ImageState>,
}

/// One row of the pair table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The label.
    pub image: String,
    /// Sightings counted.
    pub number_socks_seen: u64,
    /// `last_seen_ms` of the latest sighting.
    pub last_seen_ms: Option<i64>,
}

/// The pairing logic of one input partition.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    state: EngineState,
}

impl Engine {
    /// A fresh engine.
    pub fn new(config: EngineConfig) -> Self {
        Self::with_state(config, EngineState::default())
    }

    /// An engine resuming from saved state.
    pub fn with_state(config: EngineConfig, state: EngineState) -> Self {
        Self { config, state }
    }

    /// The state, to save.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The current stream time.
    pub fn stream_time(&self) -> Option<i64> {
        self.state.stream_time
    }

    /// The pair table: every image with at least one sighting, by label.
    pub fn table(&self) -> Vec<TableRow> {
        self.state
            .images
            .iter()
            .filter(|(_, image)| image.sightings > 0)
            .map(|(label, image)| TableRow {
                image: label.clone(),
                number_socks_seen: image.sightings,
                last_seen_ms: image.latest.map(|(_, last_seen)| last_seen),
            })
            .collect()
    }

    /// Processes one frame.
    pub fn process(&mut self, frame: &Frame) -> Step {
        match self.config.mode {
            Mode::Compatible => self.process_compatible(frame),
            Mode::Sighting => self.process_sighting(frame),
        }
    }

    fn window_start(&self, timestamp_ms: i64) -> i64 {
        timestamp_ms.div_euclid(self.config.window_size_ms) * self.config.window_size_ms
    }

    /// Whether the window holding `timestamp_ms` has closed at stream time `stream_time`.
    fn window_closed(&self, timestamp_ms: i64, stream_time: i64) -> bool {
        let end = self.window_start(timestamp_ms) + self.config.window_size_ms;
        end.saturating_add(self.config.grace_ms) <= stream_time
    }

    fn step(&self, disposition: Disposition, outputs: Vec<Output>, fallback: i64) -> Step {
        Step {
            disposition,
            outputs,
            timestamp_ms: self.state.stream_time.unwrap_or(fallback),
        }
    }

    fn process_compatible(&mut self, frame: &Frame) -> Step {
        let t = frame.timestamp_ms;
        // The WHERE filter runs before the aggregation: blank frames never reach it.
        if frame.image == self.config.blank_label {
            return self.step(Disposition::Blank, Vec::new(), t);
        }
        let stream_time = self.state.stream_time.map_or(t, |st| st.max(t));
        if self.window_closed(t, stream_time) {
            return self.step(Disposition::Late, Vec::new(), t);
        }
        self.state.stream_time = Some(stream_time);
        let window_start = self.window_start(t);
        let window_end = window_start + self.config.window_size_ms;
        let min_frames = u64::from(self.config.min_frames);
        let intermediate_rows = self.config.intermediate_rows;
        let image = self.state.images.entry(frame.image.clone()).or_default();
        let count = image.windows.entry(window_start).or_insert(0);
        *count += 1;
        let count = *count;
        let mut outputs = Vec::new();
        if count >= min_frames {
            outputs.push(Output::Sighting(Sighting {
                image: frame.image.clone(),
                window_start,
                window_end,
                frames: count,
                last_seen_ms: window_start,
            }));
            let pair = |n: u64| {
                Output::Pair(PairUpdate {
                    image: frame.image.clone(),
                    number_socks_seen: n,
                    window_start,
                    last_seen_ms: window_start,
                })
            };
            if count == min_frames {
                image.sightings += 1;
            } else if intermediate_rows {
                // An updated row reaches the table aggregation as "remove old, add new".
                outputs.push(pair(image.sightings - 1));
            }
            image.latest = Some((window_start, window_start));
            outputs.push(pair(image.sightings));
        }
        self.expire_windows(stream_time);
        self.step(Disposition::Counted, outputs, t)
    }

    /// Forgets the counts of closed windows (they can no longer change).
    fn expire_windows(&mut self, stream_time: i64) {
        let size = self.config.window_size_ms;
        let grace = self.config.grace_ms;
        for image in self.state.images.values_mut() {
            image
                .windows
                .retain(|start, _| (start + size).saturating_add(grace) > stream_time);
        }
    }

    /// The end of the latest closed window at `stream_time` (frames before it are decided).
    fn closed_until(&self, stream_time: i64) -> i64 {
        self.window_start(stream_time.saturating_sub(self.config.grace_ms))
    }

    fn process_sighting(&mut self, frame: &Frame) -> Step {
        let t = frame.timestamp_ms;
        if let Some(stream_time) = self.state.stream_time
            && self.window_closed(t, stream_time)
        {
            return self.step(Disposition::Late, Vec::new(), t);
        }
        let previous_closed = self.state.stream_time.map(|st| self.closed_until(st));
        let stream_time = self.state.stream_time.map_or(t, |st| st.max(t));
        self.state.stream_time = Some(stream_time);
        let disposition = if frame.image == self.config.blank_label {
            Disposition::Blank
        } else {
            let frames = &mut self
                .state
                .images
                .entry(frame.image.clone())
                .or_default()
                .frames;
            // Late frames within grace arrive out of order: keep the list sorted.
            let at = frames.partition_point(|&f| f <= t);
            frames.insert(at, t);
            Disposition::Counted
        };
        let closed = self.closed_until(stream_time);
        let outputs = if previous_closed.is_none_or(|previous| closed > previous) {
            self.decide_sightings(closed)
        } else {
            Vec::new()
        };
        self.step(disposition, outputs, t)
    }

    /// Sighting mode: the stream time at which the next pending sighting can be decided
    /// (`None` when no frame is waiting for a decision, and always in compatible mode, where
    /// closing a window emits nothing). A runner that advances stream time without records
    /// (see [`Engine::advance`]) needs to do so only once this time is reached.
    pub fn next_decision_at(&self) -> Option<i64> {
        if self.config.mode != Mode::Sighting {
            return None;
        }
        let size = self.config.window_size_ms;
        let gap = self.config.merge_gap_ms;
        self.state
            .images
            .values()
            .filter_map(|image| {
                // The first cluster's last frame: the earliest that can be decided.
                let frames = &image.frames;
                let last = frames
                    .windows(2)
                    .find(|w| w[1] - w[0] >= gap)
                    .map_or(frames.last().copied(), |w| Some(w[0]))?;
                // Decided once closed_until (a window start) reaches last + gap.
                let needed = last.saturating_add(gap);
                let start = self.window_start(needed);
                let closed_until = if start == needed { start } else { start + size };
                Some(closed_until.saturating_add(self.config.grace_ms))
            })
            .min()
    }

    /// Sighting mode: moves stream time to `stream_time` without a record (when it is later
    /// than the current one) and decides the sightings that this closes, as a frame with that
    /// timestamp would. Used to close windows when frames stop coming; frames older than the
    /// new stream time's closed windows are late afterwards, as usual. Does nothing in
    /// compatible mode, whose stream time moves only with counted frames as ksqlDB's does.
    pub fn advance(&mut self, stream_time: i64) -> Vec<Output> {
        if self.config.mode != Mode::Sighting
            || self.state.stream_time.is_some_and(|st| st >= stream_time)
        {
            return Vec::new();
        }
        let previous_closed = self.state.stream_time.map(|st| self.closed_until(st));
        self.state.stream_time = Some(stream_time);
        let closed = self.closed_until(stream_time);
        if previous_closed.is_none_or(|previous| closed > previous) {
            self.decide_sightings(closed)
        } else {
            Vec::new()
        }
    }

    /// Decides every cluster that no frame can join any more (its last frame plus the merge
    /// gap is before `closed_until`), counting those that hold a burst.
    fn decide_sightings(&mut self, closed_until: i64) -> Vec<Output> {
        let gap = self.config.merge_gap_ms;
        let span = self.config.window_size_ms;
        let min_frames = self.config.min_frames as usize;
        let mut found: Vec<Sighting> = Vec::new();
        for (label, image) in &mut self.state.images {
            let mut decided_until = 0;
            let mut cluster_start = 0;
            for i in 0..image.frames.len() {
                let is_last_of_cluster =
                    i + 1 == image.frames.len() || image.frames[i + 1] - image.frames[i] >= gap;
                if !is_last_of_cluster {
                    continue;
                }
                let last = image.frames[i];
                if last.saturating_add(gap) > closed_until {
                    break;
                }
                let cluster = &image.frames[cluster_start..=i];
                if has_burst(cluster, min_frames, span) {
                    found.push(Sighting {
                        image: label.clone(),
                        window_start: cluster[0],
                        window_end: last,
                        frames: cluster.len() as u64,
                        last_seen_ms: last,
                    });
                }
                cluster_start = i + 1;
                decided_until = i + 1;
            }
            image.frames.drain(..decided_until);
        }
        found.sort_by(|a, b| (a.window_start, &a.image).cmp(&(b.window_start, &b.image)));
        let mut outputs = Vec::with_capacity(found.len() * 2);
        for sighting in found {
            let image = self.state.images.entry(sighting.image.clone()).or_default();
            image.sightings += 1;
            image.latest = Some((sighting.window_start, sighting.last_seen_ms));
            let pair = PairUpdate {
                image: sighting.image.clone(),
                number_socks_seen: image.sightings,
                window_start: sighting.window_start,
                last_seen_ms: sighting.last_seen_ms,
            };
            outputs.push(Output::Sighting(sighting));
            outputs.push(Output::Pair(pair));
        }
        outputs
    }
}

/// Whether some `min_frames` of the sorted `frames` lie within less than `span` ms.
fn has_burst(frames: &[i64], min_frames: usize, span: i64) -> bool {
    let min_frames = min_frames.max(1);
    frames.len() >= min_frames
        && frames
            .windows(min_frames)
            .any(|w| w[w.len() - 1] - w[0] < span)
}

/// `HH:mm:ss` (UTC) of a time in ms since the epoch.
pub fn format_time_of_day(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests;
