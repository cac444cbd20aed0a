//! Configuration definitions (`org.apache.kafka.common.config.ConfigDef`).
//!
//! A plugin declares its settings once, as a [`ConfigDef`]: name, type, default, importance,
//! documentation, group, and an optional [`Validator`]. The same definition parses the user's
//! string properties into a typed [`Config`] and answers the REST `validate` call with one
//! [`ConfigValue`] (and its error messages) per key.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{ConnectError, Result};

/// String properties as users write them: connector and worker configs are flat string maps.
pub type Props = BTreeMap<String, String>;

/// What [`crate::Password`] values print as, everywhere: logs, errors, REST answers.
pub const HIDDEN: &str = "[hidden]";

/// The type of a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` or `false`, any case.
    Boolean,
    /// Text, trimmed.
    String,
    /// 32-bit integer.
    Int,
    /// 16-bit integer.
    Short,
    /// 64-bit integer.
    Long,
    /// Floating point number.
    Double,
    /// Comma-separated list, items trimmed; an empty string is an empty list.
    List,
    /// A plugin class name (or alias).
    Class,
    /// A secret: kept verbatim, and shown as `[hidden]`.
    Password,
}

impl ConfigType {
    /// Upper-case name as the REST API renders it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Int => "INT",
            Self::Short => "SHORT",
            Self::Long => "LONG",
            Self::Double => "DOUBLE",
            Self::List => "LIST",
            Self::Class => "CLASS",
            Self::Password => "PASSWORD",
        }
    }
}

/// How much a setting matters to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Most users set or read it.
    High,
    /// Some users need it.
    Medium,
    /// Rarely changed.
    Low,
}

impl Importance {
    /// Upper-case name as the REST API renders it.
    pub fn name(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }
}

/// Display width hint for UIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Width {
    /// No hint.
    #[default]
    None,
    /// A short value.
    Short,
    /// A medium value.
    Medium,
    /// A long value.
    Long,
}

impl Width {
    /// Upper-case name as the REST API renders it.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Short => "SHORT",
            Self::Medium => "MEDIUM",
            Self::Long => "LONG",
        }
    }
}

/// The default of a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: the user must set it.
    Required,
    /// Optional, and absent unless set.
    Null,
    /// This value (in its string form) unless set.
    Value(String),
}

/// A custom check: given the key name and the parsed value, an error message or nothing.
pub type CustomValidator =
    Arc<dyn Fn(&str, &ParsedValue) -> std::result::Result<(), String> + Send + Sync>;

