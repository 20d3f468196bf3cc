-- 0002: attachment records and the index of the messages that carry them;
-- users' devices and push settings.
--
-- Attachment ids, content types and thumbnail types come from clients and
-- may hold U+0000, which text cannot: they are stored as their UTF-8 bytes
-- (bytea), as message bodies are. User, device and conversation ids are
-- validated identifiers and stay text.
--
-- The runner applies this file once, in one transaction with its row in
-- schema_migrations; the IF NOT EXISTS and ON CONFLICT below make running
-- it again by hand harmless too.

-- One row per attachment record; uploaded_size and thumbnail are set later.
CREATE TABLE IF NOT EXISTS attachments (
    id            bytea  PRIMARY KEY,
    owner         text   NOT NULL,
    content_type  bytea  NOT NULL,
    size          bigint NOT NULL CHECK (size >= 0),
    created_at    bigint NOT NULL,
    uploaded_size bigint CHECK (uploaded_size >= 0),
    thumbnail     bytea
);
CREATE INDEX IF NOT EXISTS attachments_created_at ON attachments (created_at);

-- One row per (attachment, message carrying it). The engine writes them in
-- the transaction that writes the message; deleting the message (retention)
-- deletes them. No foreign key to attachments: a message may name an id
-- whose record is gone, and a record outlives its references until the
-- collector removes it.
CREATE TABLE IF NOT EXISTS attachment_refs (
    attachment bytea  NOT NULL,
    conv       text   NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (attachment, conv, seq),
    FOREIGN KEY (conv, seq) REFERENCES messages (conv, seq) ON DELETE CASCADE
);
-- Replacing a message's references and the cascade look them up by message.
CREATE INDEX IF NOT EXISTS attachment_refs_message ON attachment_refs (conv, seq);

-- The references of the messages stored before this migration. Ids holding
-- U+0000 cannot go through json_array_elements_text (PostgreSQL refuses to
-- turn \u0000 into text), so the messages whose list holds one are read as
-- carrying nothing (the CASE, rather than a WHERE the planner could apply
-- after the function): no record can name such an id, since records did
-- not exist before now.
INSERT INTO attachment_refs (attachment, conv, seq)
SELECT DISTINCT convert_to(a.id, 'UTF8'), m.conv, m.seq
FROM messages AS m,
     json_array_elements_text(
         CASE WHEN json_typeof(m.attachments) = 'array'
                   AND strpos(m.attachments::text, '\u0000') = 0
              THEN m.attachments
              ELSE '[]'::json
         END) AS a(id)
ON CONFLICT DO NOTHING;

-- Each device of a user, with the last time it connected (ms).
CREATE TABLE IF NOT EXISTS devices (
    user_id   text   NOT NULL,
    device    text   NOT NULL,
    last_seen bigint NOT NULL,
    PRIMARY KEY (user_id, device)
);

-- Users who changed a push setting; no row means the defaults.
CREATE TABLE IF NOT EXISTS push_settings (
    user_id  text    PRIMARY KEY,
    previews boolean NOT NULL
);

-- The conversations each user muted.
CREATE TABLE IF NOT EXISTS muted_conversations (
    user_id text NOT NULL,
    conv    text NOT NULL,
    PRIMARY KEY (user_id, conv)
);
