//! Kafka Connect worker group membership for Sluice's distributed mode.
//!
//! - [`protocol`]: the Connect sub-protocols and their metadata/assignment encodings,
//!   byte-compatible with Java Connect.
//! - [`assignor`]: the leader's eager round-robin and incremental cooperative (KIP-415)
//!   assignors.
//! - [`client`]: a minimal Kafka protocol connection (framing, ApiVersions negotiation).
//! - [`member`]: a group member that joins through Kafka's group coordinator with protocol
//!   type `connect` and drives a [`GroupHandler`].

pub mod assignor;
pub mod client;
pub mod member;
pub mod protocol;

pub use assignor::{IncrementalAssignor, MemberInfo, eager_assign};
pub use client::{ClientError, Connection, Request};
pub use member::{GroupHandler, MemberConfig, MemberHandle, spawn_member};
pub use protocol::{
    Assignment, ConnectProtocol, ConnectorsAndTasks, PROTOCOL_TYPE, ProtocolError, TaskRef,
    WorkerMetadata,
};
