//! The text forms of Kafka's `Values` class, which `SimpleHeaderConverter` uses: every value is
//! written as text (`convertToString`) and text is read back with an inferred schema
//! (`parseString`).
//!
//! Reading follows Kafka's rules: `true`/`false` are booleans; whole numbers take the smallest of
//! INT8..INT64 that holds them; other numbers are FLOAT32 when a float can hold their magnitude,
//! else FLOAT64, else a Decimal; ISO-8601 dates, times and timestamps become the logical types;
//! `[...]` and `{...}` become arrays and maps whose element schema is the common (widened numeric)
//! schema of their elements, if any. Anything else is a string. Where Kafka would quietly keep
//! only the leading part of the text (`1,2` read as `1`), Sluice keeps the whole text as a string.

use std::sync::Arc;

use sluice_api::data::logical;
use sluice_api::{Schema, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Value};

use crate::decimal::{BigDecimal, decimal_scale};
use crate::java_text::{
    MILLIS_PER_DAY, Temporal, double_to_string, float_to_string, iso_temporal,
    match_temporal_prefix, values_temporal_string,
};

/// `Values.convertToString`: strings as they are, numbers and booleans as Java prints them,
/// bytes as Base64, dates and times in ISO-8601, and containers in a JSON-like form whose nested
/// strings are quoted.
pub(crate) fn convert_to_string(schema: Option<&Schema>, value: &Value) -> String {
    let mut out = String::new();
    append(&mut out, value, schema, false);
    out
}

fn append(out: &mut String, value: &Value, schema: Option<&Schema>, embedded: bool) {
    let name = schema.and_then(|s| s.name.as_deref());
    match (name, value) {
        (_, Value::Null) => out.push_str("null"),
        (Some(logical::DECIMAL), Value::Bytes(unscaled)) => {
            match schema
                .and_then(|s| decimal_scale(s).ok())
                .and_then(|scale| BigDecimal::from_unscaled_bytes(unscaled, scale).ok())
            {
                Some(decimal) => out.push_str(&decimal.to_java_string()),
                None => append_bytes(out, unscaled, embedded),
            }
        }
        (Some(logical::DATE), Value::Int32(days)) => {
            out.push_str(&values_temporal_string(i64::from(*days) * MILLIS_PER_DAY))
        }
        (Some(logical::TIME), Value::Int32(ms)) => {
            out.push_str(&values_temporal_string(i64::from(*ms)))
        }
        (Some(logical::TIMESTAMP), Value::Int64(ms)) => out.push_str(&values_temporal_string(*ms)),
        (_, Value::Boolean(b)) => out.push_str(if *b { "true" } else { "false" }),
        // Written in place: a header converter formats an integer for every record.
        (_, Value::Int8(v)) => push_integer(out, *v),
        (_, Value::Int16(v)) => push_integer(out, *v),
        (_, Value::Int32(v)) => push_integer(out, *v),
        (_, Value::Int64(v)) => push_integer(out, *v),
        (_, Value::Float32(v)) => out.push_str(&float_to_string(*v)),
        (_, Value::Float64(v)) => out.push_str(&double_to_string(*v)),
        (_, Value::String(s)) if embedded => {
            out.push('"');
            out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        (_, Value::String(s)) => out.push_str(s),
        (_, Value::Bytes(b)) => append_bytes(out, b, embedded),
        (_, Value::Array(items)) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, item, item_schema, true);
            }
            out.push(']');
        }
        (_, Value::Map(entries)) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_deref());
            let value_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, k, key_schema, true);
                out.push(':');
                append(out, v, value_schema, true);
            }
            out.push('}');
        }
        (_, Value::Struct(s)) => {
            out.push('{');
            for (i, field) in s.schema().fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, &Value::String(field.name.clone()), None, true);
                out.push(':');
                let field_value = s.get(&field.name).unwrap_or(&Value::Null);
                append(out, field_value, Some(&field.schema), true);
            }
            out.push('}');
        }
    }
}

/// An integer in decimal, as Java prints it (itoa: without the formatting machinery).
fn push_integer(out: &mut String, value: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(value));
}

