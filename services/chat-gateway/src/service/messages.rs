//! Sends, deletes and receipts. Their rules are `chat_domain::rules`, run
//! here as the pre-check on the state read, and by the sequencer at the
//! command's place in the log.

use super::ChatService;
use crate::error::from_port;
use chat_domain::commands::{
    Command, DeleteMessage, EditMessage, React, SendMessage, SubmitReceipt,
};
use chat_domain::rules::{self, Facts};
use chat_domain::{
    ids, ClientMsgId, ConversationId, DeviceId, DomainError, ErrorCode, Message, MessageId,
    ReceiptKind, UserId,
};
use serde::Serialize;

/// The answer to a durable send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SentAck {
    pub conv: ConversationId,
    pub client_msg_id: ClientMsgId,
    pub msg_id: MessageId,
    pub ts: i64,
}

/// Most attachment ids a message may carry.
pub const MAX_ATTACHMENTS: usize = 10;

/// What a send names; its ids were validated where they entered.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub conv: ConversationId,
    pub client_msg_id: ClientMsgId,
    pub body: String,
    pub attachments: Vec<String>,
    /// The seq of the message of the same conversation it answers (v1.1).
    pub reply_to: Option<u64>,
}

impl Outgoing {
    /// Checks a send's ids where it enters.
    pub fn parse(
        conv: String,
        client_msg_id: String,
        body: String,
        attachments: Vec<String>,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            conv: ConversationId::parse(conv)?,
            client_msg_id: ClientMsgId::parse(client_msg_id)?,
            body,
            attachments,
            reply_to: None,
        })
    }

    /// The same, answering the message at `seq` (PROTOCOL v1.1).
    pub fn replying(self, seq: Option<u64>) -> Self {
        Self {
            reply_to: seq,
            ..self
        }
    }
}

impl ChatService {
    /// Sends a message; answers once the command is durable in the log.
    /// A repeated (conv, sender, client_msg_id) gets the first send's id.
    pub async fn send(
        &self,
        user: &UserId,
        device: &DeviceId,
        out: Outgoing,
    ) -> Result<SentAck, DomainError> {
        let started = std::time::Instant::now();
        let outcome = self.send_inner(user, device, out).await;
        match &outcome {
            Ok(_) => {
                self.metrics.send("acked");
                self.metrics
                    .ack_seconds
                    .observe(started.elapsed().as_secs_f64());
            }
            Err(e) => self.metrics.send(e.code.as_str()),
        }
        outcome
    }

