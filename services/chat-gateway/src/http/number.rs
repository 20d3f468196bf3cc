//! Numbers in paths and queries, taken as the API's description gives
//! them (integers, format int64, minimum 0): anything else, a number past
//! `i64::MAX` included, is 400 `bad_request`. Bodies and frames follow the
//! same rule through `chat_domain::numbers`, whose bound this shares.

use chat_domain::{numbers, DomainError};

/// `s` as a number from 0 to [`numbers::MAX`], named `name` in the error.
pub(crate) fn parse<T: TryFrom<u64>>(name: &str, s: &str) -> Result<T, DomainError> {
    s.parse::<u64>()
        .ok()
        .filter(|n| *n <= numbers::MAX)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            DomainError::bad_request(format!(
                "{name} must be an integer from 0 to {}",
                numbers::MAX
            ))
        })
}

/// An optional query parameter, parsed as [`parse`] does.
pub(crate) fn optional<T: TryFrom<u64>>(
    name: &str,
    v: Option<String>,
) -> Result<Option<T>, DomainError> {
    v.map(|s| parse(name, &s)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_the_int64_range_and_no_others() {
        assert_eq!(parse::<u64>("n", "0").unwrap(), 0);
        assert_eq!(
            parse::<u64>("n", "9223372036854775807").unwrap(),
            i64::MAX as u64
        );
        for bad in ["9223372036854775808", "-1", "", "1.5", "x", "+"] {
            assert!(parse::<u64>("n", bad).is_err(), "{bad:?}");
        }
        assert_eq!(optional::<usize>("n", None).unwrap(), None);
    }
}
