//! A virtual device's life on one connection: send on schedule, read what
//! arrives, check it, record latencies, until the scenario says stop (or
//! drop), or the target closes the connection.
//!
//! The protocol lives behind [`Codec`]; this loop is the same for our
//! server and for XMPP.

use crate::body::{self, Stamp};
use crate::check::{DeviceCheck, Seen};
use crate::clock::{self, Rng};
use crate::net::Ws;
use crate::record::{Latency, Recorder, Tick};
use crate::world::World;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// What the scenario wants every device to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stay connected, send nothing.
    Idle,
    /// Send nothing; report how many acknowledged messages are still
    /// due to this device, every 100 ms, so the run knows when all arrived.
    Drain,
    /// Send on schedule.
    Send,
    /// Drop the connection without a close handshake; reconnect once the
    /// phase moves on.
    Drop,
    /// Close and end.
    Stop,
}

/// What one inbound frame meant.
#[derive(Debug)]
pub enum Inbound {
    /// A send of ours was acknowledged.
    Acked {
        /// Conversation index.
        conv: usize,
        /// The sender's member slot in it.
        slot: usize,
        /// When it was scheduled.
        t_us: u64,
    },
    /// A message arrived.
    Message {
        /// Its seq (targets that have them).
        seq: Option<u64>,
        /// What its body says.
        stamp: Stamp,
        /// Whether the frame's conversation (or sender address) matches
        /// the conversation its body names.
        routed_ok: bool,
    },
    /// An error frame not tied to a send of this device.
    Error(String),
    /// A send of this device was refused, with this code.
    Refused(String),
    /// The backlog is sent: the connection is ready.
    Synced,
}

/// A protocol, seen from the device loop.
pub trait Codec: Send {
    /// The frames that send `body` (whose stamp is `stamp`) to
    /// conversation `conv`, where the sender has member `slot`.
    fn send(&mut self, world: &World, stamp: Stamp, slot: usize, body: String) -> Vec<Message>;
    /// Reads one inbound text frame; may queue frames to answer in `reply`.
    fn on_text(&mut self, world: &World, text: &str, reply: &mut Vec<Message>) -> Vec<Inbound>;
    /// Receipt frames for (conversation, highest seq) pairs (none if the
    /// protocol has no receipts).
    fn receipts(&mut self, world: &World, due: &[(usize, u64)]) -> Vec<Message>;
    /// Whether a send counts as acknowledged once written, because the
    /// protocol (as configured) has no acknowledgement to wait for.
    fn acked_on_write(&self) -> bool {
        false
    }
    /// Sends written and neither acknowledged nor refused yet.
    fn unanswered(&self) -> usize;
}

/// Settings shared by every device of a run.
pub struct Ctx {
    /// Devices and conversations.
    pub world: Arc<World>,
    /// Where measurements go.
    pub recorder: Arc<Recorder>,
    /// The scenario's orders.
    pub phase: watch::Receiver<Phase>,
    /// Microseconds between two sends of one device (0: never sends).
    pub period_us: u64,
    /// Chance that a send goes to a direct conversation rather than a
    /// group (when the device is in both).
    pub direct_share: f64,
    /// Message body size, bytes.
    pub body_bytes: usize,
    /// How often to send `delivered` receipts (`None`: never).
    pub receipt_every: Option<Duration>,
    /// Connections currently ready.
    pub ready: AtomicUsize,
    /// Per device, the acknowledged messages it still waits for, as it
    /// last reported during [`Phase::Drain`], packed with the drain epoch
    /// it read before counting (see [`Report`]; `u64::MAX`: not reported).
    pub outstanding: Vec<AtomicU64>,
    /// Raised by the drain once every send is answered: only reports of
    /// this epoch counted every acknowledgement there will be.
    pub drain_epoch: AtomicU64,
    /// Sends written and not yet acknowledged or refused (on connections
    /// still open): the drain waits for this to reach zero first.
    pub unanswered: AtomicI64,
    /// Whether devices may start sends: the drain closes it before it
    /// reads `unanswered` (see [`Ctx::begin_send`]).
    pub sends_open: AtomicBool,
    /// Sends skipped because the device was disconnected or the generator
    /// fell more than a second behind its schedule.
    pub skipped: AtomicU64,
}

