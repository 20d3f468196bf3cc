//! Reactions (PROTOCOL v1.1): a member who can see a message adds or
//! removes its reaction with an emoji; one per user and emoji, at most
//! [`MAX_REACTIONS_PER_USER`] emojis per user and message. Adding one it
//! has, or removing one it has not, changes nothing and announces nothing
//! (the HTTP routes are idempotent). The reactions live in the message's
//! row, written like any change of the message.

use super::{member, views, Decision, Facts, Rejection};
use crate::commands::React;
use crate::{valid_emoji, MAX_REACTIONS_PER_USER};

/// `facts.message` is the message at `c.seq`, if stored.
pub fn decide(c: &React, facts: Facts<'_>) -> Result<Decision, Rejection> {
    let state = member(facts, &c.user)?;
    if !valid_emoji(&c.emoji) {
        return Err(Rejection::BadEmoji);
    }
    let message = facts
        .message
        .filter(|m| !m.deleted)
        .filter(|m| {
            state
                .member(&c.user)
                .is_some_and(|mem| mem.joined_after < m.seq)
        })
        .ok_or(Rejection::NoSuchMessage)?;
    if c.on
        && !message.has_reaction(&c.user, &c.emoji)
        && message.reactions_of(&c.user) >= MAX_REACTIONS_PER_USER
    {
        return Err(Rejection::TooManyReactions {
            max: MAX_REACTIONS_PER_USER,
        });
    }
    let mut reacted = message.clone();
    if !reacted.react(&c.user, &c.emoji, c.on) {
        return Ok(Decision::default());
    }
    Ok(Decision {
        events: vec![views::reaction(state, &reacted, c).into()],
        message: Some(reacted),
        ..Decision::default()
    })
}
