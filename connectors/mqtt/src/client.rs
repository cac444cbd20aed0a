//! One MQTT connection over rumqttc's 3.1.1 or 5 client, behind a version-neutral face.

use std::collections::VecDeque;
use std::time::Duration;

use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode as V5ReturnCode, Filter, SubscribeReasonCode as V5SubscribeCode,
};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, NetworkOptions,
    Packet, PubAck, PubRec, Publish, QoS, SubscribeFilter, SubscribeReasonCode, TlsConfiguration,
    Transport,
};
use sluice_api::{ConnectError, Result};

use crate::config::{BrokerUri, MqttSettings, MqttVersion};

/// rumqttc's request channel (subscriptions, and MQTT 5 acks, which wait in the connection's
/// backlog while it is full).
pub(crate) const REQUEST_CHANNEL: usize = 1024;
/// The largest packet MQTT allows.
const MAX_PACKET: usize = 268_435_455;

/// What acknowledging a message needs: its packet id and QoS (PUBACK for 1, PUBREC for 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckHandle {
    pub packet_id: u16,
    pub qos: u8,
}

/// A received message, whatever the protocol version. Built by moving the packet's parts: the
/// topic is not copied, the payload is copied once (out of rumqttc's shared read buffer).
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub packet_id: u16,
    pub retain: bool,
    pub dup: bool,
    /// MQTT 5 user properties, in order (keys may repeat).
    pub user_properties: Vec<(String, String)>,
    /// MQTT 5 content type.
    pub content_type: Option<String>,
}

impl Message {
    pub(crate) fn from_v4(publish: Publish) -> Self {
        Self {
            qos: publish.qos as u8,
            packet_id: publish.pkid,
            retain: publish.retain,
            dup: publish.dup,
            topic: publish.topic,
            payload: Vec::from(publish.payload),
            user_properties: Vec::new(),
            content_type: None,
        }
    }

    pub(crate) fn from_v5(publish: v5::mqttbytes::v5::Publish) -> Self {
        let (user_properties, content_type) = publish
            .properties
            .map(|p| (p.user_properties, p.content_type))
            .unwrap_or_default();
        Self {
            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
            payload: Vec::from(publish.payload),
            qos: publish.qos as u8,
            packet_id: publish.pkid,
            retain: publish.retain,
            dup: publish.dup,
            user_properties,
            content_type,
        }
    }

    /// What acknowledging this message needs; `None` for QoS 0.
    pub(crate) fn ack_handle(&self) -> Option<AckHandle> {
        (self.qos > 0).then_some(AckHandle {
            packet_id: self.packet_id,
            qos: self.qos,
        })
    }
}

/// The request side of a connection.
#[derive(Clone)]
pub(crate) enum Client {
    V4(AsyncClient),
    V5(v5::AsyncClient),
}

