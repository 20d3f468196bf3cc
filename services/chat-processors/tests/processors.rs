//! Processors on the embedded engines: handling the same log prefix again
//! (after a crash before the commit, or into an empty store) writes the same
//! state (DESIGN invariant 3).

use chat_domain::rules::Limits;
use chat_domain::ConversationState;
use chat_embedded::{EmbeddedLog, EmbeddedStore, FsyncPolicy, LogOptions};
use chat_events::topics::COMMANDS;
use chat_events::*;
use chat_ports::{EventLog, OutRecord, Stores};
use chat_processors::receipts::Receipts;
use chat_processors::sequencer::Sequencer;
use chat_processors::Processor;
use std::sync::Arc;
use std::time::Duration;

fn send(conv: &str, sender: &str, cmid: &str, ts: i64) -> Record {
    SendMessage {
        conv: conv.into(),
        msg_id: chat_domain::ids::message_id(&conv.into(), &sender.into(), &cmid.into()),
        sender: sender.into(),
        sender_device: "d".into(),
        client_msg_id: cmid.into(),
        body: format!("{sender} says {cmid}"),
        attachments: vec![],
        ts,
        reply_to: None,
    }
    .into()
}

fn commands() -> Vec<Record> {
    vec![
        CreateConversation {
            conv: "g".into(),
            kind: "group".into(),
            title: Some("t".into()),
            creator: "alice".into(),
            members: vec!["bob".into()],
            ts: 1,
            refusing: vec![],
        }
        .into(),
        send("g", "alice", "a1", 2),
        send("g", "bob", "b1", 3),
        send("g", "alice", "a1", 4), // a retry: no second message
        send("g", "carol", "c0", 5), // not a member yet: refused
        ChangeMembers {
            conv: "g".into(),
            actor: "alice".into(),
            add: vec!["carol".into()],
            remove: vec![],
            ts: 6,
            refusing: vec![],
        }
        .into(),
        send("g", "carol", "c1", 7),
        DeleteMessage {
            conv: "g".into(),
            seq: 2,
            actor: "alice".into(), // not the sender of seq 2: refused
            ts: 8,
        }
        .into(),
        DeleteMessage {
            conv: "g".into(),
            seq: 1,
            actor: "alice".into(),
            ts: 9,
        }
        .into(),
        ChangeMembers {
            conv: "g".into(),
            actor: "bob".into(),
            add: vec![],
            remove: vec!["bob".into()],
            ts: 10,
            refusing: vec![],
        }
        .into(),
        send("g", "bob", "b2", 11), // left: refused
        send("g", "alice", "a2", 12),
        SubmitReceipt {
            conv: "g".into(),
            user: "carol".into(),
            device: "d".into(),
            kind: "read".into(),
            seq: 3,
            ts: 13,
        }
        .into(),
        edit("carol", 3, "carol, edited", 14),
        edit("bob", 3, "not bob's", 15), // not the sender: refused
        edit("carol", 3, "carol, edited twice", 16),
        edit("alice", 1, "too late", 17), // deleted: refused
        react("alice", 3, "+1", true, 18),
        react("bob", 3, "+1", true, 19), // left: refused
        react("carol", 3, "+1", true, 20),
        react("alice", 3, "+1", false, 21),
    ]
}

fn react(user: &str, seq: i64, emoji: &str, on: bool, ts: i64) -> Record {
    React {
        conv: "g".into(),
        seq,
        user: user.into(),
        emoji: emoji.into(),
        on,
        ts,
    }
    .into()
}

fn edit(actor: &str, seq: i64, body: &str, ts: i64) -> Record {
    EditMessage {
        conv: "g".into(),
        seq,
        actor: actor.into(),
        body: body.into(),
        ts,
    }
    .into()
}

struct Rig {
    _dir: tempfile::TempDir,
    log: EmbeddedLog,
    stores: Stores,
    codec: Arc<Codec>,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), LogOptions::default()).unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Always).unwrap();
    Rig {
        _dir: dir,
        log,
        stores: Stores::from_engine(Arc::new(store)),
        codec: Arc::new(Codec::new()),
    }
}

async fn append_all(rig: &Rig, records: &[Record]) {
    let out = records
        .iter()
        .map(|r| OutRecord {
            topic: COMMANDS.into(),
            key: r.key().into(),
            payload: rig.codec.encode(r).unwrap(),
            headers: vec![],
            timestamp: 0,
        })
        .collect();
    rig.log.append(out).await.unwrap();
}

