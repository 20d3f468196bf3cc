//! The PostgreSQL search index against a real server passes the search
//! conformance suite, in a database of its own (as `conformance.rs`).

use chat_postgres::PostgresStore;
use support::with_database;

mod support;

#[tokio::test]
async fn the_postgres_index_passes_the_search_suite() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        chat_ports::conformance::search::run_all(&store).await;
    })
    .await;
}
