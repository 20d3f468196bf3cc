//! The conformance suites. This module: the store suite, one body per behaviour, generic over the
//! store ports, run by every engine's tests against a fresh, empty store
//! (`run_all`). A new engine is done when it passes all of it.
//!
//! The other suites: [`log`] (the event log), [`channels`] (real-time
//! channels), [`presence`] and [`search`] (the search index); `attachments` and `text` are part of the
//! store suite.

pub mod attachments;
pub mod channels;
pub mod log;
pub mod presence;
pub mod search;
pub mod text;

/// Says that a test is skipped because a service it needs is missing
/// (`reason` says which, and how to get it). Under CI (`CI` set to `true`
/// or `1`) a missing service is a failure instead: CI never passes a test
/// it did not run.
pub fn skip(reason: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "{reason}; under CI every service must run");
    println!("skipped: {reason}");
}

use crate::{ReceiptUpdate, SequencedBatch, Stores};
use chat_domain::{ConversationKind, ConversationState, Member, Message, ReceiptKind};

fn conv(id: &str, members: &[&str], last_seq: u64) -> ConversationState {
    ConversationState {
        id: id.into(),
        kind: ConversationKind::Group,
        title: Some("t".into()),
        created_at: 1,
        last_seq,
        last_activity: 1,
        members: members
            .iter()
            .map(|u| Member {
                user: (*u).into(),
                joined_after: 0,
                admin: *u == members[0],
            })
            .collect(),
        applied_offset: 1,
        changes: Default::default(),
    }
}

fn msg(conv: &str, seq: u64, sender: &str, ts: i64) -> Message {
    Message {
        conv: conv.into(),
        seq,
        msg_id: format!("m-{conv}-{seq}").into(),
        sender: sender.into(),
        sender_device: "d".into(),
        client_msg_id: format!("c{seq}").into(),
        body: format!("body {seq}"),
        attachments: vec![],
        ts,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}

/// Runs every check of the suite, in order, on one empty store.
pub async fn run_all(stores: &Stores) {
    batches_apply_atomically_and_idempotently(stores).await;
    history_pages(stores).await;
    idempotency_index(stores).await;
    an_edit_replaces_the_body_in_place(stores).await;
    unread_counts(stores).await;
    receipts_only_move_forward(stores).await;
    membership_index(stores).await;
    retention(stores).await;
    last_seen(stores).await;
    stale_batches_are_refused(stores).await;
    a_wide_batch_is_stored_whole(stores).await;
    many_key_reads_answer_as_one_key_reads(stores).await;
    a_stale_conversation_among_many_refuses_the_batch(stores).await;
    attachments::run_all(stores).await;
    text::run_all(stores).await;
}

/// A batch computed from an older point of the log than what is stored (a
/// sequencer that lost its partition) changes nothing.
pub async fn stale_batches_are_refused(s: &Stores) {
    let mut newer = conv("z", &["alice"], 3);
    newer.applied_offset = 10;
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![newer],
            messages: vec![msg("z", 3, "alice", 5)],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut older = conv("z", &["alice"], 2);
    older.applied_offset = 7;
    let mut clobber = msg("z", 3, "alice", 5);
    clobber.body = "from a zombie".into();
    let refused = s
        .sequencer
        .apply(SequencedBatch {
            conversations: vec![older],
            messages: vec![clobber],
            ..Default::default()
        })
        .await;
    assert!(refused.is_err(), "a stale batch is refused");
    let state = s.conversations.conversation("z").await.unwrap().unwrap();
    assert_eq!((state.last_seq, state.applied_offset), (3, 10));
    let m = s.messages.message("z", 3).await.unwrap().unwrap();
    assert_eq!(m.body, "body 3", "nothing of the stale batch was kept");
}

/// A batch over many conversations, with messages of every size up to one
/// far over what an engine may group into one request, is stored whole:
/// every message, its idempotency key and every state.
pub async fn a_wide_batch_is_stored_whole(s: &Stores) {
    let ids: Vec<String> = (0..40).map(|i| format!("wide{i}")).collect();
    let mut batch = SequencedBatch::default();
    for (i, id) in ids.iter().enumerate() {
        let mut c = conv(id, &["alice", "bob"], 2);
        c.applied_offset = 100 + i as u64;
        batch.conversations.push(c);
        for seq in 1..=2 {
            let mut m = msg(id, seq, "alice", 5);
            m.body = "x".repeat(i * 700 * seq as usize);
            batch.messages.push(m);
        }
    }
    s.sequencer.apply(batch).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let state = s.conversations.conversation(id).await.unwrap().unwrap();
        assert_eq!((state.last_seq, state.applied_offset), (2, 100 + i as u64));
        for seq in 1..=2u64 {
            let m = s.messages.message(id, seq).await.unwrap().unwrap();
            assert_eq!(m.body.len(), i * 700 * seq as usize, "{id} {seq}");
            let sent = s
                .messages
                .find_sent(id, "alice", &format!("c{seq}"))
                .await
                .unwrap();
            assert_eq!(sent.map(|m| m.seq), Some(seq), "{id} {seq}");
        }
    }
}

