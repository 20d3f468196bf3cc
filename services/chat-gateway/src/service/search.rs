//! `GET /v1/search`: the search index asked over the caller's membership
//! windows, and every hit read back from the store, so a result is never a
//! message deleted, expired, or out of the caller's window, whatever the
//! index has not caught up with; and an edited message matches, and shows,
//! by its latest body.

use super::ChatService;
use crate::error::from_port;
use chat_domain::{ConversationId, DomainError, UserId};
use chat_ports::search::{matches, query_terms, snippet, SearchQuery, SearchScope};
use chat_ports::store::side_by_side;
use serde::Serialize;

/// Default and largest page of results.
pub const DEFAULT_RESULTS: usize = 20;
pub const MAX_RESULTS: usize = 100;
/// Longest query, bytes, and most distinct terms in one.
pub const MAX_QUERY_BYTES: usize = 512;
pub const MAX_QUERY_TERMS: usize = 32;
/// How deep pages go: a cursor is an offset into the ranking, and going
/// deeper costs the index more for each page.
pub const MAX_OFFSET: usize = 1_000;

/// What a search asks, as the route got it.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: String,
    pub conv: Option<ConversationId>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// One result of `GET /v1/search`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub conv: ConversationId,
    pub seq: u64,
    pub sender: UserId,
    pub ts: i64,
    pub snippet: String,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub results: Vec<SearchResult>,
    pub next_cursor: Option<String>,
}

impl ChatService {
    /// The page of `r`, most relevant first.
    pub async fn search(&self, user: &UserId, r: SearchRequest) -> Result<SearchPage, DomainError> {
        let Some(index) = &self.search else {
            return Err(DomainError::new(
                chat_domain::ErrorCode::NotFound,
                "search is off on this server (engines.search = off)",
            ));
        };
        let q = r.q.trim();
        if q.is_empty() {
            return Err(DomainError::bad_request(
                "q is empty: give the words to search for",
            ));
        }
        if q.len() > MAX_QUERY_BYTES {
            return Err(DomainError::bad_request(format!(
                "q is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let terms = query_terms(q);
        if terms.is_empty() {
            return Err(DomainError::bad_request(
                "q has no letters or digits to search for",
            ));
        }
        if terms.len() > MAX_QUERY_TERMS {
            return Err(DomainError::bad_request(format!(
                "q has more than {MAX_QUERY_TERMS} words"
            )));
        }
        self.rates.search(user)?;
        let limit = r.limit.unwrap_or(DEFAULT_RESULTS).clamp(1, MAX_RESULTS);
        let offset = match r.cursor.as_deref() {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|o| *o <= MAX_OFFSET)
                .ok_or_else(|| DomainError::bad_request("cursor is not one this server gave"))?,
        };
        let states = match &r.conv {
            Some(conv) => vec![self.membership(conv, user).await?],
            None => self.member_conversations(user).await?,
        };
        let scopes: Vec<SearchScope> = states
            .iter()
            .filter_map(|s| {
                s.member(user).map(|m| SearchScope {
                    conv: s.id.to_string(),
                    after: m.joined_after,
                })
            })
            .collect();
        let hits = index
            .search(&SearchQuery {
                terms: terms.clone(),
                scopes,
                offset,
                limit,
            })
            .await
            .map_err(from_port)?;
        let next_cursor = (hits.len() == limit && offset + limit <= MAX_OFFSET)
            .then(|| (offset + limit).to_string());
        let messages = side_by_side(
            hits.iter()
                .map(|h| self.stores.messages.message(&h.conv, h.seq))
                .collect(),
        )
        .await
        .map_err(from_port)?;
        let results = messages
            .into_iter()
            .flatten()
            .filter(|m| !m.deleted && matches(&m.body, &terms))
            .map(|m| SearchResult {
                snippet: snippet(&m.body, &terms),
                conv: m.conv,
                seq: m.seq,
                sender: m.sender,
                ts: m.ts,
            })
            .collect();
        Ok(SearchPage {
            results,
            next_cursor,
        })
    }
}
