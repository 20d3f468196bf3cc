//! What travels on the real-time channels, from fan-out (and typing,
//! presence) to the gateways' sessions: part of the domain, so a new event
//! is added beside the command and event it comes from.

use crate::ids::{ClientMsgId, ConversationId, DeviceId, UserId};
use crate::{ConversationState, ErrorCode, Message, PresenceStatus, ReceiptKind};
use serde::{Deserialize, Serialize};

/// What travels on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum RealtimeEvent {
    /// A sequenced message. On a conversation channel it names its
    /// recipients (the members at its seq), so a session whose user was
    /// removed just before it drops it even if it has not heard of the
    /// removal yet; on a user channel `recipients` is empty.
    Message {
        message: Message,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        recipients: Vec<UserId>,
    },
    /// A message deleted for everyone.
    Deleted { conv: ConversationId, seq: u64 },
    /// A message's body replaced by its sender.
    Edited {
        conv: ConversationId,
        seq: u64,
        body: String,
        edit_version: u64,
        edited_ts: i64,
    },
    /// A member's reaction to a message was added (`on`) or removed.
    Reaction {
        conv: ConversationId,
        seq: u64,
        user: UserId,
        emoji: String,
        on: bool,
    },
    /// A user's watermark moved.
    Receipt {
        conv: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: u64,
    },
    /// A conversation was created or its members changed.
    Conversation { state: ConversationState },
    /// The sequencer refused an acknowledged send: for the device that
    /// sent it, on its user's channel.
    SendRejected {
        conv: ConversationId,
        device: DeviceId,
        client_msg_id: ClientMsgId,
        code: ErrorCode,
        reason: String,
    },
    /// Someone is typing.
    Typing { conv: ConversationId, user: UserId },
    /// A user went online or offline.
    Presence { status: PresenceStatus },
    /// The engine may have lost events for this channel (its connection
    /// to the broker dropped, for instance): subscribers repair from the
    /// store as after a lag. Engines send it; nobody publishes it.
    Resync,
}
