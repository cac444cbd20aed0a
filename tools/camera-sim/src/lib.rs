//! A stand-in for the sock camera: turns a scripted sequence of socks into the frames the
//! camera would classify, with the camera's noise (jittered 3-4 frames per second, blank
//! frames between socks, single misclassified frames), deterministic for a given seed.
//!
//! Script format, one segment per line (`#` starts a comment):
//! ```text
//! Google 3s      # a Google sock in view for 3 seconds
//! Blank 2s       # nothing in view
//! Mongo 2500ms
//! ```

use std::path::{Path, PathBuf};

/// The sock labels of the demo model (plus `Blank`, "no sock").
pub const SOCK_LABELS: &[&str] = &[
    "Confluent",
    "Databricks",
    "Github",
    "Google",
    "Mongo",
    "Streamsets",
];

/// The label meaning "no sock".
pub const BLANK: &str = "Blank";

/// The script used when none is given: two pairs and an odd sock, with blank gaps.
pub const DEFAULT_SCRIPT: &str = "\
Blank 2s
Google 3s
Blank 3s
Mongo 2.5s
Blank 3s
Google 2.5s
Blank 3s
Confluent 3s
Blank 3s
Mongo 3s
Blank 3s
";

/// A script or image-folder error.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A script line is malformed.
    #[error("script line {line}: {reason}")]
    Script {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// One segment of a script: a label in view for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// What is in view (`Blank` for nothing).
    pub label: String,
    /// For how long, in ms.
    pub duration_ms: u64,
}

/// Parses a script (see the module documentation).
pub fn parse_script(text: &str) -> Result<Vec<Segment>, SimError> {
    let mut segments = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let error = |reason: &str| SimError::Script {
            line: index + 1,
            reason: reason.to_owned(),
        };
        let (label, duration) = line
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| error("expected LABEL DURATION, e.g. `Google 3s`"))?;
        let duration = duration.trim();
        let duration_ms = if let Some(ms) = duration.strip_suffix("ms") {
            ms.parse::<f64>().ok()
        } else if let Some(s) = duration.strip_suffix('s') {
            s.parse::<f64>().ok().map(|s| s * 1000.0)
        } else {
            None
        }
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .ok_or_else(|| error("the duration must look like 3s, 2.5s or 800ms"))?;
        segments.push(Segment {
            label: label.trim().to_owned(),
            duration_ms: duration_ms.round() as u64,
        });
    }
    if segments.is_empty() {
        return Err(SimError::Script {
            line: 0,
            reason: "the script has no segments".into(),
        });
    }
    Ok(segments)
}

/// A small deterministic random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// One of `items` (not empty).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// Noise and rate settings.
#[derive(Debug, Clone)]
pub struct Noise {
    /// Mean frames per second (the camera does 3-4).
    pub rate: f64,
    /// Chance that a frame while a sock is in view is a single wrong label.
    pub wrong_frame: f64,
    /// Chance that a frame while nothing is in view is a single sock label.
    pub phantom_frame: f64,
    /// Labels a wrong frame is drawn from.
    pub labels: Vec<String>,
}

impl Default for Noise {
    fn default() -> Self {
        Self {
            rate: 3.5,
            wrong_frame: 0.06,
            phantom_frame: 0.03,
            labels: SOCK_LABELS.iter().map(|l| (*l).to_owned()).collect(),
        }
    }
}

/// One frame the camera classifies.
#[derive(Debug, Clone, PartialEq)]
pub struct SimFrame {
    /// Time since the start of the script, in ms.
    pub at_ms: u64,
    /// What the camera reports.
    pub label: String,
    /// The reported probability, 0-100.
    pub probability: f64,
    /// What was really in view (differs from `label` for a noise frame).
    pub truth: String,
}

impl SimFrame {
    /// The camera's MQTT message: `{"image": "Google", "probability": 97.314453125}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"image": self.label, "probability": self.probability}).to_string()
    }
}

