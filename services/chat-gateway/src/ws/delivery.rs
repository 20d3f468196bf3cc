//! Per-device delivery state: for each conversation, the next seq this
//! device should get. Live messages below it are dropped (already sent),
//! above it are preceded by the missing ones read from the store, so a
//! device sees each conversation in seq order with no gap even when the
//! real-time path lost something. Receipts are watermarks: a `receipt`
//! frame that would not move what this session already sent for that
//! (conversation, user, kind) is dropped, so a repeated old event never
//! takes a device's view back.

use super::outbound::{Gone, Outbound};
use crate::error::from_port;
use crate::ChatService;
use chat_domain::frames::ServerFrame;
use chat_domain::{ConversationId, ConversationState, DomainError, Message, ReceiptKind, UserId};
use std::collections::HashMap;

/// Messages read from the store per page.
const PAGE: usize = 256;

/// Why delivery stopped.
pub(crate) enum Stop {
    Gone,
    Failed(DomainError),
}

impl From<Gone> for Stop {
    fn from(_: Gone) -> Self {
        Stop::Gone
    }
}

impl From<DomainError> for Stop {
    fn from(e: DomainError) -> Self {
        Stop::Failed(e)
    }
}

#[derive(Default)]
pub(crate) struct Delivery {
    pub(super) next: HashMap<ConversationId, u64>,
    /// The highest receipt watermark sent, per conversation, then user and
    /// kind.
    receipts: HashMap<ConversationId, HashMap<(UserId, ReceiptKind), u64>>,
    /// What this session knew of each conversation besides its messages
    /// (see `repair`).
    pub(super) seen: HashMap<ConversationId, super::repair::Seen>,
    /// The device's delivered watermarks when it connected: where a
    /// conversation this session has not delivered yet starts.
    floor: HashMap<String, u64>,
}

