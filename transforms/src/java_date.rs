//! Java `SimpleDateFormat` patterns, formatted and parsed in UTC without a JVM.
//!
//! `TimestampConverter`, `TimestampRouter` and `Cast` take Java date patterns in their settings.
//! This module compiles such a pattern and applies it to milliseconds since the epoch, always in
//! UTC (as Kafka's transforms configure their formats).
//!
//! Supported letters: `G` (era, AD/BC), `y` and `Y` (year, `Y` read as the calendar year; `yy` is
//! two digits, other counts pad), `M`/`L` (month: 1-2 letters numeric, 3 a short name,
//! 4+ a full name), `d` (day of month), `D` (day of year), `E` (day name: 1-3 letters short, 4+
//! full), `u` (day of week, 1 = Monday), `a` (AM/PM), `H` (hour 0-23), `k` (1-24), `K` (0-11),
//! `h` (1-12), `m`, `s`, `S` (milliseconds, as a number padded to the letter count, as Java does),
//! `z` (`UTC`), `Z` (`+0000`), `X` (`Z`, or `+00`, `+0000`, `+00:00` when parsing), and quoted
//! text (`'T'`, `''` for a quote). Any other letter is rejected when the pattern is compiled.

use crate::logical::{days_from_civil, is_valid_date};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const MILLIS_PER_DAY: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

/// A compiled `SimpleDateFormat` pattern (UTC only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaDateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

/// Calendar fields of an instant in UTC.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    day_of_year: i64,
    /// 0 = Monday.
    weekday: usize,
    millis_of_day: i64,
}

/// Year, month and day of a day count from 1970-01-01 (inverse of `days_from_civil`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Civil {
    fn of(millis: i64) -> Self {
        let days = millis.div_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            day_of_year: days - days_from_civil(year, 1, 1) + 1,
            // 1970-01-01 was a Thursday.
            weekday: (days + 3).rem_euclid(7) as usize,
            millis_of_day: millis.rem_euclid(MILLIS_PER_DAY),
        }
    }
}

fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let digits = value.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

