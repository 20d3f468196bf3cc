//! Open WebSocket connections per user and per device on this gateway,
//! capped (`ClientLimits::max_connections_per_user`, `…_per_device`):
//! device ids are free, so without a cap one user holds any number. A
//! connection's place is held by a [`Slot`] for the session's life. Across
//! a fleet, presence counts a user's and a device's connections on every
//! gateway ([`fleet_admits`]).

use crate::config::ClientLimits;
use chat_domain::DomainError;
use chat_ports::LiveConnections;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a refused connection is told to wait: a dead connection of the
/// same device frees its place within the idle timeout.
const RETRY_AFTER_MS: u64 = 5_000;

pub struct Connections {
    per_user: usize,
    per_device: usize,
    /// user → device → open connections.
    open: Mutex<HashMap<String, HashMap<String, usize>>>,
}

/// A connection's place; given back when dropped.
pub struct Slot {
    of: Arc<Connections>,
    user: String,
    device: String,
}

impl Connections {
    pub fn new(l: &ClientLimits) -> Arc<Self> {
        Arc::new(Self {
            per_user: l.max_connections_per_user.max(1),
            per_device: l.max_connections_per_device.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a new connection of `user`'s `device`, or `rate_limited`.
    pub fn admit(self: &Arc<Self>, user: &str, device: &str) -> Result<Slot, DomainError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let devices = open.entry(user.to_string()).or_default();
        let of_user: usize = devices.values().sum();
        let of_device = devices.get(device).copied().unwrap_or(0);
        if of_device >= self.per_device || of_user >= self.per_user {
            let (what, cap) = if of_device >= self.per_device {
                ("this device", self.per_device)
            } else {
                ("this user", self.per_user)
            };
            if devices.is_empty() {
                open.remove(user);
            }
            let mut e = DomainError::rate_limited(RETRY_AFTER_MS);
            e.message = format!("{what} has {cap} connections open, the most one gateway takes");
            return Err(e);
        }
        *devices.entry(device.to_string()).or_default() += 1;
        Ok(Slot {
            of: self.clone(),
            user: user.to_string(),
            device: device.to_string(),
        })
    }
}

/// Whether a user's device may open one more connection across the
/// fleet, given the `live` connections presence counts on every gateway:
/// at most `max_fleet_connections_per_user` of the user's (0: no cap) and
/// `max_connections_per_device` of the device's. `Ok`, or `rate_limited`. A presence that cannot count (`None`) admits: a Redis
/// outage must not keep every user out.
pub fn fleet_admits(live: Option<LiveConnections>, l: &ClientLimits) -> Result<(), DomainError> {
    let Some(live) = live else {
        return Ok(());
    };
    let per_user = l.max_fleet_connections_per_user;
    let per_device = l.max_connections_per_device.max(1);
    let (what, cap) = if per_user > 0 && live.of_user >= per_user {
        ("this user", per_user)
    } else if live.of_device >= per_device {
        ("this device", per_device)
    } else {
        return Ok(());
    };
    let mut e = DomainError::rate_limited(RETRY_AFTER_MS);
    e.message = format!("{what} has {cap} connections open, the most the service takes");
    Err(e)
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.of.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(devices) = open.get_mut(&self.user) {
            if let Some(n) = devices.get_mut(&self.device) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    devices.remove(&self.device);
                }
            }
            if devices.is_empty() {
                open.remove(&self.user);
            }
        }
    }
}
