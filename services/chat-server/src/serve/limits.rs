//! The limits of the HTTP server, from `[server]`, and the default
//! connection cap derived from the open-file limit.

use crate::config::ServerConfig;
use anyhow::bail;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The limits of [`HttpServer`], from `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl HttpLimits {
    /// The configured limits; an unset `max_connections` is derived from
    /// the open-file limit ([`derived_max_connections`]).
    pub fn from_config(c: &ServerConfig) -> anyhow::Result<Self> {
        let max_connections = match c.max_connections {
            Some(0) => bail!("server.max_connections must be at least 1"),
            Some(n) => {
                if let Some((derived, soft)) = derived_max_connections() {
                    if n > derived {
                        tracing::warn!(
                            max_connections = n,
                            open_file_limit = soft,
                            "server.max_connections is above what the open-file limit leaves \
                             (RLIMIT_NOFILE less a reserve for the engines): accepts may fail \
                             with EMFILE before the cap is reached; raise the limit \
                             (LimitNOFILE=, ulimit -n)."
                        );
                    }
                }
                n
            }
            None => match derived_max_connections() {
                Some((n, soft)) => {
                    tracing::info!(
                        max_connections = n,
                        open_file_limit = soft,
                        "server.max_connections is unset: the open-file limit less a reserve \
                         for the engines."
                    );
                    n
                }
                None => FALLBACK_MAX_CONNECTIONS,
            },
        };
        Ok(Self {
            header_read_timeout: Duration::from_millis(c.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(c.http_idle_timeout_ms.max(1)),
            body_timeout: Duration::from_millis(c.body_timeout_ms.max(1)),
            max_connections: max_connections.min(Semaphore::MAX_PERMITS),
        })
    }
}

/// The cap where the open-file limit cannot be read.
const FALLBACK_MAX_CONNECTIONS: usize = 10_000;

/// The cap when `server.max_connections` is unset, and the soft
/// RLIMIT_NOFILE it comes from; `None` when the limit cannot be read.
pub fn derived_max_connections() -> Option<(usize, u64)> {
    let (soft, _hard) = rlimit::Resource::NOFILE.get().ok()?;
    Some((max_connections_for(soft), soft))
}

/// The connections an open-file limit of `soft` leaves room for: all but a
/// reserve of a quarter (at least 256, at most half) for what else the
/// process opens: the engines' sockets and files (store pools, Kafka
/// brokers, Redis, the embedded databases), the listener, and the file
/// an attachment download or upload holds besides its socket.
pub fn max_connections_for(soft: u64) -> usize {
    // RLIM_INFINITY and other absurd values: the kernel stops at
    // fs.nr_open (2^20 by default) anyway.
    let soft = soft.min(1 << 24);
    let reserve = (soft / 4).max(256).min(soft / 2);
    usize::try_from(soft - reserve).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_cap_keeps_a_reserve_below_the_open_file_limit() {
        assert_eq!(max_connections_for(1024), 768);
        assert_eq!(max_connections_for(65_536), 49_152);
        assert_eq!(max_connections_for(256), 128);
        assert_eq!(max_connections_for(1), 1);
        assert_eq!(max_connections_for(u64::MAX), (1 << 24) - (1 << 22));
    }

    #[test]
    fn an_unset_cap_comes_from_the_open_file_limit() {
        let limits = HttpLimits::from_config(&ServerConfig::default()).unwrap();
        let (derived, soft) = derived_max_connections().unwrap();
        assert_eq!(limits.max_connections, derived);
        assert!((derived as u64) < soft);
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.idle_timeout, Duration::from_secs(75));
        assert_eq!(limits.body_timeout, Duration::from_secs(30));
        let zero = ServerConfig {
            max_connections: Some(0),
            ..ServerConfig::default()
        };
        assert!(HttpLimits::from_config(&zero).is_err());
    }
}