impl Ctx {
    /// Counts a send about to be made, if sends are open. The count comes
    /// first and the drain closes sends before it reads the count (both
    /// sequentially consistent), so a send is either counted in what the
    /// drain waits for or not made: a send whose timer fired as the drain
    /// began can no longer have its acknowledgement arrive after the drain
    /// believed every device had all it was due.
    pub fn begin_send(&self) -> bool {
        begin_send(&self.sends_open, &self.unanswered)
    }

    /// No send starts after this returns.
    pub fn close_sends(&self) {
        self.sends_open.store(false, SeqCst);
    }

    fn report_outstanding(&self, st: &DeviceState) {
        // The epoch first: if it is the drain's last, every acknowledgement
        // was counted before it was raised, so the count below sees them.
        let epoch = self.drain_epoch.load(SeqCst);
        let due = st.check.outstanding(&self.world, st.me);
        self.outstanding[st.me].store(Report { epoch, due }.pack(), SeqCst);
    }
}

/// [`Ctx::begin_send`] on its two counters.
fn begin_send(open: &AtomicBool, unanswered: &AtomicI64) -> bool {
    unanswered.fetch_add(1, SeqCst);
    if open.load(SeqCst) {
        return true;
    }
    unanswered.fetch_sub(1, SeqCst);
    false
}

/// A device's drain report: how many acknowledged messages it still waits
/// for, counted after it read drain epoch `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The drain epoch read before counting.
    pub epoch: u64,
    /// Acknowledged messages not yet received.
    pub due: u64,
}

impl Report {
    const DUE_BITS: u32 = 40;

    /// One word: the epoch above 40 bits of count (counts saturate).
    pub fn pack(self) -> u64 {
        let mask = (1 << Self::DUE_BITS) - 1;
        (self.epoch << Self::DUE_BITS) | self.due.min(mask)
    }

    /// Whether the packed word `w` is a report of `epoch` with nothing due.
    pub fn all_arrived(w: u64, epoch: u64) -> bool {
        w == Report { epoch, due: 0 }.pack()
    }
}

/// What survives a device's reconnects.
pub struct DeviceState {
    /// Device index.
    pub me: usize,
    /// Its correctness check.
    pub check: DeviceCheck,
    sent_n: HashMap<usize, u64>,
    next_send_us: u64,
    rng: Rng,
}

impl DeviceState {
    /// A device that starts sending at a random phase of its period.
    pub fn new(me: usize, period_us: u64, seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ (me as u64).wrapping_mul(0x9E37_79B9));
        let phase = if period_us > 0 {
            rng.below(period_us)
        } else {
            0
        };
        DeviceState {
            me,
            check: DeviceCheck::new(),
            sent_n: HashMap::new(),
            next_send_us: clock::now_us() + phase,
            rng,
        }
    }
}

impl DeviceState {
    /// Moves the schedule past now by whole periods, so that sending
    /// starts (or resumes) without a burst of sends that were due while it
    /// was not sending.
    fn skip_to_now(&mut self, period_us: u64) {
        let now = clock::now_us();
        if self.next_send_us < now && period_us > 0 {
            let behind = now - self.next_send_us;
            self.next_send_us += behind.div_ceil(period_us) * period_us;
        }
    }
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The scenario said stop.
    Stop,
    /// The scenario said drop.
    Drop,
    /// The target closed it, or it failed.
    Closed(String),
}

