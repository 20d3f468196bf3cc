//! The PostgreSQL store against a real server: the store conformance suite,
//! migrations applied twice and concurrently, and what PostgreSQL's types
//! made this engine decide (U+0000 in text, u64 bounds above i64::MAX,
//! atomic batches, receipts from concurrent transactions).
//!
//! Each test creates its own database on the server `DATABASE_URL` names
//! and drops it at the end. Without `DATABASE_URL` each test says it is
//! skipped and passes.

use chat_domain::{ConversationKind, ConversationState, Member, Message, ReceiptKind};
use chat_ports::{
    ConversationStore, MessageStore, ReceiptStore, ReceiptUpdate, SequencedBatch, SequencerStore,
    Stores,
};
use chat_postgres::PostgresStore;
use std::sync::Arc;
use support::{admin, with_database};

mod support;

fn conv(id: &str, title: &str) -> ConversationState {
    ConversationState {
        id: id.into(),
        kind: ConversationKind::Group,
        title: Some(title.into()),
        created_at: 1,
        last_seq: 1,
        last_activity: 1,
        members: vec![Member {
            user: "alice".into(),
            joined_after: 0,
            admin: true,
        }],
        applied_offset: u64::MAX,
        changes: Default::default(),
    }
}

fn msg(conv: &str, seq: u64, body: &str) -> Message {
    Message {
        conv: conv.into(),
        seq,
        msg_id: format!("m{seq}").into(),
        sender: "alice".into(),
        sender_device: "d".into(),
        client_msg_id: format!("c{seq}").into(),
        body: body.into(),
        attachments: vec!["a\u{0}1".into()],
        ts: 1,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}

#[tokio::test]
async fn the_postgres_store_passes_the_conformance_suite() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        store.health().await.expect("health");
        chat_ports::conformance::run_all(&Stores::from_engine(Arc::new(store))).await;
    })
    .await;
}

#[tokio::test]
async fn migrations_apply_once_when_connecting_twice_and_concurrently() {
    with_database(|url| async move {
        // Four processes starting at once on an empty database.
        let (a, b, c, d) = tokio::join!(
            PostgresStore::connect(&url),
            PostgresStore::connect(&url),
            PostgresStore::connect(&url),
            PostgresStore::connect(&url),
        );
        for store in [a, b, c, d] {
            store.expect("a concurrent connect").health().await.unwrap();
        }
        // Then once more, after them.
        let store = PostgresStore::connect(&url).await.expect("connect again");
        store
            .apply(SequencedBatch {
                conversations: vec![conv("x", "t")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(store.conversation("x").await.unwrap().is_some());

        let client = admin(&url).await;
        let versions: Vec<i32> = client
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            versions,
            (1..=chat_postgres::SCHEMA_VERSION).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test]
async fn text_with_nul_and_values_above_i64_round_trip_or_are_refused_whole() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        // U+0000, which PostgreSQL's text and jsonb cannot hold, in a title,
        // a body and an attachment id; a u64 above i64::MAX inside the state.
        let state = conv("n", "a\u{0}b");
        let m = msg("n", 1, "x\u{0}y");
        store
            .apply(SequencedBatch {
                conversations: vec![state.clone()],
                messages: vec![m.clone()],
                joined: vec![("alice".into(), "n".into())],
                left: vec![],
                cursors: vec![],
            })
            .await
            .unwrap();
        assert_eq!(store.conversation("n").await.unwrap(), Some(state));
        assert_eq!(store.message("n", 1).await.unwrap(), Some(m.clone()));

        // Read bounds above i64::MAX mean "no bound".
        assert!(store.message("n", u64::MAX).await.unwrap().is_none());
        assert!(store
            .messages_after("n", u64::MAX, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.messages_before("n", u64::MAX, 10).await.unwrap(),
            vec![m.clone()]
        );
        assert_eq!(
            store.count_from_others("n", "bob", u64::MAX).await.unwrap(),
            0
        );
        assert!(
            store
                .messages_after("n", 0, usize::MAX)
                .await
                .unwrap()
                .len()
                == 1
        );

        // A seq that does not fit a bigint fails the whole batch: the
        // conversation it carries is not written either.
        let refused = store
            .apply(SequencedBatch {
                conversations: vec![conv("z", "t")],
                messages: vec![msg("z", 1, "ok"), msg("z", i64::MAX as u64 + 1, "no")],
                joined: vec![("alice".into(), "z".into())],
                left: vec![],
                cursors: vec![],
            })
            .await;
        assert!(refused.is_err());
        assert!(store.conversation("z").await.unwrap().is_none());
        assert!(store.message("z", 1).await.unwrap().is_none());
        assert_eq!(store.conversations_of("alice").await.unwrap(), vec!["n"]);
    })
    .await;
}

#[tokio::test]
async fn the_last_write_to_a_key_in_a_batch_wins() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let first = msg("w", 1, "first");
        let mut deleted = first.clone();
        deleted.tombstone();
        store
            .apply(SequencedBatch {
                conversations: vec![conv("w", "old"), conv("w", "new")],
                messages: vec![first, deleted.clone()],
                // Left, then joined, as the embedded engine applies them.
                left: vec![("bob".into(), "w".into())],
                cursors: vec![],
                joined: vec![("bob".into(), "w".into()), ("bob".into(), "w".into())],
            })
            .await
            .unwrap();
        let state = store.conversation("w").await.unwrap().unwrap();
        assert_eq!(state.title.as_deref(), Some("new"));
        assert_eq!(store.message("w", 1).await.unwrap(), Some(deleted));
        assert_eq!(store.conversations_of("bob").await.unwrap(), vec!["w"]);
    })
    .await;
}

