//! Typed values from configured literals, as Kafka's `Values.parseString` infers them (used by
//! `InsertHeader`'s `value.literal`).
//!
//! Covered: `null`, `true`/`false`, integers (as the smallest of int8..int64 that holds them),
//! decimals (float32, or float64 when float32 overflows), and ISO-8601 dates
//! (`yyyy-MM-dd`), times (`HH:mm:ss.SSSZ`) and timestamps (`yyyy-MM-ddTHH:mm:ss.SSSZ`), read as
//! UTC. Everything else, including Kafka's array (`[..]`) and map (`{..}`) literals and integers
//! too large for int64, stays a string.

use sluice_api::{Schema, SchemaRef, Value};

use crate::logical::{date_schema, days_from_civil, is_valid_date, time_schema, timestamp_schema};

/// The schema and value a literal stands for; `(None, Null)` for `null`.
pub fn parse_literal(text: &str) -> (Option<SchemaRef>, Value) {
    match text {
        "" => return (Some(Schema::string()), Value::from("")),
        "null" => return (None, Value::Null),
        "true" => return (Some(Schema::boolean()), Value::Boolean(true)),
        "false" => return (Some(Schema::boolean()), Value::Boolean(false)),
        _ => {}
    }
    let trimmed = text.trim();
    if let Some(parsed) = parse_temporal(trimmed).or_else(|| parse_number(trimmed)) {
        return parsed;
    }
    (Some(Schema::string()), Value::from(text))
}

/// A number in Java `BigDecimal` syntax: integral values become the smallest integer type,
/// others float32 (or float64 if float32 overflows).
fn parse_number(text: &str) -> Option<(Option<SchemaRef>, Value)> {
    // Kafka only tries a number when the text starts like one (so `.5` stays a string).
    if !text.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') {
        return None;
    }
    let number = DecimalText::parse(text)?;
    if let Some(integral) = number.exact_integer() {
        return Some(smallest_integer(integral));
    }
    // Integral values beyond int64 with no fraction written are a Decimal in Kafka: not covered.
    if number.scale == 0 {
        return None;
    }
    let as_f32: f32 = text.parse().ok()?;
    if as_f32.is_finite() {
        return Some((Some(Schema::float32()), Value::Float32(as_f32)));
    }
    let as_f64: f64 = text.parse().ok()?;
    as_f64
        .is_finite()
        .then(|| (Some(Schema::float64()), Value::Float64(as_f64)))
}

fn smallest_integer(v: i64) -> (Option<SchemaRef>, Value) {
    if let Ok(v) = i8::try_from(v) {
        (Some(Schema::int8()), Value::Int8(v))
    } else if let Ok(v) = i16::try_from(v) {
        (Some(Schema::int16()), Value::Int16(v))
    } else if let Ok(v) = i32::try_from(v) {
        (Some(Schema::int32()), Value::Int32(v))
    } else {
        (Some(Schema::int64()), Value::Int64(v))
    }
}

/// A decimal literal split as `BigDecimal` sees it: sign, digits, and scale (digits after the
/// point minus the exponent).
struct DecimalText {
    negative: bool,
    digits: String,
    scale: i64,
}

impl DecimalText {
    fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() && frac_part.is_empty()
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return None;
        }
        let exponent: i64 = match exponent {
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !all_digits(unsigned) {
                    return None;
                }
                e.parse().ok()?
            }
            None => 0,
        };
        let frac_len = i64::try_from(frac_part.len()).ok()?;
        Some(Self {
            negative,
            digits: format!("{int_part}{frac_part}"),
            scale: frac_len.checked_sub(exponent)?,
        })
    }

    /// The value as an int64 if it has no fractional part and fits.
    fn exact_integer(&self) -> Option<i64> {
        let digits = self.digits.trim_start_matches('0');
        if digits.is_empty() {
            return Some(0);
        }
        let integral_digits = if self.scale > 0 {
            let scale = usize::try_from(self.scale).ok()?;
            if scale >= digits.len() {
                // Only fraction digits, and they are not all zero.
                return None;
            }
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            if fraction.bytes().any(|b| b != b'0') {
                return None;
            }
            whole.to_owned()
        } else {
            let zeros = usize::try_from(-self.scale).ok()?;
            if digits.len() + zeros > 20 {
                return None;
            }
            format!("{digits}{}", "0".repeat(zeros))
        };
        let magnitude: i128 = integral_digits.parse().ok()?;
        let signed = if self.negative { -magnitude } else { magnitude };
        i64::try_from(signed).ok()
    }
}

