-- 0004: message edits and replies (PROTOCOL v1.1). A message's edit
-- version is 0 until its sender edits it, then 1, 2, ...; edited_ts is the
-- ts of the last edit. reply_to is the seq of the message of the same
-- conversation it answers (what the reply shows of it is read with it).
-- reactions is the message's reactions as JSON ([{"emoji","count","users"}],
-- most used first), NULL when it has none.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS edit_version bigint NOT NULL DEFAULT 0 CHECK (edit_version >= 0),
    ADD COLUMN IF NOT EXISTS edited_ts bigint,
    ADD COLUMN IF NOT EXISTS reply_to bigint CHECK (reply_to > 0),
    ADD COLUMN IF NOT EXISTS reactions text;
