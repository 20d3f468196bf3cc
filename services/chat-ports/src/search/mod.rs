//! The search index: the text of messages, kept by the search processor
//! from `chat.events` and read by gateways for `GET /v1/search`.
//!
//! Every engine indexes the same terms, made here ([`terms`]): case and
//! diacritics folded, words split at anything that is not a letter or a
//! digit, and text without spaces (Chinese, Japanese) cut into its single
//! characters and the pairs of neighbours. So what matches is the same on
//! every engine; only the ranking is each engine's own.
//!
//! # Layout
//! - `terms`: folding and cutting text into terms.
//! - `snippet`: the excerpt of a body around what matched.

mod snippet;
mod terms;

pub use snippet::snippet;
pub use terms::{fold, index_terms, matches, query_terms, Term};

use crate::Result;
use async_trait::async_trait;

/// One message as the index keeps it: the message is `(conv, seq)`; a put
/// replaces what the index held for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDoc {
    pub conv: String,
    pub seq: u64,
    pub sender: String,
    pub ts: i64,
    /// The terms of its body ([`index_terms`]), in order.
    pub terms: Vec<String>,
}

impl SearchDoc {
    /// The document of a message with `body`.
    pub fn new(conv: &str, seq: u64, sender: &str, ts: i64, body: &str) -> Self {
        Self {
            conv: conv.to_string(),
            seq,
            sender: sender.to_string(),
            ts,
            terms: index_terms(body),
        }
    }
}

/// A change to the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchChange {
    /// Adds a message, or replaces it (an edit).
    Put(SearchDoc),
    /// Removes a message (deleted), if the index has it.
    Remove { conv: String, seq: u64 },
}

impl SearchChange {
    /// The message it changes.
    pub fn key(&self) -> (&str, u64) {
        match self {
            SearchChange::Put(d) => (&d.conv, d.seq),
            SearchChange::Remove { conv, seq } => (conv, *seq),
        }
    }
}

/// Where a search looks: a conversation's messages after `after`, the
/// caller's membership window in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchScope {
    pub conv: String,
    pub after: u64,
}

/// A search: messages that have every one of `terms`, in the scopes; the
/// page of `limit` from `offset` on, in the engine's order of relevance.
/// (Messages past retention are removed by [`SearchIndex::expire`], and
/// gateways read every hit back from the store.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// At least one ([`query_terms`]).
    pub terms: Vec<String>,
    pub scopes: Vec<SearchScope>,
    pub offset: usize,
    pub limit: usize,
}

/// A message that matched, with its engine's score.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub conv: String,
    pub seq: u64,
    pub sender: String,
    pub ts: i64,
    pub score: f32,
}

/// A full-text index of messages.
#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Applies the changes in order; returns once they are durable and
    /// visible to [`SearchIndex::search`]. Applying them again leaves the
    /// same index.
    async fn apply(&self, changes: &[SearchChange]) -> Result<()>;

    /// Removes the messages sent before `cutoff_ms`; returns how many.
    async fn expire(&self, cutoff_ms: i64) -> Result<u64>;

    /// A page of what matches, most relevant first; equal scores newest
    /// first, then by conversation and seq, so pages do not overlap.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>>;
}

/// Orders hits as [`SearchIndex::search`] returns them.
pub fn rank(hits: &mut [SearchHit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.ts.cmp(&a.ts))
            .then_with(|| a.conv.cmp(&b.conv))
            .then_with(|| a.seq.cmp(&b.seq))
    });
}
