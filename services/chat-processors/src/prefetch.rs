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

/// Named messages read at once.
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

/// Reads what the sequenced commands among `commands` need: the
/// conversations' states and the sends' earlier messages each in one call
/// of a many-key read (one request or a few on the SQL and CQL engines),
/// the named messages one by one; the three side by side.
pub(crate) async fn prefetch(stores: &Stores, commands: &[&Command]) -> Result<Prefetched> {
    let mut convs: Vec<ConversationId> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut sent: Vec<SentKey> = Vec::new();
    let mut messages: Vec<(ConversationId, u64)> = Vec::new();
    for cmd in commands.iter().filter(|c| rules::is_sequenced(c)) {
        let conv = cmd.conv().clone();
        if seen.insert(conv.clone()) {
            convs.push(conv.clone());
        }
        match rules::wants(cmd) {
            Wants::Nothing => {}
            Wants::Message(seq) => messages.push((conv, seq)),
            Wants::SentWithKey {
                sender,
                client_msg_id,
            } => sent.push((conv, sender.clone(), client_msg_id.to_string())),
        }
    }
    let conv_ids: Vec<&str> = convs.iter().map(|c| c.as_str()).collect();
    let sent_keys: Vec<(&str, &str, &str)> = sent
        .iter()
        .map(|(c, u, k)| (c.as_str(), u.as_str(), k.as_str()))
        .collect();
    let message_reads: Vec<_> = messages
        .iter()
        .map(|(conv, seq)| stores.messages.message(conv, *seq))
        .collect();
    let (states, sends, found) = futures::try_join!(
        stores.conversations.conversation_states(&conv_ids),
        stores.messages.find_sent_all(&sent_keys),
        futures::stream::iter(message_reads)
            .buffered(IN_FLIGHT)
            .try_collect::<Vec<_>>(),
    )?;
    Ok(Prefetched {
        convs: convs.into_iter().zip(states).collect(),
        sent: sent.into_iter().zip(sends).collect(),
        messages: messages.into_iter().zip(found).collect(),
    })
}