impl Client {
    /// Queues a SUBSCRIBE for `filters` at `qos`.
    pub(crate) fn try_subscribe(
        &self,
        filters: &[String],
        qos: u8,
    ) -> std::result::Result<(), String> {
        match self {
            Client::V4(client) => client
                .try_subscribe_many(
                    filters
                        .iter()
                        .map(|f| SubscribeFilter::new(f.clone(), qos_of(qos))),
                )
                .map_err(|e| e.to_string()),
            Client::V5(client) => client
                .try_subscribe_many(
                    filters
                        .iter()
                        .map(|f| Filter::new(f.clone(), v5_qos_of(qos))),
                )
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a DISCONNECT.
    pub(crate) fn try_disconnect(&self) {
        let _ = match self {
            Client::V4(client) => client.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(client) => client.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

/// The event side of a connection, which also sends the acknowledgements.
pub(crate) enum Connection {
    V4(Box<EventLoop>),
    V5 {
        eventloop: Box<v5::EventLoop>,
        /// Acknowledgements go through rumqttc's request channel (its v5 event loop keeps the
        /// network private)...
        client: v5::AsyncClient,
        /// ...and wait here, in order, while that channel is full.
        backlog: VecDeque<AckHandle>,
    },
}

/// What a connection reported.
pub(crate) enum ConnectionEvent {
    /// Connected; whether the broker kept a session.
    Connected { session_present: bool },
    /// Subscription results, per filter: `None` for granted, else why not.
    Subscribed(Vec<Option<String>>),
    /// A message.
    Message(Message),
    /// Anything else.
    Other,
    /// The connection failed, with a human reason (rumqttc reconnects on the next poll).
    Failed(String),
}

impl Connection {
    /// The next event; `broker` is only for the failure message.
    pub(crate) async fn next(&mut self, broker: &BrokerUri) -> ConnectionEvent {
        match self {
            Connection::V4(eventloop) => match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => ConnectionEvent::Connected {
                    session_present: ack.session_present,
                },
                Ok(Event::Incoming(Packet::SubAck(ack))) => ConnectionEvent::Subscribed(
                    ack.return_codes
                        .iter()
                        .map(|code| match code {
                            SubscribeReasonCode::Success(_) => None,
                            SubscribeReasonCode::Failure => Some("refused".to_owned()),
                        })
                        .collect(),
                ),
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    ConnectionEvent::Message(Message::from_v4(publish))
                }
                Ok(_) => ConnectionEvent::Other,
                Err(error) => ConnectionEvent::Failed(describe_v4_failure(broker, &error)),
            },
            Connection::V5 {
                eventloop,
                client,
                backlog,
            } => {
                use v5::mqttbytes::v5::Packet as V5Packet;
                // Each request the loop writes comes back as an event, so the backlog drains.
                push_v5_acks(client, backlog);
                match eventloop.poll().await {
                    Ok(v5::Event::Incoming(V5Packet::ConnAck(ack))) => ConnectionEvent::Connected {
                        session_present: ack.session_present,
                    },
                    Ok(v5::Event::Incoming(V5Packet::SubAck(ack))) => ConnectionEvent::Subscribed(
                        ack.return_codes
                            .iter()
                            .map(|code| match code {
                                V5SubscribeCode::Success(_) => None,
                                other => Some(format!("{other:?}")),
                            })
                            .collect(),
                    ),
                    Ok(v5::Event::Incoming(V5Packet::Publish(publish))) => {
                        ConnectionEvent::Message(Message::from_v5(publish))
                    }
                    Ok(_) => ConnectionEvent::Other,
                    Err(error) => {
                        // Acks of a lost connection must not reach the next one (its packet ids
                        // may name other messages); the broker redelivers these messages.
                        backlog.clear();
                        ConnectionEvent::Failed(describe_v5_failure(broker, &error))
                    }
                }
            }
        }
    }

    /// Sends acknowledgements, in order. rumqttc writes and flushes each request on its own
    /// (one system call per PUBACK, rumqtt issue #810), so for 3.1.1 they are written straight
    /// into the connection's buffer and flushed once; MQTT 5 queues them as requests. Not
    /// connected: nothing is sent (the broker redelivers the messages). A failed write closes the
    /// connection (the next [`Connection::next`] reconnects) and says why.
    pub(crate) async fn send_acks(
        &mut self,
        acks: &[AckHandle],
        timeout: Duration,
    ) -> std::result::Result<(), String> {
        match self {
            Connection::V4(eventloop) => {
                let Some(network) = eventloop.network.as_mut() else {
                    return Ok(());
                };
                let written = async {
                    for ack in acks {
                        let packet = match ack.qos {
                            1 => Packet::PubAck(PubAck::new(ack.packet_id)),
                            _ => Packet::PubRec(PubRec::new(ack.packet_id)),
                        };
                        network.write(packet).await?;
                    }
                    network.flush().await
                };
                let failure = match tokio::time::timeout(timeout, written).await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(e)) => format!("sending acknowledgements failed: {e}"),
                    Err(_) => format!(
                        "sending acknowledgements timed out after {} s",
                        timeout.as_secs()
                    ),
                };
                // As rumqttc does after a failed write: drop the network, reconnect on next poll.
                eventloop.clean();
                Err(failure)
            }
            Connection::V5 {
                client, backlog, ..
            } => {
                backlog.extend(acks);
                push_v5_acks(client, backlog);
                Ok(())
            }
        }
    }
}

/// Queues acknowledgements from `backlog` into rumqttc's request channel, as far as it has room.
fn push_v5_acks(client: &v5::AsyncClient, backlog: &mut VecDeque<AckHandle>) {
    while let Some(ack) = backlog.front() {
        // rumqttc builds the acknowledgement from the packet's QoS and id only.
        let mut publish =
            v5::mqttbytes::v5::Publish::new(String::new(), v5_qos_of(ack.qos), Vec::new(), None);
        publish.pkid = ack.packet_id;
        if client.try_ack(&publish).is_err() {
            return;
        }
        backlog.pop_front();
    }
}

fn qos_of(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn v5_qos_of(level: u8) -> v5::mqttbytes::QoS {
    match level {
        0 => v5::mqttbytes::QoS::AtMostOnce,
        1 => v5::mqttbytes::QoS::AtLeastOnce,
        _ => v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn transport(broker: &BrokerUri, settings: &MqttSettings) -> Result<Option<Transport>> {
    if !broker.tls {
        return Ok(None);
    }
    let config = crate::tls::client_config(settings.trust_store_file(), settings.key_store_file())
        .map_err(|e| ConnectError::config(e.to_string()))?;
    Ok(Some(Transport::tls_with_config(TlsConfiguration::Rustls(
        config,
    ))))
}

/// A client and its connection for `broker`, in the configured protocol version, with manual
/// acknowledgements. Nothing is sent until the connection is polled.
pub(crate) fn connect(
    broker: &BrokerUri,
    settings: &MqttSettings,
    client_id: &str,
) -> Result<(Client, Connection)> {
    let keep_alive = settings.keepalive.max(Duration::from_secs(1));
    let connect_timeout = settings.connect_timeout.as_secs().max(1);
    let transport = transport(broker, settings)?;
    match settings.version {
        MqttVersion::V311 => {
            let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
            options
                .set_keep_alive(keep_alive)
                .set_clean_session(settings.clean_session)
                .set_manual_acks(true)
                .set_max_packet_size(MAX_PACKET, MAX_PACKET)
                .set_request_channel_capacity(REQUEST_CHANNEL);
            if let Some(user) = &settings.username {
                options.set_credentials(user.clone(), settings.password.clone());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL);
            let mut network = NetworkOptions::new();
            network.set_connection_timeout(connect_timeout);
            eventloop.set_network_options(network);
            Ok((Client::V4(client), Connection::V4(Box::new(eventloop))))
        }
        MqttVersion::V5 => {
            let mut options = v5::MqttOptions::new(client_id, broker.host.clone(), broker.port);
            options
                .set_keep_alive(keep_alive)
                .set_clean_start(settings.clean_session)
                .set_connection_timeout(connect_timeout)
                .set_manual_acks(true)
                .set_max_packet_size(Some(MAX_PACKET as u32))
                .set_request_channel_capacity(REQUEST_CHANNEL);
            if !settings.clean_session {
                // Clean start off alone keeps nothing after a disconnect in MQTT 5: the session
                // must also outlive the connection.
                options.set_session_expiry_interval(Some(u32::MAX));
            }
            if let Some(user) = &settings.username {
                options.set_credentials(user.clone(), settings.password.clone());
            }
            if let Some(transport) = transport {
                options.set_transport(transport);
            }
            let (client, eventloop) = v5::AsyncClient::new(options, REQUEST_CHANNEL);
            let connection = Connection::V5 {
                eventloop: Box::new(eventloop),
                client: client.clone(),
                backlog: VecDeque::new(),
            };
            Ok((Client::V5(client), connection))
        }
    }
}

fn auth_failed(uri: &str, error: &dyn std::fmt::Display) -> String {
    format!(
        "MQTT broker {uri} refused the connection: authentication failed (bad user name or password, or not authorized) [{error}]"
    )
}

/// A human explanation of a 3.1.1 connection failure, for logs and the task's failure trace.
fn describe_v4_failure(broker: &BrokerUri, error: &ConnectionError) -> String {
    let uri = &broker.original;
    match error {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => auth_failed(uri, error),
        ConnectionError::ConnectionRefused(code) => {
            format!("MQTT broker {uri} refused the connection: {code:?}")
        }
        ConnectionError::Tls(e) => format!("TLS error connecting to MQTT broker {uri}: {e}"),
        ConnectionError::Io(e) => {
            format!("MQTT broker {uri} is unreachable or closed the connection: {e}")
        }
        ConnectionError::NetworkTimeout => {
            format!("MQTT broker {uri} is unreachable: connection timed out")
        }
        other => format!("MQTT connection to {uri} failed: {other}"),
    }
}

/// A human explanation of an MQTT 5 connection failure.
fn describe_v5_failure(broker: &BrokerUri, error: &v5::ConnectionError) -> String {
    let uri = &broker.original;
    match error {
        v5::ConnectionError::ConnectionRefused(
            V5ReturnCode::BadUserNamePassword | V5ReturnCode::NotAuthorized,
        ) => auth_failed(uri, error),
        v5::ConnectionError::ConnectionRefused(code) => {
            format!("MQTT broker {uri} refused the connection: {code:?}")
        }
        v5::ConnectionError::Tls(e) => format!("TLS error connecting to MQTT broker {uri}: {e}"),
        v5::ConnectionError::Io(e) => {
            format!("MQTT broker {uri} is unreachable or closed the connection: {e}")
        }
        v5::ConnectionError::Timeout(_) => {
            format!("MQTT broker {uri} is unreachable: connection timed out")
        }
        other => format!("MQTT connection to {uri} failed: {other}"),
    }
}
