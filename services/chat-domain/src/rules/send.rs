//! A send: the next dense seq for a member's message; a repeated
//! idempotency key gets the first send's message again, whoever its sender
//! is now (its message exists; membership was checked when it was sent).

use super::{member, views, Decision, Facts, Rejection};
use crate::commands::SendMessage;
use crate::{Message, Reply};

/// `facts.message` is the message sent before with the same key, if any.
pub fn decide(c: &SendMessage, facts: Facts<'_>) -> Result<Decision, Rejection> {
    let mut decision = Decision::default();
    if let (Some(state), Some(first)) = (facts.state, facts.message) {
        let mut state = state.clone();
        // A retried send: no second message. Its event goes out again, in
        // case the first handling crashed before publishing it; fan-out
        // drops what a device already has. A stale view never hands the
        // first message's seq out again.
        if state.last_seq < first.seq {
            state.last_seq = first.seq;
            decision.state = Some(state.clone());
        }
        decision.events.push(views::sequenced(first, &state).into());
        return Ok(decision);
    }
    let mut state = member(facts, &c.sender)?.clone();
    if crate::ids::check_client_msg_id(&c.client_msg_id).is_err() {
        // Checked where it entered; a record from before that check (or
        // from another producer) is refused, never written to a store
        // that may refuse it.
        return Err(Rejection::BadClientMsgId);
    }
    state.last_seq += 1;
    state.last_activity = state.last_activity.max(c.ts);
    let message = Message {
        conv: c.conv.clone(),
        seq: state.last_seq,
        msg_id: c.msg_id.clone(),
        sender: c.sender.clone(),
        sender_device: c.sender_device.clone(),
        client_msg_id: c.client_msg_id.clone(),
        body: c.body.clone(),
        attachments: c.attachments.clone(),
        ts: c.ts,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        // The gateway checked that it names a message of the conversation;
        // a seq that is not below this one's (a record from elsewhere) is
        // dropped rather than kept pointing at nothing or at itself.
        reply_to: c
            .reply_to
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| (1..state.last_seq).contains(s))
            .map(Reply::to),
        reactions: vec![],
    };
    decision
        .events
        .push(views::sequenced(&message, &state).into());
    decision.message = Some(message);
    decision.state = Some(state);
    Ok(decision)
}
