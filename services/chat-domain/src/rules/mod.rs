//! The business rules as pure functions, with no I/O: given a
//! conversation's state (and the one message a command names), a command
//! and the limits, the [`Decision`] (the new state, the message to write,
//! the events to publish) or a typed [`Rejection`].
//!
//! The sequencer applies decisions at each command's place in the log; the
//! gateway runs the same [`decide`] as its pre-check on the state it read, so
//! a refusal the gateway can see is answered at once with the same code the
//! sequencer would give.
//!
//! # Layout
//! - [`send`], [`create`], [`members`], [`delete`], [`edit`], [`react`]: one
//!   file per command.
//! - [`rejection`]: why a command is refused, and its protocol error code.
//! - [`views`]: the events a decision publishes, built from its state.
//! - [`receipts`]: the receipts' max-merge, called by every store engine.

pub mod create;
pub mod delete;
pub mod edit;
pub mod members;
pub mod react;
pub mod receipts;
pub mod rejection;
pub mod send;
pub mod views;

#[cfg(test)]
mod tests;

pub use rejection::Rejection;

use crate::commands::Command;
use crate::events::{CommandRejected, Event, SendRejected};
use crate::ids::{ClientMsgId, UserId};
use crate::{ConversationState, Message};

/// The configured limits the rules enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most members of a group.
    pub group_cap: usize,
    /// How long after its send a message may be edited, in ms (between the
    /// gateway clocks of the send and of the edit).
    pub edit_window_ms: i64,
}

impl Default for Limits {
    /// A group of 256 at most; edits within 15 minutes, as the most used
    /// messengers allow.
    fn default() -> Self {
        Self {
            group_cap: 256,
            edit_window_ms: 15 * 60 * 1000,
        }
    }
}

/// What a command needs loaded besides its conversation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants<'a> {
    Nothing,
    /// The message at this seq (the one a delete or an edit names).
    Message(u64),
    /// The message sent before with this idempotency key, if any.
    SentWithKey {
        sender: &'a UserId,
        client_msg_id: &'a ClientMsgId,
    },
}

/// What the rules read: the state before the command, and the message that
/// [`wants`] named, as stored (or as earlier commands of the batch left it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// `None`: the conversation does not exist.
    pub state: Option<&'a ConversationState>,
    pub message: Option<&'a Message>,
}

/// The effect of an accepted command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The conversation as the command leaves it; `None`: unchanged.
    pub state: Option<ConversationState>,
    /// A new or changed message to write.
    pub message: Option<Message>,
    /// Users who became members (the per-user conversation index).
    pub joined: Vec<UserId>,
    /// Users who stopped being members.
    pub left: Vec<UserId>,
    /// What to publish, in order.
    pub events: Vec<Event>,
}

/// Whether the sequencer decides this command (receipts are merged by the
/// receipts processor and leave conversation state alone).
pub fn is_sequenced(command: &Command) -> bool {
    match command {
        Command::SendMessage(_)
        | Command::CreateConversation(_)
        | Command::ChangeMembers(_)
        | Command::DeleteMessage(_)
        | Command::EditMessage(_)
        | Command::React(_) => true,
        Command::SubmitReceipt(_) => false,
    }
}

/// The message a command needs loaded besides its conversation.
pub fn wants(command: &Command) -> Wants<'_> {
    match command {
        Command::SendMessage(c) => Wants::SentWithKey {
            sender: &c.sender,
            client_msg_id: &c.client_msg_id,
        },
        Command::DeleteMessage(c) if c.seq > 0 => Wants::Message(c.seq as u64),
        Command::EditMessage(c) if c.seq > 0 => Wants::Message(c.seq as u64),
        Command::React(c) if c.seq > 0 => Wants::Message(c.seq as u64),
        Command::DeleteMessage(_)
        | Command::EditMessage(_)
        | Command::React(_)
        | Command::CreateConversation(_)
        | Command::ChangeMembers(_)
        | Command::SubmitReceipt(_) => Wants::Nothing,
    }
}

/// Decides a command on the state before it.
pub fn decide(command: &Command, facts: Facts<'_>, limits: &Limits) -> Result<Decision, Rejection> {
    match command {
        Command::SendMessage(c) => send::decide(c, facts),
        Command::CreateConversation(c) => create::decide(c, facts, limits),
        Command::ChangeMembers(c) => members::decide(c, facts, limits),
        Command::DeleteMessage(c) => delete::decide(c, facts),
        Command::EditMessage(c) => edit::decide(c, facts, limits),
        Command::React(c) => react::decide(c, facts),
        Command::SubmitReceipt(c) => member(facts, &c.user).map(|_| Decision::default()),
    }
}

