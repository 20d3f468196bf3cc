//! A virtual device across connections: connect (with backoff on
//! failure), run the connection, and reconnect after a drop or a close by
//! the target, until the scenario says stop.

use crate::clock;
use crate::device::{live, Codec, Ctx, DeviceState, End, Phase};
use crate::net::Ws;
use crate::record::{Latency, Tick};
use std::future::Future;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// A connection as a target's connect step hands it over.
pub struct Connected<C> {
    /// The socket.
    pub ws: Ws,
    /// The protocol state.
    pub codec: C,
    /// Whether readiness is a later `synced` frame (true) or now (false).
    pub await_synced: bool,
}

/// Runs device `st` until the phase is [`Phase::Stop`]; `connect(again)`
/// opens a connection (`again` is true after the first one).
pub async fn run<C, F, Fut>(mut st: DeviceState, ctx: Arc<Ctx>, mut connect: F) -> DeviceState
where
    C: Codec,
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = anyhow::Result<Connected<C>>>,
{
    let mut phase = ctx.phase.clone();
    let mut again = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        let now = *phase.borrow_and_update();
        match now {
            Phase::Stop => break,
            Phase::Drop => {
                if phase.changed().await.is_err() {
                    break;
                }
                continue;
            }
            Phase::Idle | Phase::Send | Phase::Drain => {}
        }
        let t0 = clock::now_us();
        let mut conn = match connect(again).await {
            Ok(c) => c,
            Err(e) => {
                ctx.recorder.error(&format!("connect: {}", e.root_cause()));
                let jitter = Duration::from_millis(st.me as u64 % 100);
                tokio::time::sleep(backoff + jitter).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        st.check.new_connection();
        let kind = if again {
            Latency::Resync
        } else {
            Latency::Connect
        };
        let ready = if conn.await_synced {
            Some((kind, t0))
        } else {
            ctx.recorder
                .latency(st.me, kind, clock::now_us().saturating_sub(t0));
            ctx.recorder.tick(Tick::Connect);
            None
        };
        let end = live(&mut conn.ws, &mut conn.codec, &mut st, &ctx, ready).await;
        // Sends still unanswered on a connection that ends never will be.
        ctx.unanswered
            .fetch_sub(conn.codec.unanswered() as i64, SeqCst);
        again = true;
        match end {
            End::Stop => {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.ws.close(None)).await;
                break;
            }
            End::Drop => drop(conn),
            End::Closed(reason) => {
                ctx.world
                    .violations
                    .dropped_connections
                    .fetch_add(1, Relaxed);
                ctx.recorder.error(&format!("connection lost: {reason}"));
            }
        }
    }
    st
}
