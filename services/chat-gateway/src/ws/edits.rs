//! The edits a connecting device may have missed (PROTOCOL v1.1): its
//! backlog carries the latest body of every message above its delivered
//! watermark, so what it may lack are edits of messages at or below it.
//!
//! The device's time (`DeviceStore::device_seen`: its last connection or
//! disconnection) bounds them: an edit it may have missed was made after
//! that time, less [`MARGIN_MS`] (frames of a connection that died unseen,
//! and gateway clocks that differ). An edit comes within the edit window of
//! its message's send, so only messages sent after that bound, less the
//! window, can carry one. The conversation's `changes` name its latest
//! edits and deletes: when they reach back past the bound, the messages
//! they name are all there is to read; otherwise the messages sent since
//! the bound are read, newest first.
//!
//! Frames the device had already may come again: `message_edited` is
//! idempotent for a client.

use super::delivery::Stop;
use super::outbound::Outbound;
use crate::error::from_port;
use crate::ChatService;
use chat_domain::frames::ServerFrame;
use chat_domain::{Changes, ConversationState, Message};
use chat_ports::store::side_by_side;
use std::collections::{BTreeSet, HashMap};

/// How long before the device's time an edit still counts as missed.
pub(crate) const MARGIN_MS: i64 = 5 * 60 * 1000;

/// Messages read per page when the changes do not reach back far enough.
const PAGE: usize = 200;

/// Sends `message_edited` for every edit made after `since` (less the
/// margin) to a message at or below the device's watermark.
pub(crate) async fn send_missed(
    service: &ChatService,
    out: &Outbound,
    states: &[ConversationState],
    watermarks: &HashMap<String, u64>,
    since: i64,
) -> Result<(), Stop> {
    let after = since.saturating_sub(MARGIN_MS);
    let window = service.config.limits().edit_window_ms;
    for state in states {
        let below = watermarks.get(state.id.as_str()).copied().unwrap_or(0);
        if state.changes.is_empty() || below == 0 {
            continue;
        }
        let edited = edited_after(service, state, below, after, window).await?;
        for m in edited {
            out.push(&ServerFrame::MessageEdited {
                conv: m.conv,
                seq: m.seq,
                body: m.body,
                edit_version: m.edit_version,
                edited_ts: m.edited_ts.unwrap_or(m.ts),
            })
            .await?;
        }
    }
    Ok(())
}

/// The messages of `state` at or below `below` edited after `after`,
/// ascending.
async fn edited_after(
    service: &ChatService,
    state: &ConversationState,
    below: u64,
    after: i64,
    window: i64,
) -> Result<Vec<Message>, Stop> {
    let messages = &service.stores.messages;
    let kept: BTreeSet<u64> = state.changes.since(0).collect();
    // Read side by side: a connect may read this for every conversation.
    let reads = kept
        .iter()
        .map(|seq| messages.message(&state.id, *seq))
        .collect();
    let named: Vec<Message> = side_by_side(reads)
        .await
        .map_err(from_port)?
        .into_iter()
        .flatten()
        .collect();
    let candidates = if reaches_back(&state.changes, &named, after) {
        named
    } else {
        sent_since(service, state, below, after.saturating_sub(window)).await?
    };
    Ok(candidates
        .into_iter()
        .filter(|m| m.seq <= below && is_edited_after(m, after))
        .collect())
}

fn is_edited_after(m: &Message, after: i64) -> bool {
    !m.deleted && m.edit_version > 0 && m.edited_ts.is_some_and(|t| t >= after)
}

/// Whether the kept changes hold every change made after `after`: they are
/// all the conversation had, or the oldest of them is an edit from before.
/// (A delete's time is not kept: an oldest delete does not say.)
fn reaches_back(changes: &Changes, named: &[Message], after: i64) -> bool {
    if changes.count <= Changes::KEPT as u64 {
        return true;
    }
    let Some(oldest) = changes.recent.first() else {
        return true;
    };
    named
        .iter()
        .find(|m| m.seq == oldest.seq)
        .is_some_and(|m| !m.deleted && m.edited_ts.is_some_and(|t| t < after))
}

/// The messages at or below `below` sent at or after `from`, read newest
/// first a page at a time.
async fn sent_since(
    service: &ChatService,
    state: &ConversationState,
    below: u64,
    from: i64,
) -> Result<Vec<Message>, Stop> {
    let mut out = Vec::new();
    let mut before = below.saturating_add(1);
    loop {
        let page = service
            .stores
            .messages
            .messages_before(&state.id, before, PAGE)
            .await
            .map_err(from_port)?;
        let Some(first) = page.first() else {
            break;
        };
        before = first.seq;
        let full = page.len() == PAGE;
        let older = page.iter().any(|m| m.ts < from);
        out.extend(page.into_iter().filter(|m| m.ts >= from));
        if older || !full {
            break;
        }
    }
    out.sort_by_key(|m| m.seq);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, edited_ts: Option<i64>, deleted: bool) -> Message {
        Message {
            conv: "c".into(),
            seq,
            msg_id: "m".into(),
            sender: "alice".into(),
            sender_device: "phone".into(),
            client_msg_id: format!("k{seq}").into(),
            body: "hi".into(),
            attachments: vec![],
            ts: 1,
            deleted,
            edit_version: u64::from(edited_ts.is_some()),
            edited_ts,
            reply_to: None,
            reactions: vec![],
        }
    }

    #[test]
    fn kept_changes_reach_back_when_they_are_all_or_older_than_the_bound() {
        let mut few = Changes::default();
        few.record(3);
        assert!(reaches_back(&few, &[], 100), "every change is kept");

        let mut many = Changes::default();
        for seq in 1..=40 {
            many.record(seq);
        }
        let oldest = many.recent[0].seq;
        let old_edit = [message(oldest, Some(50), false)];
        assert!(reaches_back(&many, &old_edit, 100));
        let new_edit = [message(oldest, Some(150), false)];
        assert!(
            !reaches_back(&many, &new_edit, 100),
            "older ones may be newer than the bound too"
        );
        let delete = [message(oldest, Some(50), true)];
        assert!(
            !reaches_back(&many, &delete, 100),
            "a delete's time is not kept"
        );
        assert!(!reaches_back(&many, &[], 100), "gone: retention took it");
    }

    #[test]
    fn an_edit_counts_after_the_bound_unless_deleted() {
        assert!(is_edited_after(&message(1, Some(100), false), 100));
        assert!(!is_edited_after(&message(1, Some(99), false), 100));
        assert!(!is_edited_after(&message(1, Some(200), true), 100));
        assert!(!is_edited_after(&message(1, None, false), 100));
    }
}
