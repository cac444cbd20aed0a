//! Kafka Connect's single message transforms and predicates, for Sluice.
//!
//! Each transform lives in its own module and implements [`sluice_api::Transform`]; each
//! predicate implements [`sluice_api::Predicate`]. [`plugins`] lists them under their Java class
//! names (what users write in `transforms.NAME.type`) and short aliases.
//!
//! Shared pieces, for adding the remaining transforms one file each:
//!
//! * [`part::RecordPart`]: the `$Key` / `$Value` split (which schema and value to work on, and how
//!   to put the result back).
//! * [`requirements`]: Kafka's checks on incoming data (`Only Map objects supported ...`).
//! * [`schema_cache::SchemaCache`]: input schema to derived schema, as Kafka's
//!   `schemaUpdateCache`.
//! * [`java_regex`]: Java's full-match and replacement semantics over the `regex` crate.
//! * [`validators`]: config validators (`regex`, non-empty list) shared by several plugins.
//! * [`literal`]: typed values from configured literals (Kafka's `Values.parseString`).
//! * [`logical`]: the Date, Time and Timestamp logical schemas.
//! * [`java_date`]: Java `SimpleDateFormat` patterns, formatted and parsed in UTC.
//! * [`field_path`]: `field.syntax.version` V1/V2 field paths (KIP-821).
//! * [`schema_util`]: copying a schema's name, version, doc and parameters.

pub mod cast;
pub mod drop_headers;
pub mod extract_field;
pub mod field_path;
pub mod filter;
pub mod flatten;
pub mod header_from;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod java_date;
pub mod java_regex;
pub mod literal;
pub mod logical;
pub mod mask_field;
pub mod part;
pub mod predicates;
pub mod regex_router;
pub mod replace_field;
pub mod requirements;
pub mod schema_cache;
pub mod schema_util;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod timestamp_router;
pub mod validators;
pub mod value_to_key;

use sluice_api::{PluginDesc, PluginFactory, Predicate, Transform};

pub use cast::Cast;
pub use drop_headers::DropHeaders;
pub use extract_field::ExtractField;
pub use filter::Filter;
pub use flatten::Flatten;
pub use header_from::HeaderFrom;
pub use hoist_field::HoistField;
pub use insert_field::InsertField;
pub use insert_header::InsertHeader;
pub use mask_field::MaskField;
pub use part::RecordPart;
pub use predicates::{HasHeaderKey, RecordIsTombstone, TopicNameMatches};
pub use regex_router::RegexRouter;
pub use replace_field::ReplaceField;
pub use set_schema_metadata::SetSchemaMetadata;
pub use timestamp_converter::TimestampConverter;
pub use timestamp_router::TimestampRouter;
pub use value_to_key::ValueToKey;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn transform(
    class: &'static str,
    aliases: &'static [&'static str],
    make: fn() -> Box<dyn Transform>,
) -> PluginDesc {
    PluginDesc {
        class,
        aliases,
        version: VERSION,
        factory: PluginFactory::Transform(make),
    }
}

fn predicate(
    class: &'static str,
    aliases: &'static [&'static str],
    make: fn() -> Box<dyn Predicate>,
) -> PluginDesc {
    PluginDesc {
        class,
        aliases,
        version: VERSION,
        factory: PluginFactory::Predicate(make),
    }
}

