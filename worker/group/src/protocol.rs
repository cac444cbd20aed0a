//! Kafka Connect's group sub-protocols and their metadata and assignment encodings.
//!
//! The byte layouts follow Java Connect's schemas (Kafka protocol primitive types, big-endian):
//! every blob starts with an `int16` version. Metadata V0 is `url: string, config-offset: int64`;
//! V1/V2 append `allocation: nullable bytes` (the worker's current assignment, itself encoded as
//! an assignment blob). Assignment V0 is `error: int16, leader: string, leader-url: string,
//! config-offset: int64, assignment: [connector-assignment]`; V1/V2 make `assignment` nullable and
//! append `revoked: nullable [connector-assignment]` and `delay: int32`. A connector assignment is
//! `connector: string, tasks: [int32]`, where task `-1` stands for the connector instance.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};

/// The JoinGroup protocol type Connect workers use.
pub const PROTOCOL_TYPE: &str = "connect";

/// The task number Connect's encodings use for the connector instance itself.
const CONNECTOR_TASK: i32 = -1;

/// A Connect sub-protocol a worker may offer at JoinGroup; the broker picks one all members offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectProtocol {
    /// Protocol V0 (`default`): every rebalance stops all work, assignments are complete.
    Eager,
    /// Protocol V1 (`compatible`): incremental cooperative rebalancing (KIP-415).
    Compatible,
    /// Protocol V2 (`sessioned`): V1 plus signed internal requests with session keys (KIP-507).
    Sessioned,
}

impl ConnectProtocol {
    /// The protocol name offered in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "default",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The version written in the header of metadata and assignments of this protocol.
    pub fn version(self) -> i16 {
        match self {
            ConnectProtocol::Eager => 0,
            ConnectProtocol::Compatible => 1,
            ConnectProtocol::Sessioned => 2,
        }
    }

    /// The protocol with this JoinGroup name, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "default" => Some(ConnectProtocol::Eager),
            "compatible" => Some(ConnectProtocol::Compatible),
            "sessioned" => Some(ConnectProtocol::Sessioned),
            _ => None,
        }
    }

    /// The protocols to offer, in preference order, for a `connect.protocol` setting
    /// (`eager`, `compatible` or `sessioned`, case-insensitive).
    pub fn from_config(value: &str) -> Option<Vec<Self>> {
        match value.trim().to_ascii_lowercase().as_str() {
            "sessioned" => Some(vec![
                ConnectProtocol::Sessioned,
                ConnectProtocol::Compatible,
                ConnectProtocol::Eager,
            ]),
            "compatible" => Some(vec![ConnectProtocol::Compatible, ConnectProtocol::Eager]),
            "eager" => Some(vec![ConnectProtocol::Eager]),
            _ => None,
        }
    }

    /// Whether this protocol rebalances incrementally (V1 and V2).
    pub fn is_incremental(self) -> bool {
        self != ConnectProtocol::Eager
    }
}

/// One task of a connector.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskRef {
    /// The connector's name.
    pub connector: String,
    /// The task number, from 0.
    pub task: u32,
}

impl TaskRef {
    /// A task reference.
    pub fn new(connector: impl Into<String>, task: u32) -> Self {
        TaskRef {
            connector: connector.into(),
            task,
        }
    }
}

/// A set of connector instances and tasks (an allocation, an assignment delta or a revocation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectorsAndTasks {
    /// Connector instances by name.
    pub connectors: BTreeSet<String>,
    /// Tasks.
    pub tasks: BTreeSet<TaskRef>,
}

