//! The HTTP client of the operator's push gateway: one JSON `POST` per
//! attempt, with a bearer token and a deadline.

use super::config::{ConfigError, PushConfig};
use super::notification::Notification;
use reqwest::header::{HeaderValue, AUTHORIZATION};

/// Posts notifications to the configured webhook.
pub(crate) struct Webhook {
    client: reqwest::Client,
    url: String,
    auth: Option<HeaderValue>,
}

/// Why one request did not deliver a notification; every kind is retried.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    #[error("the push gateway answered HTTP {0}")]
    Status(u16),
    #[error("the push gateway did not answer in time")]
    Timeout,
    #[error("cannot reach the push gateway: {0}")]
    Transport(String),
}

impl Webhook {
    pub fn new(config: &PushConfig) -> Result<Self, ConfigError> {
        let url = config.checked_url()?.to_string();
        let auth = match &config.webhook_token {
            Some(token) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| ConfigError::BadToken)?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout())
            .build()
            .map_err(ConfigError::Client)?;
        Ok(Self { client, url, auth })
    }

    /// One request; `Ok` on any 2xx answer.
    pub async fn post(&self, notification: &Notification<'_>) -> Result<(), AttemptError> {
        let mut request = self.client.post(&self.url).json(notification);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(AttemptError::Status(status.as_u16()))
        }
    }
}

fn classify(e: reqwest::Error) -> AttemptError {
    if e.is_timeout() {
        AttemptError::Timeout
    } else {
        AttemptError::Transport(e.to_string())
    }
}
