//! The limits every session of the store runs under, so that a process
//! paused or cut off in the middle of a transaction (SIGSTOP, a network
//! partition) cannot hold its row locks for ever and block the partition's
//! next owner behind them:
//!
//! - `statement_timeout`: no statement runs longer than this;
//! - `lock_timeout`: no statement waits longer than this for a lock;
//! - `idle_in_transaction_session_timeout`: the server ends a session that
//!   sits in an open transaction this long, which releases its locks;
//! - TCP keepalives and a user timeout: a peer that vanished is noticed in
//!   seconds, not after the kernel's two hours.
//!
//! Each is a PostgreSQL setting and errors it raises are transient (see
//! `error.rs`): the caller retries the whole batch. A URL that sets an
//! option itself (`options=-c lock_timeout=…`) keeps it: its `-c` comes
//! later and wins.

use std::time::Duration;

/// `statement_timeout`: a sequencer batch takes milliseconds.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// `lock_timeout`: far above any batch's hold on a conversation's row.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// `idle_in_transaction_session_timeout`: a transaction open this long
/// without a statement belongs to a process that stopped.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15);
/// TCP keepalives: the first probe after this much silence…
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// …then one this often…
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// …and the connection is dead after this many unanswered.
const KEEPALIVE_RETRIES: u32 = 3;
/// Data unacknowledged this long means the connection is dead.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies the limits to `config`.
pub fn limit(config: &mut tokio_postgres::Config) {
    let ours = options(STATEMENT_TIMEOUT, LOCK_TIMEOUT, IDLE_IN_TRANSACTION_TIMEOUT);
    let options = match config.get_options() {
        Some(theirs) if !theirs.trim().is_empty() => format!("{ours} {theirs}"),
        _ => ours,
    };
    config.options(options);
    config.keepalives(true);
    config.keepalives_idle(KEEPALIVE_IDLE);
    config.keepalives_interval(KEEPALIVE_INTERVAL);
    config.keepalives_retries(KEEPALIVE_RETRIES);
    config.tcp_user_timeout(TCP_USER_TIMEOUT);
}

/// The `options` startup parameter that sets the three timeouts.
fn options(statement: Duration, lock: Duration, idle: Duration) -> String {
    format!(
        "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
        statement.as_millis(),
        lock.as_millis(),
        idle.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_sets_an_option_keeps_it() {
        let mut config: tokio_postgres::Config =
            "postgres://u@h/db?options=-c%20lock_timeout%3D250"
                .parse()
                .unwrap();
        limit(&mut config);
        let options = config.get_options().unwrap();
        assert!(
            options.starts_with("-c statement_timeout=30000 "),
            "{options}"
        );
        assert!(options.ends_with("-c lock_timeout=250"), "{options}");
        assert_eq!(config.get_keepalives_idle(), KEEPALIVE_IDLE);
    }
}
