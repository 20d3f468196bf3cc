//! Conversions between port values and columns: u64 and bigint, messages
//! and their rows, attachment records and their rows, conversation states
//! and their json.

use crate::error;
use chat_domain::{ConversationState, Message, Reply};
use chat_ports::{Attachment, PortError, Result};
use tokio_postgres::Row;

/// The columns [`message`] reads, in its order ([`MESSAGE_COLUMNS`] of them).
macro_rules! message_columns {
    () => {
        "conv, seq, msg_id, sender, sender_device, client_msg_id, body, attachments::text, ts, deleted, \
         edit_version, edited_ts, reply_to, reactions"
    };
}
pub(crate) use message_columns;

/// How many columns [`message_columns`] names: a query that selects more
/// after them finds its own from this index on.
pub(crate) const MESSAGE_COLUMNS: usize = 14;

/// The columns [`attachment`] reads, in its order.
macro_rules! attachment_columns {
    () => {
        "id, owner, content_type, size, created_at, uploaded_size, thumbnail"
    };
}
pub(crate) use attachment_columns;

/// A u64 to write: refused above `i64::MAX` rather than wrapped, which would
/// store a negative number and break the order.
pub(crate) fn to_db(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| PortError::refused("store", format!("{what} {v} is above the largest bigint")))
}

/// A u64 bound of a read: values above `i64::MAX` stand for `i64::MAX`,
/// which no stored value exceeds.
pub(crate) fn bound(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A `LIMIT`.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored bigint that stands for a u64.
pub(crate) fn from_db(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| error::corrupt(format!("{what} {v} is negative")))
}

/// One column of any type.
pub(crate) fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> Result<T> {
    row.try_get(i)
        .map_err(|e| error::corrupt(error::describe(&e)))
}

/// A message from the columns of [`message_columns`].
pub(crate) fn message(row: &Row) -> Result<Message> {
    let body: Vec<u8> = column(row, 6)?;
    let attachments: String = column(row, 7)?;
    Ok(Message {
        conv: column::<String>(row, 0)?.into(),
        seq: from_db("seq", column(row, 1)?)?,
        msg_id: column::<String>(row, 2)?.into(),
        sender: column::<String>(row, 3)?.into(),
        sender_device: column::<String>(row, 4)?.into(),
        client_msg_id: column::<String>(row, 5)?.into(),
        body: String::from_utf8(body).map_err(error::corrupt)?,
        attachments: serde_json::from_str(&attachments).map_err(error::corrupt)?,
        ts: column(row, 8)?,
        deleted: column(row, 9)?,
        edit_version: from_db("edit_version", column(row, 10)?)?,
        edited_ts: column(row, 11)?,
        reply_to: column::<Option<i64>>(row, 12)?
            .map(|s| from_db("reply_to", s))
            .transpose()?
            .map(Reply::to),
        reactions: reactions_from(column(row, 13)?)?,
    })
}

/// A message's reactions from their column (NULL: none).
pub(crate) fn reactions_from(json: Option<String>) -> Result<Vec<chat_domain::Reaction>> {
    json.map_or(Ok(Vec::new()), |j| {
        serde_json::from_str(&j).map_err(error::corrupt)
    })
}

/// A message's reactions for their column (none: NULL).
pub(crate) fn reactions_json(m: &Message) -> Result<Option<String>> {
    if m.reactions.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&m.reactions)
        .map(Some)
        .map_err(|e| PortError::refused("store", e))
}

/// An attachment record from the columns of [`attachment_columns`].
pub(crate) fn attachment(row: &Row) -> Result<Attachment> {
    let uploaded_size: Option<i64> = column(row, 5)?;
    let thumbnail: Option<Vec<u8>> = column(row, 6)?;
    Ok(Attachment {
        id: utf8(row, 0)?,
        owner: column(row, 1)?,
        content_type: utf8(row, 2)?,
        size: from_db("size", column(row, 3)?)?,
        created_at: column(row, 4)?,
        uploaded_size: uploaded_size
            .map(|v| from_db("uploaded_size", v))
            .transpose()?,
        thumbnail: thumbnail
            .map(|bytes| String::from_utf8(bytes).map_err(error::corrupt))
            .transpose()?,
    })
}

/// One bytea column that holds UTF-8 text.
pub(crate) fn utf8(row: &Row, i: usize) -> Result<String> {
    let bytes: Vec<u8> = column(row, i)?;
    String::from_utf8(bytes).map_err(error::corrupt)
}

/// A conversation state from its json text.
pub(crate) fn conversation(row: &Row) -> Result<ConversationState> {
    let state: String = column(row, 0)?;
    serde_json::from_str(&state).map_err(error::corrupt)
}

/// One text column.
pub(crate) fn text(row: &Row, i: usize) -> Result<String> {
    column(row, i)
}

/// One bigint column.
pub(crate) fn int(row: &Row, i: usize) -> Result<i64> {
    column(row, i)
}

/// One bigint column that stands for a u64.
pub(crate) fn seq(row: &Row, i: usize) -> Result<u64> {
    from_db("seq", column(row, i)?)
}

/// A conversation state as json text, for the `state` column.
pub(crate) fn state_json(state: &ConversationState) -> Result<String> {
    serde_json::to_string(state).map_err(|e| PortError::storage("store", e))
}

/// Attachment ids as json text, for the `attachments` column.
pub(crate) fn attachments_json(ids: &[String]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| PortError::storage("store", e))
}
