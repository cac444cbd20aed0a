//! Field paths as `ExtractField` and friends read them (KIP-821, `field.syntax.version`).
//!
//! `V1` treats the configured name as one top-level field, dots included. `V2` splits the path on
//! dots into nested steps; a step wrapped in backticks may contain dots, and a backtick inside such
//! a step is escaped with a backslash when it is followed by a dot.

use sluice_api::{
    ConfigKey, ConfigType, ConnectError, DefaultValue, Field, Importance, Result, Schema, Struct,
    Validator, Value,
};

use crate::requirements::{require_map, require_struct};

/// The setting that chooses the path syntax.
pub const FIELD_SYNTAX_VERSION: &str = "field.syntax.version";

/// Which path syntax applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxVersion {
    /// The whole text is one top-level field name.
    V1,
    /// Dotted nested paths with backtick quoting.
    V2,
}

impl SyntaxVersion {
    /// The `field.syntax.version` key definition (default `V1`, either case accepted).
    pub fn config_key() -> ConfigKey {
        ConfigKey::new(
            FIELD_SYNTAX_VERSION,
            ConfigType::String,
            DefaultValue::Value("V1".into()),
            Importance::High,
            "Field syntax version: V1 treats a field path as one top-level name; V2 reads dots as \
             nested steps, with backticks around a step that contains dots.",
        )
        .validator(Validator::one_of_ignore_case(&["V1", "V2"]))
    }

    /// The version named by a (validated) setting; anything but `V2` is `V1`.
    pub fn from_setting(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("V2") => Self::V2,
            _ => Self::V1,
        }
    }
}

/// A path to one field, possibly nested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    steps: Vec<String>,
}

const PURPOSE: &str = "nested field access";

impl FieldPath {
    /// Parses `path` with the given syntax; an unbalanced backtick is a config error.
    pub fn parse(path: &str, version: SyntaxVersion) -> Result<Self> {
        let steps = match version {
            SyntaxVersion::V1 => vec![path.to_owned()],
            SyntaxVersion::V2 => parse_v2(path)?,
        };
        Ok(Self { steps })
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// The field the path names in a struct schema, if every step exists.
    pub fn field_from<'a>(&self, schema: &'a Schema) -> Option<&'a Field> {
        let (last, parents) = self.steps.split_last()?;
        let mut current = schema;
        for step in parents {
            current = &current.field(step)?.schema;
        }
        current.field(last)
    }

    /// The value at the path in a struct (defaults applied when `with_defaults`), or null when a
    /// step is missing or null. A step that holds something other than a struct is an error naming `transform`.
    pub fn value_from_struct(
        &self,
        value: &Struct,
        with_defaults: bool,
        transform: &str,
    ) -> Result<Value> {
        let Some((last, parents)) = self.steps.split_last() else {
            return Ok(Value::Null);
        };
        let mut current = value;
        for step in parents {
            match current.get(step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(v) => current = require_struct(v, transform, PURPOSE)?,
            }
        }
        let found = if with_defaults {
            current.get(last)
        } else {
            current.get_without_default(last)
        };
        Ok(found.cloned().unwrap_or(Value::Null))
    }

    /// The value at the path in a schemaless map, or null when a step is missing or null. A step
    /// that holds something other than a map is an error naming `transform`.
    pub fn value_from_map(&self, value: &Value, transform: &str) -> Result<Value> {
        let Some((last, parents)) = self.steps.split_last() else {
            return Ok(Value::Null);
        };
        let mut current = value;
        for step in parents {
            match current.map_get(step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(v) => {
                    require_map(v, transform, PURPOSE)?;
                    current = v;
                }
            }
        }
        Ok(current.map_get(last).cloned().unwrap_or(Value::Null))
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.steps.join("."))
    }
}

fn incomplete_backticks(path: &str, at: usize) -> ConnectError {
    ConnectError::config(format!(
        "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick \
         at position {at} to escape it"
    ))
}

/// Splits a V2 path into steps (KIP-821 rules).
fn parse_v2(path: &str) -> Result<Vec<String>> {
    let chars: Vec<char> = path.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            let end = chars[i..].iter().position(|&c| c == '.').map(|p| i + p);
            match end {
                Some(dot) => {
                    steps.push(chars[i..dot].iter().collect());
                    i = dot + 1;
                }
                None => {
                    steps.push(chars[i..].iter().collect());
                    i = chars.len();
                }
            }
            continue;
        }
        // A quoted step ends at a backtick that is followed by a dot or ends the path and is not
        // escaped; other backticks belong to the name.
        let opened_at = i;
        let mut name = String::new();
        let mut j = i + 1;
        let mut start = j;
        loop {
            let Some(close) = chars[j..].iter().position(|&c| c == '`').map(|p| j + p) else {
                return Err(incomplete_backticks(path, opened_at));
            };
            let escaped = chars[close - 1] == '\\' && close - 1 > opened_at;
            if close + 1 >= chars.len() {
                if escaped {
                    return Err(incomplete_backticks(path, opened_at));
                }
                name.extend(&chars[start..close]);
                steps.push(name);
                i = close + 1;
                break;
            }
            if chars[close + 1] != '.' {
                j = close + 1;
                continue;
            }
            if escaped {
                name.extend(&chars[start..close - 1]);
                name.push('`');
                j = close + 1;
                start = j;
                continue;
            }
            name.extend(&chars[start..close]);
            steps.push(name);
            i = close + 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(path: &str) -> Vec<String> {
        FieldPath::parse(path, SyntaxVersion::V2)
            .unwrap()
            .steps()
            .to_vec()
    }

    #[test]
    fn v1_keeps_dots_in_one_name() {
        let p = FieldPath::parse("a.b", SyntaxVersion::V1).unwrap();
        assert_eq!(p.steps(), ["a.b"]);
    }

    #[test]
    fn v2_splits_on_dots_and_honours_backticks() {
        assert_eq!(v2("a.b.c"), ["a", "b", "c"]);
        assert_eq!(v2("`a.b`.c"), ["a.b", "c"]);
        assert_eq!(v2("a.`b.c`"), ["a", "b.c"]);
        assert_eq!(v2("`a`b`.c"), ["a`b", "c"]);
        assert_eq!(v2("`a\\`.b`.c"), ["a`.b", "c"]);
        assert_eq!(v2("a."), ["a", ""]);
        assert_eq!(v2("a..b"), ["a", "", "b"]);
    }

    #[test]
    fn v2_rejects_an_unclosed_backtick() {
        let err = FieldPath::parse("`a.b", SyntaxVersion::V2).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "Incomplete backtick pair in path: [`a.b], consider adding a backslash before \
             backtick at position 0 to escape it"
        );
        assert!(FieldPath::parse("`a\\`", SyntaxVersion::V2).is_err());
    }

    #[test]
    fn syntax_version_setting_is_case_insensitive() {
        assert_eq!(SyntaxVersion::from_setting(Some("v2")), SyntaxVersion::V2);
        assert_eq!(SyntaxVersion::from_setting(None), SyntaxVersion::V1);
    }
}
