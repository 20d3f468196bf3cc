//! The search index suite: every engine of [`SearchIndex`] runs it on a
//! fresh, empty index (`run_all`). Each test uses conversations of its own.

use crate::search::{query_terms, SearchChange, SearchDoc, SearchHit, SearchQuery, SearchScope};
use crate::SearchIndex;

/// Runs every test of the suite.
pub async fn run_all(index: &dyn SearchIndex) {
    every_word_must_match(index).await;
    case_and_diacritics_fold(index).await;
    text_without_spaces_is_found(index).await;
    scopes_bound_conversations_and_windows(index).await;
    edits_replace_and_removes_delete(index).await;
    changes_of_a_batch_apply_in_order(index).await;
    old_messages_expire(index).await;
    more_matches_rank_first_and_ties_newest_first(index).await;
    pages_do_not_overlap(index).await;
}

fn put(conv: &str, seq: u64, ts: i64, body: &str) -> SearchChange {
    SearchChange::Put(SearchDoc::new(conv, seq, &format!("u{seq}"), ts, body))
}

fn remove(conv: &str, seq: u64) -> SearchChange {
    SearchChange::Remove {
        conv: conv.into(),
        seq,
    }
}

fn scope(conv: &str) -> SearchScope {
    SearchScope {
        conv: conv.into(),
        after: 0,
    }
}

async fn find(index: &dyn SearchIndex, q: &str, scopes: Vec<SearchScope>) -> Vec<SearchHit> {
    page(index, q, scopes, 0, 100).await
}

async fn page(
    index: &dyn SearchIndex,
    q: &str,
    scopes: Vec<SearchScope>,
    offset: usize,
    limit: usize,
) -> Vec<SearchHit> {
    index
        .search(&SearchQuery {
            terms: query_terms(q),
            scopes,
            offset,
            limit,
        })
        .await
        .unwrap()
}

