//! Commands: what a gateway asks for, appended to `chat.commands` keyed by
//! conversation. One struct per schema in `schemas/`, field for field; the
//! sequencer decides each with [`crate::rules`], the receipts processor
//! merges [`SubmitReceipt`]s.

use crate::ids::{ClientMsgId, ConversationId, DeviceId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// `schemas/SendMessage.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub conv: ConversationId,
    pub msg_id: MessageId,
    pub sender: UserId,
    pub sender_device: DeviceId,
    pub client_msg_id: ClientMsgId,
    pub body: String,
    pub attachments: Vec<String>,
    pub ts: i64,
    /// The seq of the message of the same conversation it answers (v1.1).
    #[serde(default)]
    pub reply_to: Option<i64>,
}

/// `schemas/CreateConversation.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateConversation {
    pub conv: ConversationId,
    pub kind: String,
    pub title: Option<String>,
    pub creator: UserId,
    pub members: Vec<UserId>,
    pub ts: i64,
    /// Of the members named, those whose privacy settings, as the gateway
    /// read them when it took the command, do not let the creator add
    /// them to a group: the sequencer refuses the group. Recorded in the
    /// command so that deciding it again (a replay) decides the same.
    #[serde(default)]
    pub refusing: Vec<UserId>,
}

/// `schemas/ChangeMembers.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMembers {
    pub conv: ConversationId,
    pub actor: UserId,
    pub add: Vec<UserId>,
    pub remove: Vec<UserId>,
    pub ts: i64,
    /// Of the users added, those whose privacy settings do not let the
    /// actor add them to a group (as for [`CreateConversation::refusing`]).
    #[serde(default)]
    pub refusing: Vec<UserId>,
}

/// `schemas/DeleteMessage.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub conv: ConversationId,
    pub seq: i64,
    pub actor: UserId,
    pub ts: i64,
}

/// `schemas/EditMessage.avsc`: the sender replaces a message's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessage {
    pub conv: ConversationId,
    pub seq: i64,
    pub actor: UserId,
    pub body: String,
    pub ts: i64,
}

/// `schemas/React.avsc`: a member adds (`on`) or removes its reaction
/// with `emoji` to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct React {
    pub conv: ConversationId,
    pub seq: i64,
    pub user: UserId,
    pub emoji: String,
    pub on: bool,
    pub ts: i64,
}

/// `schemas/SubmitReceipt.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitReceipt {
    pub conv: ConversationId,
    pub user: UserId,
    pub device: DeviceId,
    pub kind: String,
    pub seq: i64,
    pub ts: i64,
}

crate::record_enum! {
    /// Any command. Matched exhaustively everywhere: a new command does not
    /// fall silently into a catch-all arm.
    Command {
        SendMessage,
        CreateConversation,
        ChangeMembers,
        DeleteMessage,
        EditMessage,
        React,
        SubmitReceipt,
    }
}

impl Command {
    /// The conversation the command is about (its log key).
    pub fn conv(&self) -> &ConversationId {
        match self {
            Command::SendMessage(c) => &c.conv,
            Command::CreateConversation(c) => &c.conv,
            Command::ChangeMembers(c) => &c.conv,
            Command::DeleteMessage(c) => &c.conv,
            Command::EditMessage(c) => &c.conv,
            Command::React(c) => &c.conv,
            Command::SubmitReceipt(c) => &c.conv,
        }
    }

    /// Who issued it.
    pub fn actor(&self) -> &UserId {
        match self {
            Command::SendMessage(c) => &c.sender,
            Command::CreateConversation(c) => &c.creator,
            Command::ChangeMembers(c) => &c.actor,
            Command::DeleteMessage(c) => &c.actor,
            Command::EditMessage(c) => &c.actor,
            Command::React(c) => &c.user,
            Command::SubmitReceipt(c) => &c.user,
        }
    }

    /// The receipt, if this is one (for the receipts processor, which
    /// merges receipts and leaves every other command to the sequencer).
    pub fn into_receipt(self) -> Option<SubmitReceipt> {
        match self {
            Command::SubmitReceipt(c) => Some(c),
            Command::SendMessage(_)
            | Command::CreateConversation(_)
            | Command::ChangeMembers(_)
            | Command::DeleteMessage(_)
            | Command::EditMessage(_)
            | Command::React(_) => None,
        }
    }

    /// When the gateway accepted it, server clock.
    pub fn ts(&self) -> i64 {
        match self {
            Command::SendMessage(c) => c.ts,
            Command::CreateConversation(c) => c.ts,
            Command::ChangeMembers(c) => c.ts,
            Command::DeleteMessage(c) => c.ts,
            Command::EditMessage(c) => c.ts,
            Command::React(c) => c.ts,
            Command::SubmitReceipt(c) => c.ts,
        }
    }
}