async fn read_all(log: &EmbeddedLog, group: &str) -> Vec<chat_ports::LogRecord> {
    let mut c = log.consumer(group, &[COMMANDS]).await.unwrap();
    c.poll(1000, Duration::from_millis(100)).await.unwrap()
}

/// Sequences every command of the log in one batch; returns the events
/// the sequencer published.
async fn sequence_all(rig: &Rig) -> Vec<chat_ports::LogRecord> {
    let batch = read_all(&rig.log, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    Sequencer::new(
        rig.stores.clone(),
        log,
        rig.codec.clone(),
        Limits::default(),
    )
    .handle(&batch)
    .await
    .unwrap();
    let mut events = rig
        .log
        .consumer("e", &[chat_events::topics::EVENTS])
        .await
        .unwrap();
    events.poll(100, Duration::from_millis(100)).await.unwrap()
}

/// Everything the sequencer derived, for comparison.
async fn snapshot(stores: &Stores) -> (ConversationState, Vec<chat_domain::Message>) {
    let state = stores
        .conversations
        .conversation("g")
        .await
        .unwrap()
        .unwrap();
    let messages = stores.messages.messages_after("g", 0, 100).await.unwrap();
    (state, messages)
}

#[tokio::test]
async fn the_sequencer_decides_by_log_order_and_repeats_itself_exactly() {
    let rig = rig().await;
    append_all(&rig, &commands()).await;
    let batch = read_all(&rig.log, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let seq = Sequencer::new(
        rig.stores.clone(),
        log.clone(),
        rig.codec.clone(),
        Limits::default(),
    );
    seq.handle(&batch).await.unwrap();
    let first = snapshot(&rig.stores).await;

    let (state, messages) = &first;
    let got: Vec<(u64, &str, bool)> = messages
        .iter()
        .map(|m| (m.seq, m.client_msg_id.as_str(), m.deleted))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "a1", true),
            (2, "b1", false),
            (3, "c1", false),
            (4, "a2", false)
        ]
    );
    assert_eq!(state.last_seq, 4);
    let members: Vec<(&str, u64)> = state
        .members
        .iter()
        .map(|m| (m.user.as_str(), m.joined_after))
        .collect();
    assert_eq!(members, vec![("alice", 0), ("carol", 2)]);
    assert!(messages[0].body.is_empty());
    let edited = &messages[2];
    assert_eq!(
        (edited.body.as_str(), edited.edit_version, edited.edited_ts),
        ("carol, edited twice", 2, Some(16)),
        "edits apply in the log's order; refused ones change nothing"
    );
    assert_eq!(state.changes.count, 3, "a delete and two edits");
    let reacted: Vec<(&str, Vec<&str>)> = edited
        .reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.users.iter().map(|u| u.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        reacted,
        [("+1", vec!["carol"])],
        "reactions in the log's order"
    );

    // Handled again, as after a crash before the offsets were committed.
    seq.handle(&batch).await.unwrap();
    assert_eq!(snapshot(&rig.stores).await, first);
    // Handled in two halves: the same again.
    seq.handle(&batch[..5]).await.unwrap();
    seq.handle(&batch[5..]).await.unwrap();
    assert_eq!(snapshot(&rig.stores).await, first);

    // Replayed into an empty store, from the same log: identical.
    let fresh = rig_with_log(&rig).await;
    let replayer = Sequencer::new(
        fresh.clone(),
        log.clone(),
        rig.codec.clone(),
        Limits::default(),
    );
    for chunk in batch.chunks(3) {
        replayer.handle(chunk).await.unwrap();
    }
    assert_eq!(snapshot(&fresh).await, first);
}

async fn rig_with_log(rig: &Rig) -> Stores {
    let path = rig._dir.path().join("replayed.redb");
    Stores::from_engine(Arc::new(
        EmbeddedStore::open(&path, FsyncPolicy::Always).unwrap(),
    ))
}