fn append_bytes(out: &mut String, bytes: &[u8], embedded: bool) {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    if embedded {
        out.push('"');
        out.push_str(&text);
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

/// Java's `String.trim`: strips characters up to and including the space.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Values.parseString`: the value and inferred schema of header text (see the module docs).
pub(crate) fn parse_string(text: &str) -> SchemaAndValue {
    let as_string = || SchemaAndValue::new(Some(Schema::string()), Value::String(text.to_owned()));
    let trimmed = java_trim(text);
    if trimmed.is_empty() {
        return as_string();
    }
    match trimmed {
        "null" => return SchemaAndValue::null(),
        "true" => return SchemaAndValue::new(Some(Schema::boolean()), Value::Boolean(true)),
        "false" => return SchemaAndValue::new(Some(Schema::boolean()), Value::Boolean(false)),
        _ => {}
    }
    if trimmed.starts_with(['[', '{']) {
        let mut parser = ValueParser { text, pos: 0 };
        if let Ok(Some((schema, value))) = parser.value() {
            parser.skip_whitespace();
            if parser.pos == text.len() {
                return SchemaAndValue::new(Some(schema), value);
            }
        }
    }
    let first = trimmed.as_bytes()[0];
    if first.is_ascii_digit()
        && let Some((temporal, len)) = match_temporal_prefix(trimmed)
        && len == trimmed.len()
    {
        let (schema, value) = temporal_value(temporal);
        return SchemaAndValue::new(Some(schema), value);
    }
    if (first.is_ascii_digit() || first == b'+' || first == b'-')
        && let Some((schema, value)) = parse_number(trimmed)
    {
        return SchemaAndValue::new(Some(schema), value);
    }
    as_string()
}

fn logical_schema(schema_type: SchemaType, name: &str) -> SchemaRef {
    SchemaBuilder::new(schema_type)
        .name(name)
        .version(1)
        .build()
}

fn temporal_value(temporal: Temporal) -> (SchemaRef, Value) {
    match temporal {
        Temporal::Date(days) => (
            logical_schema(SchemaType::Int32, logical::DATE),
            Value::Int32(days),
        ),
        Temporal::Time(ms) => (
            logical_schema(SchemaType::Int32, logical::TIME),
            Value::Int32(ms),
        ),
        Temporal::Timestamp(ms) => (
            logical_schema(SchemaType::Int64, logical::TIMESTAMP),
            Value::Int64(ms),
        ),
    }
}

/// A number's narrowest schema, as `Values.parseAsNumber` chooses it.
fn parse_number(token: &str) -> Option<(SchemaRef, Value)> {
    let decimal = BigDecimal::parse(token)?;
    if let Some(whole) = decimal.integral_value()
        && let Ok(whole) = i64::try_from(whole)
    {
        return Some(if let Ok(v) = i8::try_from(whole) {
            (Schema::int8(), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(whole) {
            (Schema::int16(), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(whole) {
            (Schema::int32(), Value::Int32(v))
        } else {
            (Schema::int64(), Value::Int64(whole))
        });
    }
    if decimal.scale() != 0 {
        let float = decimal.to_f32();
        if float.is_finite() {
            return Some((Schema::float32(), Value::Float32(float)));
        }
        let double = decimal.to_f64();
        if double.is_finite() {
            return Some((Schema::float64(), Value::Float64(double)));
        }
    }
    let schema = SchemaBuilder::new(SchemaType::Bytes)
        .name(logical::DECIMAL)
        .parameter(logical::DECIMAL_SCALE, decimal.scale().to_string())
        .version(1)
        .build();
    Some((schema, Value::Bytes(decimal.unscaled_bytes())))
}

/// The text could not be read as a structured value; the caller keeps it as a string.
struct Unparseable;

/// A parsed element: `None` is the `null` literal.
type Parsed = Option<(SchemaRef, Value)>;

struct ValueParser<'a> {
    text: &'a str,
    pos: usize,
}

impl ValueParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b <= b' ') {
            self.pos += 1;
        }
    }

    fn is_boundary(&self, at: usize) -> bool {
        match self.text.as_bytes().get(at) {
            None => true,
            Some(b) => *b <= b' ' || b",:{}[]\"".contains(b),
        }
    }

    /// An element inside an array or map (Kafka's "embedded" values).
    fn value(&mut self) -> Result<Parsed, Unparseable> {
        self.skip_whitespace();
        match self.peek() {
            None => Err(Unparseable),
            Some(b'"') => self.quoted(),
            Some(b'[') => self.array(),
            Some(b'{') => self.map(),
            Some(_) => self.token(),
        }
    }

    fn token(&mut self) -> Result<Parsed, Unparseable> {
        let rest = &self.text[self.pos..];
        if rest.as_bytes()[0].is_ascii_digit()
            && let Some((temporal, len)) = match_temporal_prefix(rest)
            && self.is_boundary(self.pos + len)
        {
            self.pos += len;
            return Ok(Some(temporal_value(temporal)));
        }
        let end = rest
            .find([',', ':', '{', '}', '[', ']', '"'])
            .unwrap_or(rest.len());
        let token = java_trim(&rest[..end]);
        self.pos += end;
        match token {
            "null" => Ok(None),
            "true" => Ok(Some((Schema::boolean(), Value::Boolean(true)))),
            "false" => Ok(Some((Schema::boolean(), Value::Boolean(false)))),
            _ if token.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') => {
                parse_number(token).map(Some).ok_or(Unparseable)
            }
            // Unquoted text inside a container is not a value.
            _ => Err(Unparseable),
        }
    }

    fn quoted(&mut self) -> Result<Parsed, Unparseable> {
        self.pos += 1;
        let mut content = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        loop {
            let Some((offset, c)) = chars.next() else {
                return Err(Unparseable);
            };
            match c {
                '"' => {
                    self.pos += offset + 1;
                    break;
                }
                // Undo the escaping `convertToString` applies to nested strings.
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => content.push(escaped),
                    Some((_, other)) => {
                        content.push('\\');
                        content.push(other);
                    }
                    None => return Err(Unparseable),
                },
                other => content.push(other),
            }
        }
        if let Some((temporal, len)) = match_temporal_prefix(&content)
            && len == content.len()
        {
            return Ok(Some(temporal_value(temporal)));
        }
        Ok(Some((Schema::string(), Value::String(content))))
    }

    fn array(&mut self) -> Result<Parsed, Unparseable> {
        self.pos += 1;
        let mut items: Vec<Parsed> = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') | None => return Err(Unparseable),
                Some(_) => {}
            }
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(Unparseable),
            }
        }
        let common = common_schema(items.iter().flatten().map(|(s, _)| s));
        let (item_schema, values) = match common {
            Some(schema) => {
                let values = items
                    .into_iter()
                    .map(|item| item.map(|(_, v)| widen(v, &schema)).ok_or(Unparseable))
                    .collect::<Result<Vec<_>, _>>()?;
                (Some(schema), values)
            }
            None => (
                None,
                items
                    .into_iter()
                    .map(|item| item.map_or(Value::Null, |(s, v)| detach(v, &s)))
                    .collect(),
            ),
        };
        Ok(Some((
            container_schema(SchemaType::Array, None, item_schema),
            Value::Array(values),
        )))
    }

    fn map(&mut self) -> Result<Parsed, Unparseable> {
        self.pos += 1;
        let mut entries: Vec<((SchemaRef, Value), Parsed)> = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') | None => return Err(Unparseable),
                Some(_) => {}
            }
            let key = self.value()?.ok_or(Unparseable)?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(Unparseable);
            }
            self.pos += 1;
            let value = self.value()?;
            self.skip_whitespace();
            // Kafka lets map entries go without a separating comma.
            if self.peek() == Some(b',') {
                self.pos += 1;
            }
            // A repeated key replaces the earlier value in place, like a LinkedHashMap.
            match entries.iter_mut().find(|(k, _)| k.1 == key.1) {
                Some(existing) => existing.1 = value,
                None => entries.push((key, value)),
            }
        }
        let key_common = common_schema(entries.iter().map(|((s, _), _)| s));
        let value_common = common_schema(
            entries
                .iter()
                .filter_map(|(_, v)| v.as_ref().map(|(s, _)| s)),
        );
        let (key_schema, value_schema) = match (key_common, value_common) {
            (Some(k), v) => (Some(k), v),
            (None, _) => (None, None),
        };
        let mut out = Vec::with_capacity(entries.len());
        for ((own_key_schema, key), value) in entries {
            let key = match &key_schema {
                Some(schema) => widen(key, schema),
                None => detach(key, &own_key_schema),
            };
            let value = match (&value_schema, value) {
                (Some(schema), Some((_, v))) => widen(v, schema),
                // A null among values that share a schema makes Kafka give up on the whole text.
                (Some(_), None) => return Err(Unparseable),
                (None, v) => v.map_or(Value::Null, |(s, v)| detach(v, &s)),
            };
            out.push((key, value));
        }
        Ok(Some((
            container_schema(SchemaType::Map, key_schema, value_schema),
            Value::Map(out),
        )))
    }
}

