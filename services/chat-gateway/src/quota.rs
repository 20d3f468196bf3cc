//! Each user's daily quota of stored bytes (message bodies and edits, and
//! the declared size of the attachments it uploads), counted per UTC day
//! in the store, so every gateway of a fleet counts against the same
//! number. With the retention period, it bounds what one user can make
//! the stores hold, and the bytes of its unsent uploads.
//!
//! A gateway does not write the count on every send: it adds what a user
//! took since its last write once it reaches [`FLUSH_BYTES`] or
//! [`FLUSH_EVERY`] passed, and learns the fleet's total in the answer.
//! So a fleet lets a user past the quota by at most what its gateways
//! hold unwritten (each under `FLUSH_BYTES`, or one flush period of the
//! user's sends), and a gateway that crashes loses only its unwritten
//! part of the count.
//!
//! A gateway's first write of a user's day also has the store forget the
//! user's days before yesterday, so the store keeps a count or two per
//! user, not one per user and day.

use chat_domain::{DomainError, UserId};
use chat_ports::UsageStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A user's bytes taken since the last write are written once this many.
pub const FLUSH_BYTES: u64 = 1024 * 1024;
/// ...or once the last write is this old.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// Past this many users known, those with nothing unwritten and no write
/// for a minute are forgotten (read again from the store when they come).
const KNOWN_USERS: usize = 16_384;
const DAY_MS: i64 = 86_400_000;

/// What a gateway knows of one user's day.
struct Tally {
    day: i64,
    /// The store's count at the last write.
    written: u64,
    /// Taken here since.
    unwritten: u64,
    /// When this gateway last wrote it; `None`: never (the first take
    /// writes, and so learns the fleet's count).
    written_at: Option<Instant>,
}

impl Tally {
    fn due(&self) -> bool {
        self.unwritten >= FLUSH_BYTES || self.written_at.is_none_or(|t| t.elapsed() >= FLUSH_EVERY)
    }

    fn idle(&self) -> bool {
        self.unwritten == 0
            && self
                .written_at
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
    }
}

/// The daily quotas.
pub struct Quotas {
    store: Arc<dyn UsageStore>,
    /// Bytes per user and UTC day; 0: no quota.
    daily_bytes: u64,
    users: Mutex<Users>,
}

/// The tallies, and when idle ones were last forgotten.
struct Users {
    known: HashMap<UserId, Tally>,
    swept: Instant,
}