#[tokio::test]
async fn a_bad_url_or_an_unreachable_server_is_unavailable() {
    if support::database_url().is_none() {
        return;
    }
    for url in [
        "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2",
        "not a url",
    ] {
        match PostgresStore::connect(url).await {
            Err(chat_ports::PortError::Unavailable { .. }) => {}
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn concurrent_receipts_report_each_move_once() {
    with_database(|url| async move {
        let store = Arc::new(PostgresStore::connect(&url).await.expect("connect"));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let update = ReceiptUpdate {
                    conv: "r".into(),
                    user: "alice".into(),
                    device: format!("d{i}"),
                    kind: ReceiptKind::Read,
                    seq: 5,
                };
                store.advance(&[update]).await.unwrap()
            }));
        }
        let mut moved = 0;
        for t in tasks {
            moved += t.await.unwrap().iter().filter(|m| **m).count();
        }
        assert_eq!(moved, 1);
        let receipts = store.member_receipts("r").await.unwrap();
        assert_eq!((receipts[0].delivered_seq, receipts[0].read_seq), (5, 5));
        assert_eq!(store.read_seq("r", "alice").await.unwrap(), 5);
    })
    .await;
}

/// A send whose client_msg_id holds U+0000 (which the `client_msg_id` text
/// column cannot hold) that reached the log, from before the gateway
/// refused such ids or from another producer: the sequencer refuses it by
/// the rules and goes on, rather than failing its batch on the store for
/// ever and stalling every conversation of the partition.
#[tokio::test]
async fn a_send_the_store_cannot_hold_is_refused_and_the_partition_goes_on() {
    use chat_embedded::{EmbeddedLog, LogOptions};
    use chat_events::{Codec, CreateConversation, Record, SendMessage};
    use chat_ports::{EventLog, OutRecord};
    use chat_processors::Processor as _;
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let stores = Stores::from_engine(Arc::new(store));
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(&dir.path().join("log.redb"), LogOptions::default()).unwrap();
        let codec = Arc::new(Codec::new());
        let send = |key: &str| -> Record {
            SendMessage {
                conv: "g".into(),
                msg_id: chat_domain::ids::message_id(&"g".into(), &"alice".into(), &key.into()),
                sender: "alice".into(),
                sender_device: "d".into(),
                client_msg_id: key.into(),
                body: "hi".into(),
                attachments: vec![],
                ts: 2,
                reply_to: None,
            }
            .into()
        };
        let records: Vec<Record> = vec![
            CreateConversation {
                conv: "g".into(),
                kind: "group".into(),
                title: None,
                creator: "alice".into(),
                members: vec!["alice".into()],
                ts: 1,
                refusing: vec![],
            }
            .into(),
            send("poison\u{0}"),
            send("fine"),
        ];
        let out = records
            .iter()
            .map(|r| OutRecord {
                topic: chat_events::topics::COMMANDS.into(),
                key: r.key().into(),
                payload: codec.encode(r).unwrap(),
                headers: vec![],
                timestamp: 0,
            })
            .collect();
        log.append(out).await.unwrap();
        let mut consumer = log
            .consumer("t", &[chat_events::topics::COMMANDS])
            .await
            .unwrap();
        let batch = consumer
            .poll(100, std::time::Duration::from_millis(100))
            .await
            .unwrap();
        let events: Arc<dyn EventLog> = Arc::new(log.clone());
        chat_processors::sequencer::Sequencer::new(
            stores.clone(),
            events,
            codec,
            chat_domain::rules::Limits::default(),
        )
        .handle(&batch)
        .await
        .expect("the batch applies");
        let history = stores.messages.messages_after("g", 0, 10).await.unwrap();
        let keys: Vec<&str> = history.iter().map(|m| m.client_msg_id.as_str()).collect();
        assert_eq!(
            keys,
            ["fine"],
            "the poison is refused, the next send is seq 1"
        );
    })
    .await;
}