impl ConnectorsAndTasks {
    /// Whether there is neither a connector nor a task.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty() && self.tasks.is_empty()
    }

    /// The number of connectors plus the number of tasks.
    pub fn len(&self) -> usize {
        self.connectors.len() + self.tasks.len()
    }

    /// Whether the set holds this connector instance (its tasks are not considered).
    pub fn contains_connector(&self, connector: &str) -> bool {
        self.connectors.contains(connector)
    }

    /// Every item of `self` or `other`.
    pub fn union(&self, other: &ConnectorsAndTasks) -> ConnectorsAndTasks {
        ConnectorsAndTasks {
            connectors: self.connectors.union(&other.connectors).cloned().collect(),
            tasks: self.tasks.union(&other.tasks).cloned().collect(),
        }
    }

    /// The items of `self` that are not in `other`.
    pub fn difference(&self, other: &ConnectorsAndTasks) -> ConnectorsAndTasks {
        ConnectorsAndTasks {
            connectors: self
                .connectors
                .difference(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.difference(&other.tasks).cloned().collect(),
        }
    }

    /// The items in both `self` and `other`.
    pub fn intersection(&self, other: &ConnectorsAndTasks) -> ConnectorsAndTasks {
        ConnectorsAndTasks {
            connectors: self
                .connectors
                .intersection(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.intersection(&other.tasks).cloned().collect(),
        }
    }

    /// Adds every item of `other`.
    pub fn extend(&mut self, other: &ConnectorsAndTasks) {
        self.connectors.extend(other.connectors.iter().cloned());
        self.tasks.extend(other.tasks.iter().cloned());
    }

    /// Removes every item of `other`.
    pub fn remove_all(&mut self, other: &ConnectorsAndTasks) {
        self.connectors.retain(|c| !other.connectors.contains(c));
        self.tasks.retain(|t| !other.tasks.contains(t));
    }

    /// Writes the set as Connect's `[connector-assignment]` array: one entry per connector
    /// name in name order, holding `-1` first when the connector instance is included, then
    /// its task numbers ascending.
    fn write_array(&self, buf: &mut BytesMut) {
        let mut names: BTreeSet<&str> = self.connectors.iter().map(String::as_str).collect();
        names.extend(self.tasks.iter().map(|t| t.connector.as_str()));
        put_len(buf, names.len());
        for name in names {
            put_string(buf, name);
            let tasks: Vec<i32> = self
                .tasks
                .iter()
                .filter(|t| t.connector == name)
                .map(|t| t.task as i32)
                .collect();
            let with_connector = self.connectors.contains(name);
            put_len(buf, tasks.len() + usize::from(with_connector));
            if with_connector {
                buf.put_i32(CONNECTOR_TASK);
            }
            for task in tasks {
                buf.put_i32(task);
            }
        }
    }

    /// Reads a (possibly null) `[connector-assignment]` array; null reads as the empty set.
    fn read_array(reader: &mut Reader<'_>) -> Result<ConnectorsAndTasks, ProtocolError> {
        let mut set = ConnectorsAndTasks::default();
        let count = reader.i32()?;
        if count < 0 {
            return Ok(set);
        }
        for _ in 0..count {
            let connector = reader.string()?;
            let task_count = reader.array_len()?;
            for _ in 0..task_count {
                let task = reader.i32()?;
                if task == CONNECTOR_TASK {
                    set.connectors.insert(connector.clone());
                } else if task >= 0 {
                    set.tasks
                        .insert(TaskRef::new(connector.clone(), task as u32));
                } else {
                    return Err(ProtocolError::InvalidTask(task));
                }
            }
        }
        Ok(set)
    }
}

/// Why a Connect metadata or assignment blob could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// The blob ended inside a field.
    #[error("Connect protocol data ends early (needed {needed} more bytes at offset {offset})")]
    Truncated {
        /// Where the missing field starts.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// The version header is negative.
    #[error("unsupported Connect protocol version {0}")]
    UnsupportedVersion(i16),
    /// A string is not UTF-8.
    #[error("Connect protocol string is not valid UTF-8")]
    InvalidUtf8,
    /// A non-nullable string or array has a negative length.
    #[error("negative length {0} for a non-nullable Connect protocol field")]
    NegativeLength(i32),
    /// A task number below -1.
    #[error("invalid task number {0} in a Connect assignment")]
    InvalidTask(i32),
}

/// What a worker tells the group when it joins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerMetadata {
    /// The worker's advertised REST URL.
    pub url: String,
    /// The config topic offset the worker has read up to.
    pub config_offset: i64,
    /// The connectors and tasks the worker currently runs (V1/V2 only; `None` when it has no
    /// assignment yet, which encodes as a null allocation).
    pub allocation: Option<ConnectorsAndTasks>,
}