#[tokio::test]
async fn receipts_are_max_merged_and_replays_change_nothing() {
    let rig = rig().await;
    let r = |kind: &str, seq: i64| -> Record {
        SubmitReceipt {
            conv: "g".into(),
            user: "bob".into(),
            device: "phone".into(),
            kind: kind.into(),
            seq,
            ts: 0,
        }
        .into()
    };
    append_all(
        &rig,
        &[
            r("delivered", 3),
            r("read", 2),
            r("delivered", 1),
            r("read", 1),
        ],
    )
    .await;
    let batch = read_all(&rig.log, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let receipts = Receipts::new(rig.stores.clone(), log, rig.codec.clone());
    receipts.handle(&batch).await.unwrap();
    receipts.handle(&batch).await.unwrap();
    let rows = rig.stores.receipts.member_receipts("g").await.unwrap();
    assert_eq!((rows[0].delivered_seq, rows[0].read_seq), (3, 2));
    let device = rig
        .stores
        .receipts
        .device_delivered("bob", "phone")
        .await
        .unwrap();
    assert_eq!(device["g"], 3);
    // Two advances were published once; the replay published nothing new.
    let mut events = rig
        .log
        .consumer("e", &[chat_events::topics::EVENTS])
        .await
        .unwrap();
    let published = events.poll(100, Duration::from_millis(100)).await.unwrap();
    assert_eq!(published.len(), 2);
}

#[tokio::test]
async fn a_member_added_and_removed_in_one_batch_is_out_of_the_index() {
    let rig = rig().await;
    let change = |add: &[&str], remove: &[&str], ts| -> Record {
        ChangeMembers {
            conv: "g".into(),
            actor: "alice".into(),
            add: add.iter().map(|s| (*s).into()).collect(),
            remove: remove.iter().map(|s| (*s).into()).collect(),
            ts,
            refusing: vec![],
        }
        .into()
    };
    let create: Record = CreateConversation {
        conv: "g".into(),
        kind: "group".into(),
        title: None,
        creator: "alice".into(),
        members: vec![],
        ts: 1,
        refusing: vec![],
    }
    .into();
    append_all(
        &rig,
        &[create, change(&["bob"], &[], 2), change(&[], &["bob"], 3)],
    )
    .await;
    let batch = read_all(&rig.log, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    Sequencer::new(
        rig.stores.clone(),
        log,
        rig.codec.clone(),
        Limits::default(),
    )
    .handle(&batch)
    .await
    .unwrap();
    assert!(rig
        .stores
        .conversations
        .conversations_of("bob")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        rig.stores
            .conversations
            .conversations_of("alice")
            .await
            .unwrap(),
        vec!["g"]
    );
}

#[tokio::test]
async fn trace_context_travels_from_a_command_to_its_events() {
    let rig = rig().await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let records: Vec<Record> = vec![
        CreateConversation {
            conv: "g".into(),
            kind: "group".into(),
            title: None,
            creator: "alice".into(),
            members: vec![],
            ts: 1,
            refusing: vec![],
        }
        .into(),
        send("g", "alice", "a1", 2),
    ];
    let out = records
        .iter()
        .map(|r| OutRecord {
            topic: COMMANDS.into(),
            key: r.key().into(),
            payload: rig.codec.encode(r).unwrap(),
            headers: vec![(chat_ports::log::TRACEPARENT.into(), tp.as_bytes().to_vec())],
            timestamp: 0,
        })
        .collect();
    rig.log.append(out).await.unwrap();
    let published = sequence_all(&rig).await;
    assert_eq!(published.len(), 2, "membership and message");
    for e in &published {
        assert_eq!(e.traceparent().as_deref(), Some(tp));
    }
}

/// A send the gateway acknowledged but the sequencer refused (its sender
/// left just before it) reaches the device that sent it as a
/// `SendRejected`, through fan-out, on the sender's user channel.
#[tokio::test]
async fn a_refused_send_is_reported_to_the_device_that_sent_it() {
    use chat_ports::channels::user_channel;
    use chat_ports::{Channels, RealtimeEvent};
    let rig = rig().await;
    append_all(&rig, &commands()).await;
    let published = sequence_all(&rig).await;

    let channels = Arc::new(chat_embedded::InProcessChannels::new());
    let mut bob = channels.subscribe(&user_channel("bob")).await.unwrap();
    let fanout = chat_processors::fanout::Fanout::new(
        rig.stores.clone(),
        channels.clone(),
        rig.codec.clone(),
        64,
    );
    fanout.handle(&published).await.unwrap();
    let mut refused = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(50), bob.recv()).await {
        if let RealtimeEvent::SendRejected {
            conv,
            device,
            client_msg_id,
            code,
            ..
        } = &*e
        {
            refused.push((
                conv.to_string(),
                device.to_string(),
                client_msg_id.to_string(),
                *code,
            ));
        }
    }
    assert_eq!(
        refused,
        vec![(
            "g".to_string(),
            "d".to_string(),
            "b2".to_string(),
            chat_domain::ErrorCode::NotMember
        )],
        "bob's send after he left is reported to his device"
    );
}

/// A command record that does not decode (garbage, or an event on the
/// commands topic) is not skipped in silence: the sequencer refuses it and
/// the runner sets it aside on the dead-letter topic; the commands around
/// it are sequenced.
#[tokio::test]
async fn an_undecodable_command_is_set_aside_and_the_rest_is_sequenced() {
    let rig = rig().await;
    append_all(&rig, &commands()[..3]).await;
    rig.log
        .append(vec![OutRecord {
            topic: COMMANDS.into(),
            key: "g".into(),
            payload: b"not avro".to_vec(),
            headers: vec![],
            timestamp: 0,
        }])
        .await
        .unwrap();
    append_all(&rig, &[send("g", "bob", "after", 20)]).await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let sequencer = Arc::new(Sequencer::new(
        rig.stores.clone(),
        log.clone(),
        rig.codec.clone(),
        Limits::default(),
    ));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let metrics = chat_telemetry::Metrics::new();
    let running = tokio::spawn(chat_processors::run(
        sequencer,
        log,
        shutdown.clone(),
        metrics.clone(),
    ));
    let mut dead = rig
        .log
        .consumer("ops", &[chat_events::topics::DEADLETTER])
        .await
        .unwrap();
    let mut set_aside = Vec::new();
    for _ in 0..100 {
        set_aside.extend(dead.poll(10, Duration::from_millis(100)).await.unwrap());
        if !set_aside.is_empty() {
            break;
        }
    }
    assert_eq!(set_aside.len(), 1, "the garbage is set aside");
    let mut history = Vec::new();
    for _ in 0..100 {
        history = rig
            .stores
            .messages
            .messages_after("g", 0, 10)
            .await
            .unwrap();
        if history.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let keys: Vec<&str> = history.iter().map(|m| m.client_msg_id.as_str()).collect();
    assert_eq!(keys, ["a1", "b1", "after"]);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

/// A store that refuses for good any batch carrying a message whose body is
/// "poison", as PostgreSQL refuses a value it cannot hold.
struct RefusesPoison(Arc<dyn chat_ports::SequencerStore>);

#[async_trait::async_trait]
impl chat_ports::SequencerStore for RefusesPoison {
    async fn apply(&self, batch: chat_ports::SequencedBatch) -> chat_ports::Result<()> {
        if batch.messages.iter().any(|m| m.body == "poison") {
            return Err(chat_ports::PortError::refused("store", "cannot hold it"));
        }
        self.0.apply(batch).await
    }
    async fn cursors(&self) -> chat_ports::Result<Vec<chat_ports::LogCursor>> {
        self.0.cursors().await
    }
}

/// An acknowledged send the store refuses for good is set aside on the
/// dead-letter topic, and not in silence for its sender either: its device
/// is told, as for a send the rules refuse; the sends after it go on.
#[tokio::test]
async fn a_send_set_aside_is_reported_to_its_device() {
    let mut rig = rig().await;
    rig.stores.sequencer = Arc::new(RefusesPoison(rig.stores.sequencer.clone()));
    let poison = SendMessage {
        conv: "g".into(),
        msg_id: chat_domain::ids::message_id(&"g".into(), &"alice".into(), &"p".into()),
        sender: "alice".into(),
        sender_device: "d".into(),
        client_msg_id: "p".into(),
        body: "poison".into(),
        attachments: vec![],
        ts: 3,
        reply_to: None,
    };
    let mut records = commands()[..2].to_vec();
    records.push(poison.into());
    records.push(send("g", "alice", "after", 4));
    append_all(&rig, &records).await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let sequencer = Arc::new(Sequencer::new(
        rig.stores.clone(),
        log.clone(),
        rig.codec.clone(),
        Limits::default(),
    ));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(chat_processors::run(
        sequencer,
        log,
        shutdown.clone(),
        chat_telemetry::Metrics::new(),
    ));
    let mut events = rig
        .log
        .consumer("e", &[chat_events::topics::EVENTS])
        .await
        .unwrap();
    let mut refused = None;
    for _ in 0..100 {
        for r in events.poll(10, Duration::from_millis(100)).await.unwrap() {
            if let Ok(chat_domain::Event::SendRejected(e)) = rig.codec.decode_event(&r.payload) {
                refused = Some(e);
            }
        }
        if refused.is_some() {
            break;
        }
    }
    let refused = refused.expect("the device is told");
    assert_eq!(
        (
            refused.client_msg_id.as_str(),
            refused.sender_device.as_str()
        ),
        ("p", "d")
    );
    let mut history = Vec::new();
    for _ in 0..100 {
        history = rig
            .stores
            .messages
            .messages_after("g", 0, 10)
            .await
            .unwrap();
        if history.iter().any(|m| m.client_msg_id == "after") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(history.iter().all(|m| m.client_msg_id != "p"));
    assert!(history.iter().any(|m| m.client_msg_id == "after"));
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

/// A log that takes no appends: a receipts processor killed between its
/// store write and its publish.
struct DeadLog(EmbeddedLog);

#[async_trait::async_trait]
impl EventLog for DeadLog {
    async fn append(&self, _: Vec<OutRecord>) -> chat_ports::Result<Vec<chat_ports::Position>> {
        Err(chat_ports::PortError::unavailable("log", "killed"))
    }
    async fn consumer(
        &self,
        group: &str,
        topics: &[&str],
    ) -> chat_ports::Result<Box<dyn chat_ports::LogConsumer>> {
        EventLog::consumer(&self.0, group, topics).await
    }
    async fn expire(&self, cutoff_ms: i64) -> chat_ports::Result<u64> {
        EventLog::expire(&self.0, cutoff_ms).await
    }
    async fn health(&self) -> chat_ports::Result<()> {
        EventLog::health(&self.0).await
    }
    async fn end_offsets(&self, topic: &str) -> chat_ports::Result<Vec<u64>> {
        EventLog::end_offsets(&self.0, topic).await
    }
    async fn read_at(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> chat_ports::Result<Option<chat_ports::LogRecord>> {
        EventLog::read_at(&self.0, topic, partition, offset).await
    }
}

/// kill -9 of the receipts processor after its store write and before its
/// events reach the log: the next processor, handling the same uncommitted
/// records, finds the watermarks already moved and still publishes them
/// (at their stored values, so no watermark goes back), so the receipt
/// frame is not lost. A record it published itself is not published again.
#[tokio::test]
async fn a_receipt_stored_but_not_published_before_a_crash_is_published_after() {
    let rig = rig().await;
    let r = |user: &str, kind: &str, seq: i64| -> Record {
        SubmitReceipt {
            conv: "g".into(),
            user: user.into(),
            device: "phone".into(),
            kind: kind.into(),
            seq,
            ts: 0,
        }
        .into()
    };
    // bob's delivered 2 is overtaken by his read 3 in the same batch: only
    // the watermarks as stored are announced again.
    append_all(
        &rig,
        &[
            r("bob", "delivered", 2),
            r("bob", "read", 3),
            r("carol", "read", 1),
        ],
    )
    .await;
    let batch = read_all(&rig.log, "t").await;
    let dying = Receipts::new(
        rig.stores.clone(),
        Arc::new(DeadLog(rig.log.clone())),
        rig.codec.clone(),
    );
    assert!(dying.handle(&batch).await.is_err());
    drop(dying);

    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let next = Receipts::new(rig.stores.clone(), log, rig.codec.clone());
    next.handle(&batch).await.unwrap();
    // Handled again by the same processor (a retry): nothing new.
    next.handle(&batch).await.unwrap();
    let mut events = rig
        .log
        .consumer("e", &[chat_events::topics::EVENTS])
        .await
        .unwrap();
    let published: Vec<(String, String, i64)> = events
        .poll(100, Duration::from_millis(100))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let event = rig.codec.decode_event(&r.payload).unwrap();
            let chat_domain::Event::ReceiptAdvanced(e) = event else {
                panic!("unexpected {event:?}")
            };
            (e.user.to_string(), e.kind, e.seq)
        })
        .collect();
    assert_eq!(
        published,
        [
            ("bob".to_string(), "read".to_string(), 3),
            ("carol".to_string(), "read".to_string(), 1)
        ]
    );
}

/// A log of its own in the rig's folder, with `partitions` per topic.
fn another_log(rig: &Rig, name: &str, partitions: u32) -> EmbeddedLog {
    let options = LogOptions {
        partitions,
        ..LogOptions::default()
    };
    EmbeddedLog::open(&rig._dir.path().join(name), options).unwrap()
}

async fn append_to(log: &EmbeddedLog, codec: &Codec, records: &[Record]) {
    let out = records
        .iter()
        .map(|r| OutRecord {
            topic: COMMANDS.into(),
            key: r.key().into(),
            payload: codec.encode(r).unwrap(),
            headers: vec![],
            timestamp: 0,
        })
        .collect();
    log.append(out).await.unwrap();
}

fn keys(messages: &[chat_domain::Message]) -> Vec<(u64, &str)> {
    messages
        .iter()
        .map(|m| (m.seq, m.client_msg_id.as_str()))
        .collect()
}

/// DESIGN invariant 9: the log restored from an older copy (or recreated,
/// offsets from 0 again) holds new commands at offsets the store has
/// already applied from the old one. They are sequenced, not taken for
/// replays and dropped; the old commands the copy holds too are not
/// applied twice.
#[tokio::test]
async fn commands_of_a_restored_log_are_sequenced_not_taken_for_replays() {
    let rig = rig().await;
    let all = commands();
    append_all(&rig, &all).await;
    sequence_all(&rig).await;
    let before = snapshot(&rig.stores).await;

    // The copy from a backup: the first four commands, then new sends.
    let restored = another_log(&rig, "restored.redb", 8);
    append_to(&restored, &rig.codec, &all[..4]).await;
    append_to(
        &restored,
        &rig.codec,
        &[
            send("g", "alice", "new1", 20),
            send("g", "alice", "new2", 21),
        ],
    )
    .await;
    let batch = read_all(&restored, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(restored.clone());
    let sequencer = Sequencer::new(
        rig.stores.clone(),
        log,
        rig.codec.clone(),
        Limits::default(),
    );
    sequencer.handle(&batch).await.unwrap();
    // Redelivered from the new log: replays now.
    sequencer.handle(&batch).await.unwrap();

    let (state, messages) = snapshot(&rig.stores).await;
    assert_eq!(
        keys(&messages),
        [
            (1, "a1"),
            (2, "b1"),
            (3, "c1"),
            (4, "a2"),
            (5, "new1"),
            (6, "new2")
        ]
    );
    assert_eq!(
        messages[..4],
        before.1[..],
        "the old messages are as they were"
    );
    assert_eq!(state.members, before.0.members);
    assert!(state.applied_offset > before.0.applied_offset);
}

/// A commands topic whose partition count changed would read a
/// conversation's commands in two orders: the sequencer refuses it (a
/// retried error naming the reason), and applies nothing.
#[tokio::test]
async fn a_changed_partition_count_is_refused() {
    let rig = rig().await;
    append_all(&rig, &commands()[..2]).await;
    sequence_all(&rig).await;
    let before = snapshot(&rig.stores).await;

    let wider = another_log(&rig, "wider.redb", 16);
    append_to(&wider, &rig.codec, &[send("g", "alice", "moved", 30)]).await;
    let batch = read_all(&wider, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(wider.clone());
    let sequencer = Sequencer::new(
        rig.stores.clone(),
        log,
        rig.codec.clone(),
        Limits::default(),
    );
    let e = sequencer.handle(&batch).await.unwrap_err();
    assert!(e.to_string().contains("16 partitions"), "{e}");
    assert!(!e.is_permanent(), "retried, never set aside");
    assert_eq!(snapshot(&rig.stores).await, before);
}

/// Fan-out reading its events again (a rebalance, a restart before its
/// commit) repeats a `ReceiptAdvanced` the store has since gone past: it is
/// not published, so no device, on any connection, is told a watermark
/// went back. One at the stored value is.
#[tokio::test]
async fn fan_out_drops_a_receipt_the_store_has_gone_past() {
    use chat_ports::Channels;
    let rig = rig().await;
    append_all(&rig, &commands()[..3]).await;
    sequence_all(&rig).await;
    let update = |seq| chat_ports::ReceiptUpdate {
        conv: "g".into(),
        user: "bob".into(),
        device: "phone".into(),
        kind: chat_domain::ReceiptKind::Read,
        seq,
    };
    rig.stores
        .receipts
        .advance(&[update(2), update(3)])
        .await
        .unwrap();
    let event = |seq| -> chat_ports::OutRecord {
        let e: chat_domain::Event = ReceiptAdvanced {
            conv: "g".into(),
            user: "bob".into(),
            device: "phone".into(),
            kind: "read".into(),
            seq,
            ts: 0,
        }
        .into();
        OutRecord {
            topic: chat_events::topics::EVENTS.into(),
            key: "g".into(),
            payload: rig.codec.encode_event(&e).unwrap(),
            headers: vec![],
            timestamp: 0,
        }
    };
    rig.log.append(vec![event(2), event(3)]).await.unwrap();
    let mut events = rig
        .log
        .consumer("f", &[chat_events::topics::EVENTS])
        .await
        .unwrap();
    let batch: Vec<_> = events
        .poll(100, Duration::from_millis(100))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.payload == event(2).payload || r.payload == event(3).payload)
        .collect();
    assert_eq!(batch.len(), 2);

    let channels = Arc::new(chat_embedded::InProcessChannels::new());
    let mut alice = channels
        .subscribe(&chat_ports::channels::user_channel("alice"))
        .await
        .unwrap();
    let fanout = chat_processors::fanout::Fanout::new(
        rig.stores.clone(),
        channels.clone(),
        rig.codec.clone(),
        32,
    );
    fanout.handle(&batch).await.unwrap();
    let mut seen = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(200), alice.recv()).await {
        if let chat_ports::RealtimeEvent::Receipt { seq, .. } = &*e {
            seen.push(*seq);
        }
    }
    assert_eq!(seen, [3]);
}

/// A sequencer store that counts how often the cursors are read.
struct CountsCursorReads {
    inner: Arc<dyn chat_ports::SequencerStore>,
    reads: std::sync::atomic::AtomicUsize,
}

impl CountsCursorReads {
    fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl chat_ports::SequencerStore for CountsCursorReads {
    async fn apply(&self, batch: chat_ports::SequencedBatch) -> chat_ports::Result<()> {
        self.inner.apply(batch).await
    }
    async fn cursors(&self) -> chat_ports::Result<Vec<chat_ports::LogCursor>> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.cursors().await
    }
}

/// A sequencer that goes on reading its partitions in order takes its
/// positions from the cursors it wrote, without reading them back; a batch
/// that does not continue its last one (a redelivery) reads them again.
#[tokio::test]
async fn a_sequencer_reading_on_in_order_does_not_read_its_cursors_back() {
    let mut rig = rig().await;
    let counted = Arc::new(CountsCursorReads {
        inner: rig.stores.sequencer.clone(),
        reads: Default::default(),
    });
    rig.stores.sequencer = counted.clone();
    append_all(&rig, &commands()).await;
    let all = read_all(&rig.log, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let sequencer = Sequencer::new(
        rig.stores.clone(),
        log,
        rig.codec.clone(),
        Limits::default(),
    );
    let (first, rest) = all.split_at(4);
    sequencer.handle(first).await.unwrap();
    sequencer.handle(rest).await.unwrap();
    assert_eq!(counted.reads(), 1, "the second batch continues the first");
    sequencer.handle(rest).await.unwrap();
    assert_eq!(counted.reads(), 2, "a redelivery reads the cursors");
    sequencer.reassigned();
    append_all(&rig, &[send("g", "alice", "a3", 30)]).await;
    let next = read_all(&rig.log, "t2").await;
    sequencer.handle(&next[all.len()..]).await.unwrap();
    assert_eq!(counted.reads(), 3, "partitions reassigned: read again");
}

/// The cursors a sequencer remembers are forgotten when its partitions are
/// reassigned: meanwhile another instance may have taken the log for a new
/// incarnation and moved the positions up. A batch that happens to start
/// right after this one's last record then still takes the stored base,
/// and its send is sequenced, not taken for a replay and dropped.
#[tokio::test]
async fn a_sequencer_whose_partitions_were_reassigned_takes_the_stored_positions() {
    let rig = rig().await;
    let all = commands();
    append_all(&rig, &all).await;
    let old: Arc<dyn EventLog> = Arc::new(rig.log.clone());
    let a = Sequencer::new(
        rig.stores.clone(),
        old,
        rig.codec.clone(),
        Limits::default(),
    );
    a.handle(&read_all(&rig.log, "t").await).await.unwrap();

    // Meanwhile, another instance sequences a restored log as long as the
    // old one: a new incarnation, its positions above the old ones.
    let restored = another_log(&rig, "restored.redb", 8);
    append_to(&restored, &rig.codec, &all[..4]).await;
    let new: Vec<Record> = (4..all.len())
        .map(|i| send("g", "alice", &format!("new{i}"), 20 + i as i64))
        .collect();
    append_to(&restored, &rig.codec, &new).await;
    let restored_log: Arc<dyn EventLog> = Arc::new(restored.clone());
    let b = Sequencer::new(
        rig.stores.clone(),
        restored_log,
        rig.codec.clone(),
        Limits::default(),
    );
    b.handle(&read_all(&restored, "t").await).await.unwrap();

    // The partition comes back to the first instance, at the next offset.
    a.reassigned();
    append_to(&restored, &rig.codec, &[send("g", "alice", "late", 40)]).await;
    let late = read_all(&restored, "t2").await;
    a.handle(&late[all.len()..]).await.unwrap();
    let (_, messages) = snapshot(&rig.stores).await;
    assert!(
        messages.iter().any(|m| m.client_msg_id.as_str() == "late"),
        "the send after the reassignment is sequenced: {:?}",
        keys(&messages)
    );
}

/// A log whose first append waits, as a broker slow to fsync.
struct SlowFirstAppend {
    inner: EmbeddedLog,
    first: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl EventLog for SlowFirstAppend {
    async fn append(&self, r: Vec<OutRecord>) -> chat_ports::Result<Vec<chat_ports::Position>> {
        if self.first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        EventLog::append(&self.inner, r).await
    }
    async fn consumer(
        &self,
        group: &str,
        topics: &[&str],
    ) -> chat_ports::Result<Box<dyn chat_ports::LogConsumer>> {
        EventLog::consumer(&self.inner, group, topics).await
    }
    async fn expire(&self, cutoff_ms: i64) -> chat_ports::Result<u64> {
        EventLog::expire(&self.inner, cutoff_ms).await
    }
    async fn health(&self) -> chat_ports::Result<()> {
        EventLog::health(&self.inner).await
    }
    async fn end_offsets(&self, topic: &str) -> chat_ports::Result<Vec<u64>> {
        EventLog::end_offsets(&self.inner, topic).await
    }
    async fn read_at(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> chat_ports::Result<Option<chat_ports::LogRecord>> {
        EventLog::read_at(&self.inner, topic, partition, offset).await
    }
}

/// The sequencer writes a batch to the store while the events of the
/// batch before are still being appended, but appends its own only after
/// them: a conversation's events stay in seq order in the log even when
/// the first append is slow.
#[tokio::test]
async fn a_batch_s_events_follow_those_of_the_batch_before_when_its_append_is_slow() {
    let rig = rig().await;
    let mut records = commands()[..2].to_vec();
    records.extend((0..6).map(|i| send("g", "alice", &format!("s{i}"), 20 + i)));
    append_all(&rig, &records).await;
    let all = read_all(&rig.log, "t").await;
    let log: Arc<dyn EventLog> = Arc::new(SlowFirstAppend {
        inner: rig.log.clone(),
        first: true.into(),
    });
    let sequencer = Sequencer::new(
        rig.stores.clone(),
        log,
        rig.codec.clone(),
        Limits::default(),
    );
    let (first, rest) = all.split_at(4);
    sequencer.start(first).await.unwrap();
    sequencer.start(rest).await.unwrap();
    sequencer.settle().await.unwrap();
    let mut events = rig
        .log
        .consumer("e", &[chat_events::topics::EVENTS])
        .await
        .unwrap();
    let seqs: Vec<i64> = events
        .poll(100, Duration::from_millis(100))
        .await
        .unwrap()
        .iter()
        .filter_map(|r| match rig.codec.decode_event(&r.payload) {
            Ok(chat_domain::Event::MessageSequenced(e)) => Some(e.seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<i64>>());
}
