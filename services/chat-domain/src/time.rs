//! The server clock: milliseconds since the Unix epoch, as the protocol wants.
//!
//! `CHAT_CLOCK_OFFSET_MS` (an integer, may be negative; read once, at the
//! first reading of the clock) is added to every reading: a fault-injection
//! setting that lets a test run one process with a skewed clock
//! (docs/operations.md, "Fault injection"). Unset, empty or not a number: 0.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable that offsets this process's clock.
pub const CLOCK_OFFSET_VAR: &str = "CHAT_CLOCK_OFFSET_MS";

/// Milliseconds since the Unix epoch, server clock (plus the offset of
/// `CHAT_CLOCK_OFFSET_MS`, 0 unless set).
pub fn now_ms() -> i64 {
    static OFFSET: OnceLock<i64> = OnceLock::new();
    let offset =
        *OFFSET.get_or_init(|| parse_offset(std::env::var(CLOCK_OFFSET_VAR).ok().as_deref()));
    // The one place the server reads the wall clock.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
        .saturating_add(offset)
}

/// The offset a value of `CHAT_CLOCK_OFFSET_MS` names: 0 when absent or
/// not an integer.
pub fn parse_offset(value: Option<&str>) -> i64 {
    value.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_parses_integers_and_defaults_to_zero() {
        assert_eq!(parse_offset(None), 0);
        assert_eq!(parse_offset(Some("")), 0);
        assert_eq!(parse_offset(Some("soon")), 0);
        assert_eq!(parse_offset(Some("1500")), 1500);
        assert_eq!(parse_offset(Some(" -60000 ")), -60000);
    }

    #[test]
    fn the_clock_reads_the_epoch_in_milliseconds() {
        // Unset in tests: after 2020 and before 2100.
        let now = now_ms();
        assert!(now > 1_577_836_800_000 && now < 4_102_444_800_000, "{now}");
    }
}
