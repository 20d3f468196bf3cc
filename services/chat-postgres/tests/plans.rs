//! The sequencer's many-key lookups are planned for the tables as they are
//! when they run. A prepared statement's cached generic plan, chosen while
//! a table was empty (a hash join over a full scan), would otherwise scan
//! the whole table for every batch once it has grown, until the next
//! ANALYZE: on a fresh deployment under load that was most of PostgreSQL's
//! CPU, and the sequencer fell further behind as `messages` grew.
//!
//! The tests read `pg_stat_user_tables`: the store's sessions report their
//! scans when they go idle, so a test waits until the index scans show up
//! and then checks that no full scan came with them.

use chat_ports::{ConversationStore, MessageStore};
use chat_postgres::PostgresStore;
use std::time::{Duration, Instant};
use support::{admin, with_database};

mod support;

/// Keys that name nothing: the lookups of a batch of new sends.
fn keys() -> Vec<(String, String, String)> {
    (0..450)
        .map(|i| (format!("d-{}", i % 500), format!("u{i}"), format!("new{i}")))
        .collect()
}

/// (full scans, index scans) of `table` so far.
async fn scans(admin: &tokio_postgres::Client, table: &str) -> (i64, i64) {
    let row = admin
        .query_one(
            "SELECT coalesce(seq_scan, 0), coalesce(idx_scan, 0) \
             FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Waits until the index scans of `table` pass `before`'s, and returns the
/// counts then.
async fn after_index_scans(
    admin: &tokio_postgres::Client,
    table: &str,
    before: (i64, i64),
) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = scans(admin, table).await;
        if now.1 > before.1 {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "no index scan of {table} was reported (full scans: {} before, {} now)",
            before.0,
            now.0
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn earlier_sends_are_looked_up_by_index_after_messages_grew() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let owned = keys();
        let asked: Vec<(&str, &str, &str)> = owned
            .iter()
            .map(|(c, s, k)| (c.as_str(), s.as_str(), k.as_str()))
            .collect();
        // Planned, and the plans cached, while the table is empty.
        for _ in 0..20 {
            store.find_sent_all(&asked).await.unwrap();
        }
        let admin = admin(&url).await;
        admin
            .batch_execute(
                "INSERT INTO messages (conv, seq, msg_id, sender, sender_device, client_msg_id, \
                 body, attachments, ts, deleted) \
                 SELECT 'd-' || (i % 500), i / 500 + 1, 'm' || i, 'u' || i, 'dev', 'c' || i, \
                 'hello', '[]', i, false FROM generate_series(1, 50000) AS i",
            )
            .await
            .unwrap();
        let before = scans(&admin, "messages").await;
        for _ in 0..5 {
            let found = store.find_sent_all(&asked).await.unwrap();
            assert!(found.iter().all(Option::is_none));
        }
        let after = after_index_scans(&admin, "messages", before).await;
        assert_eq!(after.0, before.0, "no full scan of messages");
    })
    .await;
}

#[tokio::test]
async fn conversation_states_are_read_by_index_after_conversations_grew() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let owned: Vec<String> = (0..300).map(|i| format!("d-{i}")).collect();
        let asked: Vec<&str> = owned.iter().map(String::as_str).collect();
        for _ in 0..20 {
            store.conversation_states(&asked).await.unwrap();
        }
        let admin = admin(&url).await;
        admin
            .batch_execute(
                "INSERT INTO conversations (id, state) \
                 SELECT 'x-' || i, '{}' FROM generate_series(1, 50000) AS i",
            )
            .await
            .unwrap();
        let before = scans(&admin, "conversations").await;
        for _ in 0..5 {
            let found = store.conversation_states(&asked).await.unwrap();
            assert!(found.iter().all(Option::is_none));
        }
        let after = after_index_scans(&admin, "conversations", before).await;
        assert_eq!(after.0, before.0, "no full scan of conversations");
    })
    .await;
}
