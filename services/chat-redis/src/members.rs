//! The members of the users' sets of connections, and which device each of
//! this engine's connections belongs to.
//!
//! A member is `{node}:{conn}:{device}`: `node` (hex) and `conn` (digits)
//! hold no `:`, so the device is everything after the second one, whatever
//! it holds. `heartbeat` and `disconnected` name only the connection, so
//! the engine remembers the device `connected` gave for it until the
//! connection is gone; a heartbeat can then bring back an entry that had
//! expired with its device.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The member of connection `conn` of `device` on engine `node`.
pub(crate) fn member(node: &str, conn: u64, device: &str) -> String {
    format!("{node}:{conn}:{device}")
}

/// The device of a member; `None` for a member without one (written by an
/// engine from before devices were recorded) or with an empty one.
pub(crate) fn device_of(member: &str) -> Option<&str> {
    member
        .splitn(3, ':')
        .nth(2)
        .filter(|device| !device.is_empty())
}

/// This engine's open connections and their devices, by (user, conn): as
/// in Redis, where each user has a set of its own, a connection number is
/// only taken to be unique per user.
#[derive(Default)]
pub(crate) struct Connections(Mutex<HashMap<(String, u64), String>>);

impl Connections {
    /// Remembers the device of `conn` of `user` (replacing what was there).
    pub(crate) fn open(&self, user: &str, conn: u64, device: &str) {
        self.lock()
            .insert((user.to_string(), conn), device.to_string());
    }

    /// The device of `conn` of `user`, if it is open.
    pub(crate) fn device(&self, user: &str, conn: u64) -> Option<String> {
        self.lock().get(&(user.to_string(), conn)).cloned()
    }

    /// Forgets `conn` of `user`; returns its device, if it was open.
    pub(crate) fn close(&self, user: &str, conn: u64) -> Option<String> {
        self.lock().remove(&(user.to_string(), conn))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), String>> {
        // The map stays consistent whatever panicked while holding it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_gives_back_its_device() {
        let m = member("00ff", 7, "phone-1.a_b");
        assert_eq!(m, "00ff:7:phone-1.a_b");
        assert_eq!(device_of(&m), Some("phone-1.a_b"));
        assert_eq!(device_of("00ff:7:odd:device"), Some("odd:device"));
        assert_eq!(device_of("00ff:7:"), None);
        assert_eq!(device_of("00ff:7"), None);
    }

    #[test]
    fn connections_remember_their_device_until_closed() {
        let c = Connections::default();
        assert_eq!(c.device("u", 1), None);
        c.open("u", 1, "phone");
        c.open("u", 2, "laptop");
        c.open("v", 1, "watch");
        assert_eq!(c.device("u", 1).as_deref(), Some("phone"));
        assert_eq!(c.close("u", 1).as_deref(), Some("phone"));
        assert_eq!(c.close("u", 1), None);
        assert_eq!(c.device("u", 2).as_deref(), Some("laptop"));
        assert_eq!(c.device("v", 1).as_deref(), Some("watch"));
    }
}