fn seqs(hits: &[SearchHit]) -> Vec<u64> {
    hits.iter().map(|h| h.seq).collect()
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

pub async fn every_word_must_match(index: &dyn SearchIndex) {
    let c = "s-words";
    index
        .apply(&[
            put(c, 1, 1_000, "The quick brown fox"),
            put(c, 2, 2_000, "a quick cat"),
            put(c, 3, 3_000, "nothing to see"),
        ])
        .await
        .unwrap();
    assert_eq!(
        sorted(seqs(&find(index, "quick", vec![scope(c)]).await)),
        [1, 2]
    );
    assert_eq!(seqs(&find(index, "quick fox", vec![scope(c)]).await), [1]);
    assert!(find(index, "quick dog", vec![scope(c)]).await.is_empty());
    // A word is a whole term, not a part of one.
    assert!(find(index, "qui", vec![scope(c)]).await.is_empty());
    let hit = &find(index, "fox", vec![scope(c)]).await[0];
    assert_eq!(
        (hit.conv.as_str(), hit.seq, hit.sender.as_str(), hit.ts),
        (c, 1, "u1", 1_000)
    );
}

pub async fn case_and_diacritics_fold(index: &dyn SearchIndex) {
    let c = "s-fold";
    index
        .apply(&[put(c, 1, 1, "Crème brûlée at the CAFÉ, São Paulo")])
        .await
        .unwrap();
    for q in ["creme BRULEE", "café", "cafe sao paulo", "SÃO"] {
        assert_eq!(seqs(&find(index, q, vec![scope(c)]).await), [1], "{q}");
    }
}

pub async fn text_without_spaces_is_found(index: &dyn SearchIndex) {
    let c = "s-cjk";
    index
        .apply(&[
            put(c, 1, 1, "我们明天在北京见面"),
            put(c, 2, 2, "東京で会いましょう"),
            put(c, 3, 3, "北海道"),
        ])
        .await
        .unwrap();
    assert_eq!(seqs(&find(index, "北京", vec![scope(c)]).await), [1]);
    assert_eq!(seqs(&find(index, "明天 见面", vec![scope(c)]).await), [1]);
    assert_eq!(seqs(&find(index, "東京", vec![scope(c)]).await), [2]);
    assert_eq!(seqs(&find(index, "会い", vec![scope(c)]).await), [2]);
    // One character finds every message that has it.
    assert_eq!(
        sorted(seqs(&find(index, "北", vec![scope(c)]).await)),
        [1, 3]
    );
    // Characters that are not neighbours in the message do not match.
    assert!(find(index, "天北", vec![scope(c)]).await.is_empty());
}

pub async fn scopes_bound_conversations_and_windows(index: &dyn SearchIndex) {
    let (a, b) = ("s-scope-a", "s-scope-b");
    index
        .apply(&[
            put(a, 1, 1, "hello one"),
            put(a, 2, 2, "hello two"),
            put(a, 3, 3, "hello three"),
            put(b, 1, 4, "hello other"),
        ])
        .await
        .unwrap();
    assert_eq!(
        find(index, "hello", vec![scope(a), scope(b)]).await.len(),
        4
    );
    assert_eq!(
        sorted(seqs(&find(index, "hello", vec![scope(a)]).await)),
        [1, 2, 3]
    );
    let window = SearchScope {
        conv: a.into(),
        after: 1,
    };
    assert_eq!(
        sorted(seqs(&find(index, "hello", vec![window]).await)),
        [2, 3]
    );
    assert!(find(index, "hello", vec![]).await.is_empty());
    assert!(find(index, "hello", vec![scope("s-scope-none")])
        .await
        .is_empty());
}

pub async fn edits_replace_and_removes_delete(index: &dyn SearchIndex) {
    let c = "s-edit";
    let changes = [
        put(c, 1, 1, "see you at noon"),
        put(c, 2, 2, "bring the cake"),
    ];
    index.apply(&changes).await.unwrap();
    // Applied again (a processor handling a batch twice): the same index.
    index.apply(&changes).await.unwrap();
    assert_eq!(seqs(&find(index, "noon", vec![scope(c)]).await), [1]);
    index
        .apply(&[put(c, 1, 1, "see you at midnight")])
        .await
        .unwrap();
    assert!(find(index, "noon", vec![scope(c)]).await.is_empty());
    assert_eq!(seqs(&find(index, "midnight", vec![scope(c)]).await), [1]);
    assert_eq!(find(index, "see", vec![scope(c)]).await.len(), 1);
    index.apply(&[remove(c, 2), remove(c, 9)]).await.unwrap();
    assert!(find(index, "cake", vec![scope(c)]).await.is_empty());
    index.apply(&[remove(c, 2)]).await.unwrap();
}

pub async fn changes_of_a_batch_apply_in_order(index: &dyn SearchIndex) {
    let c = "s-order";
    index
        .apply(&[
            put(c, 1, 1, "alpha"),
            remove(c, 1),
            remove(c, 2),
            put(c, 2, 2, "alpha beta"),
            put(c, 3, 3, "alpha"),
            put(c, 3, 3, "gamma"),
        ])
        .await
        .unwrap();
    assert_eq!(seqs(&find(index, "alpha", vec![scope(c)]).await), [2]);
    assert_eq!(seqs(&find(index, "gamma", vec![scope(c)]).await), [3]);
}

pub async fn old_messages_expire(index: &dyn SearchIndex) {
    let c = "s-expire";
    index
        .apply(&[put(c, 1, 1_000, "old news"), put(c, 2, 5_000, "new news")])
        .await
        .unwrap();
    assert!(index.expire(2_000).await.unwrap() >= 1);
    assert_eq!(seqs(&find(index, "news", vec![scope(c)]).await), [2]);
    // Expiring again removes nothing of this conversation.
    index.expire(2_000).await.unwrap();
    assert_eq!(seqs(&find(index, "news", vec![scope(c)]).await), [2]);
}

pub async fn more_matches_rank_first_and_ties_newest_first(index: &dyn SearchIndex) {
    let c = "s-rank";
    index
        .apply(&[
            put(
                c,
                1,
                100,
                "we talked about the weather, the match, the dinner and the apple harvest of the year",
            ),
            put(c, 2, 50, "apple apple apple"),
            put(c, 3, 10, "pear"),
            put(c, 4, 20, "pear"),
        ])
        .await
        .unwrap();
    assert_eq!(seqs(&find(index, "apple", vec![scope(c)]).await), [2, 1]);
    let ties = find(index, "pear", vec![scope(c)]).await;
    assert_eq!(seqs(&ties), [4, 3], "equal scores: the newest first");
}

pub async fn pages_do_not_overlap(index: &dyn SearchIndex) {
    let c = "s-pages";
    let changes: Vec<_> = (1..=25)
        .map(|seq| put(c, seq, seq as i64, "page of results"))
        .collect();
    index.apply(&changes).await.unwrap();
    let mut seen = Vec::new();
    for (offset, len) in [(0, 10), (10, 10), (20, 5), (30, 0)] {
        let hits = page(index, "results", vec![scope(c)], offset, 10).await;
        assert_eq!(hits.len(), len, "the page at {offset}");
        seen.extend(seqs(&hits));
    }
    assert_eq!(sorted(seen), (1..=25).collect::<Vec<_>>());
}
