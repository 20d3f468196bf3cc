//! The per-device correctness check: every message of a conversation
//! reaches each member device once, in order, and the same message holds
//! the same seq everywhere. Violations are counted in the world as they are
//! seen; what never arrived is counted by [`DeviceCheck::reconcile`].
//!
//! Within one connection seqs must rise by exactly one. A new connection
//! may start a conversation at or below what the device saw before (the
//! server resends what the device had not acknowledged: allowed), never
//! above the next one (a gap). Targets without seqs (XMPP) are checked by
//! each sender's counter, which must rise within a connection.

use crate::world::World;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

/// What a received message turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time this device sees it.
    New,
    /// Seen before, resent after a reconnect (allowed).
    Redelivered,
    /// Counted as a violation.
    Violation,
}

#[derive(Default)]
struct SeqState {
    highest: u64,
    this_connection: Option<u64>,
    acked_to_server: u64,
}

#[derive(Default)]
struct SenderState {
    highest_n: u64,
    this_connection: Option<u64>,
    received: u64,
}

/// One device's view of its conversations.
#[derive(Default)]
pub struct DeviceCheck {
    seqs: HashMap<usize, SeqState>,
    senders: HashMap<(usize, usize), SenderState>,
    /// Messages resent after reconnects.
    pub redelivered: u64,
}

impl DeviceCheck {
    /// A fresh check.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new connection begins: resends are allowed once more.
    pub fn new_connection(&mut self) {
        self.seqs
            .values_mut()
            .for_each(|s| s.this_connection = None);
        self.senders
            .values_mut()
            .for_each(|s| s.this_connection = None);
    }

    /// Checks one message: in conversation `conv`, at `seq` (targets with
    /// seqs), the `n`th send of device `sender`.
    pub fn on_message(
        &mut self,
        world: &World,
        conv: usize,
        seq: Option<u64>,
        sender: usize,
        n: u64,
    ) -> Seen {
        let v = &world.violations;
        let fresh = match seq {
            Some(seq) => {
                let s = self.seqs.entry(conv).or_default();
                let verdict = match s.this_connection {
                    Some(last) if seq == last + 1 => Ok(seq > s.highest),
                    Some(last) if seq <= last => {
                        v.duplicates.fetch_add(1, Relaxed);
                        Err(())
                    }
                    Some(last) => {
                        v.gaps.fetch_add(seq - last - 1, Relaxed);
                        Ok(true)
                    }
                    None if seq > s.highest + 1 => {
                        v.gaps.fetch_add(seq - s.highest - 1, Relaxed);
                        Ok(true)
                    }
                    None => Ok(seq > s.highest),
                };
                s.this_connection = Some(seq.max(s.this_connection.unwrap_or(0)));
                s.highest = s.highest.max(seq);
                if verdict.is_ok() && !same_everywhere(world, conv, seq, sender, n) {
                    v.order_mismatch.fetch_add(1, Relaxed);
                    return Seen::Violation;
                }
                match verdict {
                    Ok(true) => true,
                    Ok(false) => {
                        self.redelivered += 1;
                        return Seen::Redelivered;
                    }
                    Err(()) => return Seen::Violation,
                }
            }
            None => true,
        };
        let s = self.senders.entry((conv, sender)).or_default();
        match s.this_connection {
            Some(last) if n == last && seq.is_none() => {
                v.duplicates.fetch_add(1, Relaxed);
                return Seen::Violation;
            }
            Some(last) if n < last && seq.is_none() => {
                v.out_of_order.fetch_add(1, Relaxed);
                return Seen::Violation;
            }
            _ => {}
        }
        s.this_connection = Some(n.max(s.this_connection.unwrap_or(0)));
        if n > s.highest_n || (fresh && seq.is_some()) {
            s.highest_n = s.highest_n.max(n);
            s.received += 1;
            Seen::New
        } else {
            self.redelivered += 1;
            Seen::Redelivered
        }
    }

    /// Conversations whose highest contiguous seq moved since the last
    /// call: what a `delivered` receipt should say.
    pub fn receipts_due(&mut self) -> Vec<(usize, u64)> {
        self.seqs
            .iter_mut()
            .filter(|(_, s)| s.highest > s.acked_to_server)
            .map(|(&c, s)| {
                s.acked_to_server = s.highest;
                (c, s.highest)
            })
            .collect()
    }

    /// Messages of `conv` from the member in `slot` this device received.
    fn received_from(&self, world: &World, conv: usize, slot: usize) -> u64 {
        let sender = world.convs[conv].members[slot];
        self.senders
            .get(&(conv, sender))
            .map(|s| s.received)
            .unwrap_or(0)
    }

    /// How many acknowledged messages device `me` still waits for.
    pub fn outstanding(&self, world: &World, me: usize) -> u64 {
        let mut due = 0;
        for &(conv, my_slot) in &world.devices[me].convs {
            let c = &world.convs[conv];
            for (slot, acked) in c.acked.iter().enumerate() {
                if slot == my_slot && !c.echo {
                    continue;
                }
                let received = self.received_from(world, conv, slot);
                due += acked.load(Relaxed).saturating_sub(received);
            }
        }
        due
    }