impl WorkerMetadata {
    /// Encodes the metadata for one offered protocol: V0 without the allocation, V1/V2 with it.
    ///
    /// The allocation is embedded as an assignment blob of the same version whose `leader` and
    /// `leader-url` are empty, `config-offset` is this worker's, `revoked` is empty and `delay`
    /// is 0. Members use [`WorkerMetadata::encode_with_last_assignment`], which embeds what
    /// Java embeds.
    pub fn encode(&self, protocol: ConnectProtocol) -> Bytes {
        self.encode_with_last_assignment(protocol, None)
    }

    /// Like [`WorkerMetadata::encode`], but the embedded allocation carries the error, leader,
    /// leader URL, config offset, revocations and delay of `last` (the assignment last
    /// received) around this metadata's items, as Java's worker does. Besides matching Java
    /// byte for byte, this makes a member's metadata change after each assignment, which a
    /// coordinator that rebalances only on changed metadata (Tansu) needs to see.
    pub fn encode_with_last_assignment(
        &self,
        protocol: ConnectProtocol,
        last: Option<&Assignment>,
    ) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i16(protocol.version());
        put_string(&mut buf, &self.url);
        buf.put_i64(self.config_offset);
        if protocol.is_incremental() {
            match &self.allocation {
                None => buf.put_i32(-1),
                Some(allocation) => {
                    let embedded = match last {
                        Some(last) => Assignment {
                            assigned: allocation.clone(),
                            ..last.clone()
                        },
                        None => Assignment {
                            error: Assignment::NO_ERROR,
                            leader: String::new(),
                            leader_url: String::new(),
                            config_offset: self.config_offset,
                            assigned: allocation.clone(),
                            revoked: ConnectorsAndTasks::default(),
                            delay_ms: 0,
                        },
                    }
                    .encode(protocol);
                    put_len(&mut buf, embedded.len());
                    buf.put_slice(&embedded);
                }
            }
        }
        buf.freeze()
    }

    /// Decodes metadata of any version (the version header says which layout follows; fields
    /// missing at the end of a V1+ blob read as absent, as in Java).
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut reader = Reader::new(bytes);
        let version = reader.version()?;
        let url = reader.string()?;
        let config_offset = reader.i64()?;
        let mut allocation = None;
        if version >= 1
            && !reader.at_end()
            && let Some(embedded) = reader.nullable_bytes()?
        {
            allocation = Some(Assignment::decode(embedded)?.assigned);
        }
        Ok(WorkerMetadata {
            url,
            config_offset,
            allocation,
        })
    }
}

/// The leader's answer to one member in SyncGroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// [`Assignment::NO_ERROR`] or [`Assignment::CONFIG_MISMATCH`].
    pub error: i16,
    /// The leader's member id.
    pub leader: String,
    /// The leader's REST URL.
    pub leader_url: String,
    /// The config topic offset the assignment is based on.
    pub config_offset: i64,
    /// Eager: everything the member must run. Incremental: the items newly given to it.
    pub assigned: ConnectorsAndTasks,
    /// Incremental only: items the member must stop (always empty under Eager).
    pub revoked: ConnectorsAndTasks,
    /// Incremental only: milliseconds after which the member should rejoin (0 = none).
    pub delay_ms: i32,
}

impl Assignment {
    /// The assignment is usable.
    pub const NO_ERROR: i16 = 0;
    /// The leader could not read the config topic up to the offset some member reported; the
    /// member should catch up on the config topic and rejoin.
    pub const CONFIG_MISMATCH: i16 = 1;

