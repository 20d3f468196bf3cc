//! WebSocket frames: one JSON object per text frame, tagged by `type`.

use crate::ids::{ClientMsgId, ConversationId, DeviceId, MessageId, UserId};
use crate::{numbers, Conversation, ErrorCode, Message, ReceiptKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Send {
        conv: String,
        client_msg_id: String,
        body: String,
        #[serde(default)]
        attachments: Vec<String>,
        /// v1.1: the seq of the message of the same conversation it answers.
        #[serde(default, deserialize_with = "numbers::optional_int64")]
        reply_to: Option<u64>,
    },
    Delivered {
        conv: String,
        #[serde(deserialize_with = "numbers::int64")]
        seq: u64,
    },
    Read {
        conv: String,
        #[serde(deserialize_with = "numbers::int64")]
        seq: u64,
    },
    Typing {
        conv: String,
    },
    /// v1.1: the sender replaces a message's body; a refusal comes back
    /// as an `error` with this `ref`.
    Edit {
        conv: String,
        #[serde(deserialize_with = "numbers::int64")]
        seq: u64,
        body: String,
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
    /// v1.1: adds (`on`) or removes the caller's reaction.
    React {
        conv: String,
        #[serde(deserialize_with = "numbers::int64")]
        seq: u64,
        emoji: String,
        on: bool,
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
    SubscribePresence {
        users: Vec<String>,
    },
    Sync {
        #[serde(deserialize_with = "numbers::int64_values")]
        after: BTreeMap<String, u64>,
    },
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Hello {
        user: UserId,
        device: DeviceId,
        server_time: i64,
    },
    Sent {
        conv: ConversationId,
        client_msg_id: ClientMsgId,
        msg_id: MessageId,
        ts: i64,
    },
    Message(Message),
    MessageDeleted {
        conv: ConversationId,
        seq: u64,
    },
    /// v1.1: the message at `seq` has a new body.
    MessageEdited {
        conv: ConversationId,
        seq: u64,
        body: String,
        edit_version: u64,
        edited_ts: i64,
    },
    /// v1.1: a member's reaction to the message at `seq`.
    Reaction {
        conv: ConversationId,
        seq: u64,
        user: UserId,
        emoji: String,
        on: bool,
    },
    Receipt {
        conv: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: u64,
    },
    Presence {
        user: UserId,
        online: bool,
        last_seen: Option<i64>,
    },
    Typing {
        conv: ConversationId,
        user: UserId,
    },
    Conversation {
        conversation: Conversation,
    },
    Synced {},
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "ref")]
        reference: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// Extension: the conversation of a refused send reported after
        /// its `sent` (the sequencer refused it at its place in the log).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conv: Option<ConversationId>,
    },
}

impl ServerFrame {
    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_protocol_shape() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"send","conv":"c","client_msg_id":"1","body":"hi"}"#)
                .unwrap();
        assert!(matches!(f, ClientFrame::Send { ref attachments, .. } if attachments.is_empty()));
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"sync","after":{"c1":3,"c2":0}}"#).unwrap();
        assert!(matches!(f, ClientFrame::Sync { ref after } if after["c1"] == 3));
        let e = ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow".into(),
            reference: Some("7".into()),
            retry_after_ms: Some(250),
            conv: None,
        };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "rate_limited");
        assert_eq!(v["ref"], "7");
        assert_eq!(v["retry_after_ms"], 250);
        let s: serde_json::Value = serde_json::from_str(&ServerFrame::Synced {}.to_json()).unwrap();
        assert_eq!(s, serde_json::json!({"type":"synced"}));
    }
}
