//! Per-user and per-device allowances of the frames that cost the client
//! little and the server much (`config::ClientLimits`): typing (a publish
//! to every member; past it dropped), sync (a backlog) and presence
//! subscriptions (watches; past them answered as the protocol says, but
//! later), sends per user across its devices, and the conversations a user
//! creates, the members it adds and its searches (past them
//! `rate_limited`). governor's
//! GCRA, keyed; idle keys are forgotten by the gateway's housekeeping.

use crate::config::ClientLimits;
use chat_domain::DomainError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

type Keyed = DefaultKeyedRateLimiter<(String, String)>;

pub struct ClientRates {
    typing: Keyed,
    sync: Keyed,
    presence: Keyed,
    receipts: Keyed,
    user_sends: DefaultKeyedRateLimiter<String>,
    creations: DefaultKeyedRateLimiter<String>,
    member_adds: DefaultKeyedRateLimiter<String>,
    searches: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

/// `rate_limited`, naming what there was too much of.
fn wait(wait: Duration, what: &str) -> DomainError {
    let mut e = DomainError::rate_limited((wait.as_millis() as u64).max(1));
    e.message = format!("too many {what}; slow down");
    e
}

/// One frame per `every_ms`, after `burst`.
fn every(every_ms: u64, burst: u32) -> Quota {
    Quota::with_period(Duration::from_millis(every_ms.max(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(nonzero(burst))
}

impl ClientRates {
    pub fn new(l: &ClientLimits) -> Self {
        Self {
            typing: RateLimiter::keyed(every(l.typing_every_ms, l.typing_burst)),
            sync: RateLimiter::keyed(every(l.sync_every_ms, l.sync_burst)),
            presence: RateLimiter::keyed(every(l.presence_every_ms, l.presence_burst)),
            receipts: RateLimiter::keyed(every(l.receipts_every_ms, l.receipt_burst)),
            user_sends: RateLimiter::keyed(
                Quota::per_second(nonzero(l.user_sends_per_sec))
                    .allow_burst(nonzero(l.user_send_burst)),
            ),
            creations: RateLimiter::keyed(every(l.conversations_every_ms, l.conversation_burst)),
            member_adds: RateLimiter::keyed(every(l.member_adds_every_ms, l.member_add_burst)),
            searches: RateLimiter::keyed(every(l.searches_every_ms, l.search_burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Whether a `typing` of `user` in `conv` goes out (else it is dropped).
    pub fn typing(&self, user: &str, conv: &str) -> bool {
        self.typing
            .check_key(&(user.to_string(), conv.to_string()))
            .is_ok()
    }

    /// Waits until the device may `sync` again. A sync is answered as
    /// the protocol says (a backlog, then `synced`), only later: a flood
    /// slows its own connection down, and the server sends at most one
    /// backlog per period.
    pub async fn sync(&self, user: &str, device: &str) {
        self.wait_for(&self.sync, user, device).await
    }

    /// Waits until the device may `subscribe_presence` again, likewise
    /// (presence is sent as the protocol says, only later).
    pub async fn presence(&self, user: &str, device: &str) {
        self.wait_for(&self.presence, user, device).await
    }

    async fn wait_for(&self, limiter: &Keyed, user: &str, device: &str) {
        let key = (user.to_string(), device.to_string());
        while let Err(not_until) = limiter.check_key(&key) {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }

    /// A receipt of the device now, or how long until there is room (a
    /// WebSocket holds it, merged: `ws/held.rs`).
    pub fn receipt(&self, user: &str, device: &str) -> Result<(), Duration> {
        self.receipts
            .check_key(&(user.to_string(), device.to_string()))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// A receipt over HTTP now, or `rate_limited`.
    pub fn receipt_now(&self, user: &str, device: &str) -> Result<(), DomainError> {
        self.receipt(user, device)
            .map_err(|w| wait(w, "receipts from this device"))
    }

    /// A send of `user` from any of its devices, or how long to wait.
    pub fn user_send(&self, user: &str) -> Result<(), DomainError> {
        self.user_sends
            .check_key(&user.to_string())
            .map_err(|not_until| {
                wait(
                    not_until.wait_time_from(self.clock.now()),
                    "sends from this user's devices together",
                )
            })
    }

    /// A conversation `user` creates, naming `adds` members besides
    /// itself, or how long to wait. Neither allowance is spent unless both
    /// have room.
    pub fn creation(&self, user: &str, adds: usize) -> Result<(), DomainError> {
        let key = user.to_string();
        if let Err(not_until) = self.creations.check_key(&key) {
            return Err(wait(
                not_until.wait_time_from(self.clock.now()),
                "conversations created by this user",
            ));
        }
        self.adds(&key, adds)
    }

    /// A search of `user`, or how long to wait.
    pub fn search(&self, user: &str) -> Result<(), DomainError> {
        self.searches
            .check_key(&user.to_string())
            .map_err(|not_until| {
                wait(
                    not_until.wait_time_from(self.clock.now()),
                    "searches from this user",
                )
            })
    }

    /// Members `user` adds to a group, or how long to wait.
    pub fn member_adds(&self, user: &str, adds: usize) -> Result<(), DomainError> {
        self.adds(&user.to_string(), adds)
    }

    fn adds(&self, key: &String, adds: usize) -> Result<(), DomainError> {
        let Some(n) = NonZeroU32::new(u32::try_from(adds).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        match self.member_adds.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(wait(
                not_until.wait_time_from(self.clock.now()),
                "members added by this user",
            )),
            // More at once than the burst: never fits.
            Err(_) => Err(DomainError::bad_request(
                "more members at once than a user may add (gateway.client_limits.member_add_burst)",
            )),
        }
    }

    /// Forgets keys whose allowance is full again.
    pub fn forget_idle(&self) {
        self.typing.retain_recent();
        self.sync.retain_recent();
        self.presence.retain_recent();
        self.receipts.retain_recent();
        self.user_sends.retain_recent();
        self.creations.retain_recent();
        self.member_adds.retain_recent();
        self.searches.retain_recent();
        self.searches.shrink_to_fit();
        self.creations.shrink_to_fit();
        self.member_adds.shrink_to_fit();
        self.typing.shrink_to_fit();
        self.sync.shrink_to_fit();
        self.presence.shrink_to_fit();
        self.receipts.shrink_to_fit();
        self.user_sends.shrink_to_fit();
    }
}
