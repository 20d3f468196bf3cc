//! The fan-out processor: reads the events topic and publishes each event on
//! the real-time channels of the users it concerns. Best effort by design:
//! a lost publish is repaired from the store by the gateway (seq gaps, sync
//! on connect), so this processor never blocks the message path.

use crate::sequencer::state_from_event;
use crate::{Processor, Result};
use async_trait::async_trait;
use chat_domain::{ErrorCode, Event, Message, ReceiptKind, Reply, UserId};
use chat_events::topics::EVENTS;
use chat_events::Codec;
use chat_ports::channels::{conversation_channel, user_channel};
use chat_ports::replies::show_replies;
use chat_ports::{Channels, LogRecord, RealtimeEvent, Stores};
use std::sync::Arc;

/// One event and the channels it goes to; `None`: nothing to publish.
type Publish = Option<(Vec<String>, RealtimeEvent)>;

pub struct Fanout {
    stores: Stores,
    channels: Arc<dyn Channels>,
    codec: Arc<Codec>,
    /// Conversations with more members than this go out once on their
    /// conversation channel instead of once per member.
    conversation_channel_above: usize,
}

impl Fanout {
    pub fn new(
        stores: Stores,
        channels: Arc<dyn Channels>,
        codec: Arc<Codec>,
        conversation_channel_above: usize,
    ) -> Self {
        Self {
            stores,
            channels,
            codec,
            conversation_channel_above,
        }
    }

    /// `event` on the channels of `users`.
    fn to_users(users: &[UserId], event: RealtimeEvent) -> Publish {
        let channels = users.iter().map(|u| user_channel(u)).collect();
        Some((channels, event))
    }

    /// `event` on the members' channels, or once on the conversation's
    /// channel when the conversation is large.
    fn to_members(&self, conv: &str, members: &[UserId], event: RealtimeEvent) -> Publish {
        if members.len() > self.conversation_channel_above {
            Some((vec![conversation_channel(conv)], event))
        } else {
            Self::to_users(members, event)
        }
    }
}

#[async_trait]
impl Processor for Fanout {
    fn group(&self) -> &'static str {
        crate::groups::FANOUT
    }

    fn topics(&self) -> &'static [&'static str] {
        &[EVENTS]
    }

    /// Works out every publish of the batch in log order, then hands them
    /// to the channels at once (one round trip on Redis), in that order.
    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        let mut publishes = Vec::with_capacity(records.len());
        for r in records {
            let Ok(event) = self.codec.decode_event(&r.payload) else {
                continue;
            };
            tracing::trace!(
                traceparent = r.traceparent().as_deref().unwrap_or(""),
                event = event.name(),
                "Fan-out publishes an event."
            );
            publishes.extend(self.fan_out(event).await?);
        }
        self.channels.publish_all(publishes).await?;
        Ok(())
    }
}

impl Fanout {
    /// Publishes one event to the channels of the users it concerns.
    async fn fan_out(&self, event: Event) -> Result<Publish> {
        match event {
            Event::MessageSequenced(e) => {
                let mut message = Message {
                    conv: e.conv.clone(),
                    seq: e.seq.max(0) as u64,
                    msg_id: e.msg_id,
                    sender: e.sender,
                    sender_device: e.sender_device,
                    client_msg_id: e.client_msg_id,
                    body: e.body,
                    attachments: e.attachments,
                    ts: e.ts,
                    deleted: false,
                    edit_version: 0,
                    edited_ts: None,
                    reply_to: e
                        .reply_to
                        .and_then(|s| u64::try_from(s).ok())
                        .map(Reply::to),
                    reactions: vec![],
                };
                // What it answers, as stored now: read once here, not by
                // every session it reaches.
                show_replies(&*self.stores.messages, std::slice::from_mut(&mut message)).await?;
                let large = e.recipients.len() > self.conversation_channel_above;
                let event = RealtimeEvent::Message {
                    message,
                    recipients: if large {
                        e.recipients.clone()
                    } else {
                        Vec::new()
                    },
                };
                Ok(self.to_members(&e.conv, &e.recipients, event))
            }
            Event::MembershipApplied(e) => {
                let state = state_from_event(&e);
                let mut users = e.members.clone();
                users.extend(e.removed.iter().cloned());
                Ok(Self::to_users(
                    &users,
                    RealtimeEvent::Conversation { state },
                ))
            }
            Event::MessageDeleted(e) => {
                let event = RealtimeEvent::Deleted {
                    conv: e.conv.clone(),
                    seq: e.seq.max(0) as u64,
                };
                Ok(self.to_members(&e.conv, &e.recipients, event))
            }
            Event::MessageEdited(e) => {
                let event = RealtimeEvent::Edited {
                    conv: e.conv.clone(),
                    seq: e.seq.max(0) as u64,
                    body: e.body,
                    edit_version: e.edit_version.max(0) as u64,
                    edited_ts: e.edited_ts,
                };
                Ok(self.to_members(&e.conv, &e.recipients, event))
            }
            Event::ReactionChanged(e) => {
                let event = RealtimeEvent::Reaction {
                    conv: e.conv.clone(),
                    seq: e.seq.max(0) as u64,
                    user: e.user,
                    emoji: e.emoji,
                    on: e.on,
                };
                Ok(self.to_members(&e.conv, &e.recipients, event))
            }
            Event::ReceiptAdvanced(e) => {
                let Some(kind) = ReceiptKind::parse(&e.kind) else {
                    return Ok(None);
                };
                // Read again (a rebalance, a restart before the commit), an
                // event the store has gone past would take devices back:
                // the newer one announces the stored value.
                let (delivered, read) = self.stores.receipts.watermarks(&e.conv, &e.user).await?;
                let stored = match kind {
                    ReceiptKind::Delivered => delivered,
                    ReceiptKind::Read => read,
                };
                if stored > e.seq.max(0) as u64 {
                    return Ok(None);
                }
                let Some(state) = self.stores.conversations.conversation(&e.conv).await? else {
                    return Ok(None);
                };
                let users: Vec<UserId> = state.members.iter().map(|m| m.user.clone()).collect();
                let event = RealtimeEvent::Receipt {
                    conv: e.conv.clone(),
                    user: e.user,
                    kind,
                    seq: e.seq.max(0) as u64,
                };
                Ok(self.to_members(&e.conv, &users, event))
            }
            Event::SendRejected(e) => {
                // The send was acknowledged: its device is told it was
                // refused (live only; it never appears in history).
                let event = RealtimeEvent::SendRejected {
                    conv: e.conv,
                    device: e.sender_device,
                    client_msg_id: e.client_msg_id,
                    code: ErrorCode::parse(&e.code).unwrap_or_else(|| {
                        tracing::warn!(code = %e.code, "A SendRejected event names an unknown error code; reporting it as forbidden.");
                        ErrorCode::Forbidden
                    }),
                    reason: e.reason,
                };
                Ok(Self::to_users(std::slice::from_ref(&e.sender), event))
            }
            // Refusals of commands whose callers wait for the outcome, and
            // push failures: for operators and analytics, not for devices.
            Event::CommandRejected(_) | Event::PushDeadLettered(_) | Event::DeadLettered(_) => {
                Ok(None)
            }
        }
    }
}
