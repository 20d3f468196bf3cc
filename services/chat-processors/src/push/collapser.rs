//! The in-memory collapser: pending notifications keyed by (user, device,
//! conversation). The first message for a key opens a window; the messages
//! that follow within it only raise the count and replace the latest
//! message, so a burst becomes one notification.
//!
//! Windows all have the same length and open in call order, so their due
//! times come in the order the keys were queued: a FIFO of keys is also the
//! order in which they fall due.

use super::notification::Latest;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who a notification goes to, and about what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub user: String,
    pub device: String,
    pub conv: String,
}

/// A notification waiting for its window to close.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub key: Key,
    pub latest: Arc<Latest>,
    /// Messages collapsed into it.
    pub count: u64,
}

/// What [`Collapser::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// A new window opened.
    Opened,
    /// Merged into the pending notification.
    Merged,
    /// The pending notification already announces this seq or a later one
    /// (a batch read again): nothing changed.
    Repeated,
    /// The collapser is full: dropped.
    Full,
}

/// Pending notifications and the order they fall due.
pub(crate) struct Collapser {
    window: Duration,
    cap: usize,
    pending: HashMap<Key, Pending>,
    due: VecDeque<(Instant, Key)>,
}

impl Collapser {
    pub fn new(window: Duration, cap: usize) -> Self {
        Self {
            window,
            cap,
            pending: HashMap::new(),
            due: VecDeque::new(),
        }
    }

    /// Adds one message for `key` at `now`.
    pub fn enqueue(&mut self, key: Key, latest: &Arc<Latest>, now: Instant) -> Enqueued {
        let full = self.pending.len() >= self.cap;
        match self.pending.entry(key) {
            Entry::Occupied(mut e) => {
                let p = e.get_mut();
                if latest.seq <= p.latest.seq {
                    return Enqueued::Repeated;
                }
                p.count += 1;
                p.latest = latest.clone();
                Enqueued::Merged
            }
            Entry::Vacant(_) if full => Enqueued::Full,
            Entry::Vacant(e) => {
                let key = e.key().clone();
                e.insert(Pending {
                    key: key.clone(),
                    latest: latest.clone(),
                    count: 1,
                });
                // `now` never goes back between calls under the caller's
                // lock, so the queue stays sorted by due time.
                let due = self
                    .due
                    .back()
                    .map_or(now, |(t, _)| now.max(*t - self.window));
                self.due.push_back((due + self.window, key));
                Enqueued::Opened
            }
        }
    }

    /// The first notification due at `now`, or else when the next one is
    /// due (`None`: nothing is pending).
    pub fn pop_due(&mut self, now: Instant) -> Result<Pending, Option<Instant>> {
        match self.due.front() {
            Some((due, _)) if *due <= now => {
                let (_, key) = self.due.pop_front().expect("a front");
                Ok(self
                    .pending
                    .remove(&key)
                    .expect("every queued key is pending"))
            }
            Some((due, _)) => Err(Some(*due)),
            None => Err(None),
        }
    }

    /// Notifications waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(device: &str) -> Key {
        Key {
            user: "u".into(),
            device: device.into(),
            conv: "c".into(),
        }
    }

    fn msg(seq: u64) -> Arc<Latest> {
        Arc::new(Latest {
            seq,
            sender: "s".into(),
            body: format!("m{seq}"),
            has_attachments: false,
        })
    }

    #[test]
    fn a_burst_becomes_one_notification_with_a_count() {
        let w = Duration::from_millis(100);
        let mut c = Collapser::new(w, 10);
        let t0 = Instant::now();
        assert_eq!(c.enqueue(key("d"), &msg(1), t0), Enqueued::Opened);
        for seq in 2..=5 {
            let at = t0 + Duration::from_millis(seq * 10);
            assert_eq!(c.enqueue(key("d"), &msg(seq), at), Enqueued::Merged);
        }
        assert_eq!(c.enqueue(key("d"), &msg(3), t0), Enqueued::Repeated);
        assert_eq!(
            c.pop_due(t0 + Duration::from_millis(99)).unwrap_err(),
            Some(t0 + w)
        );
        let p = c.pop_due(t0 + w).unwrap();
        assert_eq!((p.count, p.latest.seq), (5, 5));
        assert_eq!(c.pop_due(t0 + w).unwrap_err(), None);
        // The next message opens a new window.
        assert_eq!(c.enqueue(key("d"), &msg(6), t0 + w), Enqueued::Opened);
    }

    #[test]
    fn keys_fall_due_in_order_and_the_cap_drops_new_ones() {
        let w = Duration::from_millis(100);
        let mut c = Collapser::new(w, 2);
        let t0 = Instant::now();
        c.enqueue(key("a"), &msg(1), t0);
        c.enqueue(key("b"), &msg(1), t0 + Duration::from_millis(5));
        assert_eq!(c.enqueue(key("c"), &msg(1), t0), Enqueued::Full);
        assert_eq!(c.enqueue(key("a"), &msg(2), t0), Enqueued::Merged);
        assert_eq!(c.len(), 2);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(c.pop_due(later).unwrap().key.device, "a");
        assert_eq!(c.pop_due(later).unwrap().key.device, "b");
    }
}
