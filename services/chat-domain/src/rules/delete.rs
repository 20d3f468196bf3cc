//! Deleting a message for everyone: only its sender; the message keeps its
//! seq and loses its content. Deleting it again announces it again (the
//! tombstone is written again, unchanged). Membership is the gateway's
//! access check, made before the delete is appended, not a rule of the
//! delete itself: a sender removed after that still deletes. The first
//! delete of a message is counted in the conversation's `changes`, so a
//! session whose real-time path lost the announcement repairs it.

use super::{views, Decision, Facts, Rejection};
use crate::commands::DeleteMessage;

/// `facts.message` is the message at `c.seq`, if stored.
pub fn decide(c: &DeleteMessage, facts: Facts<'_>) -> Result<Decision, Rejection> {
    let state = facts.state.ok_or(Rejection::UnknownConversation)?;
    let message = facts.message.ok_or(Rejection::NoSuchMessage)?;
    if message.sender != c.actor {
        return Err(Rejection::NotSender);
    }
    let event = views::deleted(state, message.seq, &c.actor, c.ts);
    let changed = (!message.deleted).then(|| {
        let mut state = state.clone();
        state.changes.record(message.seq);
        state
    });
    let mut message = message.clone();
    message.tombstone();
    Ok(Decision {
        events: vec![event.into()],
        state: changed,
        message: Some(message),
        ..Decision::default()
    })
}
