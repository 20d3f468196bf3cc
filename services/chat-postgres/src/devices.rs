//! Devices and settings: each user's devices with the time they last
//! connected, the previews flag (no row: on), the muted conversations, and
//! the privacy settings (no row: the defaults).

use crate::rows;
use crate::PostgresStore;
use chat_ports::{Audience, PortError, PrivacySettings, PushSettings, Result};

const REGISTER_DEVICE: &str = "\
INSERT INTO devices (user_id, device, last_seen) VALUES ($1, $2, $3)
ON CONFLICT (user_id, device) DO UPDATE
SET last_seen = GREATEST(devices.last_seen, EXCLUDED.last_seen)";

const SET_PREVIEWS: &str = "\
INSERT INTO push_settings (user_id, previews) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET previews = EXCLUDED.previews";

const MUTE: &str = "\
INSERT INTO muted_conversations (user_id, conv) VALUES ($1, $2)
ON CONFLICT DO NOTHING";

const UNMUTE: &str = "DELETE FROM muted_conversations WHERE user_id = $1 AND conv = $2";

// One round trip: the flag (NULL without a row) and the muted list.
const PUSH_SETTINGS: &str = "\
SELECT (SELECT previews FROM push_settings WHERE user_id = $1),
       ARRAY(SELECT conv FROM muted_conversations WHERE user_id = $1
             ORDER BY conv COLLATE \"C\")";

const SET_PRIVACY: &str = "\
INSERT INTO privacy_settings (user_id, presence, group_adds) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE
SET presence = EXCLUDED.presence, group_adds = EXCLUDED.group_adds";

const ADD_USAGE: &str = "\
INSERT INTO usage_per_day (user_id, day, bytes) VALUES ($1, $2, $3)
ON CONFLICT (user_id, day) DO UPDATE SET bytes = usage_per_day.bytes + EXCLUDED.bytes
RETURNING bytes";

const PRIVACY: &str = "SELECT presence, group_adds FROM privacy_settings WHERE user_id = $1";

impl PostgresStore {
    /// Records the device, or moves a known device's time forward.
    pub(crate) async fn write_device(&self, user: &str, device: &str, ts: i64) -> Result<()> {
        self.change(REGISTER_DEVICE, &[&user, &device, &ts]).await?;
        Ok(())
    }

    /// The time last recorded for the device.
    pub(crate) async fn read_device_seen(&self, user: &str, device: &str) -> Result<Option<i64>> {
        let found = self
            .rows(
                "SELECT last_seen FROM devices WHERE user_id = $1 AND device = $2",
                &[&user, &device],
            )
            .await?;
        found.first().map(|row| rows::column(row, 0)).transpose()
    }

    /// The devices of `user` in byte order.
    pub(crate) async fn read_devices(&self, user: &str) -> Result<Vec<String>> {
        self.rows(
            "SELECT device FROM devices WHERE user_id = $1 ORDER BY device COLLATE \"C\"",
            &[&user],
        )
        .await?
        .iter()
        .map(|row| rows::text(row, 0))
        .collect()
    }

    pub(crate) async fn write_previews(&self, user: &str, on: bool) -> Result<()> {
        self.change(SET_PREVIEWS, &[&user, &on]).await?;
        Ok(())
    }

    pub(crate) async fn write_muted(&self, user: &str, conv: &str, muted: bool) -> Result<()> {
        let sql = if muted { MUTE } else { UNMUTE };
        self.change(sql, &[&user, &conv]).await?;
        Ok(())
    }

    /// The settings of `user`; the defaults where nothing is stored.
    pub(crate) async fn read_push_settings(&self, user: &str) -> Result<PushSettings> {
        let found = self.rows(PUSH_SETTINGS, &[&user]).await?;
        let Some(row) = found.first() else {
            return Ok(PushSettings::default());
        };
        let previews: Option<bool> = rows::column(row, 0)?;
        Ok(PushSettings {
            previews: previews.unwrap_or(true),
            muted: rows::column(row, 1)?,
        })
    }

    pub(crate) async fn write_privacy(&self, user: &str, p: PrivacySettings) -> Result<()> {
        let (presence, adds) = (p.presence.as_str(), p.group_adds.as_str());
        self.change(SET_PRIVACY, &[&user, &presence, &adds]).await?;
        Ok(())
    }

    pub(crate) async fn read_privacy(&self, user: &str) -> Result<PrivacySettings> {
        let found = self.rows(PRIVACY, &[&user]).await?;
        let Some(row) = found.first() else {
            return Ok(PrivacySettings::default());
        };
        Ok(PrivacySettings {
            presence: audience(&rows::text(row, 0)?)?,
            group_adds: audience(&rows::text(row, 1)?)?,
        })
    }
}

impl PostgresStore {
    /// Adds to a user's count of a day, in one statement.
    pub(crate) async fn write_usage(&self, user: &str, day: i64, bytes: i64) -> Result<i64> {
        let found = self.rows(ADD_USAGE, &[&user, &day, &bytes]).await?;
        let row = found
            .first()
            .ok_or_else(|| PortError::storage("store", "an upsert answered no row"))?;
        rows::column(row, 0)
    }

    pub(crate) async fn drop_usage_before(&self, user: &str, day: i64) -> Result<()> {
        self.change(
            "DELETE FROM usage_per_day WHERE user_id = $1 AND day < $2",
            &[&user, &day],
        )
        .await?;
        Ok(())
    }
}

fn audience(stored: &str) -> Result<Audience> {
    Audience::parse(stored)
        .ok_or_else(|| PortError::corrupt("store", format!("unknown audience {stored:?}")))
}