/// Checks a parsed value beyond its type.
#[derive(Clone)]
pub enum Validator {
    /// A number within inclusive bounds.
    Range {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// One of a fixed set of strings.
    OneOf {
        /// The allowed values.
        values: Vec<String>,
        /// Whether case is ignored.
        case_insensitive: bool,
    },
    /// A string that is not empty.
    NonEmptyString,
    /// Anything else.
    Custom(CustomValidator),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Self::OneOf { values, .. } => write!(f, "OneOf({values:?})"),
            Self::NonEmptyString => f.write_str("NonEmptyString"),
            Self::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Validator {
    /// A value of at least `min`.
    pub fn at_least(min: f64) -> Self {
        Self::Range {
            min: Some(min),
            max: None,
        }
    }

    /// A value between `min` and `max` inclusive.
    pub fn between(min: f64, max: f64) -> Self {
        Self::Range {
            min: Some(min),
            max: Some(max),
        }
    }

    /// One of these strings, exactly.
    pub fn one_of(values: &[&str]) -> Self {
        Self::OneOf {
            values: values.iter().map(|s| s.to_string()).collect(),
            case_insensitive: false,
        }
    }

    /// One of these strings, ignoring case.
    pub fn one_of_ignore_case(values: &[&str]) -> Self {
        Self::OneOf {
            values: values.iter().map(|s| s.to_string()).collect(),
            case_insensitive: true,
        }
    }

    /// A custom check.
    pub fn custom(
        f: impl Fn(&str, &ParsedValue) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self::Custom(Arc::new(f))
    }

    fn check(&self, name: &str, value: &ParsedValue) -> std::result::Result<(), String> {
        match self {
            Self::Range { min, max } => {
                let Some(n) = value.as_f64() else {
                    return Ok(());
                };
                if let Some(min) = min
                    && n < *min
                {
                    return Err(format!(
                        "Invalid value {value} for configuration {name}: Value must be at least {}",
                        render_bound(*min)
                    ));
                }
                if let Some(max) = max
                    && n > *max
                {
                    return Err(format!(
                        "Invalid value {value} for configuration {name}: Value must be no more than {}",
                        render_bound(*max)
                    ));
                }
                Ok(())
            }
            Self::OneOf {
                values,
                case_insensitive,
            } => {
                let Some(s) = value.as_str() else {
                    return Ok(());
                };
                let found = values.iter().any(|v| {
                    if *case_insensitive {
                        v.eq_ignore_ascii_case(s)
                    } else {
                        v == s
                    }
                });
                if found {
                    Ok(())
                } else {
                    Err(format!(
                        "Invalid value {s} for configuration {name}: String must be one of: {}",
                        values.join(", ")
                    ))
                }
            }
            Self::NonEmptyString => match value.as_str() {
                Some("") => Err(format!(
                    "Invalid value  for configuration {name}: String must be non-empty"
                )),
                _ => Ok(()),
            },
            Self::Custom(f) => f(name, value),
        }
    }

    /// Values a UI may offer, for validators that know them.
    pub fn recommended_values(&self) -> Vec<String> {
        match self {
            Self::OneOf { values, .. } => values.clone(),
            _ => Vec::new(),
        }
    }
}

fn render_bound(b: f64) -> String {
    if b.fract() == 0.0 && b.abs() < 1e15 {
        format!("{}", b as i64)
    } else {
        b.to_string()
    }
}

/// A secret value. It prints as `[hidden]`; only [`Password::value`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call it only where the secret is used, never to log or answer.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

/// A setting's value after parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedValue {
    /// Absent optional value.
    Null,
    /// A boolean.
    Boolean(bool),
    /// A string or class name.
    String(String),
    /// An int.
    Int(i32),
    /// A short.
    Short(i16),
    /// A long.
    Long(i64),
    /// A double.
    Double(f64),
    /// A list.
    List(Vec<String>),
    /// A secret.
    Password(Password),
}

impl ParsedValue {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(v) => Some(f64::from(*v)),
            Self::Short(v) => Some(f64::from(*v)),
            Self::Long(v) => Some(*v as f64),
            Self::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// The string of a String or Class value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for ParsedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Boolean(v) => write!(f, "{v}"),
            Self::String(v) => f.write_str(v),
            Self::Int(v) => write!(f, "{v}"),
            Self::Short(v) => write!(f, "{v}"),
            Self::Long(v) => write!(f, "{v}"),
            Self::Double(v) => write!(f, "{v}"),
            Self::List(v) => f.write_str(&v.join(",")),
            Self::Password(_) => f.write_str(HIDDEN),
        }
    }
}

/// The definition of one setting.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    /// The key, e.g. `batch.size`.
    pub name: String,
    /// Its type.
    pub config_type: ConfigType,
    /// Its default.
    pub default: DefaultValue,
    /// How much it matters.
    pub importance: Importance,
    /// What it does, for users.
    pub documentation: String,
    /// Group shown by UIs and the validate call (e.g. "Common").
    pub group: Option<String>,
    /// Position within the group.
    pub order_in_group: i32,
    /// Display width hint.
    pub width: Width,
    /// Display name; the key when unset.
    pub display_name: Option<String>,
    /// Extra check after parsing.
    pub validator: Option<Validator>,
    /// Keys whose meaning depends on this one.
    pub dependents: Vec<String>,
}

