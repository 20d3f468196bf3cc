//! Announcing a user offline when gateways race: the user's last connection
//! closes on one gateway (or expires, for the sweeper) while it connects on
//! another. Whichever announcement is published last is what watchers keep,
//! so the offline one is checked against the connections on both sides of
//! its publish: not sent when the user is online again, and followed by
//! `online` when the user came back while it went out.

use crate::conn::Commands;
use crate::presence::{announce, offline, user_key};
use crate::script::LuaScript;
use chat_domain::PresenceStatus;
use chat_ports::{Channels, Result};

/// Where the announcement is checked and sent.
pub(crate) struct Offline<'a> {
    pub(crate) commands: &'a Commands,
    /// The `LIVE` script: how many live connections a user has.
    pub(crate) live: &'a LuaScript,
    pub(crate) channels: &'a dyn Channels,
    pub(crate) prefix: &'a str,
}

impl Offline<'_> {
    /// Announces `user` offline as of `at` (its last-seen is written
    /// already), unless it is online again; when it came back while the
    /// announcement went out, announces it online after it.
    pub(crate) async fn announce(&self, user: &str, at: i64) -> Result<()> {
        if self.online(user).await? {
            tracing::debug!(
                user,
                "A user came back online before it was announced offline."
            );
            return Ok(());
        }
        announce(self.channels, offline(user, at)).await?;
        if self.online(user).await? {
            tracing::debug!(user, "A user came back online while it was announced offline; announcing it online again.");
            let status = PresenceStatus {
                user: user.into(),
                online: true,
                last_seen: None,
            };
            announce(self.channels, status).await?;
        }
        Ok(())
    }

    async fn online(&self, user: &str) -> Result<bool> {
        let key = user_key(self.prefix, user);
        let live: i64 = self
            .live
            .run(self.commands, &[&key], &[] as &[&str])
            .await?;
        Ok(live > 0)
    }
}