/// A session that stopped in the middle of its transaction (a sequencer
/// under SIGSTOP, or cut off from the server) holds its row locks; the
/// partition's next owner must not wait behind them for ever: its write
/// gives up after `lock_timeout` with a transient error (retried by the
/// runner), and succeeds once the lock is gone.
#[tokio::test]
async fn a_write_behind_a_stopped_transaction_gives_up_and_is_retried() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let batch = SequencedBatch {
            conversations: vec![conv("locked", "t")],
            messages: vec![msg("locked", 1, "x")],
            joined: vec![],
            left: vec![],
            cursors: vec![],
        };
        store.apply(batch.clone()).await.unwrap();
        let mut stopped = admin(&url).await;
        let txn = stopped.transaction().await.unwrap();
        txn.execute(
            "SELECT 1 FROM conversations WHERE id = 'locked' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
        let mut next = batch.clone();
        next.messages = vec![msg("locked", 2, "y")];
        next.conversations[0].last_seq = 2;
        let outcome = tokio::time::timeout(
            chat_postgres::LOCK_TIMEOUT + std::time::Duration::from_secs(10),
            store.apply(next.clone()),
        )
        .await
        .expect("the write gives up instead of waiting for ever");
        assert!(
            matches!(outcome, Err(chat_ports::PortError::Unavailable { .. })),
            "a transient error, retried: {outcome:?}"
        );
        drop(txn);
        store.apply(next).await.expect("the retry goes through");
        assert_eq!(
            store.messages_after("locked", 0, 10).await.unwrap().len(),
            2
        );
    })
    .await;
}

/// A value PostgreSQL can never hold (U+0000 in a text column) is refused
/// as such, `PortError::Refused`, which a processor sets aside; it is not a
/// storage failure to retry for ever.
#[tokio::test]
async fn a_value_the_server_cannot_hold_is_refused_for_good() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let mut m = msg("r", 1, "x");
        m.client_msg_id = "k\u{0}".into();
        let outcome = store
            .apply(SequencedBatch {
                conversations: vec![conv("r", "t")],
                messages: vec![m],
                joined: vec![],
                left: vec![],
                cursors: vec![],
            })
            .await;
        assert!(
            matches!(outcome, Err(chat_ports::PortError::Refused { .. })),
            "{outcome:?}"
        );
    })
    .await;
}