impl ConfigKey {
    /// Starts a key definition with no group and no validator.
    pub fn new(
        name: impl Into<String>,
        config_type: ConfigType,
        default: DefaultValue,
        importance: Importance,
        documentation: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            config_type,
            default,
            importance,
            documentation: documentation.into(),
            group: None,
            order_in_group: -1,
            width: Width::None,
            display_name: None,
            validator: None,
            dependents: Vec::new(),
        }
    }

    /// Adds a validator.
    pub fn validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Places the key in a group at a position, with a width and display name.
    pub fn in_group(
        mut self,
        group: impl Into<String>,
        order: i32,
        width: Width,
        display_name: impl Into<String>,
    ) -> Self {
        self.group = Some(group.into());
        self.order_in_group = order;
        self.width = width;
        self.display_name = Some(display_name.into());
        self
    }

    /// Whether the key has no default.
    pub fn is_required(&self) -> bool {
        self.default == DefaultValue::Required
    }

    /// Parses a raw string into this key's type (Kafka's `ConfigDef.parseType`).
    pub fn parse_value(&self, raw: &str) -> std::result::Result<ParsedValue, String> {
        let name = &self.name;
        let trimmed = raw.trim();
        let bad = |kind: &str| {
            format!("Invalid value {trimmed} for configuration {name}: Not a number of type {kind}")
        };
        Ok(match self.config_type {
            ConfigType::Boolean => {
                if trimmed.eq_ignore_ascii_case("true") {
                    ParsedValue::Boolean(true)
                } else if trimmed.eq_ignore_ascii_case("false") {
                    ParsedValue::Boolean(false)
                } else {
                    return Err(format!(
                        "Invalid value {trimmed} for configuration {name}: Expected value to be either true or false"
                    ));
                }
            }
            ConfigType::String | ConfigType::Class => ParsedValue::String(trimmed.to_owned()),
            ConfigType::Password => ParsedValue::Password(Password::new(raw)),
            ConfigType::Int => ParsedValue::Int(trimmed.parse().map_err(|_| bad("INT"))?),
            ConfigType::Short => ParsedValue::Short(trimmed.parse().map_err(|_| bad("SHORT"))?),
            ConfigType::Long => ParsedValue::Long(trimmed.parse().map_err(|_| bad("LONG"))?),
            ConfigType::Double => ParsedValue::Double(trimmed.parse().map_err(|_| bad("DOUBLE"))?),
            ConfigType::List => ParsedValue::List(if trimmed.is_empty() {
                Vec::new()
            } else {
                trimmed.split(',').map(|s| s.trim().to_owned()).collect()
            }),
        })
    }
}

/// The result of checking one key, as the REST `validate` call reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    /// The key.
    pub name: String,
    /// The value as given (or the default), `[hidden]` for passwords.
    pub value: Option<String>,
    /// Values a UI may offer.
    pub recommended_values: Vec<String>,
    /// Error messages; empty when the value is fine.
    pub errors: Vec<String>,
    /// Whether a UI should show the key.
    pub visible: bool,
}