/// The many-key reads the sequencer uses answer, key for key and in the
/// order asked, what the one-key reads answer: missing keys, repeated keys
/// and a key no store can hold (U+0000) included. Runs after
/// [`a_wide_batch_is_stored_whole`].
pub async fn many_key_reads_answer_as_one_key_reads(s: &Stores) {
    let mut ids: Vec<String> = (0..40).rev().map(|i| format!("wide{i}")).collect();
    ids.insert(5, "wide-none".into());
    ids.push("wide3".into());
    let asked: Vec<&str> = ids.iter().map(String::as_str).collect();
    let many = s.conversations.conversation_states(&asked).await.unwrap();
    assert_eq!(many.len(), asked.len());
    for (id, got) in asked.iter().zip(&many) {
        assert_eq!(
            got,
            &s.conversations.conversation(id).await.unwrap(),
            "{id}"
        );
    }
    assert!(many[5].is_none() && many[0].is_some());
    assert!(s
        .conversations
        .conversation_states(&[])
        .await
        .unwrap()
        .is_empty());

    let keys: Vec<(&str, &str, &str)> = vec![
        ("wide7", "alice", "c2"),
        ("wide7", "bob", "c2"),
        ("wide-none", "alice", "c1"),
        ("wide1", "alice", "c1"),
        ("wide1", "alice", "c\u{0}1"),
        ("wide7", "alice", "c2"),
    ];
    let many = s.messages.find_sent_all(&keys).await.unwrap();
    assert_eq!(many.len(), keys.len());
    for ((conv, sender, key), got) in keys.iter().zip(&many) {
        let one = s.messages.find_sent(conv, sender, key).await.unwrap();
        assert_eq!(got, &one, "{conv} {sender} {key}");
    }
    assert_eq!(many[0].as_ref().map(|m| m.seq), Some(2));
    assert!(many[1].is_none() && many[2].is_none() && many[4].is_none());
    assert!(s.messages.find_sent_all(&[]).await.unwrap().is_empty());
}

/// One stale conversation among many refuses the whole batch, wherever
/// it falls among them, and the stale one keeps what it had.
pub async fn a_stale_conversation_among_many_refuses_the_batch(s: &Stores) {
    let mut newer = conv("many37", &["alice"], 3);
    newer.applied_offset = 500;
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![newer],
            messages: vec![msg("many37", 3, "alice", 5)],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = SequencedBatch::default();
    for i in 0..40 {
        let id = format!("many{i}");
        let mut c = conv(&id, &["alice"], 3);
        c.applied_offset = 400 + i;
        let mut m = msg(&id, 3, "alice", 5);
        m.body = "from a zombie".into();
        batch.conversations.push(c);
        batch.messages.push(m);
    }
    assert!(
        s.sequencer.apply(batch).await.is_err(),
        "a stale batch is refused"
    );
    let state = s
        .conversations
        .conversation("many37")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.applied_offset, 500);
    let m = s.messages.message("many37", 3).await.unwrap().unwrap();
    assert_eq!(m.body, "body 3", "nothing of the stale batch was kept");
}

/// A cursor of partition `partition` after the record at `offset`, with
/// values past i64::MAX where a stored field is a u64.
fn cursor(partition: u32, offset: u64) -> crate::LogCursor {
    crate::LogCursor {
        partition,
        partitions: 8,
        base: 1 << 40,
        last_offset: offset,
        last_fingerprint: (1 << 62) + offset,
    }
}

