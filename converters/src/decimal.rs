//! Just enough of `java.math.BigDecimal` for Connect's `Decimal` logical type: the unscaled value
//! as big-endian two's-complement bytes (what `BigInteger.toByteArray` writes), decimal text in and
//! out (what `new BigDecimal(String)` reads and `BigDecimal.toString` writes), and exact rescaling.

use sluice_api::data::logical;
use sluice_api::{ConnectError, Result, Schema};

/// The largest number of zeros an exact rescale may append; a guard against inputs such as
/// `1e999999999` asking for a billion digits.
const MAX_RESCALE_DIGITS: i64 = 10_000;

/// An arbitrary-precision decimal: `(-1)^negative × digits × 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BigDecimal {
    negative: bool,
    /// Decimal digits of the unscaled magnitude, without leading zeros (`"0"` for zero).
    digits: String,
    scale: i32,
}

/// The scale of a `Decimal` schema, from its `scale` parameter.
pub(crate) fn decimal_scale(schema: &Schema) -> Result<i32> {
    let raw = schema
        .parameters
        .get(logical::DECIMAL_SCALE)
        .ok_or_else(|| ConnectError::data("Invalid Decimal schema: scale parameter not found."))?;
    raw.parse().map_err(|_| {
        ConnectError::data(format!(
            "Invalid scale parameter found in Decimal schema: {raw}"
        ))
    })
}

impl BigDecimal {
    fn new(negative: bool, digits: &str, scale: i32) -> Self {
        let trimmed = digits.trim_start_matches('0');
        let digits = if trimmed.is_empty() { "0" } else { trimmed };
        Self {
            negative: negative && digits != "0",
            digits: digits.to_owned(),
            scale,
        }
    }

    /// The scale (digits after the decimal point; negative for trailing zeros left out).
    pub(crate) fn scale(&self) -> i32 {
        self.scale
    }

    /// Parses decimal text as `new BigDecimal(String)` does: an optional sign, digits with an
    /// optional point (`1.`, `.5`), and an optional exponent (`e-3`, `E+7`).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return None;
        }
        let exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !all_digits(unsigned) {
                    return None;
                }
                e.parse().ok()?
            }
        };
        let scale = i32::try_from(frac_part.len() as i64 - exponent).ok()?;
        Some(Self::new(
            negative,
            &format!("{int_part}{frac_part}"),
            scale,
        ))
    }

    /// Reads an unscaled two's-complement value (as `new BigInteger(byte[])` does) with a scale.
    pub(crate) fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> Result<Self> {
        let first = *bytes.first().ok_or_else(|| {
            ConnectError::data("Invalid Decimal value: the unscaled value has no bytes")
        })?;
        let negative = first & 0x80 != 0;
        let magnitude = if negative {
            negate(bytes)
        } else {
            bytes.to_vec()
        };
        Ok(Self::new(
            negative,
            &magnitude_to_decimal(&magnitude),
            scale,
        ))
    }

    /// The unscaled value as minimal big-endian two's complement (Java `BigInteger.toByteArray`).
    pub(crate) fn unscaled_bytes(&self) -> Vec<u8> {
        let mut magnitude = decimal_to_magnitude(&self.digits);
        if self.negative {
            let mut bytes = negate(&magnitude);
            if bytes[0] & 0x80 == 0 {
                bytes.insert(0, 0xFF);
            }
            bytes
        } else {
            if magnitude[0] & 0x80 != 0 {
                magnitude.insert(0, 0);
            }
            magnitude
        }
    }

    /// The same value with another scale, when that loses no digits (trailing zeros only).
    pub(crate) fn rescale_exact(&self, scale: i32) -> Option<Self> {
        let delta = i64::from(scale) - i64::from(self.scale);
        if delta == 0 || self.digits == "0" {
            return Some(Self {
                scale,
                ..self.clone()
            });
        }
        if delta > 0 {
            if delta > MAX_RESCALE_DIGITS {
                return None;
            }
            let mut digits = self.digits.clone();
            digits.extend(std::iter::repeat_n('0', delta as usize));
            return Some(Self {
                negative: self.negative,
                digits,
                scale,
            });
        }
        let drop = usize::try_from(-delta).ok()?;
        let keep = self.digits.len().checked_sub(drop)?;
        if keep == 0 || !self.digits[keep..].bytes().all(|b| b == b'0') {
            return None;
        }
        Some(Self::new(self.negative, &self.digits[..keep], scale))
    }

    /// The value as an integer, if it has no fractional part and fits in an `i128`.
    pub(crate) fn integral_value(&self) -> Option<i128> {
        let digits = if self.scale <= 0 {
            let zeros = usize::try_from(-i64::from(self.scale)).ok()?;
            if self.digits == "0" {
                return Some(0);
            }
            if self.digits.len() + zeros > 39 {
                return None;
            }
            let mut d = self.digits.clone();
            d.extend(std::iter::repeat_n('0', zeros));
            d
        } else {
            self.rescale_exact(0)?.digits
        };
        let magnitude: i128 = digits.parse().ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    fn scientific_text(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}e{}", self.digits, -i64::from(self.scale))
    }

    /// The nearest `f64` (infinite when out of range), as `BigDecimal.doubleValue`.
    pub(crate) fn to_f64(&self) -> f64 {
        self.scientific_text().parse().unwrap_or(f64::NAN)
    }

    /// The nearest `f32` (infinite when out of range), as `BigDecimal.floatValue`.
    pub(crate) fn to_f32(&self) -> f32 {
        self.scientific_text().parse().unwrap_or(f32::NAN)
    }

    /// `BigDecimal.toString`: plain notation unless the scale is negative or the value is tiny,
    /// then scientific with an explicit exponent sign (`1.5E+3`, `1E-7`).
    pub(crate) fn to_java_string(&self) -> String {
        let digits = &self.digits;
        let len = digits.len() as i64;
        let scale = i64::from(self.scale);
        let adjusted = -scale + (len - 1);
        let mut out = String::with_capacity(digits.len() + 8);
        if self.negative {
            out.push('-');
        }
        if scale >= 0 && adjusted >= -6 {
            if scale == 0 {
                out.push_str(digits);
            } else if len > scale {
                let point = (len - scale) as usize;
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (scale - len) as usize));
                out.push_str(digits);
            }
        } else {
            out.push_str(&digits[..1]);
            if len > 1 {
                out.push('.');
                out.push_str(&digits[1..]);
            }
            out.push('E');
            if adjusted > 0 {
                out.push('+');
            }
            out.push_str(&adjusted.to_string());
        }
        out
    }
}