/// An ordered set of setting definitions.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    /// No settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; a later definition of the same name replaces the earlier one.
    pub fn define(mut self, key: ConfigKey) -> Self {
        self.keys.retain(|k| k.name != key.name);
        self.keys.push(key);
        self
    }

    /// Shorthand for [`ConfigDef::define`] with no group or validator.
    pub fn key(
        self,
        name: &str,
        config_type: ConfigType,
        default: DefaultValue,
        importance: Importance,
        documentation: &str,
    ) -> Self {
        self.define(ConfigKey::new(
            name,
            config_type,
            default,
            importance,
            documentation,
        ))
    }

    /// Adds every key of `other` (its definitions win on name clashes).
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for k in &other.keys {
            self = self.define(k.clone());
        }
        self
    }

    /// Adds every key of `other` under `prefix` (used for `transforms.NAME.` and friends).
    pub fn embed(mut self, prefix: &str, group: &str, other: &ConfigDef) -> Self {
        for k in &other.keys {
            let mut k = k.clone();
            k.name = format!("{prefix}{}", k.name);
            k.group = Some(group.to_owned());
            self = self.define(k);
        }
        self
    }

    /// The keys in definition order.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    /// Looks up a key by name.
    pub fn get(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The groups in first-seen order.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for k in &self.keys {
            if let Some(g) = &k.group
                && !groups.contains(g)
            {
                groups.push(g.clone());
            }
        }
        groups
    }

    /// Parses `props` into a typed [`Config`]; the first problem found is the error, naming the key.
    pub fn parse(&self, props: &Props) -> Result<Config> {
        let mut values = BTreeMap::new();
        for key in &self.keys {
            let parsed = match (props.get(&key.name), &key.default) {
                (Some(raw), _) => key.parse_value(raw).map_err(ConnectError::Config)?,
                (None, DefaultValue::Value(d)) => {
                    key.parse_value(d).map_err(ConnectError::Config)?
                }
                (None, DefaultValue::Null) => ParsedValue::Null,
                (None, DefaultValue::Required) => {
                    return Err(ConnectError::config(format!(
                        "Missing required configuration \"{}\" which has no default value.",
                        key.name
                    )));
                }
            };
            if let (Some(v), false) = (&key.validator, parsed == ParsedValue::Null) {
                v.check(&key.name, &parsed).map_err(ConnectError::Config)?;
            }
            values.insert(key.name.clone(), parsed);
        }
        Ok(Config {
            values,
            originals: props.clone(),
        })
    }

    /// Checks every key and reports each one's value and errors, without stopping at the first.
    pub fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.keys
            .iter()
            .map(|key| {
                let raw = props.get(&key.name).cloned().or(match &key.default {
                    DefaultValue::Value(d) => Some(d.clone()),
                    _ => None,
                });
                let mut errors = Vec::new();
                match &raw {
                    None if key.is_required() => errors.push(format!(
                        "Missing required configuration \"{}\" which has no default value.",
                        key.name
                    )),
                    None => {}
                    Some(raw) => match key.parse_value(raw) {
                        Ok(parsed) => {
                            if let Some(v) = &key.validator
                                && let Err(e) = v.check(&key.name, &parsed)
                            {
                                errors.push(e);
                            }
                        }
                        Err(e) => errors.push(e),
                    },
                }
                let shown = match key.config_type {
                    ConfigType::Password => raw.map(|_| HIDDEN.to_owned()),
                    _ => raw,
                };
                ConfigValue {
                    name: key.name.clone(),
                    value: shown,
                    recommended_values: key
                        .validator
                        .as_ref()
                        .map(Validator::recommended_values)
                        .unwrap_or_default(),
                    errors,
                    visible: true,
                }
            })
            .collect()
    }

    /// Renders `props` for a log line: password-typed keys are `[hidden]`.
    pub fn redact(&self, props: &Props) -> Props {
        props
            .iter()
            .map(|(k, v)| {
                let hidden = self
                    .get(k)
                    .is_some_and(|key| key.config_type == ConfigType::Password);
                (
                    k.clone(),
                    if hidden { HIDDEN.to_owned() } else { v.clone() },
                )
            })
            .collect()
    }
}

/// Parsed, typed settings. Getters for keys that are not defined return `None` (or the type's
/// empty value); a plugin asks only for keys its [`ConfigDef`] defines.
#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<String, ParsedValue>,
    originals: Props,
}

impl Config {
    /// The parsed value of a key.
    pub fn get(&self, name: &str) -> Option<&ParsedValue> {
        self.values.get(name)
    }

