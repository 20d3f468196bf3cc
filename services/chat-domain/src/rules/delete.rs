//! Deleting a message for everyone: only its sender, while a member; the
//! message keeps its seq and loses its content. Deleting it again changes
//! nothing.

use super::{member, views, Decision, Facts, Rejection};
use crate::commands::DeleteMessage;

/// `facts.message` is the message at `c.seq`, if stored.
pub fn decide(c: &DeleteMessage, facts: Facts<'_>) -> Result<Decision, Rejection> {
    let state = member(facts, &c.actor)?;
    let message = facts.message.ok_or(Rejection::NoSuchMessage)?;
    if message.sender != c.actor {
        return Err(Rejection::NotSender);
    }
    if message.deleted {
        return Ok(Decision::default());
    }
    let mut message = message.clone();
    message.tombstone();
    Ok(Decision {
        events: vec![views::deleted(state, message.seq, &c.actor, c.ts).into()],
        message: Some(message),
        ..Decision::default()
    })
}
