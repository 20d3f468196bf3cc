//! What a reply shows of the message it answers (PROTOCOL v1.1), filled in
//! when messages are read: stores keep only the answered seq, so an edit or
//! a delete of the answered message shows in every reply read after it.

use crate::store::{side_by_side, MessageStore};
use crate::Result;
use chat_domain::Message;
use std::collections::BTreeMap;

/// Fills in `reply_to` on every message of `messages` that answers one,
/// from the answered messages as `store` holds them now (those among
/// `messages` are not read again).
pub async fn show_replies(store: &dyn MessageStore, messages: &mut [Message]) -> Result<()> {
    let mut answered: BTreeMap<(String, u64), Option<Message>> = BTreeMap::new();
    for m in messages.iter() {
        if let Some(r) = &m.reply_to {
            answered.insert((m.conv.to_string(), r.seq), None);
        }
    }
    if answered.is_empty() {
        return Ok(());
    }
    for m in messages.iter() {
        if let Some(slot) = answered.get_mut(&(m.conv.to_string(), m.seq)) {
            *slot = Some(m.clone());
        }
    }
    let missing: Vec<(String, u64)> = answered
        .iter()
        .filter(|(_, m)| m.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let reads = missing
        .iter()
        .map(|(conv, seq)| store.message(conv, *seq))
        .collect();
    let found = side_by_side(reads).await?;
    for (key, found) in missing.iter().zip(found) {
        answered.insert(key.clone(), found);
    }
    for m in messages.iter_mut() {
        let conv = m.conv.to_string();
        if let Some(r) = m.reply_to.as_mut() {
            r.show(answered.get(&(conv, r.seq)).and_then(Option::as_ref));
        }
    }
    Ok(())
}