impl JavaDateFormat {
    /// Compiles `pattern`, or explains which part is not supported.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("Unterminated quote in pattern '{pattern}'")),
                        Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                            literal.push('\'');
                            j += 2;
                        }
                        Some('\'') => break,
                        Some(&other) => {
                            literal.push(other);
                            j += 1;
                        }
                    }
                }
                i = j + 1;
            } else if c.is_ascii_alphabetic() {
                if !"GyYMLdDEuaHkKhmsSzZX".contains(c) {
                    return Err(format!(
                        "Unsupported pattern letter '{c}' in date format '{pattern}'"
                    ));
                }
                let mut count = 1;
                while chars.get(i + count) == Some(&c) {
                    count += 1;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field(c, count));
                i += count;
            } else {
                literal.push(c);
                i += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as configured.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the epoch, in UTC.
    pub fn format(&self, millis: i64) -> String {
        let c = Civil::of(millis);
        let hour = c.millis_of_day / 3_600_000;
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Field(letter, n) => {
                    let n = *n;
                    match letter {
                        'G' => out.push_str(if c.year > 0 { "AD" } else { "BC" }),
                        'y' | 'Y' => {
                            // Java shows the year of era: 1 BC is year 1.
                            let year = if c.year > 0 { c.year } else { 1 - c.year };
                            if n == 2 {
                                pad(&mut out, year % 100, 2);
                            } else {
                                pad(&mut out, year, n);
                            }
                        }
                        'M' | 'L' if n >= 4 => out.push_str(MONTHS[c.month as usize - 1]),
                        'M' | 'L' if n == 3 => out.push_str(&MONTHS[c.month as usize - 1][..3]),
                        'M' | 'L' => pad(&mut out, i64::from(c.month), n),
                        'd' => pad(&mut out, i64::from(c.day), n),
                        'D' => pad(&mut out, c.day_of_year, n),
                        'E' if n >= 4 => out.push_str(DAYS[c.weekday]),
                        'E' => out.push_str(&DAYS[c.weekday][..3]),
                        'u' => pad(&mut out, c.weekday as i64 + 1, n),
                        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                        'H' => pad(&mut out, hour, n),
                        'k' => pad(&mut out, if hour == 0 { 24 } else { hour }, n),
                        'K' => pad(&mut out, hour % 12, n),
                        'h' => pad(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, n),
                        'm' => pad(&mut out, c.millis_of_day / 60_000 % 60, n),
                        's' => pad(&mut out, c.millis_of_day / 1000 % 60, n),
                        'S' => pad(&mut out, c.millis_of_day % 1000, n),
                        'z' => out.push_str(if n >= 4 {
                            "Coordinated Universal Time"
                        } else {
                            "UTC"
                        }),
                        'Z' => out.push_str("+0000"),
                        _ => out.push('Z'),
                    }
                }
            }
        }
        out
    }

    /// Parses text in this format to milliseconds since the epoch (UTC unless the text carries
    /// an offset). Fields the pattern lacks default to 1970-01-01T00:00:00.000.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let fail = || format!("Unparseable date: \"{text}\"");
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0;
        let (mut year, mut month, mut day) = (1970i64, 1u32, 1u32);
        let mut day_of_year: Option<i64> = None;
        let (mut hour, mut minute, mut second, mut millis) = (0i64, 0i64, 0i64, 0i64);
        let mut pm: Option<bool> = None;
        let mut hour_12 = false;
        let mut offset_minutes = 0i64;
        let mut bc = false;
        for (index, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(s) => {
                    for expected in s.chars() {
                        if chars.get(pos) != Some(&expected) {
                            return Err(fail());
                        }
                        pos += 1;
                    }
                }
                Token::Field(letter, n) => {
                    // A numeric field directly followed by another numeric field takes exactly
                    // its letter count of digits ("yyyyMMdd"), otherwise all digits available.
                    let next_is_numeric = matches!(
                        self.tokens.get(index + 1),
                        Some(Token::Field(l, m)) if is_numeric(*l, *m)
                    );
                    let limit = next_is_numeric.then_some(*n);
                    match letter {
                        'y' | 'Y' => {
                            let start = pos;
                            let v = read_number(&chars, &mut pos, limit).ok_or_else(fail)?;
                            // Two-digit years land within 80 years before and 20 after now;
                            // without a clock here, 2000-based is the common case.
                            year = if *n <= 2 && pos - start == 2 {
                                2000 + v
                            } else {
                                v
                            };
                        }
                        'M' | 'L' if *n >= 3 => {
                            month =
                                match_name(&chars, &mut pos, &MONTHS).ok_or_else(fail)? as u32 + 1;
                        }
                        'M' | 'L' => {
                            month = u32::try_from(
                                read_number(&chars, &mut pos, limit).ok_or_else(fail)?,
                            )
                            .map_err(|_| fail())?
                        }
                        'd' => {
                            day = u32::try_from(
                                read_number(&chars, &mut pos, limit).ok_or_else(fail)?,
                            )
                            .map_err(|_| fail())?
                        }
                        'D' => {
                            day_of_year =
                                Some(read_number(&chars, &mut pos, limit).ok_or_else(fail)?)
                        }
                        'E' => {
                            match_name(&chars, &mut pos, &DAYS).ok_or_else(fail)?;
                        }
                        'u' => {
                            read_number(&chars, &mut pos, limit).ok_or_else(fail)?;
                        }
                        'G' => {
                            bc = match_name(&chars, &mut pos, &["AD", "BC"]).ok_or_else(fail)? == 1;
                        }
                        'a' => {
                            pm = Some(
                                match_name(&chars, &mut pos, &["AM", "PM"]).ok_or_else(fail)? == 1,
                            );
                        }
                        'H' => hour = read_number(&chars, &mut pos, limit).ok_or_else(fail)?,
                        'k' => hour = read_number(&chars, &mut pos, limit).ok_or_else(fail)? % 24,
                        'K' => {
                            hour = read_number(&chars, &mut pos, limit).ok_or_else(fail)?;
                            hour_12 = true;
                        }
                        'h' => {
                            hour = read_number(&chars, &mut pos, limit).ok_or_else(fail)? % 12;
                            hour_12 = true;
                        }
                        'm' => minute = read_number(&chars, &mut pos, limit).ok_or_else(fail)?,
                        's' => second = read_number(&chars, &mut pos, limit).ok_or_else(fail)?,
                        'S' => millis = read_number(&chars, &mut pos, limit).ok_or_else(fail)?,
                        _ => offset_minutes = parse_zone(&chars, &mut pos).ok_or_else(fail)?,
                    }
                }
            }
        }
        if pos != chars.len() {
            // Java's DateFormat.parse(String) ignores trailing text.
            tracing::trace!(text, "ignoring text after the date");
        }
        if bc {
            year = 1 - year;
        }
        if hour_12 && pm == Some(true) {
            hour += 12;
        }
        let days = match day_of_year {
            Some(d) => days_from_civil(year, 1, 1) + d - 1,
            None => {
                if !is_valid_date(year, month, day) {
                    return Err(fail());
                }
                days_from_civil(year, month, day)
            }
        };
        if hour > 23 || minute > 59 || second > 59 || millis > 999 {
            return Err(fail());
        }
        Ok(
            days * MILLIS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis
                - offset_minutes * 60_000,
        )
    }
}

/// Reads an optionally negative number of at most `limit` digits (all digits without a limit).
fn read_number(chars: &[char], pos: &mut usize, limit: Option<usize>) -> Option<i64> {
    let start = *pos;
    let negative = chars.get(*pos) == Some(&'-');
    if negative {
        *pos += 1;
    }
    let digits_start = *pos;
    while *pos < chars.len()
        && chars[*pos].is_ascii_digit()
        && limit.is_none_or(|l| *pos - digits_start < l)
    {
        *pos += 1;
    }
    if *pos == digits_start {
        *pos = start;
        return None;
    }
    let digits: String = chars[digits_start..*pos].iter().collect();
    let v: i64 = digits.parse().ok()?;
    Some(if negative { -v } else { v })
}

