-- The search index (engines.search = postgres://…): one row per indexed
-- message. `terms` is the tsvector of the terms `chat_ports::search` made
-- of its body (case and diacritics folded, text without spaces cut into
-- characters and pairs), written as tsvector text by the application, so
-- PostgreSQL's parser and dictionaries play no part and every engine
-- matches the same messages. GIN finds the terms; ts_rank ranks.
CREATE TABLE IF NOT EXISTS search_docs (
    conv   text     NOT NULL,
    seq    bigint   NOT NULL,
    sender text     NOT NULL,
    ts     bigint   NOT NULL,
    terms  tsvector NOT NULL,
    PRIMARY KEY (conv, seq)
);
CREATE INDEX IF NOT EXISTS search_docs_terms ON search_docs USING gin (terms);
-- Retention removes by age.
CREATE INDEX IF NOT EXISTS search_docs_ts ON search_docs (ts);