impl Quotas {
    pub fn new(store: Arc<dyn UsageStore>, daily_bytes: u64) -> Self {
        Self {
            store,
            daily_bytes,
            users: Mutex::new(Users {
                known: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Takes `bytes` from `user`'s quota of today, or refuses with
    /// `rate_limited` and the time until the next UTC day.
    pub async fn take(&self, user: &UserId, bytes: u64) -> Result<(), DomainError> {
        if self.daily_bytes == 0 {
            return Ok(());
        }
        let now_ms = chat_domain::time::now_ms();
        let day = now_ms.div_euclid(DAY_MS);
        let flush = {
            let mut users = self.users.lock().expect("quota lock");
            // (A sweep reads every tally: at most once per flush period,
            // not on every send while many users are active.)
            if users.known.len() > KNOWN_USERS && users.swept.elapsed() >= FLUSH_EVERY {
                users.known.retain(|_, t| !t.idle());
                users.swept = Instant::now();
            }
            let fresh = || Tally {
                day,
                written: 0,
                unwritten: 0,
                written_at: None,
            };
            let tally = users.known.entry(user.clone()).or_insert_with(fresh);
            if tally.day != day {
                *tally = fresh();
            }
            if tally.written + tally.unwritten + bytes > self.daily_bytes {
                let wait = (day + 1) * DAY_MS - now_ms;
                let mut refused = DomainError::rate_limited(wait.max(1) as u64);
                refused.message = format!(
                    "the daily quota of {} bytes of messages and attachments is used up; it renews at 00:00 UTC",
                    self.daily_bytes
                );
                return Err(refused);
            }
            tally.unwritten += bytes;
            if tally.due() {
                let n = std::mem::take(&mut tally.unwritten);
                let first = tally.written_at.replace(Instant::now()).is_none();
                Some((n, first))
            } else {
                None
            }
        };
        if let Some((n, first)) = flush {
            if first {
                self.forget_old_days(user, day);
            }
            self.write(user, day, n).await;
        }
        Ok(())
    }

    /// Has the store forget `user`'s days before yesterday (yesterday is
    /// kept: a gateway whose clock lags may still add to it), beside the
    /// send. Done at a gateway's first write of a user's day, so once a
    /// day per user and gateway.
    fn forget_old_days(&self, user: &UserId, day: i64) {
        let (store, user) = (self.store.clone(), user.clone());
        tokio::spawn(async move {
            if let Err(e) = store.forget_usage_before(&user, day - 1).await {
                tracing::warn!(error = %e, "A user's usage of past days could not be forgotten; it is tried again tomorrow.");
            }
        });
    }

    /// Adds `n` to the store's count, and learns the fleet's total. A
    /// store that fails keeps the bytes unwritten, for the next write.
    async fn write(&self, user: &UserId, day: i64, n: u64) {
        let added = self
            .store
            .add_usage(user, day, i64::try_from(n).unwrap_or(i64::MAX))
            .await;
        let mut users = self.users.lock().expect("quota lock");
        let Some(tally) = users.known.get_mut(user).filter(|t| t.day == day) else {
            return;
        };
        match added {
            Ok(total) => tally.written = tally.written.max(u64::try_from(total).unwrap_or(0)),
            Err(e) => {
                tracing::warn!(error = %e, "A user's usage could not be counted; it is kept for the next write.");
                tally.unwritten += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_domain::ErrorCode;
    use chat_embedded::{EmbeddedStore, FsyncPolicy};

    /// Two gateways of a fleet count one user against one quota: what one
    /// wrote, the other learns at its first write.
    #[tokio::test]
    async fn gateways_of_a_fleet_count_against_one_quota() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(EmbeddedStore::open(&dir.path().join("s.redb"), FsyncPolicy::Never).unwrap());
        let (a, b) = (
            Quotas::new(store.clone(), 3 * FLUSH_BYTES),
            Quotas::new(store.clone(), 3 * FLUSH_BYTES),
        );
        let user = UserId::from("ursula");
        // Gateway a takes two flushes' worth, written as it goes.
        for _ in 0..2 {
            a.take(&user, FLUSH_BYTES).await.unwrap();
        }
        let day = chat_domain::time::now_ms().div_euclid(DAY_MS);
        assert_eq!(
            store.add_usage(&user, day, 0).await.unwrap(),
            2 * FLUSH_BYTES as i64
        );
        // Gateway b's first take is let through, and learns the total...
        b.take(&user, FLUSH_BYTES / 2).await.unwrap();
        // ...so the next that would pass the quota is refused there.
        let refused = b.take(&user, FLUSH_BYTES).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert!(refused.retry_after_ms.unwrap() <= DAY_MS as u64);
        // Another user has a quota of its own; no quota, no limit.
        b.take(&UserId::from("vera"), FLUSH_BYTES).await.unwrap();
        let free = Quotas::new(store, 0);
        free.take(&user, 100 * FLUSH_BYTES).await.unwrap();
    }

    /// A user's first write of a day makes the store forget its days
    /// before yesterday, so the counts kept grow with the users, not with
    /// the days.
    #[tokio::test]
    async fn a_users_old_days_are_forgotten_at_its_first_write_of_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(EmbeddedStore::open(&dir.path().join("s.redb"), FsyncPolicy::Never).unwrap());
        let user = UserId::from("olga");
        let today = chat_domain::time::now_ms().div_euclid(DAY_MS);
        store.add_usage(&user, today - 30, 500).await.unwrap();
        store.add_usage(&user, today - 2, 400).await.unwrap();
        store.add_usage(&user, today - 1, 300).await.unwrap();
        store.add_usage("other", today - 30, 200).await.unwrap();
        Quotas::new(store.clone(), 3 * FLUSH_BYTES)
            .take(&user, 10)
            .await
            .unwrap();
        // (The removal runs beside the send: waited for here.)
        let mut left = (1, 1);
        for _ in 0..100 {
            left = (
                store.add_usage(&user, today - 30, 0).await.unwrap(),
                store.add_usage(&user, today - 2, 0).await.unwrap(),
            );
            if left == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(left, (0, 0), "days before yesterday are forgotten");
        assert_eq!(store.add_usage(&user, today - 1, 0).await.unwrap(), 300);
        assert_eq!(store.add_usage(&user, today, 0).await.unwrap(), 10);
        assert_eq!(store.add_usage("other", today - 30, 0).await.unwrap(), 200);
    }
}