    /// Counts, for device `me`, the acknowledged messages it should have
    /// received and did not; returns (conversation, sender slot,
    /// acknowledged, received) for every sender it misses messages from.
    pub fn reconcile(&self, world: &World, me: usize) -> Vec<(usize, usize, u64, u64)> {
        let mut short = Vec::new();
        for &(conv, my_slot) in &world.devices[me].convs {
            let c = &world.convs[conv];
            for (slot, acked) in c.acked.iter().enumerate() {
                if slot == my_slot && !c.echo {
                    continue;
                }
                let acked = acked.load(Relaxed);
                let received = self.received_from(world, conv, slot);
                if received < acked {
                    world
                        .violations
                        .missing
                        .fetch_add(acked - received, Relaxed);
                    short.push((conv, slot, acked, received));
                }
            }
        }
        short
    }
}

/// Records or compares the message at `seq` of `conv`.
fn same_everywhere(world: &World, conv: usize, seq: u64, sender: usize, n: u64) -> bool {
    let key = ((sender as u64) << 32) | (n & 0xFFFF_FFFF);
    let mut order = world.convs[conv].order.lock().expect("order lock");
    let i = (seq - 1) as usize;
    if order.len() <= i {
        order.resize(i + 1, 0);
    }
    if order[i] == 0 {
        order[i] = key;
        true
    } else {
        order[i] == key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{pair_up, World};

    fn world() -> World {
        let mut w = World::new("t", 2);
        pair_up(&mut w, true);
        w
    }

    #[test]
    fn dense_seqs_pass_and_gaps_and_duplicates_are_counted() {
        let w = world();
        let mut c = DeviceCheck::new();
        assert_eq!(c.on_message(&w, 0, Some(1), 0, 1), Seen::New);
        assert_eq!(c.on_message(&w, 0, Some(2), 1, 1), Seen::New);
        assert_eq!(c.on_message(&w, 0, Some(2), 1, 1), Seen::Violation);
        assert_eq!(w.violations.duplicates.load(Relaxed), 1);
        assert_eq!(c.on_message(&w, 0, Some(5), 0, 3), Seen::New);
        assert_eq!(w.violations.gaps.load(Relaxed), 2);
    }

    #[test]
    fn a_reconnect_may_resend_but_not_skip() {
        let w = world();
        let mut c = DeviceCheck::new();
        c.on_message(&w, 0, Some(1), 0, 1);
        c.on_message(&w, 0, Some(2), 0, 2);
        c.new_connection();
        assert_eq!(c.on_message(&w, 0, Some(2), 0, 2), Seen::Redelivered);
        assert_eq!(c.on_message(&w, 0, Some(3), 0, 3), Seen::New);
        assert_eq!(w.violations.total(), 0);
        c.new_connection();
        assert_eq!(c.on_message(&w, 0, Some(5), 0, 5), Seen::New);
        assert_eq!(w.violations.gaps.load(Relaxed), 1);
    }

    #[test]
    fn every_device_must_see_the_same_message_at_a_seq() {
        let w = world();
        let mut a = DeviceCheck::new();
        let mut b = DeviceCheck::new();
        a.on_message(&w, 0, Some(1), 0, 1);
        assert_eq!(b.on_message(&w, 0, Some(1), 1, 1), Seen::Violation);
        assert_eq!(w.violations.order_mismatch.load(Relaxed), 1);
    }

    #[test]
    fn without_seqs_each_senders_counter_must_rise() {
        let w = world();
        let mut c = DeviceCheck::new();
        assert_eq!(c.on_message(&w, 0, None, 0, 1), Seen::New);
        assert_eq!(c.on_message(&w, 0, None, 0, 3), Seen::New);
        assert_eq!(c.on_message(&w, 0, None, 0, 2), Seen::Violation);
        assert_eq!(c.on_message(&w, 0, None, 0, 3), Seen::Violation);
        assert_eq!(w.violations.out_of_order.load(Relaxed), 1);
        assert_eq!(w.violations.duplicates.load(Relaxed), 1);
    }

    #[test]
    fn what_never_arrived_is_missing() {
        let w = world();
        w.convs[0].acked[0].store(3, Relaxed);
        w.convs[0].acked[1].store(1, Relaxed);
        let mut c = DeviceCheck::new();
        c.on_message(&w, 0, Some(1), 0, 1);
        c.on_message(&w, 0, Some(2), 1, 1);
        assert_eq!(c.outstanding(&w, 1), 2);
        assert_eq!(c.reconcile(&w, 1), vec![(0, 0, 3, 1)]);
        assert_eq!(w.violations.missing.load(Relaxed), 2);
        assert_eq!(c.receipts_due(), vec![(0, 2)]);
        assert!(c.receipts_due().is_empty());
    }
}
