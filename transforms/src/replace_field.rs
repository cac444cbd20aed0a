//! `ReplaceField$Key` / `ReplaceField$Value`: keeps, drops and renames fields.

use std::collections::{HashMap, HashSet};

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, SchemaRef, Struct, Transform, Validator, Value, async_trait,
};

use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::schema_util::copy_schema_basics;
use crate::validators::invalid;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.ReplaceField$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.ReplaceField$Value";

const EXCLUDE: &str = "exclude";
const INCLUDE: &str = "include";
const RENAMES: &str = "renames";
/// Deprecated name of `exclude` (Kafka before 3.0 documented it; still accepted).
const BLACKLIST: &str = "blacklist";
/// Deprecated name of `include`.
const WHITELIST: &str = "whitelist";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const PURPOSE: &str = "field replacement";

#[derive(Debug, Clone)]
struct Settings {
    exclude: HashSet<String>,
    include: HashSet<String>,
    renames: HashMap<String, String>,
    replace_null_with_default: bool,
}

impl Settings {
    fn keeps(&self, field: &str) -> bool {
        !self.exclude.contains(field) && (self.include.is_empty() || self.include.contains(field))
    }

    fn renamed<'a>(&'a self, field: &'a str) -> &'a str {
        self.renames.get(field).map_or(field, String::as_str)
    }
}

/// Renders a list as Java's `List.toString` does, for config messages.
fn java_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Parses `old:new` pairs as Kafka does (a Java `split(":")`, which drops trailing empty parts).
fn parse_renames(items: &[String]) -> std::result::Result<HashMap<String, String>, String> {
    let mut renames = HashMap::new();
    for mapping in items {
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        match parts.as_slice() {
            [from, to] => {
                renames.insert((*from).to_owned(), (*to).to_owned());
            }
            _ => {
                return Err(invalid(
                    RENAMES,
                    &java_list(items),
                    &format!("Invalid rename mapping: {mapping}"),
                ));
            }
        }
    }
    Ok(renames)
}

/// Drops the `exclude`d fields, keeps only the `include`d ones when that list is set (exclusion
/// wins), and renames fields per `renames`, on struct (deriving and caching the schema) and
/// schemaless map data. Null data passes through.
#[derive(Debug)]
pub struct ReplaceField {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
    schema_cache: SchemaCache,
}

impl ReplaceField {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("ReplaceField"),
            settings: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        let list = |name: &str, doc: &str| {
            ConfigKey::new(
                name,
                ConfigType::List,
                DefaultValue::Value(String::new()),
                Importance::Medium,
                doc,
            )
        };
        ConfigDef::new()
            .define(list(
                EXCLUDE,
                "Fields to exclude. This takes precedence over the fields to include.",
            ))
            .define(list(
                INCLUDE,
                "Fields to include. If specified, only these fields will be used.",
            ))
            .define(
                list(RENAMES, "Field rename mappings, e.g. foo:bar,abc:xyz.").validator(
                    Validator::custom(|_, value| match value {
                        sluice_api::config::ParsedValue::List(items) => {
                            parse_renames(items).map(|_| ())
                        }
                        _ => Ok(()),
                    }),
                ),
            )
            .define(list(BLACKLIST, "Deprecated. Use exclude instead."))
            .define(list(WHITELIST, "Deprecated. Use include instead."))
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null fields with a default value are copied as that default.",
            ))
    }

    fn updated_schema(settings: &Settings, schema: &SchemaRef) -> SchemaRef {
        let mut builder = copy_schema_basics(schema);
        for field in &schema.fields {
            if settings.keeps(&field.name) {
                builder = builder.field(settings.renamed(&field.name), field.schema.clone());
            }
        }
        builder.build()
    }
}

