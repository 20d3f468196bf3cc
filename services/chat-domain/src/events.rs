//! Events: what the processors derived, appended to `chat.events` keyed by
//! conversation (and [`PushDeadLettered`] to `chat.push.deadletter` keyed by
//! user). One struct per schema in `schemas/`, field for field.

use crate::ids::{ClientMsgId, ConversationId, DeviceId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// `schemas/MessageSequenced.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSequenced {
    pub conv: ConversationId,
    pub seq: i64,
    pub msg_id: MessageId,
    pub sender: UserId,
    pub sender_device: DeviceId,
    pub client_msg_id: ClientMsgId,
    pub body: String,
    pub attachments: Vec<String>,
    pub ts: i64,
    pub recipients: Vec<UserId>,
    /// The seq of the message it answers (v1.1).
    #[serde(default)]
    pub reply_to: Option<i64>,
}

/// `schemas/MembershipApplied.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipApplied {
    pub conv: ConversationId,
    pub kind: String,
    pub title: Option<String>,
    pub actor: UserId,
    pub last_seq: i64,
    pub created_at: i64,
    pub members: Vec<UserId>,
    pub joined_after: Vec<i64>,
    pub admins: Vec<UserId>,
    pub removed: Vec<UserId>,
    pub ts: i64,
}

/// `schemas/MessageDeleted.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub conv: ConversationId,
    pub seq: i64,
    pub actor: UserId,
    pub recipients: Vec<UserId>,
    pub ts: i64,
}

/// `schemas/MessageEdited.avsc`: a message's body was replaced; it keeps
/// its seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdited {
    pub conv: ConversationId,
    pub seq: i64,
    pub actor: UserId,
    pub body: String,
    pub edit_version: i64,
    pub edited_ts: i64,
    pub recipients: Vec<UserId>,
    pub ts: i64,
}

/// `schemas/ReactionChanged.avsc`: a member's reaction to a message was
/// added (`on`) or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChanged {
    pub conv: ConversationId,
    pub seq: i64,
    pub user: UserId,
    pub emoji: String,
    pub on: bool,
    pub recipients: Vec<UserId>,
    pub ts: i64,
}

/// `schemas/ReceiptAdvanced.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAdvanced {
    pub conv: ConversationId,
    pub user: UserId,
    pub device: DeviceId,
    pub kind: String,
    pub seq: i64,
    pub ts: i64,
}

/// `schemas/CommandRejected.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRejected {
    pub conv: ConversationId,
    pub command: String,
    pub actor: UserId,
    pub reason: String,
    pub ts: i64,
}

/// `schemas/SendRejected.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRejected {
    pub conv: ConversationId,
    pub msg_id: MessageId,
    pub sender: UserId,
    pub sender_device: DeviceId,
    pub client_msg_id: ClientMsgId,
    pub code: String,
    pub reason: String,
    pub ts: i64,
}

/// `schemas/PushDeadLettered.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDeadLettered {
    pub conv: ConversationId,
    pub user: UserId,
    pub device: DeviceId,
    pub seq: i64,
    pub sender: UserId,
    pub count: i64,
    pub attempts: i32,
    pub error: String,
    pub ts: i64,
}

/// `schemas/DeadLettered.avsc`: a record a processor set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLettered {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub key: String,
    pub group: String,
    pub reason: String,
    pub payload_hex: String,
    pub ts: i64,
}

crate::record_enum! {
    /// Any event. Matched exhaustively everywhere: a new event does not
    /// fall silently into a catch-all arm.
    Event {
        MessageSequenced,
        MembershipApplied,
        MessageDeleted,
        MessageEdited,
        ReactionChanged,
        ReceiptAdvanced,
        CommandRejected,
        SendRejected,
        PushDeadLettered,
        DeadLettered,
    }
}

impl Event {
    /// The sequenced message, if this is one (for the processors that
    /// follow messages alone: push, media).
    pub fn into_sequenced(self) -> Option<MessageSequenced> {
        match self {
            Event::MessageSequenced(e) => Some(e),
            Event::MembershipApplied(_)
            | Event::MessageDeleted(_)
            | Event::MessageEdited(_)
            | Event::ReactionChanged(_)
            | Event::ReceiptAdvanced(_)
            | Event::CommandRejected(_)
            | Event::SendRejected(_)
            | Event::PushDeadLettered(_)
            | Event::DeadLettered(_) => None,
        }
    }

    /// The record's log key: its conversation, except for
    /// [`PushDeadLettered`], keyed by its user, and [`DeadLettered`], by
    /// the key of the record it sets aside.
    pub fn key(&self) -> &str {
        match self {
            Event::MessageSequenced(e) => &e.conv,
            Event::MembershipApplied(e) => &e.conv,
            Event::MessageDeleted(e) => &e.conv,
            Event::MessageEdited(e) => &e.conv,
            Event::ReactionChanged(e) => &e.conv,
            Event::ReceiptAdvanced(e) => &e.conv,
            Event::CommandRejected(e) => &e.conv,
            Event::SendRejected(e) => &e.conv,
            Event::PushDeadLettered(e) => &e.user,
            Event::DeadLettered(e) => &e.key,
        }
    }
}
