//! `HeaderFrom$Key` / `HeaderFrom$Value`: copies or moves fields of the key or value into headers.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, SchemaBuilder, Struct, Transform, Validator, Value, async_trait,
};

use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::schema_util::copy_schema_basics;
use crate::validators::non_empty_list;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.HeaderFrom$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.HeaderFrom$Value";

const FIELDS: &str = "fields";
const HEADERS: &str = "headers";
const OPERATION: &str = "operation";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

#[derive(Debug, Clone)]
struct Settings {
    /// Field name and header name pairs, in configured order.
    pairs: Vec<(String, String)>,
    moving: bool,
    replace_null_with_default: bool,
}

impl Settings {
    fn purpose(&self) -> &'static str {
        if self.moving {
            "header move"
        } else {
            "header copy"
        }
    }
}

/// Adds one header per configured field, holding the field's value (and, for structs, its
/// schema); with `operation=move` the fields are also removed from the data. Headers are added
/// even for fields a map lacks (as null), as Kafka does.
#[derive(Debug)]
pub struct HeaderFrom {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
    schema_cache: SchemaCache,
}

impl HeaderFrom {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("HeaderFrom"),
            settings: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(
                    FIELDS,
                    ConfigType::List,
                    DefaultValue::Required,
                    Importance::High,
                    "Field names in the record whose values are to be copied or moved to headers.",
                )
                .validator(non_empty_list()),
            )
            .define(
                ConfigKey::new(
                    HEADERS,
                    ConfigType::List,
                    DefaultValue::Required,
                    Importance::High,
                    "Header names, in the same order as the field names listed in the fields \
                     configuration property.",
                )
                .validator(non_empty_list()),
            )
            .define(
                ConfigKey::new(
                    OPERATION,
                    ConfigType::String,
                    DefaultValue::Required,
                    Importance::High,
                    "Either move if the fields are to be moved to the headers (removed from the \
                     key/value), or copy if the fields are to be copied to the headers (retained \
                     in the key/value).",
                )
                .validator(Validator::one_of(&["move", "copy"])),
            )
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null fields with a default value are taken as that default.",
            ))
    }
}

