//! The tantivy index passes the search conformance suite, and keeps what
//! it committed across a reopen (the index is on disk).

use chat_embedded::TantivyIndex;
use chat_ports::search::{query_terms, SearchChange, SearchDoc, SearchQuery, SearchScope};
use chat_ports::SearchIndex;

#[tokio::test]
async fn the_tantivy_index_passes_the_search_suite() {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    chat_ports::conformance::search::run_all(&index).await;
}

#[tokio::test]
async fn what_was_applied_is_found_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let doc = SearchDoc::new("c", 1, "ann", 5, "kept on disk");
    TantivyIndex::open(dir.path())
        .unwrap()
        .apply(&[SearchChange::Put(doc)])
        .await
        .unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    let hits = index
        .search(&SearchQuery {
            terms: query_terms("disk"),
            scopes: vec![SearchScope {
                conv: "c".into(),
                after: 0,
            }],
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
}
