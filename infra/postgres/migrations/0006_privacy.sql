-- 0006: privacy settings (an extension of PROTOCOL.md): who sees a user's
-- presence, and who may add it to groups, each 'everyone', 'contacts' or
-- 'nobody'. No row means the defaults ('everyone' for both).
CREATE TABLE IF NOT EXISTS privacy_settings (
    user_id    text PRIMARY KEY,
    presence   text NOT NULL,
    group_adds text NOT NULL
);
