//! Rows to port values.

use crate::error;
use crate::keys::from_db;
use chat_domain::{ConversationState, Message, Reply};
use chat_ports::{Attachment, Result};

/// A message row, in the order of `statements::message_columns`.
pub(crate) type MessageRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<Vec<String>>,
    i64,
    bool,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The message of `conv` a row holds.
pub(crate) fn message(conv: &str, row: MessageRow) -> Result<Message> {
    let (
        seq,
        msg_id,
        sender,
        sender_device,
        client_msg_id,
        body,
        attachments,
        ts,
        deleted,
        edit_version,
        edited_ts,
        reply_to,
        reactions,
    ) = row;
    Ok(Message {
        conv: conv.into(),
        seq: from_db("seq", seq)?,
        msg_id: msg_id.into(),
        sender: sender.into(),
        sender_device: sender_device.into(),
        client_msg_id: client_msg_id.into(),
        body,
        attachments: attachments.unwrap_or_default(),
        ts,
        deleted,
        edit_version: from_db("edit_version", edit_version.unwrap_or(0))?,
        edited_ts,
        reply_to: reply_to
            .map(|s| from_db("reply_to", s))
            .transpose()?
            .map(Reply::to),
        reactions: match reactions {
            Some(j) => serde_json::from_str(&j).map_err(error::corrupt)?,
            None => Vec::new(),
        },
    })
}

/// A message's reactions for their column (none: null).
pub(crate) fn reactions_json(m: &Message) -> Result<Option<String>> {
    if m.reactions.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&m.reactions)
        .map(Some)
        .map_err(|e| chat_ports::PortError::refused("store", e))
}

/// An attachment row: id, owner, content type, size, created at, uploaded
/// size, thumbnail.
pub(crate) type AttachmentRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The record a row holds; a row without an owner is not a record (only an
/// update of a record deleted since could leave one).
pub(crate) fn attachment(row: AttachmentRow) -> Result<Option<Attachment>> {
    let (id, owner, content_type, size, created_at, uploaded_size, thumbnail) = row;
    let (Some(owner), Some(content_type), Some(size), Some(created_at)) =
        (owner, content_type, size, created_at)
    else {
        return Ok(None);
    };
    Ok(Some(Attachment {
        id,
        owner,
        content_type,
        size: from_db("size", size)?,
        created_at,
        uploaded_size: uploaded_size
            .map(|v| from_db("uploaded_size", v))
            .transpose()?,
        thumbnail,
    }))
}

/// A conversation state from its json text.
pub(crate) fn conversation(state: &str) -> Result<ConversationState> {
    serde_json::from_str(state).map_err(error::corrupt)
}

/// A conversation state as json text.
pub(crate) fn state_json(state: &ConversationState) -> Result<String> {
    serde_json::to_string(state).map_err(error::refuse)
}
