//! Every statement the engine runs, prepared once at connect. Each is
//! marked idempotent (keyed upserts with explicit timestamps, keyed
//! deletes, reads), so the driver may retry it on another node after a
//! timeout.

use chat_ports::Result;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

/// The columns of a message row, in the order `rows::message` reads them.
macro_rules! message_columns {
    () => {
        "seq, msg_id, sender, sender_device, client_msg_id, body, attachments, ts, deleted, \
         edit_version, edited_ts, reply_to, reactions"
    };
}

macro_rules! statements {
    ($($name:ident = $cql:expr;)*) => {
        /// The prepared statements, by what they do.
        pub(crate) struct Statements {
            $(pub(crate) $name: PreparedStatement,)*
        }

        impl Statements {
            /// Prepares every statement on the tables of `keyspace`.
            pub(crate) async fn prepare(session: &Session, keyspace: &str) -> Result<Self> {
                Ok(Self {
                    $($name: prepare(session, &qualify($cql, keyspace)).await?,)*
                })
            }
        }
    };
}

/// The statement with the table after each FROM, INTO and UPDATE named in
/// `keyspace` (a session-wide `USE` would make every prepared statement
/// depend on the connection's state).
pub(crate) fn qualify(cql: &str, keyspace: &str) -> String {
    let mut out = String::with_capacity(cql.len() + 4 * keyspace.len());
    let mut previous = "";
    for (i, word) in cql.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if matches!(previous, "FROM" | "INTO" | "UPDATE") {
            out.push_str(keyspace);
            out.push('.');
        }
        out.push_str(word);
        previous = word;
    }
    out
}

async fn prepare(session: &Session, cql: &str) -> Result<PreparedStatement> {
    let mut statement = session.prepare(cql).await.map_err(|e| {
        chat_ports::PortError::unavailable("store", format!("preparing {cql:?}: {e}"))
    })?;
    statement.set_is_idempotent(true);
    Ok(statement)
}

