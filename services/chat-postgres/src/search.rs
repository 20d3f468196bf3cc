//! The search index on PostgreSQL full-text search: the `search_docs`
//! table of migration 5, a GIN index over each message's terms, and
//! `ts_rank` for relevance (normalization 1: divided by 1 + the log of the
//! message's length, so the words of a short message count more).
//!
//! The terms are the port's ([`chat_ports::search::index_terms`]), given to
//! PostgreSQL as tsvector and tsquery text with every lexeme quoted, so its
//! parser and dictionaries change nothing: what matches is what matches on
//! the embedded engine. A batch of changes is one transaction; the last
//! change of each message is the one written, in key order.

use crate::rows::{self, to_db};
use crate::{error, PostgresStore};
use chat_ports::search::{SearchChange, SearchDoc, SearchHit, SearchQuery};
use chat_ports::{Result, SearchIndex};
use std::collections::BTreeMap;

/// Positions a tsvector keeps of one lexeme.
const MAX_POSITIONS: usize = 256;

const UPSERT: &str = "\
INSERT INTO search_docs (conv, seq, sender, ts, terms)
SELECT conv, seq, sender, ts, terms::tsvector
FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::text[])
    AS t(conv, seq, sender, ts, terms)
ON CONFLICT (conv, seq) DO UPDATE SET
    sender = EXCLUDED.sender, ts = EXCLUDED.ts, terms = EXCLUDED.terms";

const DELETE: &str = "\
DELETE FROM search_docs AS d
USING unnest($1::text[], $2::int8[]) AS t(conv, seq)
WHERE d.conv = t.conv AND d.seq = t.seq";

const EXPIRE: &str = "DELETE FROM search_docs WHERE ts < $1";

/// Score, then newest, then conversation (byte order) and seq: the port's
/// order.
const SEARCH: &str = "\
SELECT d.conv, d.seq, d.sender, d.ts, ts_rank(d.terms, q.q, 1) AS score
FROM search_docs AS d
JOIN unnest($1::text[], $2::int8[]) AS s(conv, after) ON d.conv = s.conv AND d.seq > s.after
CROSS JOIN (SELECT $3::text::tsquery AS q) AS q
WHERE d.terms @@ q.q
ORDER BY score DESC, d.ts DESC, d.conv COLLATE \"C\", d.seq
LIMIT $4 OFFSET $5";

/// A lexeme as tsvector and tsquery text read it: quoted, as written.
fn lexeme(term: &str) -> String {
    format!("'{}'", term.replace('\\', "\\\\").replace('\'', "''"))
}

/// The tsvector text of a document's terms, with their positions (from 1).
fn tsvector(doc: &SearchDoc) -> String {
    let mut positions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, t) in doc.terms.iter().enumerate() {
        let p = positions.entry(t).or_default();
        if p.len() < MAX_POSITIONS {
            // PostgreSQL keeps positions up to 16383.
            p.push((i + 1).min(16_383));
        }
    }
    positions
        .into_iter()
        .map(|(t, p)| {
            let p: Vec<String> = p.iter().map(|n| n.to_string()).collect();
            format!("{}:{}", lexeme(t), p.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tsquery text that asks for every term.
fn tsquery(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| lexeme(t))
        .collect::<Vec<_>>()
        .join(" & ")
}

#[async_trait::async_trait]
impl SearchIndex for PostgresStore {
    async fn apply(&self, changes: &[SearchChange]) -> Result<()> {
        // The last change of each message, in key order.
        let mut last: BTreeMap<(&str, u64), &SearchChange> = BTreeMap::new();
        for c in changes {
            last.insert(c.key(), c);
        }
        let (mut convs, mut seqs, mut senders, mut tss, mut terms) =
            (vec![], vec![], vec![], vec![], vec![]);
        let (mut gone_convs, mut gone_seqs) = (vec![], vec![]);
        for ((conv, seq), c) in last {
            match c {
                SearchChange::Put(d) => {
                    convs.push(conv);
                    seqs.push(to_db("seq", seq)?);
                    senders.push(d.sender.as_str());
                    tss.push(d.ts);
                    terms.push(tsvector(d));
                }
                SearchChange::Remove { .. } => {
                    gone_convs.push(conv);
                    gone_seqs.push(to_db("seq", seq)?);
                }
            }
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error::db)?;
        if !gone_convs.is_empty() {
            tx.execute(DELETE, &[&gone_convs, &gone_seqs])
                .await
                .map_err(error::db)?;
        }
        if !convs.is_empty() {
            tx.execute(UPSERT, &[&convs, &seqs, &senders, &tss, &terms])
                .await
                .map_err(error::db)?;
        }
        tx.commit().await.map_err(error::db)
    }

    async fn expire(&self, cutoff_ms: i64) -> Result<u64> {
        let client = self.client().await?;
        client
            .execute(EXPIRE, &[&cutoff_ms])
            .await
            .map_err(error::db)
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        if q.terms.is_empty() || q.scopes.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let convs: Vec<&str> = q.scopes.iter().map(|s| s.conv.as_str()).collect();
        let afters: Vec<i64> = q.scopes.iter().map(|s| rows::bound(s.after)).collect();
        let client = self.client().await?;
        let found = client
            .query(
                SEARCH,
                &[
                    &convs,
                    &afters,
                    &tsquery(&q.terms),
                    &rows::limit(q.limit),
                    &rows::limit(q.offset),
                ],
            )
            .await
            .map_err(error::db)?;
        found
            .iter()
            .map(|row| {
                Ok(SearchHit {
                    conv: rows::text(row, 0)?,
                    seq: rows::seq(row, 1)?,
                    sender: rows::text(row, 2)?,
                    ts: rows::int(row, 3)?,
                    score: rows::column(row, 4)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_quoted_lexemes_with_positions() {
        let doc = SearchDoc::new("c", 1, "u", 1, "Tea, tea and 東京");
        assert_eq!(tsvector(&doc), "'and':3 'tea':1,2 '京':6 '東':4 '東京':5");
        assert_eq!(lexeme("it's\\"), "'it''s\\\\'");
        assert_eq!(tsquery(&["a".into(), "b".into()]), "'a' & 'b'");
    }
}
