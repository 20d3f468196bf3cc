//! Editing a message (PROTOCOL v1.1): only its sender, only a message with
//! text that is not deleted, and only within the edit window after it was
//! sent, measured between the send's and the edit's gateway clocks (both
//! in the log, so every replay decides the same). The message keeps its
//! seq; its body is replaced and its edit version moves up. An edit to the
//! body it already has changes nothing and announces the message again (a
//! client's retry). Every edit is counted in the conversation's `changes`,
//! so a session whose real-time path lost the announcement repairs it.

use super::{views, Decision, Facts, Limits, Rejection};
use crate::commands::EditMessage;

/// `facts.message` is the message at `c.seq`, if stored.
pub fn decide(c: &EditMessage, facts: Facts<'_>, limits: &Limits) -> Result<Decision, Rejection> {
    let state = facts.state.ok_or(Rejection::UnknownConversation)?;
    let message = facts.message.ok_or(Rejection::NoSuchMessage)?;
    if message.sender != c.actor {
        return Err(Rejection::NotSender);
    }
    if c.body.is_empty() {
        return Err(Rejection::EmptyEdit);
    }
    if message.deleted {
        return Err(Rejection::NotEditable("the message is deleted"));
    }
    if message.body.is_empty() {
        return Err(Rejection::NotEditable("the message has no text"));
    }
    if c.ts.saturating_sub(message.ts) > limits.edit_window_ms {
        return Err(Rejection::NotEditable("the edit window has passed"));
    }
    if message.body == c.body {
        return Ok(Decision {
            events: vec![views::edited(state, message, &c.actor, c.ts).into()],
            ..Decision::default()
        });
    }
    let mut edited = message.clone();
    edited.edit(&c.body, c.ts);
    let mut state = state.clone();
    state.changes.record(edited.seq);
    Ok(Decision {
        events: vec![views::edited(&state, &edited, &c.actor, c.ts).into()],
        state: Some(state),
        message: Some(edited),
        ..Decision::default()
    })
}