#[async_trait]
impl Transform for HeaderFrom {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let fields = config.list(FIELDS);
        let headers = config.list(HEADERS);
        if fields.len() != headers.len() {
            return Err(ConnectError::config(format!(
                "'{FIELDS}' config must have the same number of elements as '{HEADERS}' config."
            )));
        }
        self.settings = Some(Settings {
            pairs: fields.into_iter().zip(headers).collect(),
            moving: config.string(OPERATION) == Some("move"),
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
        let is_moved =
            |name: &str| settings.moving && settings.pairs.iter().any(|(f, _)| f == name);
        match self.part.schema(&record) {
            None => {
                let entries =
                    require_map(self.part.value(&record), &self.name, settings.purpose())?;
                let mut headers = Vec::with_capacity(settings.pairs.len());
                for (field, header) in &settings.pairs {
                    let v = self.part.value(&record).map_get(field).cloned();
                    headers.push((header.clone(), v.unwrap_or(Value::Null)));
                }
                let remaining: Vec<(Value, Value)> = entries
                    .iter()
                    .filter(|(k, _)| !k.as_str().is_some_and(is_moved))
                    .cloned()
                    .collect();
                for (header, v) in headers {
                    record.headers.add(header, None, v);
                }
                self.part.set(&mut record, None, Value::Map(remaining));
            }
            Some(schema) => {
                let value =
                    require_struct(self.part.value(&record), &self.name, settings.purpose())?;
                let field_value = |name: &str| {
                    let v = if settings.replace_null_with_default {
                        value.get(name)
                    } else {
                        value.get_without_default(name)
                    };
                    v.cloned().unwrap_or(Value::Null)
                };
                let mut headers = Vec::with_capacity(settings.pairs.len());
                for (field, header) in &settings.pairs {
                    let f = schema.field(field).ok_or_else(|| {
                        ConnectError::data(format!("{}: Field does not exist: {field}", self.name))
                    })?;
                    headers.push((header.clone(), f.schema.clone(), field_value(field)));
                }
                let updated = if settings.moving {
                    let moved_schema = self.schema_cache.get_or_derive(schema, |s| {
                        let mut b: SchemaBuilder = copy_schema_basics(s);
                        for f in s.fields.iter().filter(|f| !is_moved(&f.name)) {
                            b = b.field(f.name.clone(), f.schema.clone());
                        }
                        Ok(b.build())
                    })?;
                    let mut moved = Struct::new(moved_schema.clone())?;
                    for f in &moved_schema.fields {
                        moved.put(&f.name, field_value(&f.name))?;
                    }
                    Some((moved_schema, moved))
                } else {
                    None
                };
                for (header, schema, v) in headers {
                    record.headers.add(header, Some(schema), v);
                }
                if let Some((s, v)) = updated {
                    self.part.set(&mut record, Some(s), Value::Struct(v));
                }
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, SchemaRef, SchemaType};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart, operation: &str) -> HeaderFrom {
        let mut t = HeaderFrom::new(part);
        t.configure(&props(&[
            (FIELDS, "field1,field2"),
            (HEADERS, "inserted1,inserted2"),
            (OPERATION, operation),
        ]))
        .unwrap();
        t
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_schema()
            .name("rec")
            .field("field1", Schema::string())
            .field(
                "field2",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(2))
                    .build(),
            )
            .field("keep", Schema::boolean())
            .build()
    }

    fn struct_record() -> ConnectRecord {
        let v = Struct::new(schema())
            .unwrap()
            .with("field1", "v1")
            .unwrap()
            .with("keep", true)
            .unwrap();
        let mut r = ConnectRecord::new("t", Value::Struct(v));
        r.value_schema = Some(schema());
        r.headers.add_string("existing", "x");
        r
    }

    fn header(r: &ConnectRecord, name: &str) -> (Option<SchemaRef>, Value) {
        let h = r.headers.last_with_name(name).unwrap();
        (h.schema.clone(), h.value.clone())
    }

    #[test]
    fn schemaless_copy_and_move() {
        let value = map(vec![
            ("field1", Value::from("v1")),
            ("keep", Value::Int32(3)),
        ]);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = value.clone();
        let out = apply(&configured(RecordPart::Key, "copy"), r.clone())
            .unwrap()
            .unwrap();
        assert_eq!(out.key, value);
        assert_eq!(header(&out, "inserted1"), (None, Value::from("v1")));
        assert_eq!(header(&out, "inserted2"), (None, Value::Null));

        let out = apply(&configured(RecordPart::Key, "move"), r)
            .unwrap()
            .unwrap();
        assert_eq!(out.key, map(vec![("keep", Value::Int32(3))]));
        assert_eq!(out.headers.len(), 2);
    }

    #[test]
    fn struct_copy_keeps_the_value_and_gives_field_schemas() {
        let out = apply(&configured(RecordPart::Value, "copy"), struct_record())
            .unwrap()
            .unwrap();
        assert_eq!(out.value, struct_record().value);
        assert_eq!(
            header(&out, "inserted1"),
            (Some(Schema::string()), Value::from("v1"))
        );
        let (s, v) = header(&out, "inserted2");
        assert_eq!(v, Value::Int32(2), "the default replaces null");
        assert_eq!(s.unwrap().schema_type, SchemaType::Int32);
        assert!(out.headers.last_with_name("existing").is_some());
    }

    #[test]
    fn struct_move_removes_the_fields() {
        let out = apply(&configured(RecordPart::Value, "move"), struct_record())
            .unwrap()
            .unwrap();
        let s = out.value_schema.clone().unwrap();
        let names: Vec<_> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["keep"]);
        assert_eq!(s.name.as_deref(), Some("rec"));
        assert_eq!(
            out.value.as_struct().unwrap().get("keep"),
            Some(&Value::Boolean(true))
        );
        assert_eq!(header(&out, "inserted1").1, Value::from("v1"));
    }

    #[test]
    fn errors() {
        let t = configured(RecordPart::Value, "copy");
        let err = apply(&t, ConnectRecord::new("t", Value::Null)).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert!(err.to_string().contains("[header copy]"), "{err}");

        let other = SchemaBuilder::struct_schema()
            .field("a", Schema::int32())
            .build();
        let mut r = ConnectRecord::new("t", Value::Struct(Struct::new(other.clone()).unwrap()));
        r.value_schema = Some(other);
        let err = apply(&t, r).unwrap_err();
        assert!(err.to_string().contains("field1"), "{err}");

        let mut t = HeaderFrom::new(RecordPart::Value);
        let err = t
            .configure(&props(&[
                (FIELDS, "a,b"),
                (HEADERS, "h"),
                (OPERATION, "copy"),
            ]))
            .unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert_eq!(
            err.to_string(),
            "'fields' config must have the same number of elements as 'headers' config."
        );
        let err = t
            .configure(&props(&[
                (FIELDS, "a"),
                (HEADERS, "h"),
                (OPERATION, "steal"),
            ]))
            .unwrap_err();
        assert!(err.to_string().contains(OPERATION), "{err}");
    }
}
