//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp (the whole key or
//! value, or one field) between strings, Unix epoch numbers and the Date, Time and Timestamp
//! logical types.

use sluice_api::data::logical;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Schema, SchemaRef, SchemaType, Struct, Transform, Validator, Value, async_trait,
};

use crate::java_date::JavaDateFormat;
use crate::logical::{date_schema, time_schema, timestamp_schema};
use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::schema_util::copy_schema_basics;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter$Value";

const FIELD: &str = "field";
const TARGET_TYPE: &str = "target.type";
const FORMAT: &str = "format";
const UNIX_PRECISION: &str = "unix.precision";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The representations a timestamp can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "unix" => Self::Unix,
            "Date" => Self::Date,
            "Time" => Self::Time,
            "Timestamp" => Self::Timestamp,
            _ => return None,
        })
    }

    fn schema(self, optional: bool) -> SchemaRef {
        match self {
            Self::String if optional => Schema::optional_string(),
            Self::String => Schema::string(),
            Self::Unix if optional => Schema::optional_int64(),
            Self::Unix => Schema::int64(),
            Self::Date => date_schema(optional),
            Self::Time => time_schema(optional),
            Self::Timestamp => timestamp_schema(optional),
        }
    }

    fn of_schema(schema: &Schema) -> Result<Self> {
        match (schema.name.as_deref(), schema.schema_type) {
            (Some(logical::TIMESTAMP), _) => Ok(Self::Timestamp),
            (Some(logical::DATE), _) => Ok(Self::Date),
            (Some(logical::TIME), _) => Ok(Self::Time),
            (_, SchemaType::String) => Ok(Self::String),
            (_, SchemaType::Int64) => Ok(Self::Unix),
            _ => Err(ConnectError::data(format!(
                "Schema {} does not correspond to a known timestamp type format",
                schema.schema_type
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

#[derive(Debug, Clone)]
struct Settings {
    field: String,
    target: Kind,
    format: Option<JavaDateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
}

impl Settings {
    /// Milliseconds since the epoch of `value`, read as `kind`.
    fn millis_of(&self, value: &Value, kind: Kind) -> Result<i64> {
        match (kind, value) {
            (Kind::String, Value::String(s)) => {
                let format = self.format.as_ref().ok_or_else(|| {
                    ConnectError::data(
                        "TimestampConverter requires format option to be specified when using \
                         string timestamps",
                    )
                })?;
                format.parse(s).map_err(|_| {
                    ConnectError::data(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            (Kind::String, other) => Err(ConnectError::data(format!(
                "Expected string timestamp to be a String, but found {}",
                other.kind_name()
            ))),
            (Kind::Unix, Value::Int64(t)) => Ok(match self.precision {
                Precision::Seconds => t.saturating_mul(1000),
                Precision::Millis => *t,
                Precision::Micros => t / 1000,
                Precision::Nanos => t / 1_000_000,
            }),
            (Kind::Unix, other) => Err(ConnectError::data(format!(
                "Expected Unix timestamp to be a Long, but found {}",
                other.kind_name()
            ))),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            (Kind::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Kind::Timestamp, Value::Int64(ms)) => Ok(*ms),
            (k, other) => Err(ConnectError::data(format!(
                "Expected {k:?} to be a java.util.Date, but found {}",
                other.kind_name()
            ))),
        }
    }

    fn target_value(&self, millis: i64) -> Result<Value> {
        Ok(match self.target {
            Kind::String => {
                let format = self.format.as_ref().ok_or_else(|| {
                    ConnectError::data("TimestampConverter requires format option")
                })?;
                Value::String(format.format(millis))
            }
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => millis / 1000,
                Precision::Millis => millis,
                Precision::Micros => millis.saturating_mul(1000),
                Precision::Nanos => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => {
                let days = millis.div_euclid(MILLIS_PER_DAY);
                Value::Int32(
                    i32::try_from(days).map_err(|_| {
                        ConnectError::data(format!("Date out of range: {days} days"))
                    })?,
                )
            }
            // Below a day's milliseconds, so it fits.
            Kind::Time => Value::Int32(millis.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Int64(millis),
        })
    }

    /// Converts `value` (null stays null) from `kind` to the target.
    fn convert(&self, value: &Value, kind: Option<Kind>) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            // Without a schema: strings are formatted dates, longs Unix times.
            None => match value {
                Value::String(_) => Kind::String,
                Value::Int64(_) => Kind::Unix,
                other => {
                    return Err(ConnectError::data(format!(
                        "TimestampConverter does not support {} objects as timestamps",
                        other.kind_name()
                    )));
                }
            },
        };
        self.target_value(self.millis_of(value, kind)?)
    }
}

/// Converts timestamps between representations: `string` (a Java `SimpleDateFormat` pattern in
/// `format`, UTC; see [`crate::java_date`] for the supported letters), `unix` (int64 in
/// `unix.precision`), and the `Date`, `Time` and `Timestamp` logical types. With `field` set,
/// only that field of a struct or map is converted; otherwise the whole key or value.
#[derive(Debug)]
pub struct TimestampConverter {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
    schema_cache: SchemaCache,
}

impl TimestampConverter {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("TimestampConverter"),
            settings: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new(
                FIELD,
                ConfigType::String,
                DefaultValue::Value(String::new()),
                Importance::High,
                "The field containing the timestamp, or empty if the entire value is a timestamp",
            ))
            .define(
                ConfigKey::new(
                    TARGET_TYPE,
                    ConfigType::String,
                    DefaultValue::Required,
                    Importance::High,
                    "The desired timestamp representation: string, unix, Date, Time, or Timestamp",
                )
                .validator(Validator::one_of(&[
                    "string",
                    "unix",
                    "Date",
                    "Time",
                    "Timestamp",
                ])),
            )
            .define(ConfigKey::new(
                FORMAT,
                ConfigType::String,
                DefaultValue::Value(String::new()),
                Importance::Medium,
                "A SimpleDateFormat-compatible format for the timestamp (UTC). Used to generate \
                 the output when type=string or used to parse the input if the input is a string.",
            ))
            .define(
                ConfigKey::new(
                    UNIX_PRECISION,
                    ConfigType::String,
                    DefaultValue::Value("milliseconds".into()),
                    Importance::Low,
                    "The desired Unix precision for the timestamp: seconds, milliseconds, \
                     microseconds, or nanoseconds.",
                )
                .validator(Validator::one_of(&[
                    "nanoseconds",
                    "microseconds",
                    "milliseconds",
                    "seconds",
                ])),
            )
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null fields with a default value are converted as that default.",
            ))
    }

    fn updated_struct_schema(settings: &Settings, schema: &SchemaRef) -> Result<SchemaRef> {
        let mut builder = copy_schema_basics(schema).set_optional(schema.optional);
        for f in &schema.fields {
            let field_schema = if f.name == settings.field {
                settings.target.schema(f.schema.optional)
            } else {
                f.schema.clone()
            };
            builder = builder.field(f.name.clone(), field_schema);
        }
        let shape = builder.clone().build();
        if let Some(Value::Struct(default)) = &schema.default_value {
            let converted = Self::convert_struct(settings, default, &shape)?;
            builder = builder.default_value(Value::Struct(converted));
        }
        Ok(builder.build())
    }

    fn convert_struct(settings: &Settings, value: &Struct, schema: &SchemaRef) -> Result<Struct> {
        let mut updated = Struct::new(schema.clone())?;
        for (f, v) in value.iter() {
            let v = match (&f.schema.default_value, v) {
                (Some(d), Value::Null) if settings.replace_null_with_default => d,
                _ => v,
            };
            let v = if f.name == settings.field {
                settings.convert(v, Some(Kind::of_schema(&f.schema)?))?
            } else {
                v.clone()
            };
            updated.put(&f.name, v)?;
        }
        Ok(updated)
    }
}

#[async_trait]
impl Transform for TimestampConverter {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let target_name = config.string(TARGET_TYPE).unwrap_or_default();
        let target = Kind::parse(target_name).ok_or_else(|| {
            ConnectError::config(format!(
                "Unknown timestamp type in TimestampConverter: {target_name}. Valid values are \
                 string, unix, Date, Time, Timestamp."
            ))
        })?;
        let pattern = config.string(FORMAT).unwrap_or_default();
        if target == Kind::String && pattern.is_empty() {
            return Err(ConnectError::config(
                "TimestampConverter requires format option to be specified when using string \
                 timestamps",
            ));
        }
        let format = if pattern.is_empty() {
            None
        } else {
            Some(JavaDateFormat::new(pattern).map_err(|e| {
                ConnectError::config(format!(
                    "TimestampConverter requires a SimpleDateFormat-compatible pattern for string \
                     timestamps: {pattern} ({e})"
                ))
            })?)
        };
        let precision = match config.string(UNIX_PRECISION) {
            Some("seconds") => Precision::Seconds,
            Some("microseconds") => Precision::Micros,
            Some("nanoseconds") => Precision::Nanos,
            _ => Precision::Millis,
        };
        self.settings = Some(Settings {
            field: config.string(FIELD).unwrap_or_default().to_owned(),
            target,
            format,
            precision,
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        });
        self.schema_cache = SchemaCache::default();
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| not_configured(&self.name))?;
        let value = self.part.value(&record);
        let (schema, converted) = match self.part.schema(&record) {
            None if settings.field.is_empty() || value.is_null() => {
                (None, settings.convert(value, None)?)
            }
            None => {
                let entries = require_map(value, &self.name, PURPOSE)?;
                let mut updated = entries.clone();
                let field = Value::from(settings.field.as_str());
                match updated.iter_mut().find(|(k, _)| *k == field) {
                    Some(entry) => entry.1 = settings.convert(&entry.1, None)?,
                    // Kafka puts the (null) field in any case.
                    None => updated.push((field, Value::Null)),
                }
                (None, Value::Map(updated))
            }
            Some(schema) if settings.field.is_empty() => {
                let kind = Kind::of_schema(schema)?;
                (
                    Some(settings.target.schema(schema.optional)),
                    settings.convert(value, Some(kind))?,
                )
            }
            Some(schema) => {
                let updated = self
                    .schema_cache
                    .get_or_derive(schema, |s| Self::updated_struct_schema(settings, s))?;
                let converted = if value.is_null() {
                    Value::Null
                } else {
                    let original = require_struct(value, &self.name, PURPOSE)?;
                    Value::Struct(Self::convert_struct(settings, original, &updated)?)
                };
                (Some(updated), converted)
            }
        };
        self.part.set(&mut record, schema, converted);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::SchemaBuilder;

    use super::*;
    use crate::test_util::{apply, props};

    // Kafka's test instants: 1970-01-01T00:00:00Z and 1970-01-01T01:02:03.004Z.
    const DATE_PLUS_TIME_MILLIS: i64 = 3_723_004;
    const STRING_DATE_FMT: &str = "yyyy MM dd HH mm ss SSS z";
    const DATE_PLUS_TIME_STRING: &str = "1970 01 01 01 02 03 004 UTC";

    fn configured(part: RecordPart, pairs: &[(&str, &str)]) -> TimestampConverter {
        let mut t = TimestampConverter::new(part);
        t.configure(&props(pairs)).unwrap();
        t
    }

    fn convert(
        pairs: &[(&str, &str)],
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let t = configured(RecordPart::Value, pairs);
        let mut r = ConnectRecord::new("t", value);
        r.value_schema = schema;
        let out = apply(&t, r)?.unwrap();
        Ok((out.value_schema, out.value))
    }

    #[test]
    fn schemaless_conversions() {
        let to = |target: &str, v: Value| {
            convert(&[(TARGET_TYPE, target), (FORMAT, STRING_DATE_FMT)], None, v)
                .unwrap()
                .1
        };
        let unix = Value::Int64(DATE_PLUS_TIME_MILLIS);
        assert_eq!(
            to("string", unix.clone()),
            Value::from(DATE_PLUS_TIME_STRING)
        );
        assert_eq!(to("unix", Value::from(DATE_PLUS_TIME_STRING)), unix);
        assert_eq!(to("Date", unix.clone()), Value::Int32(0));
        assert_eq!(to("Time", unix.clone()), Value::Int32(3_723_004));
        assert_eq!(to("Timestamp", unix.clone()), unix);
        assert_eq!(to("Timestamp", Value::Null), Value::Null);
    }

    #[test]
    fn schemaful_whole_value_conversions() {
        let (s, v) = convert(
            &[(TARGET_TYPE, "Date")],
            Some(timestamp_schema(false)),
            Value::Int64(DATE_PLUS_TIME_MILLIS + 2 * MILLIS_PER_DAY),
        )
        .unwrap();
        assert_eq!(s, Some(date_schema(false)));
        assert_eq!(v, Value::Int32(2));

        let (s, v) = convert(
            &[(TARGET_TYPE, "string"), (FORMAT, STRING_DATE_FMT)],
            Some(timestamp_schema(true)),
            Value::Int64(DATE_PLUS_TIME_MILLIS),
        )
        .unwrap();
        assert_eq!(s, Some(Schema::optional_string()));
        assert_eq!(v, Value::from(DATE_PLUS_TIME_STRING));

        let (s, v) = convert(
            &[(TARGET_TYPE, "Timestamp"), (FORMAT, STRING_DATE_FMT)],
            Some(Schema::string()),
            Value::from(DATE_PLUS_TIME_STRING),
        )
        .unwrap();
        assert_eq!(s, Some(timestamp_schema(false)));
        assert_eq!(v, Value::Int64(DATE_PLUS_TIME_MILLIS));

        let (_, v) = convert(
            &[(TARGET_TYPE, "Timestamp")],
            Some(time_schema(false)),
            Value::Int32(1000),
        )
        .unwrap();
        assert_eq!(v, Value::Int64(1000));
    }

    #[test]
    fn unix_precisions() {
        let to_unix = |precision: &str| {
            convert(
                &[(TARGET_TYPE, "unix"), (UNIX_PRECISION, precision)],
                Some(timestamp_schema(false)),
                Value::Int64(1_500_000_123),
            )
            .unwrap()
            .1
        };
        assert_eq!(to_unix("seconds"), Value::Int64(1_500_000));
        assert_eq!(to_unix("microseconds"), Value::Int64(1_500_000_123_000));
        assert_eq!(to_unix("nanoseconds"), Value::Int64(1_500_000_123_000_000));
        let (_, v) = convert(
            &[(TARGET_TYPE, "Timestamp"), (UNIX_PRECISION, "microseconds")],
            None,
            Value::Int64(1_500_000_123_456),
        )
        .unwrap();
        assert_eq!(v, Value::Int64(1_500_000_123));
    }

    #[test]
    fn a_field_of_a_struct_or_map() {
        let schema = SchemaBuilder::struct_schema()
            .name("rec")
            .field("ts", Schema::int64())
            .field("other", Schema::string())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("ts", Value::Int64(DATE_PLUS_TIME_MILLIS))
            .unwrap()
            .with("other", "x")
            .unwrap();
        let pairs = [(FIELD, "ts"), (TARGET_TYPE, "Timestamp")];
        let (s, v) = convert(&pairs, Some(schema), Value::Struct(value)).unwrap();
        let s = s.unwrap();
        assert_eq!(s.field("ts").unwrap().schema, timestamp_schema(false));
        assert_eq!(s.name.as_deref(), Some("rec"));
        let v = v.as_struct().unwrap().clone();
        assert_eq!(v.get("ts"), Some(&Value::Int64(DATE_PLUS_TIME_MILLIS)));
        assert_eq!(v.get("other"), Some(&Value::from("x")));

        let map = Value::Map(vec![
            ("ts".into(), Value::Int64(0)),
            ("other".into(), Value::from("x")),
        ]);
        let pairs = [
            (FIELD, "ts"),
            (TARGET_TYPE, "string"),
            (FORMAT, "yyyy-MM-dd"),
        ];
        let (_, v) = convert(&pairs, None, map).unwrap();
        assert_eq!(v.map_get("ts"), Some(&Value::from("1970-01-01")));
        assert_eq!(v.map_get("other"), Some(&Value::from("x")));
    }

    #[test]
    fn errors() {
        let err = convert(
            &[(TARGET_TYPE, "unix"), (FORMAT, "yyyy-MM-dd")],
            None,
            Value::from("not a date"),
        )
        .unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "Could not parse timestamp: value (not a date) does not match pattern (yyyy-MM-dd)"
        );
        let err = convert(&[(TARGET_TYPE, "unix")], None, Value::Int32(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "TimestampConverter does not support Integer objects as timestamps"
        );
        let err = convert(
            &[(TARGET_TYPE, "unix")],
            Some(Schema::boolean()),
            Value::Boolean(true),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("does not correspond to a known timestamp type")
        );
        let err = convert(
            &[(FIELD, "ts"), (TARGET_TYPE, "unix")],
            None,
            Value::Int64(1),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("[converting timestamp formats]"),
            "{err}"
        );

        let mut t = TimestampConverter::new(RecordPart::Value);
        let err = t.configure(&props(&[(TARGET_TYPE, "string")])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains("requires format option"), "{err}");
        assert!(t.configure(&props(&[(TARGET_TYPE, "invalid")])).is_err());
        assert!(t.configure(&props(&[])).is_err());
        let err = t
            .configure(&props(&[(TARGET_TYPE, "string"), (FORMAT, "bad-Q")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("SimpleDateFormat-compatible"),
            "{err}"
        );
        assert!(
            t.configure(&props(&[(TARGET_TYPE, "unix"), (UNIX_PRECISION, "hours")]))
                .is_err()
        );
    }
}
