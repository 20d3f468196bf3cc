//! The push processor's settings and their checks.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Settings of the push processor (`[push]` in the server's configuration).
/// Every field has a default; with no `webhook_url` push is off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// The operator's push gateway: each notification is a JSON `POST` to
    /// this URL (`http://`, or `https://` checked against the platform's
    /// trusted roots). `None` turns push off.
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub webhook_token: Option<String>,
    /// A device gets at most one notification per conversation per window;
    /// the window opens with the first message that finds nothing pending.
    pub collapse_window_ms: u64,
    /// Webhook requests per notification, the first included (at least 1).
    pub attempts: u32,
    /// Pause after the first failed request; it doubles after each failure.
    pub backoff_ms: u64,
    /// The longest pause between two requests.
    pub backoff_max_ms: u64,
    /// Time allowed for one webhook request, connection included.
    pub timeout_ms: u64,
    /// Longest preview, in characters.
    pub preview_chars: usize,
    /// Webhook deliveries in flight at once.
    pub concurrency: usize,
    /// Notifications waiting for their window or for a delivery slot; past
    /// it new ones are dropped (and counted) rather than held in memory.
    pub max_pending: usize,
    /// Messages older than this when read (a processor catching up after a
    /// long stop, a new consumer group starting at the oldest record) are
    /// not pushed: their devices sync them on connect.
    pub max_age_ms: u64,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_token: None,
            collapse_window_ms: 1000,
            attempts: 5,
            backoff_ms: 200,
            backoff_max_ms: 10_000,
            timeout_ms: 5000,
            preview_chars: 100,
            concurrency: 16,
            max_pending: 100_000,
            max_age_ms: 300_000,
        }
    }
}

/// Why a [`PushConfig`] cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("push has no webhook_url (push is off)")]
    NoWebhook,
    #[error("push.webhook_url {0:?} is not an http:// or https:// URL")]
    NotHttp(String),
    #[error("push.{0} must be at least 1")]
    Zero(&'static str),
    #[error("push.webhook_token is not a valid header value")]
    BadToken,
    #[error("cannot build the webhook client: {0}")]
    Client(#[source] reqwest::Error),
}

impl PushConfig {
    /// Whether push is on.
    pub fn enabled(&self) -> bool {
        self.webhook_url.is_some()
    }

    /// The webhook URL, once checked.
    pub(crate) fn checked_url(&self) -> Result<&str, ConfigError> {
        let url = self.webhook_url.as_deref().ok_or(ConfigError::NoWebhook)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::NotHttp(url.to_string()));
        }
        for (name, value) in [
            ("attempts", self.attempts as usize),
            ("concurrency", self.concurrency),
            ("max_pending", self.max_pending),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(url)
    }

    pub(crate) fn window(&self) -> Duration {
        Duration::from_millis(self.collapse_window_ms)
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The pause after failed request number `failed` (1-based): `backoff_ms`
    /// doubled `failed - 1` times, at most `backoff_max_ms`.
    pub(crate) fn backoff(&self, failed: u32) -> Duration {
        let factor = 1u64 << failed.saturating_sub(1).min(32);
        Duration::from_millis(
            self.backoff_ms
                .saturating_mul(factor)
                .min(self.backoff_max_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let c = PushConfig {
            backoff_ms: 100,
            backoff_max_ms: 500,
            ..PushConfig::default()
        };
        let got: Vec<u64> = (1..=5).map(|n| c.backoff(n).as_millis() as u64).collect();
        assert_eq!(got, vec![100, 200, 400, 500, 500]);
        assert_eq!(c.backoff(200), Duration::from_millis(500));
    }

    #[test]
    fn only_http_webhooks_with_sane_bounds_run() {
        let mut c = PushConfig::default();
        assert!(!c.enabled());
        assert!(matches!(c.checked_url(), Err(ConfigError::NoWebhook)));
        c.webhook_url = Some("ftp://push.example".into());
        assert!(matches!(c.checked_url(), Err(ConfigError::NotHttp(_))));
        c.webhook_url = Some("https://push.example/notify".into());
        assert!(c.checked_url().is_ok());
        c.webhook_url = Some("http://push.local/notify".into());
        assert_eq!(c.checked_url().unwrap(), "http://push.local/notify");
        c.attempts = 0;
        assert!(matches!(
            c.checked_url(),
            Err(ConfigError::Zero("attempts"))
        ));
    }

    #[test]
    fn settings_default_field_by_field_and_refuse_unknown_ones() {
        let c: PushConfig =
            serde_json::from_str(r#"{"webhook_url": "http://gw/push", "attempts": 2}"#).unwrap();
        assert_eq!(c.attempts, 2);
        assert_eq!(c.collapse_window_ms, 1000);
        assert_eq!(c.concurrency, 16);
        assert!(serde_json::from_str::<PushConfig>(r#"{"webhook": "x"}"#).is_err());
    }
}