/// An ISO-8601 date, time or timestamp of the exact shapes Kafka formats them in.
fn parse_temporal(text: &str) -> Option<(Option<SchemaRef>, Value)> {
    let text = text.replace("\\:", ":");
    let b = text.as_bytes();
    match b.len() {
        10 => {
            let days = parse_date(b)?;
            Some((
                Some(date_schema(false)),
                Value::Int32(i32::try_from(days).ok()?),
            ))
        }
        13 => {
            let millis = parse_time(b)?;
            Some((Some(time_schema(false)), Value::Int32(millis)))
        }
        24 if b[10] == b'T' => {
            let days = parse_date(&b[..10])?;
            let millis = parse_time(&b[11..])?;
            let epoch_millis = days.checked_mul(86_400_000)? + i64::from(millis);
            Some((Some(timestamp_schema(false)), Value::Int64(epoch_millis)))
        }
        _ => None,
    }
}

/// `yyyy-MM-dd` as days since the epoch.
fn parse_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits_value(&b[0..4])?;
    let month = digits_value(&b[5..7])?;
    let day = digits_value(&b[8..10])?;
    let (year, month, day) = (i64::from(year), month, day);
    is_valid_date(year, month, day).then(|| days_from_civil(year, month, day))
}

/// `HH:mm:ss.SSSZ` as milliseconds since midnight.
fn parse_time(b: &[u8]) -> Option<i32> {
    if b.len() != 13 || b[2] != b':' || b[5] != b':' || b[8] != b'.' || b[12] != b'Z' {
        return None;
    }
    let hours = digits_value(&b[0..2])?;
    let minutes = digits_value(&b[3..5])?;
    let seconds = digits_value(&b[6..8])?;
    let millis = digits_value(&b[9..12])?;
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    i32::try_from(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis).ok()
}

fn digits_value(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::SchemaType;

    fn typed(text: &str) -> (Option<SchemaType>, Value) {
        let (schema, value) = parse_literal(text);
        (schema.map(|s| s.schema_type), value)
    }

    #[test]
    fn keywords() {
        assert_eq!(typed("null"), (None, Value::Null));
        assert_eq!(
            typed("true"),
            (Some(SchemaType::Boolean), Value::Boolean(true))
        );
        assert_eq!(
            typed("false"),
            (Some(SchemaType::Boolean), Value::Boolean(false))
        );
        assert_eq!(
            typed("True"),
            (Some(SchemaType::String), Value::from("True"))
        );
        assert_eq!(typed(""), (Some(SchemaType::String), Value::from("")));
    }

    #[test]
    fn integers_take_the_smallest_type() {
        assert_eq!(typed("42"), (Some(SchemaType::Int8), Value::Int8(42)));
        assert_eq!(typed("-128"), (Some(SchemaType::Int8), Value::Int8(-128)));
        assert_eq!(typed("128"), (Some(SchemaType::Int16), Value::Int16(128)));
        assert_eq!(
            typed("+70000"),
            (Some(SchemaType::Int32), Value::Int32(70_000))
        );
        assert_eq!(
            typed("9223372036854775807"),
            (Some(SchemaType::Int64), Value::Int64(i64::MAX))
        );
        // BigDecimal sees 1.0 and 1e3 as integral.
        assert_eq!(typed("1.0"), (Some(SchemaType::Int8), Value::Int8(1)));
        assert_eq!(typed("1e3"), (Some(SchemaType::Int16), Value::Int16(1000)));
        assert_eq!(
            typed("2.50e2"),
            (Some(SchemaType::Int16), Value::Int16(250))
        );
    }

    #[test]
    fn fractions_are_floats() {
        assert_eq!(
            typed("1.5"),
            (Some(SchemaType::Float32), Value::Float32(1.5))
        );
        assert_eq!(
            typed("-0.25"),
            (Some(SchemaType::Float32), Value::Float32(-0.25))
        );
        assert_eq!(
            typed("1e40"),
            (Some(SchemaType::Float64), Value::Float64(1e40))
        );
    }

    #[test]
    fn other_text_stays_a_string() {
        for s in [
            ".5",
            "abc",
            "1.2.3",
            "12abc",
            "-",
            "1e",
            "e5",
            "[1,2]",
            "{a:1}",
            "99999999999999999999",
        ] {
            assert_eq!(typed(s), (Some(SchemaType::String), Value::from(s)), "{s}");
        }
    }

    #[test]
    fn temporals() {
        let (schema, value) = parse_literal("2024-02-29");
        assert_eq!(
            schema.unwrap().name.as_deref(),
            Some(sluice_api::data::logical::DATE)
        );
        assert_eq!(value, Value::Int32(19_782));
        let (schema, value) = parse_literal("01:02:03.004Z");
        assert_eq!(
            schema.unwrap().name.as_deref(),
            Some(sluice_api::data::logical::TIME)
        );
        assert_eq!(value, Value::Int32(3_723_004));
        let (schema, value) = parse_literal("1970-01-02T00:00:01.500Z");
        assert_eq!(
            schema.unwrap().name.as_deref(),
            Some(sluice_api::data::logical::TIMESTAMP)
        );
        assert_eq!(value, Value::Int64(86_401_500));
        // Impossible dates are plain strings.
        assert_eq!(typed("2023-02-29").1, Value::from("2023-02-29"));
    }
}