/// Runs one connection until it ends. `ready` is the latency to record,
/// with the time the connection attempt began, when the target says the
/// connection is ready (`Synced`); `None` if it is ready already.
pub async fn live<C: Codec>(
    ws: &mut Ws,
    codec: &mut C,
    st: &mut DeviceState,
    ctx: &Ctx,
    mut ready: Option<(Latency, u64)>,
) -> End {
    let mut phase_rx = ctx.phase.clone();
    let world = &*ctx.world;
    if ready.is_none() {
        ctx.ready.fetch_add(1, Relaxed);
    }
    let far = Duration::from_secs(3600);
    let mut receipt_at = tokio::time::Instant::now() + ctx.receipt_every.unwrap_or(far);
    let mut was_sending = false;
    let mut was_draining = false;
    let end = loop {
        let phase = *phase_rx.borrow_and_update();
        match phase {
            Phase::Stop => break End::Stop,
            Phase::Drop => break End::Drop,
            Phase::Idle | Phase::Send | Phase::Drain => {}
        }
        let draining = phase == Phase::Drain && ready.is_none();
        let drain_at = if draining {
            if !was_draining {
                ctx.report_outstanding(st);
            }
            tokio::time::Instant::now() + Duration::from_millis(100)
        } else {
            tokio::time::Instant::now() + far
        };
        was_draining = draining;
        let sending = phase == Phase::Send && ctx.period_us > 0 && ready.is_none();
        if sending && !was_sending {
            st.skip_to_now(ctx.period_us);
        }
        was_sending = sending;
        let send_at = if sending {
            clock::instant_of(st.next_send_us).into()
        } else {
            tokio::time::Instant::now() + far
        };
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => break End::Closed(format!("closed by the target: {c:?}")),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break End::Closed(format!("read failed: {e}")),
                    None => break End::Closed("connection ended".into()),
                };
                let mut reply = Vec::new();
                for ev in codec.on_text(world, text.as_str(), &mut reply) {
                    on_event(ev, st, ctx, &mut ready);
                }
                if !reply.is_empty() && write_all(ws, reply).await.is_err() {
                    break End::Closed("write failed".into());
                }
            }
            _ = tokio::time::sleep_until(send_at) => {
                let frames = next_send(codec, st, ctx);
                if write_all(ws, frames).await.is_err() {
                    break End::Closed("write failed".into());
                }
            }
            _ = tokio::time::sleep_until(receipt_at) => {
                receipt_at += ctx.receipt_every.unwrap_or(far);
                let due = st.check.receipts_due();
                let frames = codec.receipts(world, &due);
                if write_all(ws, frames).await.is_err() {
                    break End::Closed("write failed".into());
                }
            }
            _ = tokio::time::sleep_until(drain_at) => ctx.report_outstanding(st),
            changed = phase_rx.changed() => {
                if changed.is_err() {
                    break End::Stop;
                }
            }
        }
    };
    if ready.is_none() {
        ctx.ready.fetch_sub(1, Relaxed);
    }
    end
}

