//! The store lookups a batch of commands needs, read side by side before
//! the batch is decided: each command's conversation state, and the one
//! message it names (the earlier send with its idempotency key, or the
//! message a delete names). Deciding stays one command after the other,
//! in log order; only the reads, which depend on nothing the batch
//! decides, are done ahead and at once, instead of one round trip after
//! the other.
//!
//! What the batch itself decided comes first when a command is decided
//! (`Work` keeps it); these are the store's answers as of before the
//! batch, which is what the one-by-one reads returned too, since the batch
//! writes nothing until it is whole.

use crate::Result;
use chat_domain::rules::{self, Wants};
use chat_domain::{Command, ConversationId, ConversationState, Message, UserId};
use chat_ports::Stores;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Lookups in flight at once.
const IN_FLIGHT: usize = 32;

/// An earlier send's key: conversation, sender, client message id.
pub(crate) type SentKey = (ConversationId, UserId, String);

/// The store's answers, as of before the batch.
#[derive(Default)]
pub(crate) struct Prefetched {
    pub convs: HashMap<ConversationId, Option<ConversationState>>,
    pub sent: HashMap<SentKey, Option<Message>>,
    pub messages: HashMap<(ConversationId, u64), Option<Message>>,
}

enum Lookup {
    Conv(ConversationId),
    Sent(SentKey),
    Message(ConversationId, u64),
}

enum Answer {
    Conv(ConversationId, Option<ConversationState>),
    Sent(SentKey, Option<Message>),
    Message((ConversationId, u64), Option<Message>),
}

/// Reads what the sequenced commands among `commands` need.
pub(crate) async fn prefetch(stores: &Stores, commands: &[&Command]) -> Result<Prefetched> {
    let mut lookups = Vec::new();
    let mut convs = std::collections::HashSet::new();
    for cmd in commands.iter().filter(|c| rules::is_sequenced(c)) {
        let conv = cmd.conv().clone();
        if convs.insert(conv.clone()) {
            lookups.push(Lookup::Conv(conv.clone()));
        }
        match rules::wants(cmd) {
            Wants::Nothing => {}
            Wants::Message(seq) => lookups.push(Lookup::Message(conv, seq)),
            Wants::SentWithKey {
                sender,
                client_msg_id,
            } => lookups.push(Lookup::Sent((
                conv,
                sender.clone(),
                client_msg_id.to_string(),
            ))),
        }
    }
    let answers: Vec<Answer> = futures::stream::iter(lookups)
        .map(|l| read(stores, l))
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    let mut out = Prefetched::default();
    for a in answers {
        match a {
            Answer::Conv(k, v) => {
                out.convs.insert(k, v);
            }
            Answer::Sent(k, v) => {
                out.sent.insert(k, v);
            }
            Answer::Message(k, v) => {
                out.messages.insert(k, v);
            }
        }
    }
    Ok(out)
}

async fn read(stores: &Stores, lookup: Lookup) -> Result<Answer> {
    Ok(match lookup {
        Lookup::Conv(conv) => {
            let state = stores.conversations.conversation(&conv).await?;
            Answer::Conv(conv, state)
        }
        Lookup::Sent(key) => {
            let found = stores.messages.find_sent(&key.0, &key.1, &key.2).await?;
            Answer::Sent(key, found)
        }
        Lookup::Message(conv, seq) => {
            let found = stores.messages.message(&conv, seq).await?;
            Answer::Message((conv, seq), found)
        }
    })
}