/// The frames of one pass over `script`, starting at `start_ms`, drawing noise from `rng`.
/// Consecutive wrong frames never happen: a wrong frame is always alone.
pub fn frames(script: &[Segment], noise: &Noise, rng: &mut Rng, start_ms: u64) -> Vec<SimFrame> {
    let interval = 1000.0 / noise.rate.max(0.1);
    let mut frames = Vec::new();
    let mut at = start_ms as f64;
    let mut segment_start = start_ms as f64;
    let mut previous_was_noise = false;
    for segment in script {
        let segment_end = segment_start + segment.duration_ms as f64;
        while at < segment_end {
            let in_view = segment.label != BLANK;
            let chance = if in_view {
                noise.wrong_frame
            } else {
                noise.phantom_frame
            };
            let others: Vec<&str> = noise
                .labels
                .iter()
                .map(String::as_str)
                .filter(|l| *l != segment.label)
                .collect();
            let noisy = !previous_was_noise && !others.is_empty() && rng.unit() < chance;
            let (label, probability) = if noisy {
                (rng.pick(&others).to_owned(), rng.range(30.0, 65.0))
            } else if in_view {
                (segment.label.clone(), rng.range(85.0, 99.9))
            } else {
                (BLANK.to_owned(), rng.range(20.0, 70.0))
            };
            previous_was_noise = noisy;
            frames.push(SimFrame {
                at_ms: at.round() as u64,
                label,
                // The camera's float32 maths gives values like 97.314453125.
                probability: (probability * 1024.0).round() / 1024.0,
                truth: segment.label.clone(),
            });
            at += interval * rng.range(0.875, 1.125);
        }
        segment_start = segment_end;
    }
    frames
}

/// JPEG photos by label, from a folder with one subfolder per label (`google/`,
/// `class-google/`, ...; names compared case-insensitively, `class-` ignored, and a folder
/// name may be a prefix of the label, as `streamset` is of `Streamsets`).
#[derive(Debug, Clone)]
pub struct PhotoLibrary {
    by_label: Vec<(String, Vec<PathBuf>)>,
}

