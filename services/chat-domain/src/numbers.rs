//! Numbers a client sends in bodies and frames (seqs, sizes), taken as the
//! API's description gives them: integers from 0 to `i64::MAX`, the range
//! the stores keep. Anything past it fails to deserialize, which the
//! gateway answers with `bad_request`; paths and queries follow the same
//! rule (the gateway's `http::number`).

use serde::de::Error;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// The largest number a client may send.
pub const MAX: u64 = i64::MAX as u64;

fn bounded<E: Error>(n: u64) -> Result<u64, E> {
    if n <= MAX {
        Ok(n)
    } else {
        Err(E::custom(format_args!(
            "{n} is past {MAX}, the largest number a client may send"
        )))
    }
}

/// `#[serde(deserialize_with)]` for a `u64` in that range.
pub fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    bounded(u64::deserialize(d)?)
}

/// `#[serde(deserialize_with)]` for an `Option<u64>` in that range (with
/// `#[serde(default)]` when it may be absent).
pub fn optional_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<u64>::deserialize(d)?.map(bounded).transpose()
}

/// `#[serde(deserialize_with)]` for a map whose values are in that range.
pub fn int64_values<'de, D, K>(d: D) -> Result<BTreeMap<K, u64>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
{
    let map = BTreeMap::<K, u64>::deserialize(d)?;
    for n in map.values() {
        bounded::<D::Error>(*n)?;
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Numbers {
        #[serde(deserialize_with = "int64")]
        one: u64,
        #[serde(default, deserialize_with = "optional_int64")]
        maybe: Option<u64>,
        #[serde(default, deserialize_with = "int64_values")]
        map: BTreeMap<String, u64>,
    }

    fn parse(s: &str) -> Result<Numbers, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn numbers_from_0_to_i64_max_and_no_others() {
        let n = parse(r#"{"one":9223372036854775807,"maybe":0,"map":{"a":9223372036854775807}}"#)
            .unwrap();
        assert_eq!((n.one, n.maybe, n.map["a"]), (MAX, Some(0), MAX));
        let n = parse(r#"{"one":1,"maybe":null}"#).unwrap();
        assert_eq!((n.maybe, n.map.len()), (None, 0));
        for bad in [
            r#"{"one":9223372036854775808}"#,
            r#"{"one":18446744073709551615}"#,
            r#"{"one":-1}"#,
            r#"{"one":1,"maybe":9223372036854775808}"#,
            r#"{"one":1,"map":{"a":1,"b":9223372036854775808}}"#,
        ] {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(!e.to_string().is_empty());
        }
        assert!(parse(r#"{"one":9223372036854775808}"#)
            .unwrap_err()
            .to_string()
            .contains("the largest number a client may send"));
    }
}
