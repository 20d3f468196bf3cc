//! Engine-level checks of the attachment reference index, beyond the
//! conformance suite: orders of writes the suite does not try.

use super::*;
use chat_domain::{ConversationKind, ConversationState, Message};
use chat_ports::{Attachment, AttachmentStore, MessageStore, SequencedBatch, SequencerStore};

fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
    EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Never).unwrap()
}

fn record(id: &str, created_at: i64) -> Attachment {
    Attachment {
        id: id.into(),
        owner: "alice".into(),
        content_type: "image/png".into(),
        size: 10,
        created_at,
        uploaded_size: None,
        thumbnail: None,
    }
}

fn state(applied_offset: u64) -> ConversationState {
    ConversationState {
        id: "c".into(),
        kind: ConversationKind::Group,
        title: None,
        created_at: 1,
        last_seq: 1,
        last_activity: 1,
        members: vec![],
        applied_offset,
        changes: Default::default(),
    }
}

fn message(seq: u64, attachments: &[&str]) -> Message {
    Message {
        conv: "c".into(),
        seq,
        msg_id: format!("m{seq}").into(),
        sender: "alice".into(),
        sender_device: "d".into(),
        client_msg_id: format!("k{seq}").into(),
        body: "b".into(),
        attachments: attachments.iter().map(|a| a.to_string()).collect(),
        ts: 10,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}

async fn apply(s: &EmbeddedStore, offset: u64, messages: Vec<Message>) -> chat_ports::Result<()> {
    s.apply(SequencedBatch {
        conversations: vec![state(offset)],
        messages,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_record_put_after_its_message_is_referenced() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    apply(&s, 1, vec![message(1, &["a"])]).await.unwrap();
    s.put_attachment(&record("a", 1)).await.unwrap();
    assert!(s
        .unreferenced_attachments(100, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.attachment_refs("a").await.unwrap(), vec![("c".into(), 1)]);
}

#[tokio::test]
async fn the_last_write_of_a_seq_in_one_batch_wins() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for id in ["a", "b"] {
        s.put_attachment(&record(id, 1)).await.unwrap();
    }
    apply(
        &s,
        1,
        vec![message(1, &["a", "a"]), message(1, &["b"]), message(2, &[])],
    )
    .await
    .unwrap();
    assert!(s.attachment_refs("a").await.unwrap().is_empty());
    assert_eq!(s.attachment_refs("b").await.unwrap(), vec![("c".into(), 1)]);
    assert_eq!(
        s.unreferenced_attachments(100, 10).await.unwrap(),
        vec!["a"]
    );
}

#[tokio::test]
async fn a_stale_batch_leaves_the_references_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.put_attachment(&record("a", 1)).await.unwrap();
    s.put_attachment(&record("b", 1)).await.unwrap();
    apply(&s, 5, vec![message(1, &["a"])]).await.unwrap();
    assert!(apply(&s, 4, vec![message(1, &["b"])]).await.is_err());
    assert_eq!(s.attachment_refs("a").await.unwrap(), vec![("c".into(), 1)]);
    assert!(s.attachment_refs("b").await.unwrap().is_empty());
    assert_eq!(
        s.unreferenced_attachments(100, 10).await.unwrap(),
        vec!["b"]
    );
}

#[tokio::test]
async fn a_deleted_record_does_not_come_back_as_unreferenced() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.put_attachment(&record("a", 1)).await.unwrap();
    apply(&s, 1, vec![message(1, &["a"])]).await.unwrap();
    s.delete_attachment("a").await.unwrap();
    s.expire(100).await.unwrap();
    assert!(s.attachment_refs("a").await.unwrap().is_empty());
    assert!(s
        .unreferenced_attachments(100, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn references_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(&dir);
        s.put_attachment(&record("a", 1)).await.unwrap();
        s.put_attachment(&record("b", 1)).await.unwrap();
        apply(&s, 1, vec![message(1, &["a"])]).await.unwrap();
    }
    let s = open(&dir);
    assert_eq!(s.attachment_refs("a").await.unwrap(), vec![("c".into(), 1)]);
    assert_eq!(
        s.unreferenced_attachments(100, 10).await.unwrap(),
        vec!["b"]
    );
}
