//! Kafka Connect's converters for Sluice: String, ByteArray, JSON and the primitive (number)
//! converters, and the simple header converter.
//!
//! Each converter answers to its Java class name and Kafka's short aliases, and writes the same
//! bytes the Java converter writes, so Sluice and Kafka Connect workers can share topics.

mod bytes;
mod cache;
mod decimal;
mod java_text;
mod json;
mod number;
mod simple_header;
mod string;
mod values;

pub use bytes::ByteArrayConverter;
pub use json::{
    DECIMAL_FORMAT_CONFIG, DecimalFormat, JsonConverter, REPLACE_NULL_WITH_DEFAULT_CONFIG,
    SCHEMAS_CACHE_SIZE_CONFIG, SCHEMAS_ENABLE_CONFIG,
};
pub use number::{NumberConverter, NumberKind};
pub use simple_header::SimpleHeaderConverter;
pub use string::{ENCODING_CONFIG, StringConverter};

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, Converter, DefaultValue, HeaderConverter, Importance,
    PluginDesc, PluginFactory, Validator,
};

/// The setting the framework passes to say how a converter is used (`key`, `value`, `header`).
pub const CONVERTER_TYPE_CONFIG: &str = "converter.type";

/// Kafka's `ConverterConfig` definition, which every converter's settings extend. Unlike Kafka it
/// is optional here: Sluice passes the role to `configure` directly.
pub(crate) fn converter_type_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            CONVERTER_TYPE_CONFIG,
            ConfigType::String,
            DefaultValue::Null,
            Importance::Low,
            "How this converter will be used.",
        )
        .validator(Validator::one_of(&["key", "value", "header"])),
    )
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn converter(
    class: &'static str,
    aliases: &'static [&'static str],
    make: fn() -> Box<dyn Converter>,
) -> PluginDesc {
    PluginDesc {
        class,
        aliases,
        version: VERSION,
        factory: PluginFactory::Converter(make),
    }
}

fn header_converter(
    class: &'static str,
    aliases: &'static [&'static str],
    make: fn() -> Box<dyn HeaderConverter>,
) -> PluginDesc {
    PluginDesc {
        class,
        aliases,
        version: VERSION,
        factory: PluginFactory::HeaderConverter(make),
    }
}

