//! The attachment side of the PostgreSQL store beyond the conformance
//! suite: migration 0002 on a database that already holds messages, stale
//! and self-overwriting batches, and ids that hold U+0000.
//!
//! Each test creates its own database on the server `DATABASE_URL` names
//! and drops it at the end. Without `DATABASE_URL` each test says it is
//! skipped and passes.

use chat_domain::{ConversationKind, ConversationState, Member, Message};
use chat_ports::{Attachment, AttachmentStore, MessageStore, SequencedBatch, SequencerStore};
use chat_postgres::PostgresStore;
use support::{admin, with_database};

mod support;

const INIT: &str = include_str!("../../../infra/postgres/migrations/0001_init.sql");
const ATTACHMENTS: &str =
    include_str!("../../../infra/postgres/migrations/0002_attachments_devices.sql");

fn conv(id: &str, applied_offset: u64) -> ConversationState {
    ConversationState {
        id: id.into(),
        kind: ConversationKind::Group,
        title: None,
        created_at: 1,
        last_seq: 2,
        last_activity: 1,
        members: vec![Member {
            user: "alice".into(),
            joined_after: 0,
            admin: true,
        }],
        applied_offset,
        changes: Default::default(),
    }
}

fn msg(conv: &str, seq: u64, attachments: &[&str]) -> Message {
    Message {
        conv: conv.into(),
        seq,
        msg_id: format!("m{seq}").into(),
        sender: "alice".into(),
        sender_device: "d".into(),
        client_msg_id: format!("c{seq}").into(),
        body: "b".into(),
        attachments: attachments.iter().map(|a| a.to_string()).collect(),
        ts: 10 * seq as i64,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}

fn refs(conv: &str, seqs: &[u64]) -> Vec<(String, u64)> {
    seqs.iter().map(|s| (conv.to_string(), *s)).collect()
}

#[tokio::test]
async fn migration_2_indexes_the_messages_stored_before_it() {
    with_database(|url| async move {
        // A database as version 1 left it, holding messages with attachments.
        let client = admin(&url).await;
        client
            .batch_execute(&format!(
                "CREATE TABLE schema_migrations (
                     version    integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 );
                 {INIT};
                 INSERT INTO schema_migrations (version) VALUES (1);
                 INSERT INTO messages VALUES
                     ('old', 1, 'm1', 'alice', 'd', 'c1', '\\x62', '[\"x\",\"y\",\"x\"]', 10, false),
                     ('old', 2, 'm2', 'alice', 'd', 'c2', '\\x62', '[\"z\",\"a\\u00001\"]', 20, false),
                     ('old', 3, 'm3', 'alice', 'd', 'c3', '\\x62', '[]', 30, true);"
            ))
            .await
            .expect("the version 1 database");

        let store = PostgresStore::connect(&url).await.expect("connect");
        let versions: Vec<i32> = client
            .query("SELECT version FROM schema_migrations ORDER BY version", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Every migration from 2 on was applied (later ones too).
        assert_eq!(
            versions,
            (1..=chat_postgres::SCHEMA_VERSION).collect::<Vec<_>>()
        );
        assert_eq!(store.attachment_refs("x").await.unwrap(), refs("old", &[1]));
        assert_eq!(store.attachment_refs("y").await.unwrap(), refs("old", &[1]));
        // A list holding U+0000 cannot be read by the migration's SQL: that
        // message is left out (documented in the migration).
        assert!(store.attachment_refs("z").await.unwrap().is_empty());

        // Running the file again by hand changes nothing, and connecting
        // again applies nothing.
        client.batch_execute(ATTACHMENTS).await.expect("0002 again");
        let again = PostgresStore::connect(&url).await.expect("connect again");
        assert_eq!(again.attachment_refs("x").await.unwrap(), refs("old", &[1]));
        let count: i64 = client
            .query_one("SELECT count(*) FROM attachment_refs", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 2);

        // Rewriting the message through the store indexes it in full.
        again
            .apply(SequencedBatch {
                messages: vec![msg("old", 2, &["z", "a\u{0}1"])],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(again.attachment_refs("z").await.unwrap(), refs("old", &[2]));
        assert_eq!(
            again.attachment_refs("a\u{0}1").await.unwrap(),
            refs("old", &[2])
        );
        // Retention takes the references with the messages.
        assert_eq!(again.expire(25).await.unwrap(), 2);
        assert!(again.attachment_refs("x").await.unwrap().is_empty());
        assert!(again.attachment_refs("z").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_stale_batch_keeps_none_of_its_references() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        store
            .apply(SequencedBatch {
                conversations: vec![conv("s", 10)],
                messages: vec![msg("s", 1, &["keep"])],
                ..Default::default()
            })
            .await
            .unwrap();
        let refused = store
            .apply(SequencedBatch {
                conversations: vec![conv("s", 5)],
                messages: vec![msg("s", 1, &["zombie"]), msg("s", 2, &["zombie"])],
                ..Default::default()
            })
            .await;
        assert!(refused.is_err(), "a stale batch is refused");
        assert_eq!(
            store.attachment_refs("keep").await.unwrap(),
            refs("s", &[1])
        );
        assert!(store.attachment_refs("zombie").await.unwrap().is_empty());
        assert!(store.message("s", 2).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn the_last_write_of_a_message_in_a_batch_decides_its_references() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let mut deleted = msg("w", 1, &["a"]);
        deleted.tombstone();
        store
            .apply(SequencedBatch {
                conversations: vec![conv("w", 1)],
                messages: vec![msg("w", 1, &["a"]), deleted, msg("w", 2, &["b", "b"])],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(store.attachment_refs("a").await.unwrap().is_empty());
        assert_eq!(store.attachment_refs("b").await.unwrap(), refs("w", &[2]));
    })
    .await;
}

#[tokio::test]
async fn records_and_references_hold_ids_and_types_with_nul() {
    with_database(|url| async move {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let id = "n\u{0}1";
        let record = Attachment {
            id: id.into(),
            owner: "alice".into(),
            content_type: "image/p\u{0}ng".into(),
            size: i64::MAX as u64,
            created_at: -5,
            uploaded_size: None,
            thumbnail: None,
        };
        store.put_attachment(&record).await.unwrap();
        store.set_thumbnail(id, "image/\u{0}").await.unwrap();
        store.set_uploaded(id, 7).await.unwrap();
        let stored = store.attachment(id).await.unwrap().unwrap();
        assert_eq!(stored.content_type, record.content_type);
        assert_eq!(stored.thumbnail.as_deref(), Some("image/\u{0}"));
        assert_eq!((stored.size, stored.uploaded_size), (record.size, Some(7)));
        assert_eq!(
            store.unreferenced_attachments(0, 10).await.unwrap(),
            vec![id]
        );

        // Sizes that do not fit a bigint are refused rather than wrapped.
        assert!(store.set_uploaded(id, u64::MAX).await.is_err());
        let mut huge = record.clone();
        huge.id = "huge".into();
        huge.size = u64::MAX;
        assert!(store.put_attachment(&huge).await.is_err());

        store
            .apply(SequencedBatch {
                conversations: vec![conv("n", 1)],
                messages: vec![msg("n", 1, &[id])],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(store.attachment_refs(id).await.unwrap(), refs("n", &[1]));
        assert!(store
            .unreferenced_attachments(0, 10)
            .await
            .unwrap()
            .is_empty());
        // A prefix of the id is another id.
        assert!(store.attachment_refs("n").await.unwrap().is_empty());
        assert!(store
            .unreferenced_attachments(0, 0)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