    async fn send_inner(
        &self,
        user: &UserId,
        device: &DeviceId,
        out: Outgoing,
    ) -> Result<SentAck, DomainError> {
        let Outgoing {
            conv,
            client_msg_id,
            body,
            attachments,
            reply_to,
        } = out;
        self.check_body(&body)?;
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(DomainError::bad_request(format!(
                "at most {MAX_ATTACHMENTS} attachments"
            )));
        }
        self.limiter.check(user, device)?;
        self.rates.user_send(user)?;
        let state = self.conversation(&conv).await?;
        let send = SendMessage {
            msg_id: ids::message_id(&conv, user, &client_msg_id),
            conv,
            sender: user.clone(),
            sender_device: device.clone(),
            client_msg_id,
            body,
            attachments,
            ts: chat_domain::time::now_ms(),
            reply_to: reply_to.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        };
        // The rules on the state read (a member sends); then the
        // idempotency key, whose first send answers a retry.
        let facts = Facts {
            state: Some(&state),
            message: None,
        };
        rules::send::decide(&send, facts)?;
        let first = self
            .stores
            .messages
            .find_sent(&send.conv, user, &send.client_msg_id)
            .await
            .map_err(from_port)?;
        let ack = SentAck {
            conv: send.conv.clone(),
            client_msg_id: send.client_msg_id.clone(),
            msg_id: send.msg_id.clone(),
            ts: send.ts,
        };
        if let Some(first) = first {
            return Ok(SentAck {
                msg_id: first.msg_id,
                ts: first.ts,
                ..ack
            });
        }
        if let Some(seq) = reply_to {
            self.check_reply(&state, seq).await?;
        }
        let records = self.check_attachments(user, &send.attachments).await?;
        self.seal_attachments(&records).await?;
        // (Its attachments were counted when they were asked for.)
        self.quotas.take(user, send.body.len() as u64).await?;
        self.append(send.into()).await?;
        Ok(ack)
    }

    /// A reply answers a message the conversation has (retained).
    async fn check_reply(
        &self,
        state: &chat_domain::ConversationState,
        seq: u64,
    ) -> Result<(), DomainError> {
        let found = if (1..=state.last_seq).contains(&seq) {
            self.stores
                .messages
                .message(&state.id, seq)
                .await
                .map_err(from_port)?
        } else {
            None
        };
        match found {
            Some(_) => Ok(()),
            None => Err(DomainError::bad_request(format!(
                "reply_to: the conversation has no message {seq}"
            ))),
        }
    }

    /// Counts a send refused where it entered (a malformed id), as `send`
    /// counts the ones it refuses.
    pub fn refused_send(&self, e: &DomainError) {
        self.metrics.send(e.code.as_str());
    }

    /// The sender deletes a message for everyone.
    pub async fn delete_message(
        &self,
        user: &UserId,
        conv: &ConversationId,
        seq: u64,
    ) -> Result<(), DomainError> {
        let (command, message) = self
            .prechecked(user, conv, seq, |seq| {
                DeleteMessage {
                    conv: conv.clone(),
                    seq,
                    actor: user.clone(),
                    ts: chat_domain::time::now_ms(),
                }
                .into()
            })
            .await?;
        if message.is_some_and(|m| m.deleted) {
            // Deleted already: not worth a durable append.
            return Ok(());
        }
        let position = self.append(command).await?;
        self.applied(conv, &position).await?;
        Ok(())
    }

    /// The sender replaces a message's body (PROTOCOL v1.1); answers with
    /// the message once the sequencer applied the edit. The body rules of a
    /// send apply, and its allowance: an edit writes as much as a send.
    pub async fn edit_message(
        &self,
        user: &UserId,
        conv: &ConversationId,
        seq: u64,
        body: String,
    ) -> Result<Message, DomainError> {
        self.check_body(&body)?;
        self.rates.user_send(user)?;
        self.quotas.take(user, body.len() as u64).await?;
        let (command, message) = self
            .prechecked(user, conv, seq, |seq| {
                EditMessage {
                    conv: conv.clone(),
                    seq,
                    actor: user.clone(),
                    body,
                    ts: chat_domain::time::now_ms(),
                }
                .into()
            })
            .await?;
        if let (Some(m), Command::EditMessage(c)) = (message, &command) {
            if m.body == c.body {
                // The body it has (a retry): not worth a durable append.
                let mut m = m;
                self.show_replies(std::slice::from_mut(&mut m)).await?;
                return Ok(m);
            }
        }
        let position = self.append(command).await?;
        self.applied(conv, &position).await?;
        let mut now = self
            .stores
            .messages
            .message(conv, seq)
            .await
            .map_err(from_port)?
            .ok_or_else(|| DomainError::new(ErrorCode::NotFound, "no such message"))?;
        self.show_replies(std::slice::from_mut(&mut now)).await?;
        if now.deleted {
            // Deleted between the check and the edit's turn.
            return Err(rules::Rejection::NotEditable("the message is deleted").into());
        }
        // Its body now: this edit's, or a later one's.
        Ok(now)
    }

    /// Adds (`on`) or removes the caller's reaction with `emoji` to the
    /// message at `seq` (PROTOCOL v1.1); answers once applied. Idempotent:
    /// a reaction the message shows already (or not) costs no append.
    pub async fn react(
        &self,
        user: &UserId,
        conv: &ConversationId,
        seq: u64,
        emoji: &str,
        on: bool,
    ) -> Result<(), DomainError> {
        if !chat_domain::valid_emoji(emoji) {
            return Err(rules::Rejection::BadEmoji.into());
        }
        self.rates.user_send(user)?;
        let (command, message) = self
            .prechecked(user, conv, seq, |seq| {
                React {
                    conv: conv.clone(),
                    seq,
                    user: user.clone(),
                    emoji: emoji.to_owned(),
                    on,
                    ts: chat_domain::time::now_ms(),
                }
                .into()
            })
            .await?;
        if message.is_some_and(|m| m.has_reaction(user, emoji) == on) {
            return Ok(());
        }
        let position = self.append(command).await?;
        self.applied(conv, &position).await?;
        Ok(())
    }

    /// A command about the message at `seq` of a conversation `user` is a
    /// member of, built by `command` and decided by the rules on the state
    /// and message read (the pre-check); with that message.
    async fn prechecked(
        &self,
        user: &UserId,
        conv: &ConversationId,
        seq: u64,
        command: impl FnOnce(i64) -> Command,
    ) -> Result<(Command, Option<Message>), DomainError> {
        let state = self.membership(conv, user).await?;
        let message = self
            .stores
            .messages
            .message(conv, seq)
            .await
            .map_err(from_port)?;
        let command = command(i64::try_from(seq).unwrap_or(i64::MAX));
        let facts = Facts {
            state: Some(&state),
            message: message.as_ref(),
        };
        rules::decide(&command, facts, &self.limits())?;
        Ok((command, message))
    }

    /// The body rules of a send: at most `max_body_bytes`.
    fn check_body(&self, body: &str) -> Result<(), DomainError> {
        if body.len() > self.config.max_body_bytes {
            return Err(DomainError::new(
                ErrorCode::TooLarge,
                format!("body is over {} bytes", self.config.max_body_bytes),
            ));
        }
        Ok(())
    }

    /// Records a delivered (device) or read (user) watermark. Values above
    /// the conversation's last seq are clamped to it.
    pub async fn receipt(
        &self,
        user: &UserId,
        device: &DeviceId,
        conv: &ConversationId,
        seq: u64,
        kind: ReceiptKind,
    ) -> Result<(), DomainError> {
        let state = self.conversation(conv).await?;
        let seq = seq.min(state.last_seq);
        let command: Command = SubmitReceipt {
            conv: conv.clone(),
            user: user.clone(),
            device: device.clone(),
            kind: kind.as_str().into(),
            seq: seq as i64,
            ts: chat_domain::time::now_ms(),
        }
        .into();
        let facts = Facts {
            state: Some(&state),
            message: None,
        };
        rules::decide(&command, facts, &self.limits())?;
        if seq == 0 {
            return Ok(());
        }
        // A receipt that moves nothing is not worth a durable append: a
        // client repeating its watermark costs reads, not log space.
        let current = match kind {
            ReceiptKind::Read => self.stores.receipts.read_seq(conv, user).await,
            ReceiptKind::Delivered => self
                .stores
                .receipts
                .device_delivered(user, device)
                .await
                .map(|m| m.get(conv.as_str()).copied().unwrap_or(0)),
        }
        .map_err(from_port)?;
        if seq <= current {
            return Ok(());
        }
        self.append(command).await?;
        Ok(())
    }
}
