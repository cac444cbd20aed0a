//! The job's record formats: camera frames in, sightings and pair states out.

use serde_json::json;

use crate::config::SightingKeyFormat;
use crate::engine::{Frame, Output, format_time_of_day};

/// Why an input record was skipped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The value is null or not a JSON object.
    #[error("the value is not a JSON object")]
    NotAnObject,
    /// `image` is missing or not a string.
    #[error("no string field \"image\"")]
    NoImage,
    /// There is no usable timestamp.
    #[error("no event time: {0}")]
    NoTimestamp(String),
}

/// Parses a camera message (`{"image": "Google", "probability": 97.3}`). The event time is
/// `timestamp_field` of the value when given (ms since the epoch), else `record_timestamp`.
pub fn parse_frame(
    value: Option<&[u8]>,
    record_timestamp: Option<i64>,
    timestamp_field: Option<&str>,
) -> Result<Frame, FrameError> {
    let value: serde_json::Value = value
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .ok_or(FrameError::NotAnObject)?;
    let object = value.as_object().ok_or(FrameError::NotAnObject)?;
    let image = object
        .get("image")
        .and_then(|image| image.as_str())
        .ok_or(FrameError::NoImage)?;
    let timestamp_ms = match timestamp_field {
        Some(field) => object
            .get(field)
            .and_then(|t| t.as_i64().or_else(|| t.as_f64().map(|f| f as i64)))
            .ok_or_else(|| FrameError::NoTimestamp(format!("no number field {field:?}")))?,
        None => record_timestamp
            .ok_or_else(|| FrameError::NoTimestamp("the record has no timestamp".into()))?,
    };
    Ok(Frame::new(image, timestamp_ms))
}

/// Which output topic a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The sightings topic.
    Sightings,
    /// The pairs topic.
    Pairs,
}

/// An output record ready to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedOutput {
    /// Its topic.
    pub destination: Destination,
    /// Key bytes.
    pub key: Vec<u8>,
    /// Value bytes (JSON).
    pub value: Vec<u8>,
}

/// Encodes an engine output. Pair states are keyed by image; sightings by image and window
/// start.
pub fn encode(output: &Output, key_format: SightingKeyFormat) -> EncodedOutput {
    match output {
        Output::Sighting(sighting) => {
            let key = match key_format {
                SightingKeyFormat::Text => {
                    format!("{}@{}", sighting.image, sighting.window_start).into_bytes()
                }
                SightingKeyFormat::Windowed => {
                    let mut key = sighting.image.as_bytes().to_vec();
                    key.extend_from_slice(&sighting.window_start.to_be_bytes());
                    key
                }
            };
            let value = json!({
                "image": sighting.image,
                "last_seen": format_time_of_day(sighting.last_seen_ms),
                "window_start": sighting.window_start,
                "window_end": sighting.window_end,
                "frames": sighting.frames,
            });
            EncodedOutput {
                destination: Destination::Sightings,
                key,
                value: value.to_string().into_bytes(),
            }
        }
        Output::Pair(pair) => {
            let value = json!({
                "image": pair.image,
                "pair_seen": pair.pair_seen(),
                "number_socks_seen": pair.number_socks_seen,
                "last_seen": format_time_of_day(pair.last_seen_ms),
                "window_start": pair.window_start,
            });
            EncodedOutput {
                destination: Destination::Pairs,
                key: pair.image.as_bytes().to_vec(),
                value: value.to_string().into_bytes(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{PairUpdate, Sighting};

    #[test]
    fn camera_messages_parse_with_record_or_field_time() {
        let message = br#"{"image": "Google", "probability": 97.314453125, "ts": 1234}"#;
        assert_eq!(
            parse_frame(Some(message), Some(99), None),
            Ok(Frame::new("Google", 99))
        );
        assert_eq!(
            parse_frame(Some(message), Some(99), Some("ts")),
            Ok(Frame::new("Google", 1234))
        );
        assert!(matches!(
            parse_frame(Some(message), Some(99), Some("when")),
            Err(FrameError::NoTimestamp(_))
        ));
        assert_eq!(
            parse_frame(Some(b"not json"), Some(1), None),
            Err(FrameError::NotAnObject)
        );
        assert_eq!(
            parse_frame(None, Some(1), None),
            Err(FrameError::NotAnObject)
        );
        assert_eq!(
            parse_frame(Some(br#"{"image": null}"#), Some(1), None),
            Err(FrameError::NoImage)
        );
    }

    #[test]
    fn outputs_have_the_documented_keys_and_fields() {
        let pair = encode(
            &Output::Pair(PairUpdate {
                image: "Google".into(),
                number_socks_seen: 2,
                window_start: 1_700_000_000_000,
                last_seen_ms: 1_700_000_001_000,
            }),
            SightingKeyFormat::Text,
        );
        assert_eq!(pair.destination, Destination::Pairs);
        assert_eq!(pair.key, b"Google");
        assert_eq!(
            String::from_utf8(pair.value).expect("utf-8"),
            r#"{"image":"Google","pair_seen":"Pair","number_socks_seen":2,"last_seen":"22:13:21","window_start":1700000000000}"#
        );
        let sighting = Output::Sighting(Sighting {
            image: "Mongo".into(),
            window_start: 5000,
            window_end: 10_000,
            frames: 4,
            last_seen_ms: 5000,
        });
        let text = encode(&sighting, SightingKeyFormat::Text);
        assert_eq!(text.key, b"Mongo@5000");
        assert_eq!(
            String::from_utf8(text.value).expect("utf-8"),
            r#"{"image":"Mongo","last_seen":"00:00:05","window_start":5000,"window_end":10000,"frames":4}"#
        );
        let windowed = encode(&sighting, SightingKeyFormat::Windowed);
        assert_eq!(windowed.key, b"Mongo\0\0\0\0\0\0\x13\x88");
    }
}
