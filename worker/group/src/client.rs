//! A minimal Kafka protocol connection: size-prefixed framing, request headers, one request in
//! flight at a time, and ApiVersions negotiation.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, RequestHeader, ResponseHeader,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Responses larger than this are refused (group responses are small; this guards against a
/// peer that is not a Kafka broker).
const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The error code of UNSUPPORTED_VERSION.
const UNSUPPORTED_VERSION: i16 = 35;

/// A request this client can send, with its API key and response type (kafka-protocol's own
/// `Request` trait needs its `broker` feature).
pub trait Request: Message + Encodable + HeaderVersion {
    /// The API key.
    const KEY: ApiKey;
    /// The response message.
    type Response: Message + Decodable + HeaderVersion;
}

macro_rules! requests {
    ($($request:ty => $response:ty, $key:ident;)*) => {
        $(impl Request for $request {
            const KEY: ApiKey = ApiKey::$key;
            type Response = $response;
        })*
    };
}

requests! {
    ApiVersionsRequest => ApiVersionsResponse, ApiVersions;
    FindCoordinatorRequest => FindCoordinatorResponse, FindCoordinator;
    JoinGroupRequest => JoinGroupResponse, JoinGroup;
    SyncGroupRequest => SyncGroupResponse, SyncGroup;
    HeartbeatRequest => HeartbeatResponse, Heartbeat;
    LeaveGroupRequest => LeaveGroupResponse, LeaveGroup;
}

/// Why a request over a [`Connection`] failed. Any error leaves the connection unusable.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing failed.
    #[error("I/O error talking to {addr}: {source}")]
    Io {
        /// The broker address.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No response within the allowed time.
    #[error("{api:?} request to {addr} timed out after {timeout:?}")]
    Timeout {
        /// The broker address.
        addr: String,
        /// The request's API.
        api: ApiKey,
        /// The time allowed.
        timeout: Duration,
    },
    /// The request could not be encoded (e.g. a field the chosen version lacks was set).
    #[error("cannot encode {api:?} v{version}: {message}")]
    Encode {
        /// The request's API.
        api: ApiKey,
        /// The chosen version.
        version: i16,
        /// What the encoder said.
        message: String,
    },
    /// The response could not be decoded.
    #[error("cannot decode {api:?} v{version} response: {message}")]
    Decode {
        /// The request's API.
        api: ApiKey,
        /// The chosen version.
        version: i16,
        /// What the decoder said.
        message: String,
    },
    /// The response answered another request.
    #[error("response correlation id {got} does not match request {expected}")]
    CorrelationMismatch {
        /// The id sent.
        expected: i32,
        /// The id received.
        got: i32,
    },
    /// The response frame is implausibly large.
    #[error("response frame of {0} bytes is too large")]
    FrameTooLarge(usize),
    /// The broker and this client share no version of an API.
    #[error("broker at {addr} supports no version of {api:?} that this client speaks")]
    UnsupportedApi {
        /// The broker address.
        addr: String,
        /// The API.
        api: ApiKey,
    },
    /// The connection failed earlier (or a request was abandoned mid-flight).
    #[error("connection to {0} is broken")]
    Broken(String),
}

/// One TCP connection to a broker, with the API version ranges it announced.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    stream: TcpStream,
    client_id: StrBytes,
    next_correlation_id: i32,
    broker_versions: BTreeMap<i16, (i16, i16)>,
    /// Set while a request is in flight; still set if its future was dropped half-way.
    in_flight: bool,
}