/// The events of a command applied before (the log delivered it again
/// after a crash or a rebalance), re-derived from the state it left, in
/// case the crash came between the store write and the publish. Messages
/// and deletes are exact, an edit is announced with the message's latest
/// body; a membership change is announced with the
/// conversation's current members.
pub fn replayed(command: &Command, facts: Facts<'_>) -> Vec<Event> {
    let Some(state) = facts.state else {
        return Vec::new();
    };
    match command {
        Command::SendMessage(c) => match facts.message {
            Some(m) => vec![views::sequenced(m, state).into()],
            // No message has its key: it was refused; report it again if
            // the rules still refuse it (the report is live only).
            None => match send::decide(c, facts) {
                Err(r) => vec![rejected(command, &r)],
                Ok(_) => Vec::new(),
            },
        },
        Command::DeleteMessage(c) => facts
            .message
            .filter(|m| m.deleted)
            .map(|m| views::deleted(state, m.seq, &c.actor, c.ts).into())
            .into_iter()
            .collect(),
        Command::EditMessage(c) => facts
            .message
            .filter(|m| m.edit_version > 0 && !m.deleted)
            .map(|m| views::edited(state, m, &c.actor, c.ts).into())
            .into_iter()
            .collect(),
        // Announced again when the stored message shows it.
        Command::React(c) => facts
            .message
            .filter(|m| m.has_reaction(&c.user, &c.emoji) == c.on && !m.deleted)
            .map(|m| views::reaction(state, m, c).into())
            .into_iter()
            .collect(),
        Command::CreateConversation(c) => {
            vec![views::membership(state, &c.creator, &[], c.ts).into()]
        }
        Command::ChangeMembers(c) => vec![views::membership(state, &c.actor, &[], c.ts).into()],
        Command::SubmitReceipt(_) => Vec::new(),
    }
}

/// The event that records a refusal: a refused send is reported to the
/// device that sent it (it was acknowledged); other refusals are recorded
/// for operators and analytics.
pub fn rejected(command: &Command, rejection: &Rejection) -> Event {
    match command {
        Command::SendMessage(c) => SendRejected {
            conv: c.conv.clone(),
            msg_id: c.msg_id.clone(),
            sender: c.sender.clone(),
            sender_device: c.sender_device.clone(),
            client_msg_id: c.client_msg_id.clone(),
            code: rejection.code().as_str().into(),
            reason: rejection.to_string(),
            ts: c.ts,
        }
        .into(),
        Command::CreateConversation(_)
        | Command::ChangeMembers(_)
        | Command::DeleteMessage(_)
        | Command::EditMessage(_)
        | Command::React(_)
        | Command::SubmitReceipt(_) => CommandRejected {
            conv: command.conv().clone(),
            command: command.name().into(),
            actor: command.actor().clone(),
            reason: rejection.to_string(),
            ts: command.ts(),
        }
        .into(),
    }
}

/// The sequencer's verdict on a command, read from the state it left
/// (`after`): accepted when its effect shows there; otherwise the rule that
/// refuses it on that state says why. When its effect does not show and the
/// rules would accept it now, a later command undid it: the verdict is
/// accepted, and the caller answers with the current state.
pub fn verdict(
    command: &Command,
    after: Option<&ConversationState>,
    limits: &Limits,
) -> Result<(), Rejection> {
    let visible = match command {
        Command::CreateConversation(c) => after.is_some_and(|s| s.is_member(&c.creator)),
        Command::ChangeMembers(c) => after.is_some_and(|s| {
            c.add.iter().all(|u| s.is_member(u)) && c.remove.iter().all(|u| !s.is_member(u))
        }),
        Command::SendMessage(_)
        | Command::DeleteMessage(_)
        | Command::EditMessage(_)
        | Command::React(_)
        | Command::SubmitReceipt(_) => true,
    };
    if visible {
        return Ok(());
    }
    let facts = Facts {
        state: after,
        message: None,
    };
    decide(command, facts, limits).map(|_| ())
}

/// The state, if the conversation exists and `user` is a member of it.
fn member<'a>(facts: Facts<'a>, user: &UserId) -> Result<&'a ConversationState, Rejection> {
    let state = facts.state.ok_or(Rejection::UnknownConversation)?;
    if state.is_member(user) {
        Ok(state)
    } else {
        Err(Rejection::NotMember)
    }
}
