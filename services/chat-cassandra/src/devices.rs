//! Devices, push settings and privacy settings. A device's last connection time is written
//! with itself as timestamp, so it only moves forward.

use crate::CassandraStore;
use chat_ports::{Audience, PortError, PrivacySettings, PushSettings, Result};

impl CassandraStore {
    pub(crate) async fn write_device(&self, user: &str, device: &str, ts: i64) -> Result<()> {
        self.run(&self.st.register_device, (ts, ts, user, device))
            .await
    }

    pub(crate) async fn read_device_seen(&self, user: &str, device: &str) -> Result<Option<i64>> {
        let found: Vec<(Option<i64>,)> = self.rows(&self.st.device_seen, (user, device)).await?;
        Ok(found.into_iter().next().and_then(|(seen,)| seen))
    }

    pub(crate) async fn read_devices(&self, user: &str) -> Result<Vec<String>> {
        let found: Vec<(String,)> = self.rows(&self.st.devices, (user,)).await?;
        Ok(found.into_iter().map(|(d,)| d).collect())
    }

    pub(crate) async fn write_previews(&self, user: &str, on: bool) -> Result<()> {
        self.run(&self.st.set_previews, (on, user)).await
    }

    pub(crate) async fn write_muted(&self, user: &str, conv: &str, muted: bool) -> Result<()> {
        let statement = if muted {
            &self.st.mute
        } else {
            &self.st.unmute
        };
        self.run(statement, (user, conv)).await
    }

    pub(crate) async fn read_push_settings(&self, user: &str) -> Result<PushSettings> {
        let previews: Option<(Option<bool>,)> = self.row(&self.st.previews, (user,)).await?;
        let muted: Vec<(String,)> = self.rows(&self.st.muted, (user,)).await?;
        Ok(PushSettings {
            previews: previews.and_then(|(p,)| p).unwrap_or(true),
            muted: muted.into_iter().map(|(c,)| c).collect(),
        })
    }

    pub(crate) async fn write_privacy(&self, user: &str, p: PrivacySettings) -> Result<()> {
        let (presence, adds) = (p.presence.as_str(), p.group_adds.as_str());
        self.run(&self.st.set_privacy, (user, presence, adds)).await
    }

    pub(crate) async fn read_privacy(&self, user: &str) -> Result<PrivacySettings> {
        let found: Option<(Option<String>, Option<String>)> =
            self.row(&self.st.privacy, (user,)).await?;
        let Some((presence, adds)) = found else {
            return Ok(PrivacySettings::default());
        };
        Ok(PrivacySettings {
            presence: audience(presence)?,
            group_adds: audience(adds)?,
        })
    }
}

impl CassandraStore {
    /// Adds to a user's counter of a day, then reads it. (A counter write
    /// retried after a timeout may count twice: a quota errs on the side
    /// of the store.)
    pub(crate) async fn write_usage(&self, user: &str, day: i64, bytes: i64) -> Result<i64> {
        if bytes != 0 {
            self.run(
                &self.st.add_usage,
                (scylla::value::Counter(bytes), user, day),
            )
            .await?;
        }
        let found: Option<(Option<scylla::value::Counter>,)> =
            self.row(&self.st.usage, (user, day)).await?;
        Ok(found.and_then(|(c,)| c).map_or(0, |c| c.0))
    }

    /// One range tombstone in the user's partition. (A counter deleted
    /// and then added to again is undefined in Cassandra: the quota never
    /// adds to a day it has forgotten, since it forgets only days before
    /// yesterday.)
    pub(crate) async fn drop_usage_before(&self, user: &str, day: i64) -> Result<()> {
        self.run(&self.st.forget_usage, (user, day)).await
    }
}

/// A stored audience; a column never written reads as the default.
fn audience(stored: Option<String>) -> Result<Audience> {
    match stored {
        None => Ok(Audience::default()),
        Some(s) => Audience::parse(&s)
            .ok_or_else(|| PortError::corrupt("store", format!("unknown audience {s:?}"))),
    }
}