/// Makes a value understandable without its schema, for containers whose elements share none:
/// Kafka keeps `Date` or `BigDecimal` objects there, but Sluice's values need the schema to tell
/// a date from an int32 or a decimal from bytes, so logical values become their text.
fn detach(value: Value, schema: &Schema) -> Value {
    match (schema.name.as_deref(), value) {
        (Some(logical::DECIMAL), Value::Bytes(unscaled)) => {
            match decimal_scale(schema)
                .ok()
                .and_then(|scale| BigDecimal::from_unscaled_bytes(&unscaled, scale).ok())
            {
                Some(decimal) => Value::String(decimal.to_java_string()),
                None => Value::Bytes(unscaled),
            }
        }
        (Some(logical::DATE), Value::Int32(days)) => {
            Value::String(iso_temporal(Temporal::Date(days)))
        }
        (Some(logical::TIME), Value::Int32(ms)) => Value::String(iso_temporal(Temporal::Time(ms))),
        (Some(logical::TIMESTAMP), Value::Int64(ms)) => {
            Value::String(iso_temporal(Temporal::Timestamp(ms)))
        }
        (_, Value::Array(items)) => match &schema.value_schema {
            Some(item_schema) => Value::Array(
                items
                    .into_iter()
                    .map(|item| detach(item, item_schema))
                    .collect(),
            ),
            None => Value::Array(items),
        },
        (_, Value::Map(entries)) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let k = match &schema.key_schema {
                        Some(ks) => detach(k, ks),
                        None => k,
                    };
                    let v = match &schema.value_schema {
                        Some(vs) => detach(v, vs),
                        None => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        (_, other) => other,
    }
}

/// An array or map schema whose key or element schema may be absent ("of anything").
fn container_schema(
    schema_type: SchemaType,
    key_schema: Option<SchemaRef>,
    value_schema: Option<SchemaRef>,
) -> SchemaRef {
    let mut schema = Schema::clone(&SchemaBuilder::new(schema_type).build());
    schema.key_schema = key_schema;
    schema.value_schema = value_schema;
    Arc::new(schema)
}

fn numeric_rank(schema: &Schema) -> Option<u8> {
    if schema.name.is_some() {
        return None;
    }
    Some(match schema.schema_type {
        SchemaType::Int8 => 0,
        SchemaType::Int16 => 1,
        SchemaType::Int32 => 2,
        SchemaType::Int64 => 3,
        SchemaType::Float32 => 4,
        SchemaType::Float64 => 5,
        _ => return None,
    })
}

/// The schema all the given schemas fit in (`Values.SchemaMerger`): numbers widen to the widest
/// of them; other schemas must be equal. `None` when there are none or no common schema exists.
fn common_schema<'a>(schemas: impl Iterator<Item = &'a SchemaRef>) -> Option<SchemaRef> {
    let mut common: Option<SchemaRef> = None;
    for schema in schemas {
        common = Some(match common {
            None => schema.clone(),
            Some(previous) if previous == *schema => previous,
            Some(previous) => match (numeric_rank(&previous), numeric_rank(schema)) {
                (Some(p), Some(n)) if n > p => schema.clone(),
                (Some(_), Some(_)) => previous,
                _ => return None,
            },
        });
    }
    common
}

/// Converts a parsed number to a wider numeric schema; other values are returned unchanged.
fn widen(value: Value, to: &Schema) -> Value {
    let as_i64 = match &value {
        Value::Int8(v) => Some(i64::from(*v)),
        Value::Int16(v) => Some(i64::from(*v)),
        Value::Int32(v) => Some(i64::from(*v)),
        Value::Int64(v) => Some(*v),
        _ => None,
    };
    let as_f64 = match &value {
        Value::Float32(v) => Some(f64::from(*v)),
        _ => as_i64.map(|v| v as f64),
    };
    match (to.schema_type, as_i64, as_f64) {
        (SchemaType::Int16, Some(v), _) => i16::try_from(v).map_or(value, Value::Int16),
        (SchemaType::Int32, Some(v), _) => i32::try_from(v).map_or(value, Value::Int32),
        (SchemaType::Int64, Some(v), _) => Value::Int64(v),
        (SchemaType::Float32, _, Some(v)) if !matches!(value, Value::Float32(_)) => {
            Value::Float32(v as f32)
        }
        (SchemaType::Float64, _, Some(v)) => Value::Float64(v),
        _ => value,
    }
}