#[async_trait]
impl Transform for ReplaceField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        // The deprecated names count only when the new ones are not set.
        let set_or_deprecated = |key: &str, old: &str| {
            if props.contains_key(key) || !props.contains_key(old) {
                config.list(key)
            } else {
                tracing::warn!("ReplaceField: '{old}' is deprecated; use '{key}'");
                config.list(old)
            }
        };
        let renames = parse_renames(&config.list(RENAMES)).map_err(ConnectError::config)?;
        self.settings = Some(Settings {
            exclude: set_or_deprecated(EXCLUDE, BLACKLIST).into_iter().collect(),
            include: set_or_deprecated(INCLUDE, WHITELIST).into_iter().collect(),
            renames,
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
        if value.is_null() {
            return Ok(Some(record));
        }
        if self.part.schema(&record).is_none() {
            let entries = require_map(value, &self.name, PURPOSE)?;
            let mut updated: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let Some(name) = k.as_str() else {
                    updated.push((k.clone(), v.clone()));
                    continue;
                };
                if settings.keeps(name) {
                    let new_key = Value::from(settings.renamed(name));
                    // Two fields renamed to one name: the later wins, as with a Java map.
                    updated.retain(|(existing, _)| existing != &new_key);
                    updated.push((new_key, v.clone()));
                }
            }
            self.part.set(&mut record, None, Value::Map(updated));
        } else {
            let original = require_struct(value, &self.name, PURPOSE)?;
            let schema = self
                .schema_cache
                .get_or_derive(original.schema(), |s| Ok(Self::updated_schema(settings, s)))?;
            let mut updated = Struct::new(schema.clone())?;
            for (field, v) in original.iter() {
                if !settings.keeps(&field.name) {
                    continue;
                }
                let v = match (&field.schema.default_value, v) {
                    (Some(d), Value::Null) if settings.replace_null_with_default => d,
                    _ => v,
                };
                updated.put(settings.renamed(&field.name), v.clone())?;
            }
            self.part
                .set(&mut record, Some(schema), Value::Struct(updated));
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, SchemaBuilder, SchemaType};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(pairs: &[(&str, &str)]) -> ReplaceField {
        let mut t = ReplaceField::new(RecordPart::Value);
        t.configure(&props(pairs)).unwrap();
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

    fn sample_map() -> Value {
        map(vec![
            ("dont", Value::from("whatever")),
            ("abc", Value::Int32(42)),
            ("foo", Value::Boolean(true)),
            ("etc", Value::from("etc")),
        ])
    }

    #[test]
    fn schemaless_exclude_and_rename() {
        let t = configured(&[(EXCLUDE, "dont"), (RENAMES, "abc:xyz,foo:bar")]);
        let out = apply(&t, ConnectRecord::new("t", sample_map()))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            map(vec![
                ("xyz", Value::Int32(42)),
                ("bar", Value::Boolean(true)),
                ("etc", Value::from("etc")),
            ])
        );
    }

    #[test]
    fn schemaless_include_and_exclude_precedence() {
        let t = configured(&[(INCLUDE, "abc,foo,dont"), (EXCLUDE, "dont")]);
        let out = apply(&t, ConnectRecord::new("t", sample_map()))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            map(vec![
                ("abc", Value::Int32(42)),
                ("foo", Value::Boolean(true))
            ])
        );
    }

    #[test]
    fn deprecated_names_still_work() {
        let t = configured(&[(BLACKLIST, "dont,etc"), (WHITELIST, "abc,dont,etc")]);
        let out = apply(&t, ConnectRecord::new("t", sample_map()))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, map(vec![("abc", Value::Int32(42))]));
        // The new name wins when both are set.
        let t = configured(&[(BLACKLIST, "abc"), (EXCLUDE, "dont")]);
        let out = apply(&t, ConnectRecord::new("t", sample_map()))
            .unwrap()
            .unwrap();
        assert!(out.value.map_get("abc").is_some());
        assert!(out.value.map_get("dont").is_none());
    }

    #[test]
    fn struct_fields_are_filtered_and_renamed() {
        let schema = SchemaBuilder::struct_schema()
            .name("rec")
            .version(2)
            .field("dont", Schema::string())
            .field("abc", Schema::int32())
            .field("foo", Schema::boolean())
            .field(
                "etc",
                SchemaBuilder::new(SchemaType::String)
                    .optional()
                    .default_value(Value::from("dflt"))
                    .build(),
            )
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("dont", "whatever")
            .unwrap()
            .with("abc", 42)
            .unwrap()
            .with("foo", true)
            .unwrap();
        let mut r = ConnectRecord::new("t", Value::Struct(value));
        r.value_schema = Some(schema);
        let t = configured(&[(EXCLUDE, "dont"), (RENAMES, "abc:xyz,foo:bar")]);
        let out = apply(&t, r.clone()).unwrap().unwrap();
        let s = out.value_schema.unwrap();
        let names: Vec<_> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["xyz", "bar", "etc"]);
        assert_eq!((s.name.as_deref(), s.version), (Some("rec"), Some(2)));
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get_without_default("xyz"), Some(&Value::Int32(42)));
        assert_eq!(v.get_without_default("bar"), Some(&Value::Boolean(true)));
        assert_eq!(v.get_without_default("etc"), Some(&Value::from("dflt")));

        let t = configured(&[(INCLUDE, "etc"), (REPLACE_NULL_WITH_DEFAULT, "false")]);
        let out = apply(&t, r).unwrap().unwrap();
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get_without_default("etc"), Some(&Value::Null));
    }

    #[test]
    fn errors_and_tombstones() {
        let t = configured(&[(EXCLUDE, "a")]);
        let r = ConnectRecord::new("t", Value::Null);
        assert_eq!(apply(&t, r.clone()).unwrap().unwrap(), r);
        let err = apply(&t, ConnectRecord::new("t", Value::Int32(1))).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert!(err.to_string().contains("[field replacement]"), "{err}");

        let mut t = ReplaceField::new(RecordPart::Key);
        let err = t.configure(&props(&[(RENAMES, "a:b,c")])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert_eq!(
            err.to_string(),
            "Invalid value [a:b, c] for configuration renames: Invalid rename mapping: c"
        );
        assert!(t.configure(&props(&[(RENAMES, "a:b:c")])).is_err());
    }
}