/// Two's-complement negation of a big-endian byte string (same width).
fn negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (sum, overflow) = b.overflowing_add(1);
        *b = sum;
        if !overflow {
            break;
        }
    }
    out
}

/// Decimal digits of an unsigned big-endian magnitude.
fn magnitude_to_decimal(magnitude: &[u8]) -> String {
    const CHUNK: u64 = 1_000_000_000;
    let mut rest: Vec<u8> = magnitude.to_vec();
    let mut chunks: Vec<u32> = Vec::new();
    while rest.iter().any(|b| *b != 0) {
        let mut remainder: u64 = 0;
        for b in rest.iter_mut() {
            let acc = (remainder << 8) | u64::from(*b);
            *b = (acc / CHUNK) as u8;
            remainder = acc % CHUNK;
        }
        chunks.push(remainder as u32);
        let leading_zeros = rest.iter().take_while(|b| **b == 0).count();
        rest.drain(..leading_zeros);
    }
    let Some((most, lower)) = chunks.split_last() else {
        return "0".to_owned();
    };
    let mut out = most.to_string();
    for chunk in lower.iter().rev() {
        out.push_str(&format!("{chunk:09}"));
    }
    out
}

/// Unsigned big-endian magnitude (no leading zero bytes; `[0]` for zero) of decimal digits.
fn decimal_to_magnitude(digits: &str) -> Vec<u8> {
    // Little-endian base-256 accumulator.
    let mut acc: Vec<u8> = Vec::new();
    let bytes = digits.as_bytes();
    let first_chunk = bytes.len() % 9;
    let mut chunks: Vec<&[u8]> = Vec::new();
    if first_chunk > 0 {
        chunks.push(&bytes[..first_chunk]);
    }
    chunks.extend(bytes[first_chunk..].chunks(9));
    for chunk in chunks {
        let multiplier = 10u64.pow(chunk.len() as u32);
        let mut carry: u64 = chunk.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
        for b in acc.iter_mut() {
            let v = u64::from(*b) * multiplier + carry;
            *b = (v & 0xFF) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            acc.push((carry & 0xFF) as u8);
            carry >>= 8;
        }
    }
    while acc.len() > 1 && acc.last() == Some(&0) {
        acc.pop();
    }
    if acc.is_empty() {
        acc.push(0);
    }
    acc.reverse();
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> BigDecimal {
        BigDecimal::parse(text).unwrap()
    }

    #[test]
    fn unscaled_bytes_match_java_big_integer() {
        let cases: [(&str, &[u8]); 9] = [
            ("0", &[0x00]),
            ("1", &[0x01]),
            ("127", &[0x7F]),
            ("128", &[0x00, 0x80]),
            ("-1", &[0xFF]),
            ("-128", &[0x80]),
            ("-129", &[0xFF, 0x7F]),
            ("-256", &[0xFF, 0x00]),
            (
                "1234567890123456789012345",
                &[
                    0x01, 0x05, 0x6E, 0x0F, 0x36, 0xA6, 0x44, 0x3D, 0xE2, 0xDF, 0x79,
                ],
            ),
        ];
        for (text, bytes) in cases {
            let d = dec(text);
            assert_eq!(d.unscaled_bytes(), bytes, "{text}");
            let back = BigDecimal::from_unscaled_bytes(bytes, 0).unwrap();
            assert_eq!(back.to_java_string(), text);
        }
    }

    #[test]
    fn redundant_sign_bytes_are_dropped() {
        let d = BigDecimal::from_unscaled_bytes(&[0x00, 0x00, 0x05], 0).unwrap();
        assert_eq!(d.unscaled_bytes(), vec![0x05]);
        let d = BigDecimal::from_unscaled_bytes(&[0xFF, 0xFF, 0xFB], 0).unwrap();
        assert_eq!(d.to_java_string(), "-5");
        assert_eq!(d.unscaled_bytes(), vec![0xFB]);
        assert!(BigDecimal::from_unscaled_bytes(&[], 2).is_err());
    }

    #[test]
    fn to_string_follows_big_decimal_rules() {
        let cases = [
            ("10.2345", "10.2345"),
            ("-0.05", "-0.05"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("1e3", "1E+3"),
            ("1.50e3", "1.50E+3"),
            ("1234.5e-2", "12.345"),
            ("0.00", "0.00"),
            ("0e2", "0E+2"),
            ("+7", "7"),
            ("1.", "1"),
            (".5", "0.5"),
        ];
        for (input, want) in cases {
            assert_eq!(dec(input).to_java_string(), want, "{input}");
        }
    }

    #[test]
    fn parse_rejects_non_numbers() {
        for bad in [
            "", "-", ".", "1e", "1e+", "abc", "1.2.3", "1-2", "0x10", " 1",
        ] {
            assert!(BigDecimal::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn rescale_is_exact_or_refused() {
        assert_eq!(
            dec("12.3").rescale_exact(3).unwrap().to_java_string(),
            "12.300"
        );
        assert_eq!(
            dec("12.300").rescale_exact(1).unwrap().to_java_string(),
            "12.3"
        );
        assert!(dec("12.34").rescale_exact(1).is_none());
        assert_eq!(dec("0.000").rescale_exact(0).unwrap().to_java_string(), "0");
        assert!(dec("1").rescale_exact(1_000_000).is_none());
    }

    #[test]
    fn integral_values() {
        assert_eq!(dec("1.000").integral_value(), Some(1));
        assert_eq!(dec("-12e2").integral_value(), Some(-1200));
        assert_eq!(dec("1.5").integral_value(), None);
        assert_eq!(dec("1e40").integral_value(), None);
    }

    #[test]
    fn floating_conversions_round_correctly() {
        assert_eq!(dec("0.1").to_f64(), 0.1);
        assert_eq!(dec("-2.5e-3").to_f32(), -0.0025f32);
        assert!(dec("1e400").to_f64().is_infinite());
    }

    #[test]
    fn schema_scale_is_required() {
        let schema = sluice_api::SchemaBuilder::new(sluice_api::SchemaType::Bytes)
            .name(logical::DECIMAL)
            .build();
        assert!(decimal_scale(&schema).is_err());
    }
}
