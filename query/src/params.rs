//! What the plain request parameters of the commands share: range checks with one wording for the
//! command line and the HTTP server, and reading values (amounts, dates, lists, named choices)
//! from the text of a query string.
//!
//! Each command's parameters (`TraceParams`, `PathParams`, ...) live beside the command; the
//! command line builds them from its parsed flags, the server from a URL's path and query, and
//! both pass them to the same `Request::prepare`, whose first step is their `validate`.

use std::fmt::Display;

use clap::ValueEnum;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::cli::{parse_amount, parse_date, parse_end_date};
use crate::error::UsageError;

/// `value` when it lies in `min..=max`; else a usage error naming the parameter and the range.
pub fn in_range<T>(name: &'static str, value: T, min: T, max: T) -> Result<T, UsageError>
where
    T: PartialOrd + Display + Copy,
{
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(UsageError::Range { name, min: min.to_string(), max: max.to_string(), got: value.to_string() })
    }
}

/// The same for a value that may be left out.
pub fn opt_in_range<T>(name: &'static str, value: Option<T>, min: T, max: T) -> Result<Option<T>, UsageError>
where
    T: PartialOrd + Display + Copy,
{
    value.map(|v| in_range(name, v, min, max)).transpose()
}

/// A usage error when both of two parameters that exclude each other are given.
pub fn exclusive(a: (&'static str, bool), b: (&'static str, bool)) -> Result<(), UsageError> {
    if a.1 && b.1 {
        return Err(UsageError::Conflict { a: a.0, b: b.0 });
    }
    Ok(())
}

/// One of a clap value enum's names (`forward`, `fifo`, ...), any case.
pub fn choice<T: ValueEnum>(text: &str) -> Result<T, String> {
    T::from_str(text.trim(), true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        format!("'{}' is not one of {}", crate::cli::cut(text, crate::error::QUOTE_MAX), names.join(", "))
    })
}

/// Serde: a value enum from its name.
pub fn value_enum<'de, D: Deserializer<'de>, T: ValueEnum>(d: D) -> Result<T, D::Error> {
    let text = String::deserialize(d)?;
    choice(&text).map_err(D::Error::custom)
}

/// Serde: an optional choice among a clap value enum's names.
pub fn opt_value_enum<'de, D: Deserializer<'de>, T: ValueEnum>(d: D) -> Result<Option<T>, D::Error> {
    value_enum(d).map(Some)
}

/// Serde: an amount, in satoshis or BTC (see [`parse_amount`]).
pub fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    parse_amount(&text).map_err(D::Error::custom)
}

/// Serde: the start of a UTC date or time, in seconds (see [`parse_date`]).
pub fn date_start<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_date(&text).map(Some).map_err(D::Error::custom)
}

/// Serde: the end of a UTC date (its last second) or a time, in seconds.
pub fn date_end<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_end_date(&text).map(Some).map_err(D::Error::custom)
}

/// Serde: a comma-separated list, its items trimmed, empty ones left out.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Direction, TaintModel};

    #[test]
    fn ranges_name_the_parameter_and_its_bounds() {
        assert_eq!(in_range("hops", 3u32, 1, 100).unwrap(), 3);
        let err = in_range("hops", 0u32, 1, 100).unwrap_err();
        assert_eq!(err.to_string(), "hops must be between 1 and 100 (got 0)");
        assert_eq!(opt_in_range("max_txs", None, 1u64, 5).unwrap(), None);
        assert!(opt_in_range("max_txs", Some(6u64), 1, 5).is_err());
    }

    #[test]
    fn choices_take_any_case_and_list_the_valid_names() {
        assert_eq!(choice::<Direction>("Forward"), Ok(Direction::Forward));
        assert_eq!(choice::<TaintModel>("lifo"), Ok(TaintModel::Lifo));
        assert_eq!(choice::<TaintModel>("nope").unwrap_err(), "'nope' is not one of poison, haircut, fifo, lifo");
    }

    #[test]
    fn exclusive_parameters_are_refused_together_only() {
        assert!(exclusive(("a", true), ("b", false)).is_ok());
        let err = exclusive(("from_height", true), ("from_date", true)).unwrap_err();
        assert_eq!(err.to_string(), "from_height and from_date cannot be given together");
    }
}
