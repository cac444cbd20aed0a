//! Rendering Connect values as text the way Kafka's file sink prints them (Java `toString`).

use sluice_api::Value;

/// Renders a value as Java's `String.valueOf(value)` would: strings as they are, numbers and
/// booleans as Java prints them, `null` for null, lists as `[a, b]`, maps as `{k=v, k2=v2}` and
/// structs as `Struct{f=v,g=w}` (null fields left out, as Kafka's `Struct.toString` does).
///
/// Bytes are the exception: Java prints a `byte[]` as an object identity (`[B@1b6d3586`), which is
/// of no use in a file, so they are written as text (invalid UTF-8 replaced by U+FFFD).
pub fn render_value(value: &Value) -> String {
    let mut out = String::new();
    render_into(value, &mut out);
    out
}

fn render_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(v) => out.push_str(&v.to_string()),
        Value::Int16(v) => out.push_str(&v.to_string()),
        Value::Int32(v) => out.push_str(&v.to_string()),
        Value::Int64(v) => out.push_str(&v.to_string()),
        Value::Float32(v) => out.push_str(&java_float_to_string(*v)),
        Value::Float64(v) => out.push_str(&java_double_to_string(*v)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(k, out);
                out.push('=');
                render_into(v, out);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push_str("Struct{");
            let mut first = true;
            for (field, v) in s.iter() {
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&field.name);
                out.push('=');
                render_into(v, out);
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString`: plain notation with at least one fractional digit for magnitudes in
/// [10^-3, 10^7), otherwise `d.dddE±n`; `NaN`, `Infinity`, `-Infinity` for the special values.
pub fn java_double_to_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // `{:e}` gives the shortest digits that round-trip, which is what Java prints as well.
    java_style(&format!("{v:e}"), v == 0.0, (1e-3..1e7).contains(&v.abs()))
}

/// Java's `Float.toString`, with the same rules as [`java_double_to_string`] at float precision.
pub fn java_float_to_string(v: f32) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    java_style(&format!("{v:e}"), v == 0.0, (1e-3..1e7).contains(&v.abs()))
}

/// Rewrites Rust's exponent form (`-1.25e-5`) into Java's notation.
fn java_style(exp_form: &str, is_zero: bool, plain: bool) -> String {
    let (negative, unsigned) = match exp_form.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, exp_form),
    };
    let sign = if negative { "-" } else { "" };
    if is_zero {
        return format!("{sign}0.0");
    }
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();

    if !plain {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        return format!("{sign}{first}.{rest}E{exponent}");
    }
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (int_part, frac_part) = digits.split_at(int_len);
        format!("{sign}{int_part}.{frac_part}")
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, SchemaBuilder, Struct};

    use super::*;

    #[test]
    fn doubles_print_like_java() {
        let cases = [
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (123.456, "123.456"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.0e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1.2345e10, "1.2345E10"),
            (-2.5e-7, "-2.5E-7"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(java_double_to_string(v), want, "{v}");
        }
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(java_float_to_string(0.1), "0.1");
        assert_eq!(java_float_to_string(3.0), "3.0");
        assert_eq!(java_float_to_string(1.0e10), "1.0E10");
        assert_eq!(java_float_to_string(f32::INFINITY), "Infinity");
    }

    #[test]
    fn containers_print_like_java_collections() {
        let list = Value::Array(vec![Value::Int32(1), "a".into(), Value::Null]);
        assert_eq!(render_value(&list), "[1, a, null]");
        let map = Value::Map(vec![
            ("k".into(), Value::Boolean(true)),
            ("n".into(), Value::Int64(-7)),
        ]);
        assert_eq!(render_value(&map), "{k=true, n=-7}");

        let schema = SchemaBuilder::struct_schema()
            .field("name", Schema::string())
            .field("note", Schema::optional_string())
            .field("age", Schema::int32())
            .build();
        let s = Struct::new(schema)
            .unwrap()
            .with("name", "ann")
            .unwrap()
            .with("age", 41)
            .unwrap();
        assert_eq!(render_value(&Value::Struct(s)), "Struct{name=ann,age=41}");
    }

    #[test]
    fn bytes_are_written_as_text() {
        assert_eq!(
            render_value(&Value::Bytes(b"raw line".to_vec())),
            "raw line"
        );
    }
}