impl Connection {
    /// Connects to `addr` (`host:port`) and asks for the broker's API versions.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout {
                addr: addr.to_string(),
                api: ApiKey::ApiVersions,
                timeout,
            })?
            .map_err(|source| ClientError::Io {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            addr: addr.to_string(),
            stream,
            client_id: StrBytes::from_string(client_id.to_string()),
            next_correlation_id: 1,
            broker_versions: BTreeMap::new(),
            in_flight: false,
        };
        connection.negotiate(timeout).await?;
        Ok(connection)
    }

    /// The address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection can still carry requests.
    pub fn is_usable(&self) -> bool {
        !self.in_flight
    }

    /// The highest version of request `R` both sides speak, capped at `our_max`.
    pub fn version_for<R: Request>(&self, our_max: i16) -> Result<i16, ClientError> {
        let ours = (R::VERSIONS.min, R::VERSIONS.max.min(our_max));
        let unsupported = || ClientError::UnsupportedApi {
            addr: self.addr.clone(),
            api: R::KEY,
        };
        let (broker_min, broker_max) = *self
            .broker_versions
            .get(&(R::KEY as i16))
            .ok_or_else(unsupported)?;
        let version = ours.1.min(broker_max);
        if version < ours.0.max(broker_min) {
            return Err(unsupported());
        }
        Ok(version)
    }

    /// Sends `request` at `version` and waits up to `timeout` for its response.
    pub async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ClientError> {
        let api = R::KEY;
        let body = self.exchange::<R>(request, version, timeout).await?;
        decode_body::<R::Response>(body, api, version)
    }

    async fn negotiate(&mut self, timeout: Duration) -> Result<(), ClientError> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("sluice-group"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut body = self.exchange(&request, 3, timeout).await?;
        let first = body.clone();
        let mut response = match ApiVersionsResponse::decode(&mut body, 3) {
            Ok(response) => response,
            // A broker without v3 answers UNSUPPORTED_VERSION in the v0 layout.
            Err(_) => decode_body::<ApiVersionsResponse>(first, ApiKey::ApiVersions, 0)?,
        };
        if response.error_code == UNSUPPORTED_VERSION {
            let body = self
                .exchange(&ApiVersionsRequest::default(), 0, timeout)
                .await?;
            response = decode_body::<ApiVersionsResponse>(body, ApiKey::ApiVersions, 0)?;
        }
        self.broker_versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        tracing::debug!(addr = %self.addr, apis = self.broker_versions.len(), "broker API versions");
        Ok(())
    }

    /// Writes one request frame and reads one response frame, returning the body after the
    /// response header.
    async fn exchange<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<Bytes, ClientError> {
        if self.in_flight {
            return Err(ClientError::Broken(self.addr.clone()));
        }
        let api = R::KEY;
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, R::header_version(version))
            .map_err(|e| encode_error(api, version, e))?;
        request
            .encode(&mut frame, version)
            .map_err(|e| encode_error(api, version, e))?;
        let len = i32::try_from(frame.len() - 4).map_err(|_| ClientError::Encode {
            api,
            version,
            message: "request too large".into(),
        })?;
        frame[..4].copy_from_slice(&len.to_be_bytes());

        self.in_flight = true;
        let addr = self.addr.clone();
        let io = async {
            self.stream.write_all(&frame).await?;
            let size = self.stream.read_i32().await?;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > MAX_FRAME_BYTES {
                return Ok(Err(ClientError::FrameTooLarge(size)));
            }
            let mut body = vec![0u8; size];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(Ok(Bytes::from(body)))
        };
        let mut body = tokio::time::timeout(timeout, io)
            .await
            .map_err(|_| ClientError::Timeout {
                addr: addr.clone(),
                api,
                timeout,
            })?
            .map_err(|source| ClientError::Io {
                addr: addr.clone(),
                source,
            })??;
        let header = ResponseHeader::decode(
            &mut body,
            <R::Response as HeaderVersion>::header_version(version),
        )
        .map_err(|e| ClientError::Decode {
            api,
            version,
            message: e.to_string(),
        })?;
        if header.correlation_id != correlation_id {
            return Err(ClientError::CorrelationMismatch {
                expected: correlation_id,
                got: header.correlation_id,
            });
        }
        self.in_flight = false;
        Ok(body)
    }
}

fn encode_error(api: ApiKey, version: i16, error: impl std::fmt::Display) -> ClientError {
    ClientError::Encode {
        api,
        version,
        message: error.to_string(),
    }
}

fn decode_body<T: Decodable + Message>(
    mut body: Bytes,
    api: ApiKey,
    version: i16,
) -> Result<T, ClientError> {
    let decoded = T::decode(&mut body, version).map_err(|e| ClientError::Decode {
        api,
        version,
        message: e.to_string(),
    })?;
    if body.has_remaining() {
        tracing::debug!(
            ?api,
            version,
            extra = body.remaining(),
            "response has trailing bytes"
        );
    }
    Ok(decoded)
}
