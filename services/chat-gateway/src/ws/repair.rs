//! Repair of what the real-time path may have lost besides messages, when
//! the session learns that events may have been lost (`Resync`: its Redis
//! subscription came back; its subscription lagged). Messages carry seqs
//! and are repaired from the store as gaps (`delivery`); deletes,
//! membership changes and receipts carry none, so the session keeps what
//! it last knew of each conversation and compares it with the store:
//!
//! - membership and title: a fingerprint of the conversation's view; a
//!   conversation that changed, that is new to the session or that the
//!   user left is handled as if its `conversation` event came now;
//! - deletes and edits: the conversation's count of changes (`Changes`);
//!   the messages changed after the count this session had, as far as the
//!   conversation keeps them (`Changes::KEPT`), go out again as they are
//!   stored now: `message_deleted`, or `message_edited` with the latest
//!   body;
//! - receipts: every member's stored watermarks, sent where they move
//!   past what this session sent.
//!
//! Frames a device already had may come again; all of them are idempotent
//! for a client.

use super::delivery::{Delivery, Stop};
use super::outbound::Outbound;
use crate::error::from_port;
use crate::ChatService;
use chat_domain::frames::ServerFrame;
use chat_domain::{ConversationState, Message, ReceiptKind};
use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};

/// What a session last knew of a conversation besides its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    view: u64,
    changes: u64,
}

/// A fingerprint of what a `conversation` frame shows, but for its last
/// seq (which every message moves, and messages are repaired apart).
fn view_of(state: &ConversationState) -> u64 {
    let mut view = state.to_view();
    view.last_seq = 0;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&view)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

/// The frame that announces a changed message as it is stored now.
fn change_frame(m: &Message) -> Option<ServerFrame> {
    if m.deleted {
        Some(ServerFrame::MessageDeleted {
            conv: m.conv.clone(),
            seq: m.seq,
        })
    } else if m.edit_version > 0 {
        Some(ServerFrame::MessageEdited {
            conv: m.conv.clone(),
            seq: m.seq,
            body: m.body.clone(),
            edit_version: m.edit_version,
            edited_ts: m.edited_ts.unwrap_or(m.ts),
        })
    } else {
        None
    }
}

impl Delivery {
    /// Records the view of `state` as this session's; the count of changes
    /// is the state's for a conversation new to it.
    pub(crate) fn saw(&mut self, state: &ConversationState) {
        let view = view_of(state);
        self.seen
            .entry(state.id.clone())
            .and_modify(|s| s.view = view)
            .or_insert(Seen {
                view,
                changes: state.changes.count,
            });
    }

    /// The conversations whose membership or title differ from what this
    /// session knew: changed, new to it, or left by the user (as stored
    /// now). `states` are the user's conversations as stored now.
    pub(crate) async fn missed_views(
        &self,
        service: &ChatService,
        states: &[ConversationState],
    ) -> Result<Vec<ConversationState>, Stop> {
        let mut out: Vec<ConversationState> = states
            .iter()
            .filter(|s| self.seen.get(&s.id).map(|seen| seen.view) != Some(view_of(s)))
            .cloned()
            .collect();
        let current: HashSet<&str> = states.iter().map(|s| s.id.as_str()).collect();
        for conv in self.next.keys() {
            if current.contains(conv.as_str()) {
                continue;
            }
            let left = service
                .stores
                .conversations
                .conversation(conv)
                .await
                .map_err(from_port)?;
            out.extend(left);
        }
        Ok(out)
    }

    /// Deletes, edits and receipts this session may have missed in `states`.
    pub(crate) async fn repair_changes(
        &mut self,
        service: &ChatService,
        out: &Outbound,
        states: &[ConversationState],
    ) -> Result<(), Stop> {
        for state in states {
            let conv = &state.id;
            let sent_below = self.next.get(conv).copied().unwrap_or(0);
            if let Some(seen) = self.seen.get_mut(conv) {
                // Above this session's position the store's messages come
                // as they are now anyway.
                let changed: BTreeSet<u64> = state
                    .changes
                    .since(seen.changes)
                    .filter(|seq| *seq < sent_below)
                    .collect();
                for seq in changed {
                    let message = service
                        .stores
                        .messages
                        .message(conv, seq)
                        .await
                        .map_err(from_port)?;
                    if let Some(frame) = message.as_ref().and_then(change_frame) {
                        out.push(&frame).await?;
                    }
                }
                seen.changes = state.changes.count;
            }
            let members = service
                .stores
                .receipts
                .member_receipts(conv)
                .await
                .map_err(from_port)?;
            for m in members {
                for (kind, seq) in [
                    (ReceiptKind::Delivered, m.delivered_seq),
                    (ReceiptKind::Read, m.read_seq),
                ] {
                    if seq > 0 && self.receipt_moves(conv, &m.user, kind, seq) {
                        out.push(&ServerFrame::Receipt {
                            conv: conv.clone(),
                            user: m.user.clone(),
                            kind,
                            seq,
                        })
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