    /// Encodes the assignment for the protocol the group selected (V0 drops `revoked` and
    /// `delay`).
    pub fn encode(&self, protocol: ConnectProtocol) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i16(protocol.version());
        buf.put_i16(self.error);
        put_string(&mut buf, &self.leader);
        put_string(&mut buf, &self.leader_url);
        buf.put_i64(self.config_offset);
        self.assigned.write_array(&mut buf);
        if protocol.is_incremental() {
            self.revoked.write_array(&mut buf);
            buf.put_i32(self.delay_ms);
        }
        buf.freeze()
    }

    /// Decodes an assignment of any version (missing trailing V1+ fields read as empty / 0).
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut reader = Reader::new(bytes);
        let version = reader.version()?;
        let error = reader.i16()?;
        let leader = reader.string()?;
        let leader_url = reader.string()?;
        let config_offset = reader.i64()?;
        let mut assignment = Assignment {
            error,
            leader,
            leader_url,
            config_offset,
            assigned: ConnectorsAndTasks::default(),
            revoked: ConnectorsAndTasks::default(),
            delay_ms: 0,
        };
        if version == 0 {
            assignment.assigned = ConnectorsAndTasks::read_array(&mut reader)?;
            return Ok(assignment);
        }
        if !reader.at_end() {
            assignment.assigned = ConnectorsAndTasks::read_array(&mut reader)?;
        }
        if !reader.at_end() {
            assignment.revoked = ConnectorsAndTasks::read_array(&mut reader)?;
        }
        if !reader.at_end() {
            assignment.delay_ms = reader.i32()?;
        }
        Ok(assignment)
    }
}

fn put_string(buf: &mut BytesMut, value: &str) {
    // Kafka's STRING is at most i16::MAX bytes; longer names cannot occur in valid configs,
    // so truncating the length would only corrupt what was already invalid.
    put_i16_len(buf, value.len());
    buf.put_slice(value.as_bytes());
}

fn put_i16_len(buf: &mut BytesMut, len: usize) {
    buf.put_i16(i16::try_from(len).unwrap_or(i16::MAX));
}

fn put_len(buf: &mut BytesMut, len: usize) {
    buf.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
}