impl PhotoLibrary {
    /// Lists the photos under `root`.
    pub fn open(root: &Path) -> Result<Self, SimError> {
        let io = |path: &Path, e: std::io::Error| SimError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut by_label = Vec::new();
        for entry in std::fs::read_dir(root).map_err(|e| io(root, e))? {
            let dir = entry.map_err(|e| io(root, e))?.path();
            if !dir.is_dir() {
                continue;
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            let name = name.strip_prefix("class-").unwrap_or(&name).to_owned();
            let mut photos: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| io(&dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        let x = x.to_string_lossy().to_lowercase();
                        x == "jpg" || x == "jpeg"
                    })
                })
                .collect();
            photos.sort();
            if !photos.is_empty() {
                by_label.push((name, photos));
            }
        }
        by_label.sort();
        if by_label.is_empty() {
            return Err(SimError::Io {
                path: root.display().to_string(),
                reason: "no subfolder with .jpg photos".into(),
            });
        }
        Ok(Self { by_label })
    }

    /// The photos for `label`, if any.
    pub fn photos(&self, label: &str) -> Option<&[PathBuf]> {
        let label = label.to_lowercase();
        self.by_label
            .iter()
            .find(|(name, _)| *name == label)
            .or_else(|| {
                self.by_label
                    .iter()
                    .find(|(name, _)| label.starts_with(name.as_str()))
            })
            .map(|(_, photos)| photos.as_slice())
    }

    /// The labels that have photos, as folder names.
    pub fn labels(&self) -> Vec<&str> {
        self.by_label.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// A plain grey 64x64 JPEG with faint noise: what the camera sees with no sock in view.
pub fn blank_jpeg(rng: &mut Rng) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(64 * 64 * 3);
    for _ in 0..64 * 64 {
        let grey = 120 + (rng.next_u64() % 16) as u8;
        pixels.extend_from_slice(&[grey, grey, grey.saturating_sub(4)]);
    }
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    // Encoding a well-formed in-memory buffer cannot fail; an empty frame would be obvious.
    let _ = encoder.encode(&pixels, 64, 64, image::ExtendedColorType::Rgb8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_with_comments_and_units() {
        let script = parse_script("# demo\nGoogle 3s\n\nBlank 800ms # gap\nRunning Science 1.5s\n")
            .expect("valid");
        assert_eq!(
            script,
            vec![
                Segment {
                    label: "Google".into(),
                    duration_ms: 3000
                },
                Segment {
                    label: "Blank".into(),
                    duration_ms: 800
                },
                Segment {
                    label: "Running Science".into(),
                    duration_ms: 1500
                },
            ]
        );
        assert!(parse_script("Google").is_err());
        assert!(parse_script("Google 3h").is_err());
        assert!(parse_script("Google -1s").is_err());
        assert!(parse_script("# nothing").is_err());
        assert!(parse_script(DEFAULT_SCRIPT).is_ok());
    }

    #[test]
    fn frames_come_three_to_four_a_second_with_lone_noise() {
        let script = parse_script(DEFAULT_SCRIPT).expect("valid");
        let total: u64 = script.iter().map(|s| s.duration_ms).sum();
        let frames = frames(&script, &Noise::default(), &mut Rng::new(42), 0);
        let per_second = frames.len() as f64 / (total as f64 / 1000.0);
        assert!((3.0..=4.0).contains(&per_second), "{per_second}");
        for pair in frames.windows(2) {
            let gap = pair[1].at_ms - pair[0].at_ms;
            assert!((200..=340).contains(&gap), "gap {gap}");
            let noisy = |f: &SimFrame| f.label != f.truth;
            assert!(!(noisy(&pair[0]) && noisy(&pair[1])), "{pair:?}");
        }
        assert!(frames.iter().any(|f| f.label != f.truth), "some noise");
        for frame in &frames {
            assert!((0.0..=100.0).contains(&frame.probability));
            if frame.truth == BLANK && frame.label == BLANK {
                assert!(frame.probability < 70.0);
            } else if frame.label == frame.truth {
                assert!(frame.probability >= 85.0);
            }
        }
    }

    #[test]
    fn a_seed_gives_the_same_frames_every_time() {
        let script = parse_script(DEFAULT_SCRIPT).expect("valid");
        let a = frames(&script, &Noise::default(), &mut Rng::new(7), 0);
        let b = frames(&script, &Noise::default(), &mut Rng::new(7), 0);
        let c = frames(&script, &Noise::default(), &mut Rng::new(8), 0);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn messages_have_the_camera_shape() {
        let frame = SimFrame {
            at_ms: 0,
            label: "Google".into(),
            probability: 97.314453125,
            truth: "Google".into(),
        };
        assert_eq!(
            frame.to_json(),
            r#"{"image":"Google","probability":97.314453125}"#
        );
    }

    #[test]
    fn photo_folders_match_labels() {
        let dir = tempfile::tempdir().expect("dir");
        for folder in ["class-google", "streamset", "empty"] {
            std::fs::create_dir(dir.path().join(folder)).expect("mkdir");
        }
        let jpeg = blank_jpeg(&mut Rng::new(1));
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        std::fs::write(dir.path().join("class-google/a.jpg"), &jpeg).expect("write");
        std::fs::write(dir.path().join("streamset/b.JPG"), &jpeg).expect("write");
        std::fs::write(dir.path().join("empty/notes.txt"), "x").expect("write");
        let library = PhotoLibrary::open(dir.path()).expect("library");
        assert_eq!(library.labels(), vec!["google", "streamset"]);
        assert_eq!(library.photos("Google").map(<[_]>::len), Some(1));
        assert_eq!(library.photos("Streamsets").map(<[_]>::len), Some(1));
        assert!(library.photos("Mongo").is_none());
    }
}