pub async fn batches_apply_atomically_and_idempotently(s: &Stores) {
    let batch = SequencedBatch {
        conversations: vec![conv("c1", &["alice", "bob"], 2)],
        messages: vec![msg("c1", 1, "alice", 10), msg("c1", 2, "bob", 11)],
        joined: vec![("alice".into(), "c1".into()), ("bob".into(), "c1".into())],
        left: vec![],
        cursors: vec![cursor(3, 7)],
    };
    assert_eq!(s.sequencer.cursors().await.unwrap(), []);
    s.sequencer.apply(batch.clone()).await.unwrap();
    s.sequencer.apply(batch).await.unwrap();
    assert_eq!(s.sequencer.cursors().await.unwrap(), [cursor(3, 7)]);
    let later = SequencedBatch {
        conversations: vec![conv("c1", &["alice", "bob"], 2)],
        cursors: vec![cursor(3, 9), cursor(0, 1)],
        ..Default::default()
    };
    s.sequencer.apply(later).await.unwrap();
    assert_eq!(
        s.sequencer.cursors().await.unwrap(),
        [cursor(0, 1), cursor(3, 9)]
    );
    let c = s.conversations.conversation("c1").await.unwrap().unwrap();
    assert_eq!(c.last_seq, 2);
    assert_eq!(c.members.len(), 2);
    let all = s.messages.messages_after("c1", 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(s
        .conversations
        .conversation("nope")
        .await
        .unwrap()
        .is_none());
    assert!(s.messages.message("c1", 3).await.unwrap().is_none());
}

pub async fn history_pages(s: &Stores) {
    let messages = (1..=10)
        .map(|i| msg("h", i, "alice", 100 + i as i64))
        .collect();
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![conv("h", &["alice"], 10)],
            messages,
            ..Default::default()
        })
        .await
        .unwrap();
    let seqs = |v: Vec<Message>| v.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(s.messages.messages_after("h", 3, 4).await.unwrap()),
        vec![4, 5, 6, 7]
    );
    assert_eq!(
        seqs(s.messages.messages_before("h", 8, 3).await.unwrap()),
        vec![5, 6, 7]
    );
    assert_eq!(
        seqs(s.messages.messages_before("h", 2, 10).await.unwrap()),
        vec![1]
    );
    assert!(s
        .messages
        .messages_after("h", 10, 5)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .messages
        .messages_before("h", 1, 5)
        .await
        .unwrap()
        .is_empty());
    // Another conversation's messages never leak into a page.
    assert!(s
        .messages
        .messages_after("h2", 0, 5)
        .await
        .unwrap()
        .is_empty());
}

pub async fn idempotency_index(s: &Stores) {
    let found = s
        .messages
        .find_sent("c1", "bob", "c2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.seq, 2);
    assert!(s
        .messages
        .find_sent("c1", "alice", "c2")
        .await
        .unwrap()
        .is_none());
    // A deleted message keeps its seq and its idempotency key. The batch
    // carries the conversation's state, as every batch that writes a
    // message does.
    let mut m = found.clone();
    m.tombstone();
    let mut state = conv("c1", &["alice", "bob"], 2);
    state.applied_offset = 2;
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![state],
            messages: vec![m],
            ..Default::default()
        })
        .await
        .unwrap();
    let again = s
        .messages
        .find_sent("c1", "bob", "c2")
        .await
        .unwrap()
        .unwrap();
    assert!(again.deleted && again.body.is_empty());
}

