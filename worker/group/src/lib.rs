//!
//! - [`protocol`]: the Connect sub-protocols and their metadata/assignment encodings,
//!   byte-compatible with Java Connect.
//! - [`assignor`]: the leader's eager round-robin and incremental cooperative (KIP-415)
//!   assignors.
//!   type `connect` and drives a [`GroupHandler`].

pub mod assignor;
pub mod protocol;

pub use assignor::{IncrementalAssignor, MemberInfo, eager_assign};
pub use protocol::{
    Assignment, ConnectProtocol, ConnectorsAndTasks, PROTOCOL_TYPE, ProtocolError, TaskRef,
    WorkerMetadata,
};
