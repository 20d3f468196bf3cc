-- 0004: message edits (PROTOCOL v1.1). A message's edit version is 0 until
-- its sender edits it, then 1, 2, ...; edited_ts is the ts of the last edit.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS edit_version bigint NOT NULL DEFAULT 0 CHECK (edit_version >= 0),
    ADD COLUMN IF NOT EXISTS edited_ts bigint;
