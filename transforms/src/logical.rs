//! Schemas of Kafka's temporal logical types and the calendar arithmetic behind them.
//!
//! Kafka's `Date`, `Time` and `Timestamp` schemas are int32/int32/int64 schemas with the logical
//! type's name and version 1; derived schemas must carry both so converters recognise them.

use sluice_api::data::logical;
use sluice_api::{SchemaBuilder, SchemaRef, SchemaType};

/// The `Timestamp` logical schema (int64 milliseconds since the epoch).
pub fn timestamp_schema(optional: bool) -> SchemaRef {
    SchemaBuilder::new(SchemaType::Int64)
        .name(logical::TIMESTAMP)
        .version(1)
        .set_optional(optional)
        .build()
}

/// The `Date` logical schema (int32 days since the epoch).
pub fn date_schema(optional: bool) -> SchemaRef {
    SchemaBuilder::new(SchemaType::Int32)
        .name(logical::DATE)
        .version(1)
        .set_optional(optional)
        .build()
}

/// The `Time` logical schema (int32 milliseconds since midnight).
pub fn time_schema(optional: bool) -> SchemaRef {
    SchemaBuilder::new(SchemaType::Int32)
        .name(logical::TIME)
        .version(1)
        .set_optional(optional)
        .build()
}

/// Days from 1970-01-01 to the given proleptic Gregorian date, for a valid date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's algorithm: count from a March-based year so leap days come last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let shifted_month = if m > 2 { m - 3 } else { m + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Whether `day` exists in `month` of `year`.
pub fn is_valid_date(year: i64, month: u32, day: u32) -> bool {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn validates_days_per_month() {
        assert!(is_valid_date(2024, 2, 29));
        assert!(!is_valid_date(2023, 2, 29));
        assert!(!is_valid_date(1900, 2, 29));
        assert!(is_valid_date(2000, 2, 29));
        assert!(!is_valid_date(2024, 4, 31));
        assert!(!is_valid_date(2024, 13, 1));
        assert!(!is_valid_date(2024, 1, 0));
    }

    #[test]
    fn logical_schemas_carry_name_and_version() {
        let ts = timestamp_schema(true);
        assert_eq!(ts.schema_type, SchemaType::Int64);
        assert_eq!(ts.name.as_deref(), Some(logical::TIMESTAMP));
        assert_eq!(ts.version, Some(1));
        assert!(ts.optional);
        assert!(!date_schema(false).optional);
        assert_eq!(time_schema(false).name.as_deref(), Some(logical::TIME));
    }
}
