//! Kafka Connect's built-in predicates (`org.apache.kafka.connect.transforms.predicates`), which
//! decide whether a transform in the chain applies to a record.

mod has_header_key;
mod record_is_tombstone;
mod topic_name_matches;

pub use has_header_key::HasHeaderKey;
pub use record_is_tombstone::RecordIsTombstone;
pub use topic_name_matches::TopicNameMatches;

/// Java class of [`HasHeaderKey`].
pub const HAS_HEADER_KEY_CLASS: &str =
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey";
/// Java class of [`RecordIsTombstone`].
pub const RECORD_IS_TOMBSTONE_CLASS: &str =
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone";
/// Java class of [`TopicNameMatches`].
pub const TOPIC_NAME_MATCHES_CLASS: &str =
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches";