statements! {
    // Conversations.
    conversation = "SELECT state FROM conversations WHERE id = ?";
    conversation_states = "SELECT id, state FROM conversations WHERE id IN ?";
    conversation_offset = "SELECT applied_offset FROM conversations WHERE id = ?";
    conversation_offsets = "SELECT id, applied_offset FROM conversations WHERE id IN ?";
    conversation_last_seq = "SELECT last_seq FROM conversations WHERE id = ?";
    put_conversation = "UPDATE conversations USING TIMESTAMP ? SET state = ?, applied_offset = ?, last_seq = ? \
        WHERE id = ?";
    conversations_of = "SELECT conv FROM user_conversations WHERE user_id = ?";
    // The sequencer's cursors.
    cursors = "SELECT partition, partitions, base, last_offset, last_fingerprint \
        FROM sequencer_cursors WHERE topic = ?";
    put_cursor = "UPDATE sequencer_cursors USING TIMESTAMP ? SET partitions = ?, base = ?, \
        last_offset = ?, last_fingerprint = ? WHERE topic = ? AND partition = ?";
    join = "INSERT INTO user_conversations (user_id, conv) VALUES (?, ?) USING TIMESTAMP ?";
    leave = "DELETE FROM user_conversations USING TIMESTAMP ? WHERE user_id = ? AND conv = ?";

    // Messages.
    put_message = "INSERT INTO messages (conv, bucket, seq, msg_id, sender, sender_device, \
        client_msg_id, body, attachments, ts, deleted, edit_version, edited_ts, reply_to, \
        reactions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
        USING TIMESTAMP ?";
    message = concat!("SELECT ", message_columns!(), " FROM messages WHERE conv = ? AND bucket = ? AND seq = ?");
    messages_after = concat!("SELECT ", message_columns!(),
        " FROM messages WHERE conv = ? AND bucket = ? AND seq > ? AND seq <= ? ORDER BY seq ASC LIMIT ?");
    messages_before = concat!("SELECT ", message_columns!(),
        " FROM messages WHERE conv = ? AND bucket = ? AND seq <= ? ORDER BY seq DESC LIMIT ?");
    senders_after = "SELECT seq, sender FROM messages WHERE conv = ? AND bucket = ? AND seq > ? AND seq <= ?";
    put_sent = "INSERT INTO sent (conv, sender, client_msg_id, seq) VALUES (?, ?, ?, ?) USING TIMESTAMP ?";
    sent = "SELECT seq FROM sent WHERE conv = ? AND sender = ? AND client_msg_id = ?";

    // Retention.
    put_message_day = "UPDATE message_days USING TIMESTAMP ? SET max_seq = ? \
        WHERE day = ? AND shard = ? AND conv = ?";
    put_message_day_index = "INSERT INTO message_day_index (part, day) VALUES (0, ?)";
    message_days_until = "SELECT day FROM message_day_index WHERE part = 0 AND day <= ?";
    day_conversations = "SELECT conv, max_seq FROM message_days WHERE day = ? AND shard = ?";
    drop_day_shard = "DELETE FROM message_days WHERE day = ? AND shard = ?";
    drop_day = "DELETE FROM message_day_index WHERE part = 0 AND day = ?";
    floor = "SELECT seq FROM retention_floor WHERE conv = ?";
    floors = "SELECT seq, dropped FROM retention_floor WHERE conv = ?";
    put_floor = "UPDATE retention_floor USING TIMESTAMP ? SET seq = ? WHERE conv = ?";
    put_dropped = "UPDATE retention_floor USING TIMESTAMP ? SET dropped = ? WHERE conv = ?";
    expiring = "SELECT seq, ts, sender, client_msg_id, attachments FROM messages \
        WHERE conv = ? AND bucket = ? AND seq > ? AND seq <= ?";
    drop_bucket = "DELETE FROM messages USING TIMESTAMP ? WHERE conv = ? AND bucket = ?";
    drop_bucket_until = "DELETE FROM messages USING TIMESTAMP ? WHERE conv = ? AND bucket = ? AND seq <= ?";
    drop_sent = "DELETE FROM sent USING TIMESTAMP ? WHERE conv = ? AND sender = ? AND client_msg_id = ?";

    // Receipts.
    raise_device_delivered = "UPDATE device_delivered USING TIMESTAMP ? SET seq = ? \
        WHERE user_id = ? AND device = ? AND conv = ?";
    device_delivered = "SELECT conv, seq FROM device_delivered WHERE user_id = ? AND device = ?";
    raise_delivered = "UPDATE user_receipts USING TIMESTAMP ? SET delivered = ? WHERE conv = ? AND user_id = ?";
    raise_read = "UPDATE user_receipts USING TIMESTAMP ? SET read = ? WHERE conv = ? AND user_id = ?";
    member_receipts = "SELECT user_id, delivered, read FROM user_receipts WHERE conv = ?";
    user_receipts = "SELECT delivered, read FROM user_receipts WHERE conv = ? AND user_id = ?";

    // Last seen.
    put_last_seen = "UPDATE last_seen USING TIMESTAMP ? SET ts = ? WHERE user_id = ?";
    last_seen = "SELECT ts FROM last_seen WHERE user_id = ?";

    // Attachments.
    put_attachment = "INSERT INTO attachments (id, owner, content_type, size, created_at) VALUES (?, ?, ?, ?, ?)";
    attachment = "SELECT id, owner, content_type, size, created_at, uploaded_size, thumbnail \
        FROM attachments WHERE id = ?";
    attachment_created = "SELECT created_at FROM attachments WHERE id = ?";
    set_uploaded = "UPDATE attachments SET uploaded_size = ? WHERE id = ? IF EXISTS";
    set_thumbnail = "UPDATE attachments SET thumbnail = ? WHERE id = ? IF EXISTS";
    drop_attachment = "DELETE FROM attachments WHERE id = ?";
    put_attachment_by_day = "INSERT INTO attachments_by_day (day, created_at, id) VALUES (?, ?, ?)";
    drop_attachment_by_day = "DELETE FROM attachments_by_day WHERE day = ? AND created_at = ? AND id = ?";
    put_attachment_day = "INSERT INTO attachment_day_index (part, day) VALUES (0, ?)";
    attachment_days_until = "SELECT day FROM attachment_day_index WHERE part = 0 AND day <= ?";
    attachments_of_day = "SELECT created_at, id FROM attachments_by_day WHERE day = ? AND created_at < ?";
    put_ref = "INSERT INTO attachment_refs (attachment, conv, seq) VALUES (?, ?, ?) USING TIMESTAMP ?";
    drop_ref = "DELETE FROM attachment_refs USING TIMESTAMP ? WHERE attachment = ? AND conv = ? AND seq = ?";
    refs = "SELECT conv, seq FROM attachment_refs WHERE attachment = ?";
    any_ref = "SELECT seq FROM attachment_refs WHERE attachment = ? LIMIT 1";

    // Devices and push settings.
    register_device = "UPDATE devices USING TIMESTAMP ? SET last_seen = ? WHERE user_id = ? AND device = ?";
    devices = "SELECT device FROM devices WHERE user_id = ?";
    device_seen = "SELECT last_seen FROM devices WHERE user_id = ? AND device = ?";
    set_previews = "UPDATE push_settings SET previews = ? WHERE user_id = ?";
    previews = "SELECT previews FROM push_settings WHERE user_id = ?";
    mute = "INSERT INTO muted_conversations (user_id, conv) VALUES (?, ?)";
    unmute = "DELETE FROM muted_conversations WHERE user_id = ? AND conv = ?";
    muted = "SELECT conv FROM muted_conversations WHERE user_id = ?";
    set_privacy = "INSERT INTO privacy_settings (user_id, presence, group_adds) VALUES (?, ?, ?)";
    privacy = "SELECT presence, group_adds FROM privacy_settings WHERE user_id = ?";
    add_usage = "UPDATE usage_per_day SET bytes = bytes + ? WHERE user_id = ? AND day = ?";
    usage = "SELECT bytes FROM usage_per_day WHERE user_id = ? AND day = ?";
    forget_usage = "DELETE FROM usage_per_day WHERE user_id = ? AND day < ?";
}

#[cfg(test)]
mod tests {
    use super::qualify;

    #[test]
    fn tables_are_named_in_the_keyspace() {
        assert_eq!(
            qualify("SELECT a FROM t WHERE b = ?", "ks"),
            "SELECT a FROM ks.t WHERE b = ?"
        );
        assert_eq!(
            qualify("INSERT INTO t (a) VALUES (?)", "ks"),
            "INSERT INTO ks.t (a) VALUES (?)"
        );
        assert_eq!(
            qualify("UPDATE t USING TIMESTAMP ? SET a = ?", "ks"),
            "UPDATE ks.t USING TIMESTAMP ? SET a = ?"
        );
        assert_eq!(
            qualify("DELETE FROM t USING TIMESTAMP ? WHERE a = ?", "ks"),
            "DELETE FROM ks.t USING TIMESTAMP ? WHERE a = ?"
        );
    }
}