impl Delivery {
    /// Sends every message of `conv` above `after` from the store, waiting
    /// for queue room; returns the last seq sent (or `after`).
    pub(crate) async fn replay(
        &mut self,
        service: &ChatService,
        out: &Outbound,
        conv: &ConversationId,
        mut after: u64,
        upto: u64,
    ) -> Result<u64, Stop> {
        // A client's sync may name any seq: never past what exists.
        let last = service.conversation(conv).await?.last_seq;
        after = after.min(last);
        // Never above the committed state: rows above it may belong to a
        // batch still being written, with holes below them.
        let upto = upto.min(last);
        tracing::debug!(conv = %conv, after, upto, last, "Delivery replays from the store.");
        'pages: while after < upto {
            let mut page = service
                .stores
                .messages
                .messages_after(conv, after, PAGE)
                .await
                .map_err(from_port)?;
            service.show_replies(&mut page).await?;
            let full = page.len() == PAGE;
            for m in page {
                if m.seq > upto {
                    // (Committed after `last` was read.) What was sent is
                    // recorded below all the same: returning here left the
                    // position unset, and the next live message sent the
                    // conversation again.
                    break 'pages;
                }
                after = m.seq;
                out.push(&ServerFrame::Message(m)).await?;
                service.metrics.deliveries.inc();
            }
            if !full {
                break;
            }
        }
        let next = self.next.entry(conv.clone()).or_insert(0);
        *next = (*next).max(after.saturating_add(1));
        Ok(after)
    }

    /// One conversation caught up from the store: what lies above this
    /// session's position in it (or the member's join point).
    pub(crate) async fn catch_up_one(
        &mut self,
        service: &ChatService,
        out: &Outbound,
        user: &UserId,
        state: &ConversationState,
    ) -> Result<(), Stop> {
        let Some(member) = state.member(user) else {
            return Ok(());
        };
        let from = self
            .next
            .get(&state.id)
            .map(|n| n - 1)
            .or_else(|| self.floor.get(state.id.as_str()).copied())
            .unwrap_or(0)
            .max(member.joined_after);
        self.replay(service, out, &state.id, from, u64::MAX).await?;
        Ok(())
    }

    /// The backlog on connect, or the repair after lag: for every
    /// conversation of the user, what lies above this device's position
    /// (or its delivered watermark, or its join point).
    pub(crate) async fn catch_up(
        &mut self,
        service: &ChatService,
        out: &Outbound,
        user: &UserId,
        watermarks: &HashMap<String, u64>,
    ) -> Result<(), Stop> {
        let states = service.member_conversations(user).await?;
        // A conversation missing from `states` is not forgotten here: only a
        // stored state that shows the user gone does that (a `conversation`
        // event, or the repair's reading of it), so a list read at a bad
        // moment never makes this session send a conversation again from
        // its start.
        for (conv, seq) in watermarks {
            self.floor.insert(conv.clone(), *seq);
        }
        for state in states {
            if !self.seen.contains_key(&state.id) {
                self.saw(&state);
            }
            let conv = state.id.clone();
            let Some(member) = state.member(user) else {
                continue;
            };
            let from = self
                .next
                .get(&conv)
                .map(|n| n - 1)
                .or_else(|| watermarks.get(conv.as_str()).copied())
                .or_else(|| self.floor.get(conv.as_str()).copied())
                .unwrap_or(0)
                .max(member.joined_after);
            self.replay(service, out, &conv, from, u64::MAX).await?;
        }
        Ok(())
    }

    /// A live message: dropped if already sent, preceded by what is missing.
    pub(crate) async fn live(
        &mut self,
        service: &ChatService,
        out: &Outbound,
        user: &UserId,
        m: &Message,
    ) -> Result<(), Stop> {
        let next = match self.next.get(&m.conv) {
            Some(n) => *n,
            None => {
                // First message of a conversation this session has not
                // delivered: start above the user's join point and above what
                // the device had when it connected.
                let state = service.conversation(&m.conv).await?;
                let delivered = self.floor.get(m.conv.as_str()).copied().unwrap_or(0);
                match state.member(user) {
                    Some(member) => member.joined_after.max(delivered) + 1,
                    // Removed since it was sent: nothing more to deliver.
                    None => return Ok(()),
                }
            }
        };
        if m.seq < next {
            return Ok(());
        }
        if m.seq > next {
            let reached = self
                .replay(service, out, &m.conv, next - 1, m.seq - 1)
                .await?;
            if reached < m.seq - 1 {
                // The store does not show what lies below it yet: never a
                // gap; the next message or repair brings it in order.
                return Ok(());
            }
        }
        out.try_push(&ServerFrame::Message(m.clone()))?;
        service.metrics.deliveries.inc();
        self.next.insert(m.conv.clone(), m.seq + 1);
        Ok(())
    }

    /// The user joined `conv` after message `joined_after`.
    pub(crate) fn joined(&mut self, conv: &ConversationId, joined_after: u64) {
        // Never below the join point: a user removed and re-added (whose
        // removal this session may have missed) gets nothing from between.
        let next = self.next.entry(conv.clone()).or_insert(0);
        *next = (*next).max(joined_after + 1);
    }

    /// Whether this session delivers `conv` (the user is a member).
    pub(crate) fn knows(&self, conv: &str) -> bool {
        self.next.contains_key(conv)
    }

    /// The user left `conv`.
    pub(crate) fn left(&mut self, conv: &str) {
        self.next.remove(conv);
        self.receipts.remove(conv);
        self.seen.remove(conv);
    }

    /// Whether a receipt moves a watermark past what this session sent
    /// (and records it if so).
    pub(crate) fn receipt_moves(
        &mut self,
        conv: &ConversationId,
        user: &UserId,
        kind: ReceiptKind,
        seq: u64,
    ) -> bool {
        let sent = self
            .receipts
            .entry(conv.clone())
            .or_default()
            .entry((user.clone(), kind))
            .or_insert(0);
        if seq <= *sent {
            return false;
        }
        *sent = seq;
        true
    }
}
