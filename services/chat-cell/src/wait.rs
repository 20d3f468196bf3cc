//! Waiting for a part to come up.

use crate::error::{CellError, Result};
use crate::process::Proc;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How long a part may take to (re)start.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);

/// Polls `ready` until it is true; fails when `proc` exits or after
/// `START_TIMEOUT`.
pub async fn wait_until<F, Fut>(proc: &mut Proc, mut ready: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + START_TIMEOUT;
    loop {
        if ready().await {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            return Err(CellError::Start {
                part: proc.name.clone(),
                what: format!("exited while starting ({status})"),
                log: proc.log.clone(),
            });
        }
        if Instant::now() > end {
            return Err(CellError::Start {
                part: proc.name.clone(),
                what: format!("did not start within {START_TIMEOUT:?}"),
                log: proc.log.clone(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 127.0.0.1:`port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
