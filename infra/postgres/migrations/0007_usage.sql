-- 0007: the bytes each user stored per UTC day (message bodies and
-- attachments), against which its daily quota is counted
-- (gateway.client_limits.daily_bytes). One row per user and active day.
CREATE TABLE IF NOT EXISTS usage_per_day (
    user_id text   NOT NULL,
    day     bigint NOT NULL,
    bytes   bigint NOT NULL,
    PRIMARY KEY (user_id, day)
);
