//! The synthetic traffic every baseline carries: direct conversations
//! between pairs of users that belong to one run, and sends with a body of
//! a chosen size, built as the gateway and the sequencer build them, so
//! that records, rows and deliveries have the size and shape of the
//! pipeline's own.
//!
//! Every name carries the run's tag (`bl<12 hex digits>`): two runs, or a
//! run and real users, never share a conversation, a user or a channel.

use chat_domain::commands::SendMessage;
use chat_domain::{
    ids, ClientMsgId, ConversationId, ConversationKind, ConversationState, DeviceId, Member,
    Message, UserId,
};

/// One run of a baseline.
pub struct Run {
    id: u64,
    tag: String,
    body: String,
}

impl Run {
    /// A run with a random id, whose sends carry `body_bytes` of text.
    pub fn new(body_bytes: usize) -> Self {
        let id = uuid::Uuid::new_v4().as_u64_pair().0;
        Self {
            id,
            tag: format!("bl{:012x}", id >> 16),
            body: body(body_bytes),
        }
    }

    /// The random id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The tag every name of this run carries.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The two users of conversation `n`.
    pub fn pair(&self, n: u64) -> (UserId, UserId) {
        let user = |side| UserId::from_trusted(format!("{}-{n}{side}", self.tag));
        (user('a'), user('b'))
    }

    /// Conversation `n`: the direct conversation of its pair, with the id
    /// the gateway derives for it.
    pub fn conversation(&self, n: u64) -> ConversationId {
        let (a, b) = self.pair(n);
        ids::direct_conversation_id(&a, &b)
    }

    /// Send `i` of the run, in conversation `n`, from one of its two users
    /// (by the parity of `i`), as the gateway builds it.
    pub fn send(&self, n: u64, i: u64) -> SendMessage {
        let conv = self.conversation(n);
        let (a, b) = self.pair(n);
        let sender = if i.is_multiple_of(2) { a } else { b };
        let client_msg_id = ClientMsgId::from_trusted(format!("{}-{i}", self.tag));
        SendMessage {
            msg_id: ids::message_id(&conv, &sender, &client_msg_id),
            conv,
            sender,
            sender_device: DeviceId::from_trusted("phone"),
            client_msg_id,
            body: self.body.clone(),
            attachments: Vec::new(),
            ts: chat_domain::time::now_ms(),
            reply_to: None,
        }
    }

    /// Conversation `n` as the sequencer creates it (`rules::create`), its
    /// creation applied at `position`.
    pub fn created(&self, n: u64, position: u64) -> ConversationState {
        let now = chat_domain::time::now_ms();
        let (a, b) = self.pair(n);
        let member = |user| Member {
            user,
            joined_after: 0,
            admin: false,
        };
        ConversationState {
            id: self.conversation(n),
            kind: ConversationKind::Direct,
            title: None,
            created_at: now,
            last_seq: 0,
            last_activity: now,
            members: vec![member(a), member(b)],
            applied_offset: position + 1,
            changes: Default::default(),
        }
    }
}

/// The message the sequencer makes of an accepted send at `seq`
/// (`rules::send`).
pub fn message(send: SendMessage, seq: u64) -> Message {
    Message {
        conv: send.conv,
        seq,
        msg_id: send.msg_id,
        sender: send.sender,
        sender_device: send.sender_device,
        client_msg_id: send.client_msg_id,
        body: send.body,
        attachments: send.attachments,
        ts: send.ts,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}

/// `bytes` bytes of plain text.
fn body(bytes: usize) -> String {
    "The quick brown fox jumps over the lazy dog. "
        .chars()
        .cycle()
        .take(bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_ids_and_differ_between_runs() {
        let (r, s) = (Run::new(100), Run::new(100));
        let send = r.send(7, 3);
        assert_eq!(send.body.len(), 100);
        assert!(ids::is_valid_id(&send.sender));
        ids::check_conversation_id(&send.conv).unwrap();
        ids::check_client_msg_id(&send.client_msg_id).unwrap();
        assert_eq!(send.conv, r.created(7, 0).id);
        assert_ne!(r.conversation(7), s.conversation(7));
        assert_ne!(r.conversation(7), r.conversation(8));
    }
}
