//! The search processor (consumer group `search`): keeps the search index
//! from `chat.events`, so search is eventually consistent with the log and
//! its lag is the group's `record_age_seconds`.
//!
//! - A sequenced message with a body is put in the index.
//! - An edit puts the message again with its latest body, as the store
//!   holds it (the store applied the edit before the event was published),
//!   with the sender and time the index keeps beside the terms.
//! - A delete removes it.
//!
//! A batch is one `apply`, durable before the offsets are committed; the
//! changes are keyed by (conversation, seq), so handling a batch again
//! writes the same index, and a replay of the log rebuilds it. Retention
//! removes old entries (`retention.rs`); the gateway reads every hit back
//! from the store, so what the index has not caught up with yet (a delete,
//! an edit, a message past retention) is never shown.

use crate::{Processor, Result};
use async_trait::async_trait;
use chat_domain::Event;
use chat_events::topics::EVENTS;
use chat_events::Codec;
use chat_ports::search::{SearchChange, SearchDoc};
use chat_ports::{LogRecord, MessageStore, SearchIndex};
use std::sync::Arc;

pub struct Search {
    index: Arc<dyn SearchIndex>,
    messages: Arc<dyn MessageStore>,
    codec: Arc<Codec>,
}

impl Search {
    pub fn new(
        index: Arc<dyn SearchIndex>,
        messages: Arc<dyn MessageStore>,
        codec: Arc<Codec>,
    ) -> Self {
        Self {
            index,
            messages,
            codec,
        }
    }

    /// The change an event makes to the index, if any.
    async fn change(&self, event: Event) -> Result<Option<SearchChange>> {
        Ok(match event {
            Event::MessageSequenced(m) if !m.body.is_empty() => Some(SearchChange::Put(
                SearchDoc::new(&m.conv, m.seq as u64, &m.sender, m.ts, &m.body),
            )),
            Event::MessageEdited(e) => {
                let seq = e.seq as u64;
                match self.messages.message(&e.conv, seq).await? {
                    Some(m) if !m.deleted && !m.body.is_empty() => Some(SearchChange::Put(
                        SearchDoc::new(&m.conv, seq, &m.sender, m.ts, &m.body),
                    )),
                    _ => Some(SearchChange::Remove {
                        conv: e.conv.to_string(),
                        seq,
                    }),
                }
            }
            Event::MessageDeleted(d) => Some(SearchChange::Remove {
                conv: d.conv.to_string(),
                seq: d.seq as u64,
            }),
            Event::MessageSequenced(_)
            | Event::MembershipApplied(_)
            | Event::ReactionChanged(_)
            | Event::ReceiptAdvanced(_)
            | Event::CommandRejected(_)
            | Event::SendRejected(_)
            | Event::PushDeadLettered(_)
            | Event::DeadLettered(_) => None,
        })
    }
}

#[async_trait]
impl Processor for Search {
    fn group(&self) -> &'static str {
        crate::groups::SEARCH
    }

    fn topics(&self) -> &'static [&'static str] {
        &[EVENTS]
    }

    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        let mut changes = Vec::new();
        for r in records {
            // A record of a newer schema is retried until this processor
            // is upgraded; one that never decodes is set aside.
            let event = self.codec.decode_event(&r.payload)?;
            if let Some(c) = self.change(event).await? {
                changes.push(c);
            }
        }
        self.index.apply(&changes).await?;
        Ok(())
    }
}