/// Every converter and header converter this crate offers. Converters that Kafka also lets act
/// as header converters are listed twice, once per plugin type, under the same class name.
pub fn plugins() -> Vec<PluginDesc> {
    const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
    const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
    const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
    const SIMPLE: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";
    // Kafka's aliases are the simple class name and, for converters, that name without the
    // "Converter" suffix (for header converters, without "HeaderConverter").
    const STRING_ALIASES: &[&str] = &["StringConverter", "String"];
    const BYTES_ALIASES: &[&str] = &["ByteArrayConverter", "ByteArray"];
    const JSON_ALIASES: &[&str] = &["JsonConverter", "Json"];

    macro_rules! number {
        ($kind:ident, $aliases:expr) => {
            [
                converter(NumberKind::$kind.class_name(), $aliases, || {
                    Box::new(NumberConverter::new(NumberKind::$kind))
                }),
                header_converter(NumberKind::$kind.class_name(), $aliases, || {
                    Box::new(NumberConverter::new(NumberKind::$kind))
                }),
            ]
        };
    }

    let mut all = vec![
        converter(STRING, STRING_ALIASES, || Box::new(StringConverter::new())),
        header_converter(STRING, &["StringConverter"], || {
            Box::new(StringConverter::new())
        }),
        converter(BYTES, BYTES_ALIASES, || Box::new(ByteArrayConverter::new())),
        header_converter(BYTES, &["ByteArrayConverter"], || {
            Box::new(ByteArrayConverter::new())
        }),
        converter(JSON, JSON_ALIASES, || Box::new(JsonConverter::new())),
        header_converter(JSON, &["JsonConverter"], || Box::new(JsonConverter::new())),
        header_converter(SIMPLE, &["SimpleHeaderConverter", "Simple"], || {
            Box::new(SimpleHeaderConverter::new())
        }),
    ];
    all.extend(number!(Boolean, &["BooleanConverter", "Boolean"]));
    all.extend(number!(Short, &["ShortConverter", "Short"]));
    all.extend(number!(Integer, &["IntegerConverter", "Integer"]));
    all.extend(number!(Long, &["LongConverter", "Long"]));
    all.extend(number!(Float, &["FloatConverter", "Float"]));
    all.extend(number!(Double, &["DoubleConverter", "Double"]));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{PluginType, Props, Schema, Value};

    /// The borrowing forms give the bytes of the owned ones, and borrow where they claim to.
    #[test]
    fn borrowed_conversions_match_the_owned_ones_and_skip_the_copy() {
        use sluice_api::{Converter, HeaderConverter};
        use std::borrow::Cow;
        let values = [
            (Some(Schema::string()), Value::String("sock/left".into())),
            (
                Some(Schema::bytes()),
                Value::Bytes(b"\x00\xffpayload".to_vec()),
            ),
            (None, Value::Bytes(b"raw".to_vec())),
            (None, Value::Null),
        ];
        let converters: [Box<dyn Converter>; 2] = [
            Box::new(StringConverter::new()),
            Box::new(ByteArrayConverter::new()),
        ];
        for converter in &converters {
            for (schema, value) in &values {
                let owned = converter.from_connect_data("t", schema.as_deref(), value);
                let borrowed = converter.from_connect_data_borrowed("t", schema.as_deref(), value);
                match (owned, borrowed) {
                    (Ok(owned), Ok(borrowed)) => {
                        assert!(
                            matches!(borrowed, None | Some(Cow::Borrowed(_))),
                            "{value:?}"
                        );
                        assert_eq!(owned, borrowed.map(Cow::into_owned), "{value:?}");
                    }
                    (Err(_), Err(_)) => {} // the ByteArrayConverter refuses strings either way
                    (owned, borrowed) => panic!("{value:?}: {owned:?} but {borrowed:?}"),
                }
            }
        }
        let headers = [
            (Some(Schema::boolean()), Value::Boolean(true), true),
            (Some(Schema::boolean()), Value::Boolean(false), true),
            (
                Some(Schema::string()),
                Value::String("image/jpeg".into()),
                true,
            ),
            (Some(Schema::int32()), Value::Int32(42), false),
            (None, Value::Float64(0.5), false),
            (None, Value::Null, true),
        ];
        let simple = SimpleHeaderConverter::new();
        for (schema, value, borrows) in &headers {
            let owned = simple
                .from_connect_header("t", "h", schema.as_deref(), value)
                .unwrap();
            let borrowed = simple
                .from_connect_header_borrowed("t", "h", schema.as_deref(), value)
                .unwrap();
            assert_eq!(
                matches!(borrowed, None | Some(Cow::Borrowed(_))),
                *borrows,
                "{value:?}"
            );
            assert_eq!(owned, borrowed.map(Cow::into_owned), "{value:?}");
        }
    }

    fn find(plugin_type: PluginType, name: &str) -> PluginDesc {
        plugins()
            .into_iter()
            .find(|p| p.factory.plugin_type() == plugin_type && p.answers_to(name))
            .unwrap_or_else(|| panic!("no {plugin_type:?} named {name}"))
    }

    #[test]
    fn converters_answer_to_class_names_and_aliases() {
        for name in [
            "org.apache.kafka.connect.json.JsonConverter",
            "JsonConverter",
            "Json",
            "StringConverter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            "org.apache.kafka.connect.converters.LongConverter",
            "Boolean",
        ] {
            find(PluginType::Converter, name);
        }
        for name in [
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "SimpleHeaderConverter",
            "org.apache.kafka.connect.storage.StringConverter",
            "org.apache.kafka.connect.json.JsonConverter",
            "ByteArrayConverter",
            "org.apache.kafka.connect.converters.DoubleConverter",
        ] {
            find(PluginType::HeaderConverter, name);
        }
        // The simple header converter is not a key/value converter.
        assert!(
            !plugins()
                .iter()
                .any(|p| p.factory.plugin_type() == PluginType::Converter
                    && p.answers_to("SimpleHeaderConverter"))
        );
    }

    #[test]
    fn class_names_are_unique_per_plugin_type() {
        let all = plugins();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    a.class != b.class || a.factory.plugin_type() != b.factory.plugin_type(),
                    "{} listed twice",
                    a.class
                );
            }
        }
        assert!(all.iter().all(|p| p.version == env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn factories_build_working_converters() {
        let PluginFactory::Converter(make) = find(PluginType::Converter, "LongConverter").factory
        else {
            panic!("not a converter factory");
        };
        let mut c = make();
        c.configure(&Props::new(), true).unwrap();
        let bytes = c.from_connect_data("t", None, &Value::Int64(1)).unwrap();
        assert_eq!(bytes, Some(vec![0, 0, 0, 0, 0, 0, 0, 1]));

        let PluginFactory::HeaderConverter(make) =
            find(PluginType::HeaderConverter, "SimpleHeaderConverter").factory
        else {
            panic!("not a header converter factory");
        };
        let h = make();
        let bytes = h
            .from_connect_header("t", "k", Some(&Schema::int32()), &Value::Int32(5))
            .unwrap();
        assert_eq!(bytes, Some(b"5".to_vec()));
    }

    #[test]
    fn converter_type_is_validated_when_given() {
        let mut c = JsonConverter::new();
        let mut props = Props::new();
        props.insert(CONVERTER_TYPE_CONFIG.into(), "value".into());
        Converter::configure(&mut c, &props, false).unwrap();
        props.insert(CONVERTER_TYPE_CONFIG.into(), "sideways".into());
        assert!(Converter::configure(&mut c, &props, false).is_err());
    }
}
