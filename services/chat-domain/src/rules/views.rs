//! The events that describe a decision, built from the state it leaves.

use crate::commands::React;
use crate::events::{
    MembershipApplied, MessageDeleted, MessageEdited, MessageSequenced, ReactionChanged,
};
use crate::ids::UserId;
use crate::{ConversationKind, ConversationState, Member, Message};

/// The event of a sequenced message, addressed to the members at its seq.
pub fn sequenced(m: &Message, state: &ConversationState) -> MessageSequenced {
    MessageSequenced {
        conv: m.conv.clone(),
        seq: m.seq as i64,
        msg_id: m.msg_id.clone(),
        sender: m.sender.clone(),
        sender_device: m.sender_device.clone(),
        client_msg_id: m.client_msg_id.clone(),
        body: m.body.clone(),
        attachments: m.attachments.clone(),
        ts: m.ts,
        recipients: recipients(state, m.seq),
        reply_to: m.reply_to.as_ref().map(|r| r.seq as i64),
    }
}

/// The event of a message deleted for everyone, addressed to the members.
pub fn deleted(state: &ConversationState, seq: u64, actor: &UserId, ts: i64) -> MessageDeleted {
    MessageDeleted {
        conv: state.id.clone(),
        seq: seq as i64,
        actor: actor.clone(),
        recipients: state.members.iter().map(|m| m.user.clone()).collect(),
        ts,
    }
}

/// The event of a message's new body, addressed to the members who can
/// see the message (as its own event was).
pub fn edited(state: &ConversationState, m: &Message, actor: &UserId, ts: i64) -> MessageEdited {
    MessageEdited {
        conv: m.conv.clone(),
        seq: m.seq as i64,
        actor: actor.clone(),
        body: m.body.clone(),
        edit_version: m.edit_version as i64,
        edited_ts: m.edited_ts.unwrap_or(m.ts),
        recipients: recipients(state, m.seq),
        ts,
    }
}

/// The event of a reaction added or removed, addressed to the members who
/// can see the message.
pub fn reaction(state: &ConversationState, m: &Message, c: &React) -> ReactionChanged {
    ReactionChanged {
        conv: m.conv.clone(),
        seq: m.seq as i64,
        user: c.user.clone(),
        emoji: c.emoji.clone(),
        on: c.on,
        recipients: recipients(state, m.seq),
        ts: c.ts,
    }
}

/// The members who can see the message at `seq`: those who joined before it.
fn recipients(state: &ConversationState, seq: u64) -> Vec<UserId> {
    state
        .members
        .iter()
        .filter(|mem| mem.joined_after < seq)
        .map(|mem| mem.user.clone())
        .collect()
}

/// The event announcing a conversation's members, and who just left.
pub fn membership(
    state: &ConversationState,
    actor: &UserId,
    removed: &[UserId],
    ts: i64,
) -> MembershipApplied {
    MembershipApplied {
        conv: state.id.clone(),
        kind: state.kind.as_str().into(),
        title: state.title.clone(),
        actor: actor.clone(),
        last_seq: state.last_seq as i64,
        created_at: state.created_at,
        members: state.members.iter().map(|m| m.user.clone()).collect(),
        joined_after: state
            .members
            .iter()
            .map(|m| m.joined_after as i64)
            .collect(),
        admins: state
            .members
            .iter()
            .filter(|m| m.admin)
            .map(|m| m.user.clone())
            .collect(),
        removed: removed.to_vec(),
        ts,
    }
}

/// Rebuilds the conversation state a [`MembershipApplied`] event describes.
pub fn state_from_event(e: &MembershipApplied) -> ConversationState {
    ConversationState {
        id: e.conv.clone(),
        kind: ConversationKind::parse(&e.kind).unwrap_or(ConversationKind::Group),
        title: e.title.clone(),
        created_at: e.created_at,
        last_seq: e.last_seq.max(0) as u64,
        last_activity: e.ts,
        members: e
            .members
            .iter()
            .zip(&e.joined_after)
            .map(|(u, j)| Member {
                user: u.clone(),
                joined_after: (*j).max(0) as u64,
                admin: e.admins.contains(u),
            })
            .collect(),
        applied_offset: 0,
        changes: Default::default(),
    }
}
