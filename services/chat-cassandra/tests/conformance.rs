//! The Cassandra store against a real node: the store conformance suite,
//! the schema applied by several processes at once, and what Cassandra's
//! model made this engine decide (message buckets, retention by day index
//! and whole-bucket drops, offset-stamped writes, values above i64::MAX).
//!
//! Each test creates its own keyspace on the node `CASSANDRA_NODES` names
//! and drops it at the end.

use chat_cassandra::CassandraStore;
use chat_domain::Message;
use chat_ports::{
    AttachmentStore, ConversationStore, MessageStore, SequencedBatch, SequencerStore, Stores,
};
use std::sync::Arc;
use support::{admin, conv, msg, store, with_keyspace};

mod support;

fn seqs(v: &[Message]) -> Vec<u64> {
    v.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn the_cassandra_store_passes_the_conformance_suite() {
    with_keyspace(|options| async move {
        let store = store(&options).await;
        store.health().await.expect("health");
        chat_ports::conformance::run_all(&Stores::from_engine(Arc::new(store))).await;
    })
    .await;
}

#[tokio::test]
async fn the_schema_applies_once_when_processes_start_together() {
    with_keyspace(|options| async move {
        // Four processes starting at once on an empty keyspace.
        let (a, b, c, d) = tokio::join!(
            CassandraStore::connect(&options),
            CassandraStore::connect(&options),
            CassandraStore::connect(&options),
            CassandraStore::connect(&options),
        );
        for store in [a, b, c, d] {
            store.expect("a concurrent connect").health().await.unwrap();
        }
        let store = CassandraStore::connect(&options).await.expect("again");
        store
            .apply(SequencedBatch {
                conversations: vec![conv("x", 0, 1)],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(store.conversation("x").await.unwrap().is_some());

        let session = admin(&options.nodes).await;
        let versions: Vec<(i32,)> = session
            .query_unpaged(
                format!("SELECT version FROM {}.schema_migrations", options.keyspace),
                (),
            )
            .await
            .unwrap()
            .into_rows_result()
            .unwrap()
            .rows::<(i32,)>()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // (A table scan comes in token order, not in version order.)
        let mut versions: Vec<i32> = versions.iter().map(|(v,)| *v).collect();
        versions.sort_unstable();
        assert_eq!(
            versions,
            (1..=chat_cassandra::SCHEMA_VERSION).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test]
async fn history_unread_counts_and_retention_span_message_buckets() {
    with_keyspace(|options| async move {
        let store = store(&options).await;
        // 1300 messages: buckets 0 (1..=511), 1 (512..=1023), 2 (1024..).
        // ts = seq * 10; bob sends every third message.
        let n = 1300u64;
        let messages: Vec<Message> = (1..=n)
            .map(|i| {
                let sender = if i % 3 == 0 { "bob" } else { "alice" };
                msg("big", i, sender, i as i64 * 10)
            })
            .collect();
        for chunk in messages.chunks(400) {
            let last = chunk.last().unwrap().seq;
            store
                .apply(SequencedBatch {
                    conversations: vec![conv("big", last, last + 1)],
                    messages: chunk.to_vec(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let page = store.messages_after("big", 500, 30).await.unwrap();
        assert_eq!(seqs(&page), (501..=530).collect::<Vec<_>>());
        let page = store.messages_after("big", 0, 2000).await.unwrap();
        assert_eq!(seqs(&page), (1..=n).collect::<Vec<_>>());
        let page = store.messages_before("big", 1030, 20).await.unwrap();
        assert_eq!(seqs(&page), (1010..=1029).collect::<Vec<_>>());
        let page = store.messages_before("big", u64::MAX, 3).await.unwrap();
        assert_eq!(seqs(&page), vec![1298, 1299, 1300]);
        let page = store.messages_before("big", 600, 1000).await.unwrap();
        assert_eq!(seqs(&page), (1..=599).collect::<Vec<_>>());
        assert_eq!(
            store.count_from_others("big", "alice", 0).await.unwrap(),
            n / 3
        );
        assert_eq!(
            store.count_from_others("big", "bob", 1000).await.unwrap(),
            200
        );

        // Retention up to ts 6005 removes seqs 1..=600: bucket 0 whole,
        // bucket 1 up to 600.
        assert_eq!(store.expire(6005).await.unwrap(), 600);
        assert!(store.message("big", 600).await.unwrap().is_none());
        assert!(store.message("big", 1).await.unwrap().is_none());
        assert!(store.find_sent("big", "bob", "c3").await.unwrap().is_none());
        assert!(store
            .find_sent("big", "bob", "c603")
            .await
            .unwrap()
            .is_some());
        let page = store.messages_after("big", 0, 5).await.unwrap();
        assert_eq!(seqs(&page), vec![601, 602, 603, 604, 605]);
        let page = store.messages_before("big", 603, 10).await.unwrap();
        assert_eq!(seqs(&page), vec![601, 602]);
        assert_eq!(
            store.count_from_others("big", "alice", 0).await.unwrap(),
            (n - 600) / 3
        );
        // Again: nothing more is old enough; then the rest.
        assert_eq!(store.expire(6005).await.unwrap(), 0);
        assert_eq!(store.expire(i64::MAX).await.unwrap(), n - 600);
        assert!(store.messages_after("big", 0, 10).await.unwrap().is_empty());
        assert!(store
            .messages_before("big", u64::MAX, 10)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn writes_from_an_older_point_of_the_log_never_win() {
    with_keyspace(|options| async move {
        let store = store(&options).await;
        let mut m = msg("z", 1, "alice", 5);
        m.attachments = vec!["att".into()];
        store
            .apply(SequencedBatch {
                conversations: vec![conv("z", 1, 5)],
                messages: vec![m.clone()],
                joined: vec![("alice".into(), "z".into())],
                ..Default::default()
            })
            .await
            .unwrap();
        // Deleted for everyone, and alice leaves, from further in the log.
        let mut gone = m.clone();
        gone.tombstone();
        store
            .apply(SequencedBatch {
                conversations: vec![conv("z", 1, 9)],
                messages: vec![gone],
                left: vec![("alice".into(), "z".into())],
                ..Default::default()
            })
            .await
            .unwrap();
        // The first batch again (a sequencer that reprocesses after a crash,
        // or a zombie): refused, and nothing of it comes back.
        let again = store
            .apply(SequencedBatch {
                conversations: vec![conv("z", 1, 5)],
                messages: vec![m],
                joined: vec![("alice".into(), "z".into())],
                ..Default::default()
            })
            .await;
        assert!(again.is_err(), "a stale batch is refused");
        let stored = store.message("z", 1).await.unwrap().unwrap();
        assert!(stored.deleted && stored.body.is_empty());
        assert!(store.attachment_refs("att").await.unwrap().is_empty());
        assert!(store.conversations_of("alice").await.unwrap().is_empty());
        assert_eq!(
            store
                .conversation("z")
                .await
                .unwrap()
                .unwrap()
                .applied_offset,
            9
        );
        // A batch that writes a message without its conversation's state
        // is refused whole.
        let orphan = store
            .apply(SequencedBatch {
                messages: vec![msg("y", 1, "alice", 5)],
                ..Default::default()
            })
            .await;
        assert!(orphan.is_err());
        assert!(store.message("y", 1).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn text_with_nul_round_trips_and_values_above_i64_are_refused() {
    with_keyspace(|options| async move {
        let store = store(&options).await;
        let mut state = conv("n", 1, 2);
        state.title = Some("a\u{0}b".into());
        let mut m = msg("n", 1, "alice", 1);
        m.body = "x\u{0}y".into();
        store
            .apply(SequencedBatch {
                conversations: vec![state.clone()],
                messages: vec![m.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(store.conversation("n").await.unwrap(), Some(state));
        assert_eq!(store.message("n", 1).await.unwrap(), Some(m));
        let huge = store
            .apply(SequencedBatch {
                conversations: vec![conv("h", u64::MAX, 3)],
                ..Default::default()
            })
            .await;
        assert!(huge.is_err(), "a seq above i64::MAX is refused");
        assert!(store.conversation("h").await.unwrap().is_none());
        assert!(store.message("n", u64::MAX).await.unwrap().is_none());
        assert!(store
            .messages_after("n", u64::MAX, 5)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_message_whose_ts_is_out_of_order_still_expires() {
    with_keyspace(|options| async move {
        let store = store(&options).await;
        const DAY: i64 = 86_400_000;
        // Gateway clocks disagree: seq 1 says day 5, seq 2 says day 3, and
        // then the conversation goes quiet.
        store
            .apply(SequencedBatch {
                conversations: vec![conv("skew", 2, 3)],
                messages: vec![
                    msg("skew", 1, "alice", 5 * DAY),
                    msg("skew", 2, "bob", 3 * DAY),
                ],
                ..Default::default()
            })
            .await
            .unwrap();
        // At day 4, seq 1 is not old enough, so seq 2 waits behind it.
        assert_eq!(store.expire(4 * DAY).await.unwrap(), 0);
        assert_eq!(
            seqs(&store.messages_after("skew", 0, 10).await.unwrap()),
            vec![1, 2]
        );
        // At day 6 both are, and both go, although day 3's entry is gone.
        assert_eq!(store.expire(6 * DAY).await.unwrap(), 2);
        assert!(store
            .messages_after("skew", 0, 10)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_idempotency_key_reused_after_retention_finds_its_new_message() {
    with_keyspace(|options| async move {
        let store = store(&options).await;
        store
            .apply(SequencedBatch {
                conversations: vec![conv("reuse", 1, 2)],
                messages: vec![msg("reuse", 1, "alice", 10)],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(store.expire(100).await.unwrap(), 1);
        assert!(store
            .find_sent("reuse", "alice", "c1")
            .await
            .unwrap()
            .is_none());
        // Long after, the same client_msg_id names a new message.
        let mut again = msg("reuse", 2, "alice", 200);
        again.client_msg_id = "c1".into();
        store
            .apply(SequencedBatch {
                conversations: vec![conv("reuse", 2, 3)],
                messages: vec![again],
                ..Default::default()
            })
            .await
            .unwrap();
        let found = store.find_sent("reuse", "alice", "c1").await.unwrap();
        assert_eq!(found.map(|m| m.seq), Some(2));
        assert_eq!(
            seqs(&store.messages_after("reuse", 0, 10).await.unwrap()),
            vec![2]
        );
    })
    .await;
}
