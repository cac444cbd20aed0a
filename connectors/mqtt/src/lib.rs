//! MQTT source connector, compatible with Confluent's `io.confluent.connect.mqtt.MqttSourceConnector`.
//!
//! Each task holds one MQTT connection (rumqttc) with a stable client id derived from the
//! connector name and task number. Records carry the concrete MQTT topic as key, the payload as
//! bytes value and the `mqtt.*` headers. With QoS 1/2, acknowledgements are manual: a message's
//! PUBACK/PUBREC is sent only after Kafka has acknowledged its record, in arrival order (see
//! [`acks::AckTracker`]), so with `mqtt.clean.session.enabled=false` nothing is lost when the
//! worker dies: the broker redelivers what was not acknowledged.

pub mod acks;
mod client;
pub mod config;
mod connector;
mod task;
pub mod tls;

use sluice_api::{PluginDesc, PluginFactory, SourceConnector, SourceTask};

pub use connector::{MqttSourceConnector, assign_filters};
pub use task::{MqttSourceTask, client_id};

/// Java class name of the connector.
pub const CONNECTOR_CLASS: &str = "io.confluent.connect.mqtt.MqttSourceConnector";

/// Record header with the MQTT packet id (0 for QoS 0).
pub const HEADER_MESSAGE_ID: &str = "mqtt.message.id";
/// Record header with the QoS the message was delivered with.
pub const HEADER_QOS: &str = "mqtt.qos";
/// Record header telling whether the broker replayed a retained message.
pub const HEADER_RETAINED: &str = "mqtt.retained";
/// Record header with the DUP flag.
pub const HEADER_DUPLICATE: &str = "mqtt.duplicate";
/// MQTT 5: prefix of the string headers carrying the message's user properties, in order
/// (`mqtt.user.<name>`; a repeated name gives repeated headers).
pub const HEADER_USER_PROPERTY_PREFIX: &str = "mqtt.user.";
/// MQTT 5: string header with the message's content type, when it has one.
pub const HEADER_CONTENT_TYPE: &str = "mqtt.content.type";

/// The plugins this crate offers: the MQTT source connector.
pub fn plugins() -> Vec<PluginDesc> {
    vec![PluginDesc {
        class: CONNECTOR_CLASS,
        aliases: &[
            "MqttSourceConnector",
            "io.confluent.connect.mqtt.MqttConnector",
            "MqttSource",
        ],
        version: env!("CARGO_PKG_VERSION"),
        factory: PluginFactory::Source {
            connector: || -> Box<dyn SourceConnector> { Box::new(MqttSourceConnector::new()) },
            task: || -> Box<dyn SourceTask> { Box::new(MqttSourceTask::new()) },
        },
    }]
}
