//! Devices and settings: which devices a user has, so that offline ones
//! can be pushed, what the user wants pushed, and its privacy settings.

use crate::Result;
use async_trait::async_trait;
pub use chat_domain::privacy::{Audience, PrivacySettings};
use serde::{Deserialize, Serialize};

/// A user's push settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushSettings {
    /// Whether notifications carry a preview of the message (default on).
    pub previews: bool,
    /// Conversations whose notifications carry no preview, ascending.
    pub muted: Vec<String>,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            previews: true,
            muted: Vec::new(),
        }
    }
}

/// The devices of each user, its push settings and its privacy settings.
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Records that `device` of `user` connected (or disconnected) at `ts`;
    /// a known device only has its time moved forward.
    async fn register_device(&self, user: &str, device: &str, ts: i64) -> Result<()>;
    /// The time last recorded for `device` of `user` (its last connection
    /// or disconnection), if it is known.
    async fn device_seen(&self, user: &str, device: &str) -> Result<Option<i64>>;
    /// The devices of `user`, ascending.
    async fn devices(&self, user: &str) -> Result<Vec<String>>;
    /// Turns message previews in notifications on or off.
    async fn set_previews(&self, user: &str, on: bool) -> Result<()>;
    /// Mutes or unmutes one conversation for `user`.
    async fn set_muted(&self, user: &str, conv: &str, muted: bool) -> Result<()>;
    /// The settings of `user` (the defaults for an unknown user).
    async fn push_settings(&self, user: &str) -> Result<PushSettings>;
    /// Replaces the privacy settings of `user`.
    async fn set_privacy(&self, user: &str, settings: PrivacySettings) -> Result<()>;
    /// The privacy settings of `user` (the defaults for an unknown user).
    async fn privacy(&self, user: &str) -> Result<PrivacySettings>;
    /// The privacy settings of each of `users`, in order.
    async fn privacy_of(&self, users: &[&str]) -> Result<Vec<PrivacySettings>> {
        crate::store::side_by_side(users.iter().map(|u| self.privacy(u)).collect()).await
    }
}
