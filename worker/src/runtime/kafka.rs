//! Kafka client settings for tasks: Connect's defaults, then the worker's `producer.*` /
//! `consumer.*` settings, then the connector's `producer.override.*` / `consumer.override.*`.

use rdkafka::ClientConfig;
use sluice_api::Props;
use sluice_api::config::strip_prefix;

use crate::status::TaskId;

/// Java client settings that have no meaning for librdkafka (serializers are the converters' job;
/// blocking limits do not apply to an async producer). They are dropped rather than rejected, so
/// worker files written for Java run unchanged.
const JAVA_ONLY: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "max.block.ms",
    "buffer.memory",
    "interceptor.classes",
    "metric.reporters",
    "max.poll.records",
];

/// Java names whose librdkafka equivalent is spelled differently.
const RENAMED: &[(&str, &str)] = &[
    ("delivery.timeout.ms", "message.timeout.ms"),
    ("max.request.size", "message.max.bytes"),
];

/// Builds a librdkafka config from Java-style properties.
pub fn client_config(props: &Props) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    for (k, v) in props {
        if JAVA_ONLY.contains(&k.as_str()) {
            tracing::debug!(key = %k, "ignoring a Java-only client setting");
            continue;
        }
        let key = RENAMED
            .iter()
            .find(|(java, _)| java == k)
            .map(|(_, rd)| *rd)
            .unwrap_or(k);
        cfg.set(key, v);
    }
    cfg
}

fn layered(
    defaults: &[(&str, String)],
    worker_props: &Props,
    worker_prefix: &str,
    connector_props: &Props,
    override_prefix: &str,
) -> Props {
    let mut props: Props = defaults
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    if let Some(bs) = worker_props.get("bootstrap.servers") {
        props.insert("bootstrap.servers".into(), bs.clone());
    }
    props.extend(strip_prefix(worker_props, worker_prefix));
    props.extend(strip_prefix(connector_props, override_prefix));
    props
}

/// Settings of a source task's producer (Connect's defaults: `acks=all`, one request in flight,
/// deliveries retried until they succeed).
pub fn source_producer_props(worker_props: &Props, connector_props: &Props, id: &TaskId) -> Props {
    layered(
        &[
            ("acks", "all".into()),
            ("max.in.flight.requests.per.connection", "1".into()),
            ("enable.idempotence", "false".into()),
            // 0 = no delivery timeout: Connect retries a record until Kafka takes it.
            ("message.timeout.ms", "0".into()),
            ("linger.ms", "5".into()),
            // Java's default partitioner hashes keys with murmur2: the same key lands on the same
            // partition as with a Java worker (librdkafka's default is CRC32).
            ("partitioner", "murmur2_random".into()),
            ("client.id", format!("connector-producer-{id}")),
        ],
        worker_props,
        "producer.",
        connector_props,
        "producer.override.",
    )
}

/// Settings of a sink task's consumer (group `connect-NAME`, manual commits, from the earliest).
pub fn sink_consumer_props(worker_props: &Props, connector_props: &Props, id: &TaskId) -> Props {
    layered(
        &[
            ("group.id", format!("connect-{}", id.connector)),
            ("enable.auto.commit", "false".into()),
            ("enable.auto.offset.store", "false".into()),
            ("auto.offset.reset", "earliest".into()),
            ("client.id", format!("connector-consumer-{id}")),
        ],
        worker_props,
        "consumer.",
        connector_props,
        "consumer.override.",
    )
}

/// Settings of a sink task's dead letter queue producer.
pub fn dlq_producer_props(worker_props: &Props, connector_props: &Props, id: &TaskId) -> Props {
    layered(
        &[
            ("acks", "all".into()),
            ("partitioner", "murmur2_random".into()),
            ("client.id", format!("connector-dlq-producer-{id}")),
        ],
        worker_props,
        "producer.",
        connector_props,
        "producer.override.",
    )
}

/// Settings of an admin client (`admin.*`, then `admin.override.*`).
pub fn admin_props(worker_props: &Props, connector_props: &Props) -> Props {
    layered(
        &[],
        worker_props,
        "admin.",
        connector_props,
        "admin.override.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn overrides_layer_in_order() {
        let worker = props(&[
            ("bootstrap.servers", "k:9092"),
            ("consumer.session.timeout.ms", "6000"),
            ("consumer.auto.offset.reset", "latest"),
            ("producer.linger.ms", "1"),
        ]);
        let connector = props(&[("consumer.override.auto.offset.reset", "none")]);
        let id = TaskId {
            connector: "c".into(),
            task: 2,
        };
        let c = sink_consumer_props(&worker, &connector, &id);
        assert_eq!(c["group.id"], "connect-c");
        assert_eq!(c["client.id"], "connector-consumer-c-2");
        assert_eq!(c["session.timeout.ms"], "6000");
        assert_eq!(c["auto.offset.reset"], "none");
        assert_eq!(c["bootstrap.servers"], "k:9092");
        assert!(!c.contains_key("linger.ms"));
    }

    #[test]
    fn java_only_settings_are_translated_or_dropped() {
        let cfg = client_config(&props(&[
            (
                "key.serializer",
                "org.apache.kafka.common.serialization.ByteArraySerializer",
            ),
            ("delivery.timeout.ms", "120000"),
        ]));
        assert_eq!(cfg.get("key.serializer"), None);
        assert_eq!(cfg.get("message.timeout.ms"), Some("120000"));
    }
}
