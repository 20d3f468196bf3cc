//! Devices and push settings (an extension of PROTOCOL.md): which devices a
//! user has, whether notifications carry previews, and muted conversations.

use super::ChatService;
use crate::error::from_port;
use chat_domain::{ConversationId, DeviceId, DomainError, UserId};
use chat_ports::PushSettings;

impl ChatService {
    /// Remembers a device when it connects, so that it can be pushed while
    /// offline, and when it disconnects; answers the time recorded before
    /// (`None` for a new device), from which a connecting device is sent
    /// the edits it may have missed.
    pub(crate) async fn device_seen_now(
        &self,
        user: &UserId,
        device: &DeviceId,
    ) -> Result<Option<i64>, DomainError> {
        let before = self
            .stores
            .devices
            .device_seen(user, device)
            .await
            .map_err(from_port)?;
        let now = chat_domain::time::now_ms();
        if let Err(e) = self.stores.devices.register_device(user, device, now).await {
            tracing::warn!(error = %e, "A device could not be registered for push.");
        }
        Ok(before)
    }

    /// The caller's push settings.
    pub async fn push_settings(&self, user: &UserId) -> Result<PushSettings, DomainError> {
        self.stores
            .devices
            .push_settings(user)
            .await
            .map_err(from_port)
    }

    /// Turns previews in the caller's notifications on or off.
    pub async fn set_previews(&self, user: &UserId, on: bool) -> Result<(), DomainError> {
        self.stores
            .devices
            .set_previews(user, on)
            .await
            .map_err(from_port)
    }

    /// Mutes or unmutes a conversation the caller is a member of.
    pub async fn set_muted(
        &self,
        user: &UserId,
        conv: &ConversationId,
        muted: bool,
    ) -> Result<(), DomainError> {
        self.membership(conv, user).await?;
        self.stores
            .devices
            .set_muted(user, conv, muted)
            .await
            .map_err(from_port)
    }
}
