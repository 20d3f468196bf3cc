//! In-process presence: the live connections of each user, with the device
//! each belongs to. The first connection makes a user online, the last one
//! closing makes it offline with last-seen persisted; each change is
//! published on the user's presence channel at once.

use async_trait::async_trait;
use chat_domain::{time::now_ms, PresenceStatus, UserId};
use chat_ports::channels::presence_channel;
use chat_ports::{Channels, LastSeenStore, LiveConnections, Presence, RealtimeEvent, Result};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Live connections of each online user: connection id → device.
type Online = HashMap<String, HashMap<u64, String>>;

/// The in-process presence engine.
pub struct InProcessPresence {
    online: Mutex<Online>,
    channels: Arc<dyn Channels>,
    last_seen: Arc<dyn LastSeenStore>,
}

impl InProcessPresence {
    /// Presence announced on `channels`, persisting last-seen in
    /// `last_seen`.
    pub fn new(channels: Arc<dyn Channels>, last_seen: Arc<dyn LastSeenStore>) -> Self {
        Self {
            online: Mutex::new(HashMap::new()),
            channels,
            last_seen,
        }
    }

    async fn announce(&self, status: PresenceStatus) -> Result<()> {
        let channel = presence_channel(&status.user);
        self.channels
            .publish(&channel, RealtimeEvent::Presence { status })
            .await
    }
}

#[async_trait]
impl Presence for InProcessPresence {
    async fn connected(&self, user: &str, device: &str, conn: u64) -> Result<()> {
        let first = {
            let mut map = self.online.lock().expect("presence lock");
            let conns = map.entry(user.to_string()).or_default();
            conns.insert(conn, device.to_string());
            conns.len() == 1
        };
        if first {
            self.announce(PresenceStatus {
                user: user.into(),
                online: true,
                last_seen: None,
            })
            .await?;
        }
        Ok(())
    }

    async fn disconnected(&self, user: &str, conn: u64) -> Result<()> {
        let last = {
            let mut map = self.online.lock().expect("presence lock");
            match map.get_mut(user) {
                Some(conns) => {
                    let removed = conns.remove(&conn).is_some();
                    let empty = conns.is_empty();
                    if empty {
                        map.remove(user);
                    }
                    removed && empty
                }
                None => false,
            }
        };
        if last {
            let ts = now_ms();
            self.last_seen.set_last_seen(user, ts).await?;
            // A new connection may have come while last-seen was written:
            // it announced online already, and a stale offline must not
            // follow it.
            if self
                .online
                .lock()
                .expect("presence lock")
                .contains_key(user)
            {
                return Ok(());
            }
            self.announce(PresenceStatus {
                user: user.into(),
                online: false,
                last_seen: Some(ts),
            })
            .await?;
        }
        Ok(())
    }

    async fn status(&self, users: &[UserId]) -> Result<Vec<PresenceStatus>> {
        let online: Vec<bool> = {
            let map = self.online.lock().expect("presence lock");
            users.iter().map(|u| map.contains_key(u.as_str())).collect()
        };
        let mut out = Vec::with_capacity(users.len());
        for (user, online) in users.iter().zip(online) {
            let last_seen = if online {
                None
            } else {
                self.last_seen.last_seen(user).await?
            };
            out.push(PresenceStatus {
                user: user.clone(),
                online,
                last_seen,
            });
        }
        Ok(out)
    }

    async fn online_devices(&self, user: &str) -> Result<Vec<String>> {
        let map = self.online.lock().expect("presence lock");
        let devices: BTreeSet<&String> =
            map.get(user).into_iter().flat_map(|c| c.values()).collect();
        Ok(devices.into_iter().cloned().collect())
    }

    async fn live_connections(&self, user: &str, device: &str) -> Result<LiveConnections> {
        let map = self.online.lock().expect("presence lock");
        let conns = map.get(user);
        Ok(LiveConnections {
            of_user: conns.map_or(0, |c| c.len()),
            of_device: conns.map_or(0, |c| c.values().filter(|d| d.as_str() == device).count()),
        })
    }
}

#[cfg(test)]
mod tests;
