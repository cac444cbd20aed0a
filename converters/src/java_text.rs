//! Text renderings that match the JVM's, so the bytes Sluice writes equal the bytes Kafka Connect
//! writes: `Double.toString`/`Float.toString`, `java.util.Date.toString`, and the ISO-8601 forms
//! `Values` uses for dates and times. All calendar arithmetic is proleptic Gregorian in UTC.

/// Milliseconds in one day.
pub(crate) const MILLIS_PER_DAY: i64 = 86_400_000;

/// Java's `Double.toString` (JDK 19 and later): the shortest decimal that rounds to the value
/// (at least two digits considered), the closest such one with ties to an even digit; plain
/// notation for magnitudes in `[1e-3, 1e7)` and `d.dddE±n` otherwise; `NaN`, `Infinity`,
/// `-Infinity` and `-0.0` as Java spells them.
pub(crate) fn double_to_string(v: f64) -> String {
    if let Some(special) =
        special_float_text(v.is_nan(), v.is_infinite(), v == 0.0, v.is_sign_negative())
    {
        return special;
    }
    let magnitude = v.abs();
    // Rust's `{:e}` gives a shortest round-trip decimal, but may break ties differently; Rust's
    // fixed-precision formatting rounds the exact value half-to-even, which is Java's choice.
    let shortest = format!("{magnitude:e}");
    let precision = significant_digits(&shortest).max(2) - 1;
    let closest = format!("{magnitude:.precision$e}");
    let chosen = if closest.parse::<f64>() == Ok(magnitude) {
        closest
    } else {
        shortest
    };
    java_layout(v.is_sign_negative(), &chosen)
}

/// Java's `Float.toString` (see [`double_to_string`]), using the shortest digits for an `f32`.
pub(crate) fn float_to_string(v: f32) -> String {
    if let Some(special) =
        special_float_text(v.is_nan(), v.is_infinite(), v == 0.0, v.is_sign_negative())
    {
        return special;
    }
    let magnitude = v.abs();
    let shortest = format!("{magnitude:e}");
    let precision = significant_digits(&shortest).max(2) - 1;
    let closest = format!("{magnitude:.precision$e}");
    let chosen = if closest.parse::<f32>() == Ok(magnitude) {
        closest
    } else {
        shortest
    };
    java_layout(v.is_sign_negative(), &chosen)
}

fn special_float_text(nan: bool, infinite: bool, zero: bool, negative: bool) -> Option<String> {
    let text = match (nan, infinite, zero, negative) {
        (true, ..) => "NaN",
        (_, true, _, false) => "Infinity",
        (_, true, _, true) => "-Infinity",
        (_, _, true, false) => "0.0",
        (_, _, true, true) => "-0.0",
        _ => return None,
    };
    Some(text.to_owned())
}

/// The number of mantissa digits in Rust's scientific rendering (`1.25e3` has 3).
fn significant_digits(scientific: &str) -> usize {
    scientific
        .split('e')
        .next()
        .map_or(1, |m| m.bytes().filter(u8::is_ascii_digit).count())
}

/// Lays out Rust's scientific rendering (`1.2345e-5`) the way Java does.
fn java_layout(negative: bool, scientific: &str) -> String {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let trimmed = digits.trim_end_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if (-3..7).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        out.push('E');
        out.push_str(&exponent.to_string());
    }
    out
}

/// The civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm, in 400-year eras starting on March 1st.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day count since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Splits milliseconds since the epoch into (days since the epoch, milliseconds into that day).
fn split_millis(millis: i64) -> (i64, i64) {
    (
        millis.div_euclid(MILLIS_PER_DAY),
        millis.rem_euclid(MILLIS_PER_DAY),
    )
}

fn push_time_of_day(out: &mut String, ms_of_day: i64, with_millis: bool) {
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if with_millis {
        out.push_str(&format!(".{ms:03}"));
    }
}

