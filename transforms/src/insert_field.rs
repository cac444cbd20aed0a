//! `InsertField$Key` / `InsertField$Value`: adds the record's topic, partition, offset, timestamp
//! and/or a static string as fields of the key or value.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Schema, SchemaBuilder, SchemaRef, Struct, Transform, Value, async_trait,
};

use crate::logical::timestamp_schema;
use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::validators::invalid;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.InsertField$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.InsertField$Value";

const TOPIC_FIELD: &str = "topic.field";
const PARTITION_FIELD: &str = "partition.field";
const OFFSET_FIELD: &str = "offset.field";
const TIMESTAMP_FIELD: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

const PURPOSE: &str = "field insertion";
const OPTIONALITY_DOC: &str = "Suffix with '!' to make this a required field, or '?' to keep it \
                               optional (the default).";

/// A field to insert: its name, and whether its schema is optional (`name?` or plain `name`) or
/// required (`name!`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

impl InsertionSpec {
    fn parse(key: &str, spec: &str) -> Result<Self> {
        let (name, optional) = if let Some(name) = spec.strip_suffix('!') {
            (name, false)
        } else if let Some(name) = spec.strip_suffix('?') {
            (name, true)
        } else {
            (spec, true)
        };
        if name.is_empty() {
            return Err(ConnectError::config(invalid(
                key,
                spec,
                "the field name must not be empty",
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            optional,
        })
    }
}

/// The parsed settings.
#[derive(Debug, Clone)]
struct Settings {
    topic: Option<InsertionSpec>,
    partition: Option<InsertionSpec>,
    offset: Option<InsertionSpec>,
    timestamp: Option<InsertionSpec>,
    static_field: Option<(InsertionSpec, String)>,
    replace_null_with_default: bool,
}

impl Settings {
    /// The configured insertions with their keys, in the order fields are appended.
    fn specs(&self) -> impl Iterator<Item = (&'static str, &InsertionSpec)> {
        [
            (TOPIC_FIELD, self.topic.as_ref()),
            (PARTITION_FIELD, self.partition.as_ref()),
            (OFFSET_FIELD, self.offset.as_ref()),
            (TIMESTAMP_FIELD, self.timestamp.as_ref()),
            (
                STATIC_FIELD,
                self.static_field.as_ref().map(|(spec, _)| spec),
            ),
        ]
        .into_iter()
        .filter_map(|(key, spec)| spec.map(|s| (key, s)))
    }

    /// The fields to insert into `record`, with their values, in append order. Metadata the record
    /// lacks (no partition, no timestamp) is left out, so the field stays null.
    fn values_for(&self, record: &ConnectRecord, transform: &str) -> Result<Vec<(&str, Value)>> {
        let mut out = Vec::with_capacity(5);
        if let Some(spec) = &self.topic {
            out.push((spec.name.as_str(), Value::from(record.topic.as_str())));
        }
        if let (Some(spec), Some(partition)) = (&self.partition, record.kafka_partition) {
            out.push((spec.name.as_str(), Value::Int32(partition)));
        }
        if let Some(spec) = &self.offset {
            match record.kafka_offset {
                Some(offset) => {
                    out.push((spec.name.as_str(), Value::Int64(offset)));
                }
                // Offsets exist only for records read from Kafka. An optional field is left out;
                // a required one cannot be filled.
                None if !spec.optional => {
                    return Err(ConnectError::data(format!(
                        "{transform}: Only SinkRecord supported for [{PURPOSE}] of the required \
                         offset field '{}', found: a source record",
                        spec.name
                    )));
                }
                None => {}
            }
        }
        if let (Some(spec), Some(ts)) = (&self.timestamp, record.timestamp) {
            // Schemaless records carry the raw epoch millis, structs the Timestamp logical type,
            // whose base representation is the same int64.
            out.push((spec.name.as_str(), Value::Int64(ts)));
        }
        if let Some((spec, value)) = &self.static_field {
            out.push((spec.name.as_str(), Value::from(value.as_str())));
        }
        Ok(out)
    }

    /// The schema of the transformed struct: the original's name, version, doc and parameters,
    /// its fields, then the inserted fields.
    fn updated_schema(&self, schema: &SchemaRef, transform: &str) -> Result<SchemaRef> {
        let mut builder = SchemaBuilder::struct_schema();
        if let Some(name) = &schema.name {
            builder = builder.name(name.clone());
        }
        if let Some(version) = schema.version {
            builder = builder.version(version);
        }
        if let Some(doc) = &schema.doc {
            builder = builder.doc(doc.clone());
        }
        for (k, v) in &schema.parameters {
            builder = builder.parameter(k.clone(), v.clone());
        }
        for field in &schema.fields {
            builder = builder.field(field.name.clone(), field.schema.clone());
        }
        for (key, spec) in self.specs() {
            if schema.field(&spec.name).is_some() {
                return Err(ConnectError::data(format!(
                    "{transform}: cannot insert field '{}' ({key}): the schema already has a \
                     field of that name",
                    spec.name
                )));
            }
            let field_schema = match key {
                TOPIC_FIELD | STATIC_FIELD if spec.optional => Schema::optional_string(),
                TOPIC_FIELD | STATIC_FIELD => Schema::string(),
                PARTITION_FIELD if spec.optional => Schema::optional_int32(),
                PARTITION_FIELD => Schema::int32(),
                OFFSET_FIELD if spec.optional => Schema::optional_int64(),
                OFFSET_FIELD => Schema::int64(),
                _ => timestamp_schema(spec.optional),
            };
            builder = builder.field(spec.name.clone(), field_schema);
        }
        Ok(builder.build())
    }
}

/// Inserts record metadata and a static value as fields of the key or value (Kafka's
/// `InsertField`).
///
/// Schemaless data must be a map, which gets the entries added (replacing same-named ones).
/// Data with a schema must be a struct; it is rebuilt with a derived schema that appends the new
/// fields. Null keys or values (tombstones) pass through unchanged.
#[derive(Debug)]
pub struct InsertField {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
    schema_cache: SchemaCache,
}

impl InsertField {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("InsertField"),
            settings: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        let field = |name: &str, what: &str| {
            ConfigKey::new(
                name,
                ConfigType::String,
                DefaultValue::Null,
                Importance::Medium,
                format!("Field name for {what}. {OPTIONALITY_DOC}"),
            )
        };
        ConfigDef::new()
            .define(field(TOPIC_FIELD, "the Kafka topic"))
            .define(field(PARTITION_FIELD, "the Kafka partition"))
            .define(field(
                OFFSET_FIELD,
                "the Kafka offset, which only records read by sink connectors have",
            ))
            .define(field(TIMESTAMP_FIELD, "the record timestamp"))
            .define(field(STATIC_FIELD, "the static data field"))
            .define(ConfigKey::new(
                STATIC_VALUE,
                ConfigType::String,
                DefaultValue::Null,
                Importance::Medium,
                "Static field value, if a static field name is configured.",
            ))
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null fields that have a default value are copied as that default (true) \
                 or as null (false).",
            ))
    }

    fn apply_schemaless(
        &self,
        settings: &Settings,
        mut record: ConnectRecord,
    ) -> Result<ConnectRecord> {
        require_map(self.part.value(&record), &self.name, PURPOSE)?;
        let inserts: Vec<(String, Value)> = settings
            .values_for(&record, &self.name)?
            .into_iter()
            .map(|(name, v)| (name.to_owned(), v))
            .collect();
        let (_, value) = self.part.take(&mut record);
        let Value::Map(mut entries) = value else {
            // Checked above; kept as an error rather than a panic.
            return Err(ConnectError::data(format!(
                "{}: value changed while inserting fields",
                self.name
            )));
        };
        for (name, v) in inserts {
            match entries.iter_mut().find(|(k, _)| k.as_str() == Some(&name)) {
                Some(entry) => entry.1 = v,
                None => entries.push((Value::String(name), v)),
            }
        }
        self.part.set(&mut record, None, Value::Map(entries));
        Ok(record)
    }

    fn apply_with_schema(
        &self,
        settings: &Settings,
        mut record: ConnectRecord,
    ) -> Result<ConnectRecord> {
        let original = require_struct(self.part.value(&record), &self.name, PURPOSE)?;
        let updated_schema = self.schema_cache.get_or_derive(original.schema(), |s| {
            settings.updated_schema(s, &self.name)
        })?;
        let mut updated = Struct::new(updated_schema.clone())?;
        for (field, value) in original.iter() {
            let value = match (&field.schema.default_value, value) {
                (Some(default), Value::Null) if settings.replace_null_with_default => {
                    default.clone()
                }
                _ => value.clone(),
            };
            updated.put(&field.name, value)?;
        }
        for (name, value) in settings.values_for(&record, &self.name)? {
            updated.put(name, value)?;
        }
        self.part
            .set(&mut record, Some(updated_schema), Value::Struct(updated));
        Ok(record)
    }
}