    /// A String or Class value; `None` when unset and without default.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(ParsedValue::as_str)
    }

    /// A Boolean value.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            ParsedValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// An Int value.
    pub fn int(&self, name: &str) -> Option<i32> {
        match self.get(name)? {
            ParsedValue::Int(v) => Some(*v),
            ParsedValue::Short(v) => Some(i32::from(*v)),
            _ => None,
        }
    }

    /// A Long (or Int) value.
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            ParsedValue::Long(v) => Some(*v),
            ParsedValue::Int(v) => Some(i64::from(*v)),
            ParsedValue::Short(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    /// A Double value.
    pub fn double(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            ParsedValue::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// A List value; empty when unset.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Some(ParsedValue::List(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// A Password value.
    pub fn password(&self, name: &str) -> Option<&Password> {
        match self.get(name)? {
            ParsedValue::Password(p) => Some(p),
            _ => None,
        }
    }

    /// The properties as given, including keys the definition does not know.
    pub fn originals(&self) -> &Props {
        &self.originals
    }

    /// The given properties whose key starts with `prefix`, with the prefix removed.
    pub fn originals_with_prefix(&self, prefix: &str) -> Props {
        strip_prefix(&self.originals, prefix)
    }
}

/// The entries of `props` whose key starts with `prefix`, with the prefix removed.
pub fn strip_prefix(props: &Props, prefix: &str) -> Props {
    props
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .map(|rest| (rest.to_owned(), v.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .key(
                "file",
                ConfigType::String,
                DefaultValue::Required,
                Importance::High,
                "file",
            )
            .define(
                ConfigKey::new(
                    "batch.size",
                    ConfigType::Int,
                    DefaultValue::Value("2000".into()),
                    Importance::Low,
                    "batch",
                )
                .validator(Validator::at_least(1.0)),
            )
            .key(
                "secret",
                ConfigType::Password,
                DefaultValue::Null,
                Importance::High,
                "pw",
            )
            .define(
                ConfigKey::new(
                    "mode",
                    ConfigType::String,
                    DefaultValue::Value("a".into()),
                    Importance::Low,
                    "mode",
                )
                .validator(Validator::one_of(&["a", "b"])),
            )
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_defaults_and_types() {
        let c = def().parse(&props(&[("file", " /tmp/x ")])).unwrap();
        assert_eq!(c.string("file"), Some("/tmp/x"));
        assert_eq!(c.int("batch.size"), Some(2000));
        assert!(c.password("secret").is_none());
    }

    #[test]
    fn missing_required_key_is_named() {
        let err = def().parse(&Props::new()).unwrap_err().to_string();
        assert!(err.contains("\"file\""), "{err}");
    }

    #[test]
    fn bad_number_and_range_are_reported() {
        let err = def()
            .parse(&props(&[("file", "f"), ("batch.size", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("batch.size") && err.contains("INT"), "{err}");
        let err = def()
            .parse(&props(&[("file", "f"), ("batch.size", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
    }

    #[test]
    fn validate_collects_every_error_and_hides_passwords() {
        let values = def().validate(&props(&[("mode", "c"), ("secret", "s3cret")]));
        let errors: Vec<_> = values.iter().flat_map(|v| v.errors.clone()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let secret = values.iter().find(|v| v.name == "secret").unwrap();
        assert_eq!(secret.value.as_deref(), Some(HIDDEN));
        let mode = values.iter().find(|v| v.name == "mode").unwrap();
        assert_eq!(mode.recommended_values, vec!["a", "b"]);
    }

    #[test]
    fn password_never_prints() {
        let p = Password::new("s3cret");
        assert_eq!(format!("{p} {p:?}"), "[hidden] [hidden]");
        assert_eq!(p.value(), "s3cret");
        let red = def().redact(&props(&[("secret", "s3cret"), ("file", "f")]));
        assert_eq!(red["secret"], HIDDEN);
        assert_eq!(red["file"], "f");
    }

    #[test]
    fn lists_split_and_trim() {
        let k = ConfigKey::new(
            "l",
            ConfigType::List,
            DefaultValue::Null,
            Importance::Low,
            "",
        );
        assert_eq!(
            k.parse_value(" a, b ,c").unwrap(),
            ParsedValue::List(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(k.parse_value("").unwrap(), ParsedValue::List(vec![]));
    }
}