fn on_event(ev: Inbound, st: &mut DeviceState, ctx: &Ctx, ready: &mut Option<(Latency, u64)>) {
    let world = &*ctx.world;
    let now = clock::now_us();
    match ev {
        Inbound::Acked { conv, slot, t_us } => {
            // Counted before it stops being unanswered: the drain reads
            // the two in the other order.
            if let Some(a) = world.convs.get(conv).and_then(|c| c.acked.get(slot)) {
                a.fetch_add(1, SeqCst);
            }
            ctx.unanswered.fetch_sub(1, SeqCst);
            ctx.recorder
                .latency(st.me, Latency::Sent, now.saturating_sub(t_us));
            ctx.recorder.tick(Tick::Ack);
        }
        Inbound::Message {
            seq,
            stamp,
            routed_ok,
        } => {
            if !routed_ok || stamp.conv >= world.convs.len() {
                world.violations.misrouted.fetch_add(1, Relaxed);
                return;
            }
            let seen = st
                .check
                .on_message(world, stamp.conv, seq, stamp.sender, stamp.n);
            if seen == Seen::New && stamp.sender != st.me {
                ctx.recorder
                    .latency(st.me, Latency::Delivered, now.saturating_sub(stamp.t_us));
                ctx.recorder.tick(Tick::Delivery);
            }
        }
        Inbound::Error(code) => ctx.recorder.error(&code),
        Inbound::Refused(code) => {
            ctx.unanswered.fetch_sub(1, SeqCst);
            ctx.recorder.error(&code);
        }
        Inbound::Synced => {
            if let Some((kind, t0)) = ready.take() {
                ctx.recorder.latency(st.me, kind, now.saturating_sub(t0));
                ctx.recorder.tick(Tick::Connect);
                ctx.ready.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The frames of the sends now due (more than one if the loop is late,
/// none if it is more than a second late: those are skipped).
fn next_send<C: Codec>(codec: &mut C, st: &mut DeviceState, ctx: &Ctx) -> Vec<Message> {
    let world = &*ctx.world;
    let now = clock::now_us();
    let mut frames = Vec::new();
    while st.next_send_us <= now {
        let t_us = st.next_send_us;
        st.next_send_us += ctx.period_us;
        if now - t_us > 1_000_000 {
            ctx.skipped.fetch_add(1, Relaxed);
            continue;
        }
        let Some((conv, slot)) = pick_conv(world, st, ctx.direct_share) else {
            break;
        };
        if codec.acked_on_write() {
            if !ctx.sends_open.load(SeqCst) {
                break;
            }
        } else if !ctx.begin_send() {
            break;
        }
        let n = st.sent_n.entry(conv).or_default();
        *n += 1;
        let stamp = Stamp {
            conv,
            sender: st.me,
            n: *n,
            t_us,
        };
        frames.extend(codec.send(world, stamp, slot, body::encode(stamp, ctx.body_bytes)));
        ctx.recorder.tick(Tick::Send);
        if codec.acked_on_write() {
            world.convs[conv].acked[slot].fetch_add(1, Relaxed);
        }
    }
    frames
}

/// A direct conversation with probability `direct_share` when the device
/// has both kinds, otherwise any of its conversations.
fn pick_conv(world: &World, st: &mut DeviceState, direct_share: f64) -> Option<(usize, usize)> {
    let convs = &world.devices[st.me].convs;
    if convs.is_empty() {
        return None;
    }
    let (direct, group): (Vec<_>, Vec<_>) = convs
        .iter()
        .partition(|(c, _)| world.convs[*c].kind == crate::world::ConvKind::Direct);
    let pool = if direct.is_empty() || group.is_empty() {
        convs.iter().collect::<Vec<_>>()
    } else if st.rng.unit() < direct_share {
        direct
    } else {
        group
    };
    Some(*pool[st.rng.below(pool.len() as u64) as usize])
}

async fn write_all(ws: &mut Ws, frames: Vec<Message>) -> Result<(), ()> {
    if frames.is_empty() {
        return Ok(());
    }
    for f in frames {
        ws.feed(f).await.map_err(|_| ())?;
    }
    ws.flush().await.map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::{begin_send, Report};
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};

    /// The drain closes sends, then waits for the count to reach zero: a
    /// send that starts after the close must not be made (its
    /// acknowledgement could arrive after the drain ended, and its message
    /// count as missing).
    #[test]
    fn a_send_is_counted_before_the_drain_or_not_made() {
        let (open, unanswered) = (AtomicBool::new(true), AtomicI64::new(0));
        assert!(begin_send(&open, &unanswered), "open: made and counted");
        assert_eq!(unanswered.load(SeqCst), 1);
        open.store(false, SeqCst);
        assert!(!begin_send(&open, &unanswered), "closed: no send starts");
        assert_eq!(unanswered.load(SeqCst), 1, "and none is counted");
    }

    #[test]
    fn only_a_report_of_the_current_epoch_with_nothing_due_ends_the_drain() {
        let nothing_due = |epoch| Report { epoch, due: 0 }.pack();
        assert!(Report::all_arrived(nothing_due(3), 3));
        // Counted before the last acknowledgement: not believed.
        assert!(!Report::all_arrived(nothing_due(2), 3));
        assert!(!Report::all_arrived(Report { epoch: 3, due: 1 }.pack(), 3));
        assert!(!Report::all_arrived(u64::MAX, 3));
        // Counts saturate below the epoch bits.
        let big = Report {
            epoch: 1,
            due: u64::MAX,
        }
        .pack();
        assert_eq!(big >> 40, 1);
    }
}