fn push_iso_date(out: &mut String, days: i64) {
    let (y, mo, d) = civil_from_days(days);
    out.push_str(&format!("{y:04}-{mo:02}-{d:02}"));
}

/// How `Values.convertToString` renders a `java.util.Date`: before one day after the epoch as a
/// time (`HH:mm:ss.SSSZ`), on a whole day as a date (`yyyy-MM-dd`), otherwise as a timestamp
/// (`yyyy-MM-ddTHH:mm:ss.SSSZ`). The choice depends on the value, not its schema, as in Kafka.
pub(crate) fn values_temporal_string(millis: i64) -> String {
    let (days, ms_of_day) = split_millis(millis);
    let mut out = String::with_capacity(24);
    if millis < MILLIS_PER_DAY {
        push_time_of_day(&mut out, ms_of_day, true);
        out.push('Z');
    } else if ms_of_day == 0 {
        push_iso_date(&mut out, days);
    } else {
        push_iso_date(&mut out, days);
        out.push('T');
        push_time_of_day(&mut out, ms_of_day, true);
        out.push('Z');
    }
    out
}

/// The ISO-8601 text of a date, time or timestamp in the form its type is parsed from.
pub(crate) fn iso_temporal(temporal: Temporal) -> String {
    let mut out = String::with_capacity(24);
    match temporal {
        Temporal::Date(days) => push_iso_date(&mut out, i64::from(days)),
        Temporal::Time(ms) => {
            push_time_of_day(&mut out, i64::from(ms).rem_euclid(MILLIS_PER_DAY), true);
            out.push('Z');
        }
        Temporal::Timestamp(ms) => {
            let (days, ms_of_day) = split_millis(ms);
            push_iso_date(&mut out, days);
            out.push('T');
            push_time_of_day(&mut out, ms_of_day, true);
            out.push('Z');
        }
    }
    out
}

/// `java.util.Date.toString()` in a UTC JVM: `Thu Jan 01 00:00:00 UTC 1970`.
pub(crate) fn java_date_to_string(millis: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, ms_of_day) = split_millis(millis);
    let (y, mo, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let month = MONTHS[(mo - 1) as usize];
    let mut out = format!("{weekday} {month} {d:02} ");
    push_time_of_day(&mut out, ms_of_day, false);
    out.push_str(&format!(" UTC {y}"));
    out
}

/// A date, time or timestamp recognised in text by [`match_temporal_prefix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Temporal {
    /// `yyyy-MM-dd`: days since the epoch.
    Date(i32),
    /// `HH:mm:ss.SSSZ`: milliseconds since midnight.
    Time(i32),
    /// `yyyy-MM-ddTHH:mm:ss.SSSZ`: milliseconds since the epoch.
    Timestamp(i64),
}

