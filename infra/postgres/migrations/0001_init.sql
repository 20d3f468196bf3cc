-- 0001: the store's tables. Every write the engine makes is an upsert keyed
-- by a primary key below, so applying the same batch twice leaves the same
-- state. Every u64 of the ports (seq, watermark) is a bigint; the engine
-- refuses to write one above 2^63 - 1.
--
-- Free text (a message body, a group title) may hold U+0000, which the
-- embedded engine stores and PostgreSQL's text and jsonb cannot: the body is
-- its UTF-8 bytes (bytea) and serialized values are json (kept as written),
-- not jsonb.

-- id -> the ConversationState as serde_json writes it.
CREATE TABLE conversations (
    id    text PRIMARY KEY,
    state json NOT NULL
);

-- One row per message at (conv, seq); (conv, sender, client_msg_id) is the
-- idempotency key of the send that created it.
CREATE TABLE messages (
    conv          text    NOT NULL,
    seq           bigint  NOT NULL CHECK (seq >= 0),
    msg_id        text    NOT NULL,
    sender        text    NOT NULL,
    sender_device text    NOT NULL,
    client_msg_id text    NOT NULL,
    body          bytea   NOT NULL,
    attachments   json    NOT NULL,
    ts            bigint  NOT NULL,
    deleted       boolean NOT NULL,
    PRIMARY KEY (conv, seq)
);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (conv, sender, client_msg_id);
CREATE INDEX messages_ts ON messages (ts);

-- The member index: the conversations of a user.
CREATE TABLE user_conversations (
    user_id text NOT NULL,
    conv    text NOT NULL,
    PRIMARY KEY (user_id, conv)
);

-- Per device: the highest seq it reported delivered.
CREATE TABLE device_delivered (
    user_id text   NOT NULL,
    device  text   NOT NULL,
    conv    text   NOT NULL,
    seq     bigint NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (user_id, device, conv)
);

-- Per member: delivered and read watermarks (read implies delivered).
CREATE TABLE user_receipts (
    conv      text   NOT NULL,
    user_id   text   NOT NULL,
    delivered bigint NOT NULL CHECK (delivered >= 0),
    read      bigint NOT NULL CHECK (read >= 0),
    PRIMARY KEY (conv, user_id)
);

-- Milliseconds since the epoch of each user's last disconnect.
CREATE TABLE last_seen (
    user_id text   PRIMARY KEY,
    ts      bigint NOT NULL
);
