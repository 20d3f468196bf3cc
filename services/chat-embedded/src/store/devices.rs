//! Devices, push settings and privacy settings in the embedded store.

use super::*;
use async_trait::async_trait;
use chat_ports::{DeviceStore, PrivacySettings, PushSettings, UsageStore};
use redb::ReadableTable;

#[async_trait]
impl DeviceStore for EmbeddedStore {
    async fn register_device(&self, user: &str, device: &str, ts: i64) -> Result<()> {
        let (user, device) = (user.to_string(), device.to_string());
        self.write_lazily(move |txn| {
            let mut table = txn.open_table(DEVICES).map_err(err)?;
            let key = (user.as_str(), device.as_str());
            let known = table.get(key).map_err(err)?.map(|v| v.value());
            if known.is_none_or(|at| ts > at) {
                table.insert(key, ts).map_err(err)?;
            }
            Ok(())
        })
        .await
    }

    async fn device_seen(&self, user: &str, device: &str) -> Result<Option<i64>> {
        let txn = self.read()?;
        let table = txn.open_table(DEVICES).map_err(err)?;
        let seen = table.get((user, device)).map_err(err)?.map(|v| v.value());
        Ok(seen)
    }

    async fn devices(&self, user: &str) -> Result<Vec<String>> {
        let txn = self.read()?;
        let table = txn.open_table(DEVICES).map_err(err)?;
        let mut out = Vec::new();
        for row in table.range((user, "")..).map_err(err)? {
            let (k, _) = row.map_err(err)?;
            let (u, device) = k.value();
            if u != user {
                break;
            }
            out.push(device.to_string());
        }
        Ok(out)
    }

    async fn set_previews(&self, user: &str, on: bool) -> Result<()> {
        let user = user.to_string();
        self.write(move |txn| {
            let mut table = txn.open_table(PUSH_PREVIEWS).map_err(err)?;
            table.insert(user.as_str(), on).map_err(err)?;
            Ok(())
        })
        .await
    }

    async fn set_muted(&self, user: &str, conv: &str, muted: bool) -> Result<()> {
        let (user, conv) = (user.to_string(), conv.to_string());
        self.write(move |txn| {
            let mut table = txn.open_table(MUTED).map_err(err)?;
            let key = (user.as_str(), conv.as_str());
            if muted {
                table.insert(key, ()).map_err(err)?;
            } else {
                table.remove(key).map_err(err)?;
            }
            Ok(())
        })
        .await
    }

    async fn push_settings(&self, user: &str) -> Result<PushSettings> {
        let txn = self.read()?;
        let previews = {
            let table = txn.open_table(PUSH_PREVIEWS).map_err(err)?;
            let found = table.get(user).map_err(err)?;
            found.map(|v| v.value()).unwrap_or(true)
        };
        let table = txn.open_table(MUTED).map_err(err)?;
        let mut muted = Vec::new();
        for row in table.range((user, "")..).map_err(err)? {
            let (k, _) = row.map_err(err)?;
            let (u, conv) = k.value();
            if u != user {
                break;
            }
            muted.push(conv.to_string());
        }
        Ok(PushSettings { previews, muted })
    }

    async fn set_privacy(&self, user: &str, settings: PrivacySettings) -> Result<()> {
        let user = user.to_string();
        self.write(move |txn| {
            let mut table = txn.open_table(PRIVACY).map_err(err)?;
            table
                .insert(user.as_str(), encode(&settings).as_slice())
                .map_err(err)?;
            Ok(())
        })
        .await
    }

    async fn privacy(&self, user: &str) -> Result<PrivacySettings> {
        let txn = self.read()?;
        let table = txn.open_table(PRIVACY).map_err(err)?;
        let found = table.get(user).map_err(err)?;
        found.map_or(Ok(PrivacySettings::default()), |v| decode(v.value()))
    }
}

#[async_trait]
impl UsageStore for EmbeddedStore {
    async fn add_usage(&self, user: &str, day: i64, bytes: i64) -> Result<i64> {
        let user = user.to_string();
        // (Lazily durable: a count lost to a crash only lets a user store
        // a little more that day.)
        self.write_lazily(move |txn| {
            let mut table = txn.open_table(USAGE).map_err(err)?;
            let key = (user.as_str(), day);
            let now = table.get(key).map_err(err)?.map_or(0, |v| v.value()) + bytes;
            table.insert(key, now).map_err(err)?;
            Ok(now)
        })
        .await
    }

    async fn forget_usage_before(&self, user: &str, day: i64) -> Result<()> {
        let user = user.to_string();
        // (Lazily durable too: a removal lost to a crash is made again at
        // the user's next day.)
        self.write_lazily(move |txn| {
            let mut table = txn.open_table(USAGE).map_err(err)?;
            let old: Vec<i64> = table
                .range((user.as_str(), i64::MIN)..(user.as_str(), day))
                .map_err(err)?
                .map(|row| row.map(|(k, _)| k.value().1))
                .collect::<std::result::Result<_, _>>()
                .map_err(err)?;
            for d in old {
                table.remove((user.as_str(), d)).map_err(err)?;
            }
            Ok(())
        })
        .await
    }
}
