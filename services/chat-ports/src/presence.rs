//! Presence: soft state of who holds a live connection.

use crate::Result;
use async_trait::async_trait;
use chat_domain::{PresenceStatus, UserId};

/// A user's live connections, on every process that shares a presence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveConnections {
    /// All of the user's.
    pub of_user: usize,
    /// Those of the one device asked about.
    pub of_device: usize,
}

/// Tracks connections per user and announces online/offline changes on the
/// users' presence channels.
#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// A connection of `device` of `user` opened (`conn` is unique per
    /// process).
    async fn connected(&self, user: &str, device: &str, conn: u64) -> Result<()>;
    /// The connection answered a heartbeat; engines whose presence expires
    /// (keys with a TTL) refresh it here.
    async fn heartbeat(&self, _user: &str, _conn: u64) -> Result<()> {
        Ok(())
    }
    /// That connection closed or stopped answering heartbeats; when it was
    /// the user's last, the user goes offline and last-seen is persisted.
    async fn disconnected(&self, user: &str, conn: u64) -> Result<()>;
    /// Current presence of each user, in the order asked.
    async fn status(&self, users: &[UserId]) -> Result<Vec<PresenceStatus>>;
    /// The devices of `user` that hold a live connection, ascending and
    /// without repeats.
    async fn online_devices(&self, user: &str) -> Result<Vec<String>>;
    /// How many live connections `user`, and its `device`, hold on every
    /// process that shares this presence (a fleet's, on Redis).
    async fn live_connections(&self, user: &str, device: &str) -> Result<LiveConnections>;
}