/// Reads `N` ASCII digits at `at` as a number.
fn digits_at(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = bytes.get(at..at + n)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn parse_date(bytes: &[u8]) -> Option<i64> {
    let (y, mo, d) = (
        digits_at(bytes, 0, 4)?,
        digits_at(bytes, 5, 2)?,
        digits_at(bytes, 8, 2)?,
    );
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let y = i64::from(y);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    Some(days_from_civil(y, mo, d))
}

fn parse_time(bytes: &[u8]) -> Option<i64> {
    let (h, m, s, ms) = (
        digits_at(bytes, 0, 2)?,
        digits_at(bytes, 3, 2)?,
        digits_at(bytes, 6, 2)?,
        digits_at(bytes, 9, 3)?,
    );
    let separators_ok = bytes.get(2) == Some(&b':')
        && bytes.get(5) == Some(&b':')
        && bytes.get(8) == Some(&b'.')
        && bytes.get(12) == Some(&b'Z');
    if !separators_ok || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(i64::from(((h * 60 + m) * 60 + s) * 1000 + ms))
}

/// Recognises the longest of the ISO-8601 forms `Values` writes (timestamp, time, date) at the
/// start of `text`, returning it and its length in bytes.
pub(crate) fn match_temporal_prefix(text: &str) -> Option<(Temporal, usize)> {
    let bytes = text.as_bytes();
    if bytes.len() >= 24
        && bytes[10] == b'T'
        && let (Some(days), Some(ms)) = (parse_date(&bytes[..10]), parse_time(&bytes[11..24]))
    {
        return Some((Temporal::Timestamp(days * MILLIS_PER_DAY + ms), 24));
    }
    if bytes.len() >= 13
        && let Some(ms) = parse_time(&bytes[..13])
    {
        return Some((Temporal::Time(ms as i32), 13));
    }
    if bytes.len() >= 10
        && let Some(days) = parse_date(&bytes[..10])
        && let Ok(days) = i32::try_from(days)
    {
        return Some((Temporal::Date(days), 10));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_render_like_java() {
        let cases: [(f64, &str); 16] = [
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (1e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (1.7976931348623157e308, "1.7976931348623157E308"),
            (2.5e-10, "2.5E-10"),
            (f64::from_bits(1), "4.9E-324"),
            (1.7390327326837662e14, "1.7390327326837662E14"),
        ];
        for (v, want) in cases {
            assert_eq!(double_to_string(v), want, "{v:?}");
        }
    }

    #[test]
    fn floats_render_like_java() {
        assert_eq!(float_to_string(0.1), "0.1");
        assert_eq!(float_to_string(3.4028235e38), "3.4028235E38");
        assert_eq!(float_to_string(1.1e-5), "1.1E-5");
        assert_eq!(float_to_string(42.0), "42.0");
        // 1495783.25 lies midway between two 8-digit decimals; Java takes the even one.
        assert_eq!(float_to_string(f32::from_bits(0x49b6_973a)), "1495783.2");
        assert_eq!(float_to_string(0.5), "0.5");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 11_016, 19_723, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn values_temporal_forms_follow_the_value() {
        assert_eq!(values_temporal_string(45_296_789), "12:34:56.789Z");
        assert_eq!(
            values_temporal_string(19_723 * MILLIS_PER_DAY),
            "2024-01-01"
        );
        assert_eq!(
            values_temporal_string(19_723 * MILLIS_PER_DAY + 45_296_789),
            "2024-01-01T12:34:56.789Z"
        );
        // The epoch day itself is below one day, so Kafka renders it as a time.
        assert_eq!(values_temporal_string(0), "00:00:00.000Z");
    }

    #[test]
    fn iso_temporal_text_parses_back() {
        for t in [
            Temporal::Date(0),
            Temporal::Date(19_723),
            Temporal::Time(0),
            Temporal::Time(45_296_789),
            Temporal::Timestamp(1_704_112_496_789),
        ] {
            let text = iso_temporal(t);
            assert_eq!(
                match_temporal_prefix(&text),
                Some((t, text.len())),
                "{text}"
            );
        }
        assert_eq!(iso_temporal(Temporal::Date(0)), "1970-01-01");
    }

    #[test]
    fn java_date_to_string_matches_jvm() {
        assert_eq!(java_date_to_string(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            java_date_to_string(1_704_112_496_000),
            "Mon Jan 01 12:34:56 UTC 2024"
        );
    }

    #[test]
    fn temporal_prefixes_are_recognised_strictly() {
        assert_eq!(
            match_temporal_prefix("2024-01-01"),
            Some((Temporal::Date(19_723), 10))
        );
        assert_eq!(
            match_temporal_prefix("12:34:56.789Z,"),
            Some((Temporal::Time(45_296_789), 13))
        );
        assert_eq!(
            match_temporal_prefix("2024-01-01T12:34:56.789Z"),
            Some((Temporal::Timestamp(1_704_112_496_789), 24))
        );
        assert_eq!(match_temporal_prefix("2023-02-29"), None);
        assert_eq!(match_temporal_prefix("24:00:00.000Z"), None);
        assert_eq!(match_temporal_prefix("20240101"), None);
    }
}