fn is_numeric(letter: char, count: usize) -> bool {
    match letter {
        'M' | 'L' => count < 3,
        _ => "yYdDuHkKhmsS".contains(letter),
    }
}

/// Matches a full or three-letter name, case-insensitively; its index.
fn match_name(chars: &[char], pos: &mut usize, names: &[&str]) -> Option<usize> {
    let rest: String = chars[*pos..]
        .iter()
        .collect::<String>()
        .to_ascii_lowercase();
    // Full names first, so "May" is not cut short and "June" wins over "Jun".
    for (i, name) in names.iter().enumerate() {
        if rest.starts_with(&name.to_ascii_lowercase()) {
            *pos += name.chars().count();
            return Some(i);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let short = name.get(..3)?.to_ascii_lowercase();
        if rest.starts_with(&short) {
            *pos += 3;
            return Some(i);
        }
    }
    None
}

/// Parses `Z`, `UTC`, `GMT`, or `±HH`, `±HHMM`, `±HH:MM`; minutes east of UTC.
fn parse_zone(chars: &[char], pos: &mut usize) -> Option<i64> {
    let rest: String = chars[*pos..].iter().collect();
    for name in ["UTC", "GMT", "Z"] {
        if rest.starts_with(name) {
            *pos += name.len();
            if !matches!(chars.get(*pos), Some('+' | '-')) {
                return Some(0);
            }
        }
    }
    let sign = match chars.get(*pos)? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    *pos += 1;
    let mut digits = String::new();
    while let Some(c) = chars.get(*pos) {
        if c.is_ascii_digit() {
            digits.push(*c);
        } else if *c == ':' && digits.len() == 2 {
            // separator between hours and minutes
        } else {
            break;
        }
        *pos += 1;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, millis: i64) -> String {
        JavaDateFormat::new(pattern).unwrap().format(millis)
    }

    fn parse(pattern: &str, text: &str) -> i64 {
        JavaDateFormat::new(pattern).unwrap().parse(text).unwrap()
    }

    // 2017-01-01T00:00:00Z, Kafka's test date, and a moment with every field set.
    const NEW_YEAR_2017: i64 = 1_483_228_800_000;
    const SAMPLE: i64 = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z, a Tuesday

    #[test]
    fn civil_round_trips() {
        for days in [-800_000, -1, 0, 1, 17_167, 19_675, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}");
        }
        assert_eq!(civil_from_days(17_167), (2017, 1, 1));
    }

    #[test]
    fn formats_common_patterns() {
        assert_eq!(fmt("yyyyMMdd", NEW_YEAR_2017), "20170101");
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss.SSS", SAMPLE),
            "2023-11-14 22:13:20.123"
        );
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", SAMPLE),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            fmt("EEE, d MMM yy h:mm a z", SAMPLE),
            "Tue, 14 Nov 23 10:13 PM UTC"
        );
        assert_eq!(
            fmt("EEEE MMMM D u Z", SAMPLE),
            "Tuesday November 318 2 +0000"
        );
        assert_eq!(fmt("''yy'' 'o''clock' k K G", 0), "'70' o'clock 24 0 AD");
        assert_eq!(fmt("yyyy-MM-dd HH:mm:ss", -1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn parses_what_it_formats() {
        for pattern in [
            "yyyyMMdd HHmmssSSS",
            "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            "EEE, d MMM yyyy hh:mm:ss.SSS a",
            "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        ] {
            let f = JavaDateFormat::new(pattern).unwrap();
            assert_eq!(f.parse(&f.format(SAMPLE)).unwrap(), SAMPLE, "{pattern}");
        }
        assert_eq!(parse("yyyy-MM-dd", "2017-01-01"), NEW_YEAR_2017);
        assert_eq!(
            parse("yyyy-MM-dd HH:mmZ", "2017-01-01 02:00+0200"),
            NEW_YEAR_2017
        );
        assert_eq!(
            parse("yyyy-MM-dd HH:mmXXX", "2017-01-01 00:00-01:30"),
            NEW_YEAR_2017 + 5_400_000
        );
        assert_eq!(parse("d MMMM yyyy", "1 January 2017"), NEW_YEAR_2017);
    }

    #[test]
    fn rejects_bad_patterns_and_text() {
        let err = JavaDateFormat::new("yyyy-MM-dd Q").unwrap_err();
        assert!(err.contains("'Q'"), "{err}");
        assert!(JavaDateFormat::new("'open").is_err());
        let f = JavaDateFormat::new("yyyy-MM-dd").unwrap();
        assert_eq!(
            f.parse("2017/01/01").unwrap_err(),
            "Unparseable date: \"2017/01/01\""
        );
        assert!(f.parse("2017-02-30").is_err());
        assert!(f.parse("").is_err());
    }
}