#[async_trait]
impl Transform for InsertField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let spec = |key: &str| {
            config
                .string(key)
                .map(|s| InsertionSpec::parse(key, s))
                .transpose()
        };
        let static_field = match (spec(STATIC_FIELD)?, config.string(STATIC_VALUE)) {
            (Some(field), Some(value)) => Some((field, value.to_owned())),
            (Some(field), None) => {
                return Err(ConnectError::config(invalid(
                    STATIC_VALUE,
                    "null",
                    &format!("No value specified for static field: {}", field.name),
                )));
            }
            (None, _) => None,
        };
        let settings = Settings {
            topic: spec(TOPIC_FIELD)?,
            partition: spec(PARTITION_FIELD)?,
            offset: spec(OFFSET_FIELD)?,
            timestamp: spec(TIMESTAMP_FIELD)?,
            static_field,
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        };
        let specs: Vec<_> = settings.specs().collect();
        if specs.is_empty() {
            return Err(ConnectError::config(format!(
                "No field insertion configured: set at least one of {TOPIC_FIELD}, \
                 {PARTITION_FIELD}, {OFFSET_FIELD}, {TIMESTAMP_FIELD} or {STATIC_FIELD}"
            )));
        }
        for (i, (key, spec)) in specs.iter().enumerate() {
            if let Some((other, _)) = specs[..i].iter().find(|(_, s)| s.name == spec.name) {
                return Err(ConnectError::config(invalid(
                    key,
                    &spec.name,
                    &format!("the field name is also used by {other}"),
                )));
            }
        }
        self.settings = Some(settings);
        // Derived schemas depend on the settings.
        self.schema_cache = SchemaCache::default();
        Ok(())
    }

    async fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| not_configured(&self.name))?;
        if self.part.value(&record).is_null() {
            return Ok(Some(record));
        }
        let record = if self.part.schema(&record).is_none() {
            self.apply_schemaless(settings, record)?
        } else {
            self.apply_with_schema(settings, record)?
        };
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::SchemaType;
    use sluice_api::data::logical;

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart, pairs: &[(&str, &str)]) -> InsertField {
        let mut t = InsertField::new(part);
        t.configure(&props(pairs)).unwrap();
        t
    }

    fn all_fields() -> Vec<(&'static str, &'static str)> {
        vec![
            (TOPIC_FIELD, "topic"),
            (PARTITION_FIELD, "partition!"),
            (OFFSET_FIELD, "offset?"),
            (TIMESTAMP_FIELD, "ts"),
            (STATIC_FIELD, "instance_id!"),
            (STATIC_VALUE, "my-instance"),
        ]
    }

    fn sink_record(value_schema: Option<SchemaRef>, value: Value) -> ConnectRecord {
        ConnectRecord {
            topic: "orders".into(),
            kafka_partition: Some(3),
            value_schema,
            value,
            timestamp: Some(1_700_000_000_000),
            kafka_offset: Some(42),
            ..ConnectRecord::default()
        }
    }

    fn user_schema() -> SchemaRef {
        SchemaBuilder::struct_schema()
            .name("com.example.User")
            .version(2)
            .doc("a user")
            .parameter("p", "q")
            .field("id", Schema::int32())
            .field(
                "tier",
                SchemaBuilder::new(SchemaType::String)
                    .optional()
                    .default_value(Value::from("basic"))
                    .build(),
            )
            .build()
    }

    fn user(id: i32) -> Value {
        Value::Struct(Struct::new(user_schema()).unwrap().with("id", id).unwrap())
    }

    #[test]
    fn schemaless_value_gets_every_field() {
        let t = configured(RecordPart::Value, &all_fields());
        let value = Value::Map(vec![
            ("name".into(), Value::from("ann")),
            ("topic".into(), Value::from("stale")),
        ]);
        let out = apply(&t, sink_record(None, value)).unwrap().unwrap();
        assert!(out.value_schema.is_none());
        assert_eq!(
            out.value,
            Value::Map(vec![
                ("name".into(), Value::from("ann")),
                // An existing entry of the same name is replaced in place.
                ("topic".into(), Value::from("orders")),
                ("partition".into(), Value::Int32(3)),
                ("offset".into(), Value::Int64(42)),
                ("ts".into(), Value::Int64(1_700_000_000_000)),
                ("instance_id".into(), Value::from("my-instance")),
            ])
        );
    }

    #[test]
    fn struct_value_gets_updated_schema_and_fields() {
        let t = configured(RecordPart::Value, &all_fields());
        let out = apply(&t, sink_record(Some(user_schema()), user(7)))
            .unwrap()
            .unwrap();
        let schema = out.value_schema.clone().unwrap();
        let names: Vec<_> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "tier",
                "topic",
                "partition",
                "offset",
                "ts",
                "instance_id"
            ]
        );
        // Schema basics are kept.
        assert_eq!(schema.name.as_deref(), Some("com.example.User"));
        assert_eq!(schema.version, Some(2));
        assert_eq!(schema.doc.as_deref(), Some("a user"));
        assert_eq!(schema.parameters.get("p").map(String::as_str), Some("q"));
        // Types and optionality follow the suffixes.
        let field = |n: &str| schema.field(n).unwrap().schema.clone();
        assert_eq!(field("topic").schema_type, SchemaType::String);
        assert!(field("topic").optional);
        assert_eq!(field("partition").schema_type, SchemaType::Int32);
        assert!(!field("partition").optional);
        assert_eq!(field("offset").schema_type, SchemaType::Int64);
        assert!(field("offset").optional);
        assert_eq!(field("ts").schema_type, SchemaType::Int64);
        assert_eq!(field("ts").name.as_deref(), Some(logical::TIMESTAMP));
        assert!(field("ts").optional);
        assert!(!field("instance_id").optional);

        let Value::Struct(s) = &out.value else {
            panic!("not a struct: {:?}", out.value)
        };
        assert!(std::sync::Arc::ptr_eq(s.schema(), &schema));
        assert_eq!(s.get("id"), Some(&Value::Int32(7)));
        // replace.null.with.default defaults to true: the unset tier is copied as its default.
        assert_eq!(s.get_without_default("tier"), Some(&Value::from("basic")));
        assert_eq!(s.get("topic"), Some(&Value::from("orders")));
        assert_eq!(s.get("partition"), Some(&Value::Int32(3)));
        assert_eq!(s.get("offset"), Some(&Value::Int64(42)));
        assert_eq!(s.get("ts"), Some(&Value::Int64(1_700_000_000_000)));
        assert_eq!(s.get("instance_id"), Some(&Value::from("my-instance")));
        s.validate().unwrap();
    }

    #[test]
    fn nulls_stay_null_when_defaults_are_not_wanted() {
        let t = configured(
            RecordPart::Value,
            &[(TOPIC_FIELD, "t"), (REPLACE_NULL_WITH_DEFAULT, "false")],
        );
        let out = apply(&t, sink_record(Some(user_schema()), user(1)))
            .unwrap()
            .unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get_without_default("tier"), Some(&Value::Null));
    }

    #[test]
    fn derived_schema_is_cached_and_reused() {
        let t = configured(RecordPart::Value, &[(TOPIC_FIELD, "t")]);
        let a = apply(&t, sink_record(Some(user_schema()), user(1)))
            .unwrap()
            .unwrap();
        let b = apply(&t, sink_record(Some(user_schema()), user(2)))
            .unwrap()
            .unwrap();
        assert!(std::sync::Arc::ptr_eq(
            a.value_schema.as_ref().unwrap(),
            b.value_schema.as_ref().unwrap()
        ));
        assert_eq!(t.schema_cache.len(), 1);
    }

    #[test]
    fn key_variant_changes_only_the_key() {
        let t = configured(RecordPart::Key, &[(TOPIC_FIELD, "source_topic")]);
        let mut record = sink_record(None, Value::from("payload"));
        record.key = Value::Map(vec![("id".into(), Value::Int32(1))]);
        let out = apply(&t, record).unwrap().unwrap();
        assert_eq!(
            out.key,
            Value::Map(vec![
                ("id".into(), Value::Int32(1)),
                ("source_topic".into(), Value::from("orders")),
            ])
        );
        assert_eq!(out.value, Value::from("payload"));
    }

    #[test]
    fn missing_metadata_is_left_out_or_null() {
        let t = configured(
            RecordPart::Value,
            &[(PARTITION_FIELD, "p"), (TIMESTAMP_FIELD, "ts")],
        );
        let record = ConnectRecord::new("t", Value::Map(vec![]));
        let out = apply(&t, record).unwrap().unwrap();
        assert_eq!(out.value, Value::Map(vec![]));

        let mut record = ConnectRecord::new("t", user(1));
        record.value_schema = Some(user_schema());
        let out = apply(&t, record).unwrap().unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("p"), Some(&Value::Null));
        assert_eq!(s.get("ts"), Some(&Value::Null));
    }

    #[test]
    fn offset_needs_a_sink_record_only_when_required() {
        let source = || ConnectRecord::new("t", Value::Map(vec![]));
        let optional = configured(RecordPart::Value, &[(OFFSET_FIELD, "off")]);
        let out = apply(&optional, source()).unwrap().unwrap();
        assert_eq!(out.value, Value::Map(vec![]));

        let required = configured(RecordPart::Value, &[(OFFSET_FIELD, "off!")]);
        let err = apply(&required, source()).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        assert!(err.to_string().contains("InsertField$Value"), "{err}");
        assert!(err.to_string().contains("'off'"), "{err}");
    }

    #[test]
    fn tombstones_pass_through() {
        let t = configured(RecordPart::Value, &all_fields());
        let record = ConnectRecord {
            value_schema: Some(user_schema()),
            ..sink_record(None, Value::Null)
        };
        let out = apply(&t, record.clone()).unwrap().unwrap();
        assert_eq!(out, record);

        let key_t = configured(RecordPart::Key, &[(TOPIC_FIELD, "t")]);
        let record = sink_record(None, Value::from("v"));
        assert_eq!(apply(&key_t, record.clone()).unwrap().unwrap(), record);
    }

    #[test]
    fn wrong_shapes_are_data_errors_naming_the_transform() {
        let t = configured(RecordPart::Value, &[(TOPIC_FIELD, "t")]);
        let err = apply(&t, sink_record(None, Value::from("text"))).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "InsertField$Value: Only Map objects supported in absence of schema for \
             [field insertion], found: String"
        );
        let err = apply(&t, sink_record(Some(Schema::string()), Value::from("x"))).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("InsertField$Value: Only Struct"),
            "{err}"
        );
    }

    #[test]
    fn clashing_with_an_existing_field_is_a_data_error() {
        let t = configured(RecordPart::Value, &[(TOPIC_FIELD, "id")]);
        let err = apply(&t, sink_record(Some(user_schema()), user(1))).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        assert!(err.to_string().contains("'id'"), "{err}");
    }

    #[test]
    fn configuration_errors_name_the_key() {
        let err_for = |pairs: &[(&str, &str)]| {
            let mut t = InsertField::new(RecordPart::Value);
            let err = t.configure(&props(pairs)).unwrap_err();
            assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
            err.to_string()
        };
        let err = err_for(&[]);
        assert!(err.starts_with("No field insertion configured"), "{err}");
        let err = err_for(&[(STATIC_FIELD, "s")]);
        assert!(
            err.contains(STATIC_VALUE) && err.contains("static field: s"),
            "{err}"
        );
        let err = err_for(&[(TOPIC_FIELD, "!")]);
        assert!(err.contains(TOPIC_FIELD), "{err}");
        let err = err_for(&[(TOPIC_FIELD, "x"), (TIMESTAMP_FIELD, "x?")]);
        assert!(
            err.contains(TIMESTAMP_FIELD) && err.contains(TOPIC_FIELD),
            "{err}"
        );
        let err = err_for(&[(TOPIC_FIELD, "x"), (REPLACE_NULL_WITH_DEFAULT, "maybe")]);
        assert!(err.contains(REPLACE_NULL_WITH_DEFAULT), "{err}");
    }

    #[test]
    fn unconfigured_use_is_an_error() {
        let t = InsertField::new(RecordPart::Value);
        assert!(apply(&t, sink_record(None, Value::Map(vec![]))).is_err());
    }

    #[test]
    fn config_def_declares_every_key() {
        let def = InsertField::definition();
        for key in [
            TOPIC_FIELD,
            PARTITION_FIELD,
            OFFSET_FIELD,
            TIMESTAMP_FIELD,
            STATIC_FIELD,
            STATIC_VALUE,
            REPLACE_NULL_WITH_DEFAULT,
        ] {
            let k = def.get(key).unwrap_or_else(|| panic!("{key} missing"));
            assert!(!k.is_required(), "{key}");
            assert!(!k.documentation.is_empty(), "{key}");
        }
    }
}
