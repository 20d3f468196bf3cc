//! The per-device send rate limit (governor's GCRA, keyed by user and
//! device), shared by the WebSocket and HTTP send paths.

use chat_domain::DomainError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

pub struct SendLimiter {
    limiter: DefaultKeyedRateLimiter<(String, String)>,
    clock: DefaultClock,
}

impl SendLimiter {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_sec.max(1)).expect("at least one");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one send from the device's allowance, or says how long to wait.
    pub fn check(&self, user: &str, device: &str) -> Result<(), DomainError> {
        match self
            .limiter
            .check_key(&(user.to_string(), device.to_string()))
        {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(DomainError::rate_limited((wait.as_millis() as u64).max(1)))
            }
        }
    }

    /// Forgets devices whose allowance is full again, so memory follows
    /// the active devices only.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}
