-- 0003: the sequencer's cursor per partition of the commands topic.
--
-- Written in the transaction of every batch that reads the partition: the
-- offset and fingerprint of the last record applied name the log the
-- stored positions came from, and `base` maps that log's offsets to
-- positions (position = base + offset) that only grow across
-- incarnations of the log (a recreated topic, a restored file). See
-- docs/ARCHITECTURE.md, "Log incarnations".
CREATE TABLE IF NOT EXISTS sequencer_cursors (
    partition        integer PRIMARY KEY CHECK (partition >= 0),
    partitions       integer NOT NULL CHECK (partitions > 0),
    base             bigint  NOT NULL CHECK (base >= 0),
    last_offset      bigint  NOT NULL CHECK (last_offset >= 0),
    last_fingerprint bigint  NOT NULL CHECK (last_fingerprint >= 0)
);
