//! Money as integer minor units. JSON keeps the original's `price: 150`
//! (major units, a number) for compatibility and adds `priceCents`, the
//! exact value clients should compute with.

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(pub i64);

/// The most an event seat may cost: $1,000,000.00.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;

impl Cents {
    /// Parses a major-unit JSON number (`150`, `149.99`) into cents, refusing
    /// more than two decimals, negatives, and absurd values.
    pub fn from_major(value: &serde_json::Number) -> Result<Cents, &'static str> {
        let cents = if let Some(whole) = value.as_i64() {
            whole.checked_mul(100).ok_or("is too large")?
        } else {
            let float = value.as_f64().ok_or("must be a number")?;
            let scaled = float * 100.0;
            if (scaled - scaled.round()).abs() > 1e-6 {
                return Err("must have at most two decimal places");
            }
            if !scaled.is_finite() || scaled.abs() > MAX_PRICE_CENTS as f64 * 10.0 {
                return Err("is too large");
            }
            scaled.round() as i64
        };
        match cents {
            c if c <= 0 => Err("must be greater than zero"),
            c if c > MAX_PRICE_CENTS => Err("must be at most 1000000"),
            c => Ok(Cents(c)),
        }
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }
}

/// Serializes as the major-unit number: an integer when whole (`150`), else
/// a two-decimal number (`149.99`).
pub struct Major(pub Cents);

impl Serialize for Major {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Cents(cents) = self.0;
        if cents % 100 == 0 {
            serializer.serialize_i64(cents / 100)
        } else {
            serializer.serialize_f64(cents as f64 / 100.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Cents, &'static str> {
        Cents::from_major(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn parses_whole_and_decimal_prices_exactly() {
        assert_eq!(parse("150"), Ok(Cents(15_000)));
        assert_eq!(parse("149.99"), Ok(Cents(14_999)));
        assert_eq!(parse("0.1"), Ok(Cents(10)));
    }

    #[test]
    fn refuses_bad_prices() {
        for bad in ["0", "-5", "1.001", "1e300", "100000001", "9223372036854775807"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serializes_as_major_units() {
        assert_eq!(serde_json::to_string(&Major(Cents(15_000))).unwrap(), "150");
        assert_eq!(serde_json::to_string(&Major(Cents(14_999))).unwrap(), "149.99");
    }
}
