//! Sends, deletes and receipts.

use super::ChatService;
use crate::error::from_port;
use chat_domain::{ids, DomainError, ErrorCode, ReceiptKind};
use chat_events::{DeleteMessage, SendMessage, SubmitReceipt};
use serde::Serialize;

/// The answer to a durable send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentAck {
    pub conv: String,
    pub client_msg_id: String,
    pub msg_id: String,
    pub ts: i64,
}

/// Most attachment ids a message may carry.
pub const MAX_ATTACHMENTS: usize = 10;

impl ChatService {
    /// Sends a message; answers once the command is durable in the log.
    /// A repeated (conv, sender, client_msg_id) gets the first send's id.
    pub async fn send(
        &self,
        user: &str,
        device: &str,
        conv: &str,
        client_msg_id: &str,
        body: String,
        attachments: Vec<String>,
    ) -> Result<SentAck, DomainError> {
        let started = std::time::Instant::now();
        let outcome = self
            .send_inner(user, device, conv, client_msg_id, body, attachments)
            .await;
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
        user: &str,
        device: &str,
        conv: &str,
        client_msg_id: &str,
        body: String,
        attachments: Vec<String>,
    ) -> Result<SentAck, DomainError> {
        ids::check_conversation_id(conv)?;
        ids::check_client_msg_id(client_msg_id)?;
        if body.len() > self.config.max_body_bytes {
            return Err(DomainError::new(
                ErrorCode::TooLarge,
                format!("body is over {} bytes", self.config.max_body_bytes),
            ));
        }
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(DomainError::bad_request(format!(
                "at most {MAX_ATTACHMENTS} attachments"
            )));
        }
        self.limiter.check(user, device)?;
        self.membership(conv, user).await?;
        if let Some(first) = self
            .stores
            .messages
            .find_sent(conv, user, client_msg_id)
            .await
            .map_err(from_port)?
        {
            return Ok(SentAck {
                conv: conv.into(),
                client_msg_id: client_msg_id.into(),
                msg_id: first.msg_id,
                ts: first.ts,
            });
        }
        self.check_attachments(user, &attachments).await?;
        let msg_id = ids::message_id(conv, user, client_msg_id);
        let ts = chat_domain::time::now_ms();
        self.append(
            SendMessage {
                conv: conv.into(),
                msg_id: msg_id.clone(),
                sender: user.into(),
                sender_device: device.into(),
                client_msg_id: client_msg_id.into(),
                body,
                attachments,
                ts,
            }
            .into(),
        )
        .await?;
        Ok(SentAck {
            conv: conv.into(),
            client_msg_id: client_msg_id.into(),
            msg_id,
            ts,
        })
    }

    /// The sender deletes a message for everyone.
    pub async fn delete_message(
        &self,
        user: &str,
        conv: &str,
        seq: u64,
    ) -> Result<(), DomainError> {
        self.membership(conv, user).await?;
        let message = self
            .stores
            .messages
            .message(conv, seq)
            .await
            .map_err(from_port)?
            .ok_or_else(|| DomainError::new(ErrorCode::NotFound, "no such message"))?;
        if message.sender != user {
            return Err(DomainError::new(
                ErrorCode::Forbidden,
                "only the sender deletes a message",
            ));
        }
        if message.deleted {
            return Ok(());
        }
        let position = self
            .append(
                DeleteMessage {
                    conv: conv.into(),
                    seq: seq as i64,
                    actor: user.into(),
                    ts: chat_domain::time::now_ms(),
                }
                .into(),
            )
            .await?;
        self.applied(conv, &position).await?;
        Ok(())
    }

    /// Records a delivered (device) or read (user) watermark. Values above
    /// the conversation's last seq are clamped to it.
    pub async fn receipt(
        &self,
        user: &str,
        device: &str,
        conv: &str,
        seq: u64,
        kind: ReceiptKind,
    ) -> Result<(), DomainError> {
        let state = self.membership(conv, user).await?;
        let seq = seq.min(state.last_seq);
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
                .map(|m| m.get(conv).copied().unwrap_or(0)),
        }
        .map_err(from_port)?;
        if seq <= current {
            return Ok(());
        }
        self.append(
            SubmitReceipt {
                conv: conv.into(),
                user: user.into(),
                device: device.into(),
                kind: kind.as_str().into(),
                seq: seq as i64,
                ts: chat_domain::time::now_ms(),
            }
            .into(),
        )
        .await?;
        Ok(())
    }
}