/// A bounds-checked big-endian reader over a Connect blob.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    fn at_end(&self) -> bool {
        self.offset >= self.bytes.len()
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtocolError> {
        let available = self.bytes.len() - self.offset;
        if available < len {
            return Err(ProtocolError::Truncated {
                offset: self.offset,
                needed: len - available,
            });
        }
        let slice = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(slice)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(self.fixed()?))
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.fixed()?))
    }

    fn i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.fixed()?))
    }

    fn version(&mut self) -> Result<i16, ProtocolError> {
        let version = self.i16()?;
        if version < 0 {
            return Err(ProtocolError::UnsupportedVersion(version));
        }
        Ok(version)
    }

    fn string(&mut self) -> Result<String, ProtocolError> {
        let len = self.i16()?;
        if len < 0 {
            return Err(ProtocolError::NegativeLength(i32::from(len)));
        }
        let raw = self.take(len as usize)?;
        String::from_utf8(raw.to_vec()).map_err(|_| ProtocolError::InvalidUtf8)
    }

    fn array_len(&mut self) -> Result<usize, ProtocolError> {
        let len = self.i32()?;
        if len < 0 {
            return Err(ProtocolError::NegativeLength(len));
        }
        Ok(len as usize)
    }

    fn nullable_bytes(&mut self) -> Result<Option<&'a [u8]>, ProtocolError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(connectors: &[&str], tasks: &[(&str, u32)]) -> ConnectorsAndTasks {
        ConnectorsAndTasks {
            connectors: connectors.iter().map(|c| c.to_string()).collect(),
            tasks: tasks.iter().map(|(c, t)| TaskRef::new(*c, *t)).collect(),
        }
    }

    #[test]
    fn protocol_names_versions_and_config() {
        assert_eq!(ConnectProtocol::Eager.name(), "default");
        assert_eq!(ConnectProtocol::Sessioned.version(), 2);
        assert_eq!(
            ConnectProtocol::from_name("compatible"),
            Some(ConnectProtocol::Compatible)
        );
        assert_eq!(ConnectProtocol::from_name("eager"), None);
        assert_eq!(
            ConnectProtocol::from_config("sessioned"),
            Some(vec![
                ConnectProtocol::Sessioned,
                ConnectProtocol::Compatible,
                ConnectProtocol::Eager
            ])
        );
        assert_eq!(
            ConnectProtocol::from_config("compatible"),
            Some(vec![ConnectProtocol::Compatible, ConnectProtocol::Eager])
        );
        assert_eq!(
            ConnectProtocol::from_config("eager"),
            Some(vec![ConnectProtocol::Eager])
        );
        assert_eq!(ConnectProtocol::from_config("default"), None);
    }

    #[test]
    fn metadata_v0_bytes() {
        let metadata = WorkerMetadata {
            url: "http://w:8083".into(),
            config_offset: 5,
            allocation: Some(set(&["a"], &[])),
        };
        let mut expected = vec![0, 0, 0, 13];
        expected.extend_from_slice(b"http://w:8083");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(
            metadata.encode(ConnectProtocol::Eager).as_ref(),
            &expected[..]
        );
        let decoded = WorkerMetadata::decode(&expected).unwrap();
        assert_eq!(decoded.url, "http://w:8083");
        assert_eq!(decoded.config_offset, 5);
        assert_eq!(decoded.allocation, None);
    }

    #[test]
    fn metadata_v1_with_null_allocation_bytes() {
        let metadata = WorkerMetadata {
            url: "u".into(),
            config_offset: -1,
            allocation: None,
        };
        let expected = [
            0, 1, // version
            0, 1, b'u', // url
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // offset -1
            0xff, 0xff, 0xff, 0xff, // null allocation
        ];
        let encoded = metadata.encode(ConnectProtocol::Compatible);
        assert_eq!(encoded.as_ref(), &expected[..]);
        assert_eq!(WorkerMetadata::decode(&encoded).unwrap(), metadata);
    }

    #[test]
    fn metadata_v2_with_allocation_bytes() {
        let metadata = WorkerMetadata {
            url: "u".into(),
            config_offset: 7,
            allocation: Some(set(&["c"], &[("c", 0)])),
        };
        let embedded: Vec<u8> = vec![
            0, 2, // version
            0, 0, // error
            0, 0, // leader ""
            0, 0, // leader url ""
            0, 0, 0, 0, 0, 0, 0, 7, // offset
            0, 0, 0, 1, // one connector entry
            0, 1, b'c', // "c"
            0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, // [-1, 0]
            0, 0, 0, 0, // revoked: empty array
            0, 0, 0, 0, // delay 0
        ];
        let mut expected = vec![0, 2, 0, 1, b'u', 0, 0, 0, 0, 0, 0, 0, 7];
        expected.extend_from_slice(&(embedded.len() as i32).to_be_bytes());
        expected.extend_from_slice(&embedded);
        let encoded = metadata.encode(ConnectProtocol::Sessioned);
        assert_eq!(encoded.as_ref(), &expected[..]);
        assert_eq!(WorkerMetadata::decode(&encoded).unwrap(), metadata);
    }

    #[test]
    fn metadata_embeds_the_last_assignment_like_java() {
        let metadata = WorkerMetadata {
            url: "u".into(),
            config_offset: 9,
            allocation: Some(set(&["a"], &[])),
        };
        let last = Assignment {
            error: 0,
            leader: "L".into(),
            leader_url: "v".into(),
            config_offset: 8,
            assigned: set(&[], &[("x", 0)]),
            revoked: set(&[], &[("b", 1)]),
            delay_ms: 5,
        };
        let embedded: Vec<u8> = vec![
            0, 1, 0, 0, 0, 1, b'L', 0, 1, b'v', 0, 0, 0, 0, 0, 0, 0, 8, // header .. offset
            0, 0, 0, 1, 0, 1, b'a', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, // the allocation
            0, 0, 0, 1, 0, 1, b'b', 0, 0, 0, 1, 0, 0, 0, 1, // last revoked
            0, 0, 0, 5, // last delay
        ];
        let mut expected = vec![0, 1, 0, 1, b'u', 0, 0, 0, 0, 0, 0, 0, 9];
        expected.extend_from_slice(&(embedded.len() as i32).to_be_bytes());
        expected.extend_from_slice(&embedded);
        let encoded =
            metadata.encode_with_last_assignment(ConnectProtocol::Compatible, Some(&last));
        assert_eq!(encoded.as_ref(), &expected[..]);
        assert_eq!(WorkerMetadata::decode(&encoded).unwrap(), metadata);
    }

    #[test]
    fn metadata_v1_missing_allocation_field_reads_as_none() {
        let bytes = [0, 1, 0, 1, b'u', 0, 0, 0, 0, 0, 0, 0, 3];
        let decoded = WorkerMetadata::decode(&bytes).unwrap();
        assert_eq!(decoded.allocation, None);
        assert_eq!(decoded.config_offset, 3);
    }

    fn sample_assignment() -> Assignment {
        Assignment {
            error: Assignment::NO_ERROR,
            leader: "L".into(),
            leader_url: "http://l".into(),
            config_offset: 2,
            assigned: set(&["b"], &[("a", 1), ("a", 0), ("b", 2)]),
            revoked: set(&["z"], &[]),
            delay_ms: 1000,
        }
    }

    fn assignment_prefix(version: u8) -> Vec<u8> {
        let mut bytes = vec![0, version, 0, 0, 0, 1, b'L', 0, 8];
        bytes.extend_from_slice(b"http://l");
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        // assignment: "a" -> [0, 1], "b" -> [-1, 2]
        bytes.extend_from_slice(&[0, 0, 0, 2]);
        bytes.extend_from_slice(&[0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0, 1, b'b', 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2]);
        bytes
    }

    #[test]
    fn assignment_v0_bytes() {
        let expected = assignment_prefix(0);
        let encoded = sample_assignment().encode(ConnectProtocol::Eager);
        assert_eq!(encoded.as_ref(), &expected[..]);
        let decoded = Assignment::decode(&encoded).unwrap();
        assert_eq!(decoded.assigned, sample_assignment().assigned);
        assert!(decoded.revoked.is_empty());
        assert_eq!(decoded.delay_ms, 0);
    }

    #[test]
    fn assignment_v1_bytes() {
        let mut expected = assignment_prefix(1);
        // revoked: "z" -> [-1]
        expected.extend_from_slice(&[0, 0, 0, 1, 0, 1, b'z', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0, 0, 0x03, 0xe8]);
        let encoded = sample_assignment().encode(ConnectProtocol::Compatible);
        assert_eq!(encoded.as_ref(), &expected[..]);
        assert_eq!(Assignment::decode(&encoded).unwrap(), sample_assignment());
        expected[1] = 2;
        assert_eq!(
            sample_assignment()
                .encode(ConnectProtocol::Sessioned)
                .as_ref(),
            &expected[..]
        );
    }

    #[test]
    fn assignment_v1_null_arrays_and_missing_delay() {
        // version 1, error 1, leader "", leader-url "", offset 0
        let mut bytes = vec![0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let decoded = Assignment::decode(&bytes).unwrap();
        assert_eq!(decoded.error, Assignment::CONFIG_MISMATCH);
        assert!(decoded.assigned.is_empty() && decoded.revoked.is_empty());
        assert_eq!(decoded.delay_ms, 0);
    }

    #[test]
    fn decode_errors() {
        assert_eq!(
            Assignment::decode(&[0xff, 0xff]),
            Err(ProtocolError::UnsupportedVersion(-1))
        );
        assert!(matches!(
            Assignment::decode(&[0, 0, 0]),
            Err(ProtocolError::Truncated { .. })
        ));
        let mut bad_task = assignment_prefix(0);
        let len = bad_task.len();
        bad_task[len - 5] = 0xfe; // the -1 of "b" becomes -2
        assert_eq!(
            Assignment::decode(&bad_task),
            Err(ProtocolError::InvalidTask(-2))
        );
    }
}