/// An edited message (PROTOCOL v1.1) keeps its seq and its idempotency
/// key, and every read returns its latest body with its edit version and
/// time, and its reactions; a message never edited reads as version 0
/// without a time. A reply keeps the seq it answers.
pub async fn an_edit_replaces_the_body_in_place(s: &Stores) {
    // Past every cut of the retention check.
    const T: i64 = 1_000_000;
    let mut state = conv("ed", &["alice", "bob"], 2);
    state.applied_offset = 1;
    let mut reply = msg("ed", 2, "bob", T);
    reply.reply_to = Some(chat_domain::Reply::to(1));
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![state.clone()],
            messages: vec![msg("ed", 1, "alice", T), reply.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let plain = s.messages.message("ed", 2).await.unwrap().unwrap();
    assert_eq!((plain.edit_version, plain.edited_ts), (0, None));
    assert_eq!(plain, reply, "a reply keeps the seq it answers");
    let first = s.messages.message("ed", 1).await.unwrap().unwrap();
    assert_eq!(first.reply_to, None);
    let mut edited = msg("ed", 1, "alice", T);
    edited.react(&"bob".into(), "\u{1f44d}", true);
    edited.react(&"alice".into(), "\u{1f389}", true);
    edited.react(&"alice".into(), "\u{1f44d}", true);
    edited.edit("second thoughts \u{e9}", 1_700_000_000_001);
    edited.edit("third thoughts", i64::MAX);
    state.applied_offset = 2;
    state.changes.record(1);
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![state],
            messages: vec![edited.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let reads = [
        s.messages.message("ed", 1).await.unwrap(),
        s.messages.messages_after("ed", 0, 1).await.unwrap().pop(),
        s.messages.messages_before("ed", 2, 1).await.unwrap().pop(),
        s.messages.find_sent("ed", "alice", "c1").await.unwrap(),
        s.messages
            .find_sent_all(&[("ed", "alice", "c1")])
            .await
            .unwrap()
            .pop()
            .flatten(),
    ];
    for read in reads {
        assert_eq!(
            read.as_ref(),
            Some(&edited),
            "every read has the edit and the reactions"
        );
    }
    assert_eq!(edited.reactions.len(), 2);
    let stored = s.conversations.conversation("ed").await.unwrap().unwrap();
    assert_eq!(stored.changes.since(0).collect::<Vec<_>>(), [1]);
}

pub async fn unread_counts(s: &Stores) {
    // c1: 1 from alice, 2 from bob.
    assert_eq!(
        s.messages
            .count_from_others("c1", "alice", 0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.messages.count_from_others("c1", "bob", 0).await.unwrap(),
        1
    );
    assert_eq!(
        s.messages
            .count_from_others("c1", "carol", 0)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.messages
            .count_from_others("c1", "carol", 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.messages
            .count_from_others("c1", "carol", 2)
            .await
            .unwrap(),
        0
    );
}

pub async fn receipts_only_move_forward(s: &Stores) {
    let up = |user: &str, device: &str, kind, seq| ReceiptUpdate {
        conv: "c1".into(),
        user: user.into(),
        device: device.into(),
        kind,
        seq,
    };
    let moved = s
        .receipts
        .advance(&[
            up("bob", "phone", ReceiptKind::Delivered, 2),
            up("bob", "laptop", ReceiptKind::Delivered, 1),
            up("bob", "phone", ReceiptKind::Delivered, 1),
            up("alice", "phone", ReceiptKind::Read, 1),
            up("alice", "phone", ReceiptKind::Read, 1),
        ])
        .await
        .unwrap();
    assert_eq!(moved, vec![true, false, false, true, false]);
    let phone = s.receipts.device_delivered("bob", "phone").await.unwrap();
    assert_eq!(phone.get("c1"), Some(&2));
    let laptop = s.receipts.device_delivered("bob", "laptop").await.unwrap();
    assert_eq!(laptop.get("c1"), Some(&1));
    let mut members = s.receipts.member_receipts("c1").await.unwrap();
    members.sort_by(|a, b| a.user.cmp(&b.user));
    assert_eq!(members.len(), 2);
    assert_eq!((members[0].delivered_seq, members[0].read_seq), (1, 1));
    assert_eq!((members[1].delivered_seq, members[1].read_seq), (2, 0));
    assert_eq!(s.receipts.read_seq("c1", "alice").await.unwrap(), 1);
    assert_eq!(s.receipts.read_seq("c1", "bob").await.unwrap(), 0);
    assert_eq!(s.receipts.watermarks("c1", "alice").await.unwrap(), (1, 1));
    assert_eq!(s.receipts.watermarks("c1", "bob").await.unwrap(), (2, 0));
    assert_eq!(s.receipts.watermarks("c1", "carol").await.unwrap(), (0, 0));
}

pub async fn membership_index(s: &Stores) {
    let mut convs = s.conversations.conversations_of("alice").await.unwrap();
    convs.sort();
    assert_eq!(convs, vec!["c1".to_string()]);
    let mut state = conv("c1", &["bob"], 2);
    state.applied_offset = 3;
    s.sequencer
        .apply(SequencedBatch {
            conversations: vec![state],
            left: vec![("alice".into(), "c1".into())],
            joined: vec![("alicia".into(), "c1".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(s
        .conversations
        .conversations_of("alice")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.conversations.conversations_of("alicia").await.unwrap(),
        vec!["c1"]
    );
    // A user id that is a prefix of another does not see its conversations.
    assert!(s
        .conversations
        .conversations_of("ali")
        .await
        .unwrap()
        .is_empty());
}

pub async fn retention(s: &Stores) {
    // h holds seqs 1..=10 at ts 101..=110; c1 holds seqs 1 and 2 at ts 10, 11.
    assert_eq!(s.messages.expire(104).await.unwrap(), 3 + 2);
    assert!(s
        .messages
        .messages_after("c1", 0, 10)
        .await
        .unwrap()
        .is_empty());
    let left = s.messages.messages_after("h", 0, 100).await.unwrap();
    assert_eq!(left.first().map(|m| m.seq), Some(4));
    assert!(s
        .messages
        .find_sent("h", "alice", "c1")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .messages
        .find_sent("h", "alice", "c4")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        s.messages.count_from_others("h", "bob", 0).await.unwrap(),
        7
    );
}

pub async fn last_seen(s: &Stores) {
    assert_eq!(s.last_seen.last_seen("zed").await.unwrap(), None);
    s.last_seen.set_last_seen("zed", 42).await.unwrap();
    s.last_seen.set_last_seen("zed", 43).await.unwrap();
    assert_eq!(s.last_seen.last_seen("zed").await.unwrap(), Some(43));
}