/// Every transform and predicate this crate provides, for the worker's plugin registry.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        transform(insert_field::KEY_CLASS, &["InsertField$Key"], || {
            Box::new(InsertField::new(RecordPart::Key))
        }),
        transform(insert_field::VALUE_CLASS, &["InsertField$Value"], || {
            Box::new(InsertField::new(RecordPart::Value))
        }),
        transform(filter::CLASS, &["Filter"], || Box::new(Filter)),
        transform(insert_header::CLASS, &["InsertHeader"], || {
            Box::new(InsertHeader::default())
        }),
        transform(drop_headers::CLASS, &["DropHeaders"], || {
            Box::new(DropHeaders::default())
        }),
        transform(regex_router::CLASS, &["RegexRouter"], || {
            Box::new(RegexRouter::default())
        }),
        transform(extract_field::KEY_CLASS, &["ExtractField$Key"], || {
            Box::new(ExtractField::new(RecordPart::Key))
        }),
        transform(extract_field::VALUE_CLASS, &["ExtractField$Value"], || {
            Box::new(ExtractField::new(RecordPart::Value))
        }),
        transform(hoist_field::KEY_CLASS, &["HoistField$Key"], || {
            Box::new(HoistField::new(RecordPart::Key))
        }),
        transform(hoist_field::VALUE_CLASS, &["HoistField$Value"], || {
            Box::new(HoistField::new(RecordPart::Value))
        }),
        transform(value_to_key::CLASS, &["ValueToKey"], || {
            Box::new(ValueToKey::default())
        }),
        transform(mask_field::KEY_CLASS, &["MaskField$Key"], || {
            Box::new(MaskField::new(RecordPart::Key))
        }),
        transform(mask_field::VALUE_CLASS, &["MaskField$Value"], || {
            Box::new(MaskField::new(RecordPart::Value))
        }),
        transform(
            set_schema_metadata::KEY_CLASS,
            &["SetSchemaMetadata$Key"],
            || Box::new(SetSchemaMetadata::new(RecordPart::Key)),
        ),
        transform(
            set_schema_metadata::VALUE_CLASS,
            &["SetSchemaMetadata$Value"],
            || Box::new(SetSchemaMetadata::new(RecordPart::Value)),
        ),
        transform(replace_field::KEY_CLASS, &["ReplaceField$Key"], || {
            Box::new(ReplaceField::new(RecordPart::Key))
        }),
        transform(replace_field::VALUE_CLASS, &["ReplaceField$Value"], || {
            Box::new(ReplaceField::new(RecordPart::Value))
        }),
        transform(flatten::KEY_CLASS, &["Flatten$Key"], || {
            Box::new(Flatten::new(RecordPart::Key))
        }),
        transform(flatten::VALUE_CLASS, &["Flatten$Value"], || {
            Box::new(Flatten::new(RecordPart::Value))
        }),
        transform(header_from::KEY_CLASS, &["HeaderFrom$Key"], || {
            Box::new(HeaderFrom::new(RecordPart::Key))
        }),
        transform(header_from::VALUE_CLASS, &["HeaderFrom$Value"], || {
            Box::new(HeaderFrom::new(RecordPart::Value))
        }),
        transform(timestamp_router::CLASS, &["TimestampRouter"], || {
            Box::new(TimestampRouter::default())
        }),
        transform(
            timestamp_converter::KEY_CLASS,
            &["TimestampConverter$Key"],
            || Box::new(TimestampConverter::new(RecordPart::Key)),
        ),
        transform(
            timestamp_converter::VALUE_CLASS,
            &["TimestampConverter$Value"],
            || Box::new(TimestampConverter::new(RecordPart::Value)),
        ),
        transform(cast::KEY_CLASS, &["Cast$Key"], || {
            Box::new(Cast::new(RecordPart::Key))
        }),
        transform(cast::VALUE_CLASS, &["Cast$Value"], || {
            Box::new(Cast::new(RecordPart::Value))
        }),
        predicate(
            predicates::TOPIC_NAME_MATCHES_CLASS,
            &["TopicNameMatches"],
            || Box::new(TopicNameMatches::default()),
        ),
        predicate(predicates::HAS_HEADER_KEY_CLASS, &["HasHeaderKey"], || {
            Box::new(HasHeaderKey::default())
        }),
        predicate(
            predicates::RECORD_IS_TOMBSTONE_CLASS,
            &["RecordIsTombstone"],
            || Box::new(RecordIsTombstone),
        ),
    ]
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use sluice_api::{ConnectRecord, Props, Result, Transform};

    /// Builds properties from pairs.
    pub fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Runs a transform's `apply`; these transforms never wait, so one poll must finish it.
    pub fn apply(t: &dyn Transform, record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let mut future = pin!(t.apply(record));
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("transform apply did not complete in one poll"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sluice_api::{ConnectRecord, PluginType, Value};

    use super::*;
    use crate::test_util::{apply, props};

    #[test]
    fn every_plugin_answers_to_its_class_and_short_alias() {
        let plugins = plugins();
        let mut names = HashSet::new();
        for p in &plugins {
            assert!(
                p.class.starts_with("org.apache.kafka.connect.transforms."),
                "{}",
                p.class
            );
            let short = p.class.rsplit('.').next().unwrap_or_default();
            assert!(p.answers_to(short), "{} lacks alias {short}", p.class);
            assert!(names.insert(p.class), "duplicate {}", p.class);
            for alias in p.aliases {
                assert!(names.insert(alias), "duplicate alias {alias}");
            }
            assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
        }
        let count = |t: PluginType| {
            plugins
                .iter()
                .filter(|p| p.factory.plugin_type() == t)
                .count()
        };
        assert_eq!(count(PluginType::Transformation), 26);
        assert_eq!(count(PluginType::Predicate), 3);
    }

    fn make_transform(name: &str) -> Box<dyn Transform> {
        let desc = plugins()
            .into_iter()
            .find(|p| p.answers_to(name))
            .unwrap_or_else(|| panic!("no plugin {name}"));
        match desc.factory {
            PluginFactory::Transform(make) => make(),
            _ => panic!("{name} is not a transform"),
        }
    }

    #[test]
    fn factories_build_the_right_variant() {
        let record = || {
            let mut r = ConnectRecord::new("t", Value::Map(vec![]));
            r.key = Value::Map(vec![]);
            r
        };
        let mut key = make_transform("org.apache.kafka.connect.transforms.InsertField$Key");
        key.configure(&props(&[("topic.field", "topic")])).unwrap();
        let out = apply(key.as_ref(), record()).unwrap().unwrap();
        assert_eq!(out.key.map_get("topic"), Some(&Value::from("t")));
        assert_eq!(out.value, Value::Map(vec![]));

        let mut value = make_transform("InsertField$Value");
        value
            .configure(&props(&[("topic.field", "topic")]))
            .unwrap();
        let out = apply(value.as_ref(), record()).unwrap().unwrap();
        assert_eq!(out.value.map_get("topic"), Some(&Value::from("t")));
        assert_eq!(out.key, Value::Map(vec![]));

        let filter = make_transform("Filter");
        assert!(apply(filter.as_ref(), record()).unwrap().is_none());
    }

    #[test]
    fn predicate_factories_build_working_predicates() {
        let desc = plugins()
            .into_iter()
            .find(|p| p.answers_to("RecordIsTombstone"))
            .unwrap();
        let PluginFactory::Predicate(make) = desc.factory else {
            panic!("not a predicate");
        };
        let p = make();
        assert!(p.test(&ConnectRecord::new("t", Value::Null)));
        assert!(!p.test(&ConnectRecord::new("t", Value::Int32(0))));
    }
}
