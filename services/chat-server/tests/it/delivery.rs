use crate::harness::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn every_device_gets_every_message_in_order_the_sender_included() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let mut a_phone = s.connect("alice", "phone").await;
    let mut a_laptop = s.connect("alice", "laptop").await;
    let mut b_phone = s.connect("bob", "phone").await;
    for ws in [&mut a_phone, &mut a_laptop, &mut b_phone] {
        assert!(ws.handshake().await.is_empty());
    }
    let mut acks = Vec::new();
    for i in 0..5 {
        let ack = a_phone
            .send_message(&conv, &format!("c{i}"), &format!("hi {i}"))
            .await;
        assert_eq!(ack["type"], "sent", "{ack}");
        assert!(ack["msg_id"].as_str().is_some() && ack["ts"].as_i64().is_some());
        acks.push(ack);
    }
    for ws in [&mut a_phone, &mut a_laptop, &mut b_phone] {
        let got = ws.messages(&conv, 5).await;
        assert_eq!(seqs(&got), vec![1, 2, 3, 4, 5]);
        for (m, ack) in got.iter().zip(&acks) {
            assert_eq!(m["msg_id"], ack["msg_id"]);
            assert_eq!(m["sender"], "alice");
            assert_eq!(m["sender_device"], "phone");
        }
    }
}

#[tokio::test]
async fn sends_are_idempotent_across_transports_and_retries() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    let first = ws.send_message(&conv, "same", "once").await;
    let second = ws.send_message(&conv, "same", "once").await;
    assert_eq!(first["msg_id"], second["msg_id"]);
    let http = alice.send(&conv, "same", "once").await;
    assert_eq!(http["msg_id"], first["msg_id"]);
    // Wait until the first is stored, then retry again: still the first id.
    eventually(|| async { (alice.history(&conv, "").await.len() == 1).then_some(()) }).await;
    let later = alice.send(&conv, "same", "once").await;
    assert_eq!(later["msg_id"], first["msg_id"]);
    assert_eq!(later["ts"], alice.history(&conv, "").await[0]["ts"]);
    let other = ws.send_message(&conv, "different", "twice").await;
    assert_ne!(other["msg_id"], first["msg_id"]);
    let h = eventually(|| async {
        let h = alice.history(&conv, "").await;
        (h.len() == 2).then_some(h)
    })
    .await;
    assert_eq!(seqs(&h), vec![1, 2]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        alice.history(&conv, "").await.len(),
        2,
        "no third message appeared"
    );
}

#[tokio::test]
async fn backlog_on_connect_respects_the_delivered_watermark() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    for i in 1..=3 {
        alice.send(&conv, &format!("c{i}"), &format!("m{i}")).await;
    }
    eventually(|| async { (bob.history(&conv, "").await.len() == 3).then_some(()) }).await;
    let mut ws = s.connect("bob", "phone").await;
    assert_eq!(seqs(&ws.handshake().await), vec![1, 2, 3]);
    ws.send(json!({"type": "delivered", "conv": conv, "seq": 2}))
        .await;
    eventually(|| async {
        let bob_row = bob.receipt_row(&conv, "bob").await?;
        (bob_row["delivered_seq"] == 2).then_some(())
    })
    .await;
    drop(ws);
    let mut ws = s.connect("bob", "phone").await;
    assert_eq!(
        seqs(&ws.handshake().await),
        vec![3],
        "≤ 2 is not sent again"
    );
    // Another device of bob has its own watermark.
    let mut tablet = s.connect("bob", "tablet").await;
    assert_eq!(seqs(&tablet.handshake().await), vec![1, 2, 3]);
}

#[tokio::test]
async fn sync_replays_above_the_given_seqs() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    for i in 1..=4 {
        alice.send(&conv, &format!("c{i}"), "x").await;
    }
    eventually(|| async { (alice.history(&conv, "").await.len() == 4).then_some(()) }).await;
    let mut ws = s.connect("bob", "phone").await;
    ws.handshake().await;
    ws.send(json!({"type": "sync", "after": {conv.clone(): 2}}))
        .await;
    let frames = ws.until(|f| f["type"] == "synced").await;
    let msgs: Vec<_> = frames
        .into_iter()
        .filter(|f| f["type"] == "message")
        .collect();
    assert_eq!(seqs(&msgs), vec![3, 4]);
    // A conversation that cannot be synced gets an error, the others are
    // synced, and `synced` always comes; a seq past the end (up to the
    // largest a client may send, i64::MAX) is harmless.
    ws.send(json!({"type": "sync", "after": {"g-nope": 0, conv.clone(): 3, "x": i64::MAX}}))
        .await;
    let frames = ws.until(|f| f["type"] == "synced").await;
    let errors: Vec<_> = frames.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(errors.len(), 2, "{frames:?}");
    assert!(errors
        .iter()
        .any(|e| e["code"] == "unknown_conversation" && e["ref"] == "g-nope"));
    let msgs: Vec<_> = frames
        .into_iter()
        .filter(|f| f["type"] == "message")
        .collect();
    assert_eq!(seqs(&msgs), vec![4]);
    ws.send(json!({"type": "sync", "after": {conv.clone(): i64::MAX}}))
        .await;
    ws.until(|f| f["type"] == "synced").await;
    // Live delivery on this conversation still works after that.
    let alice = s.user("alice", "phone").await;
    alice.send(&conv, "c5", "x").await;
    assert_eq!(ws.messages(&conv, 1).await[0]["seq"], 5);
}

#[tokio::test]
async fn concurrent_senders_in_one_group_see_one_order() {
    let s = Server::start().await;
    let users = ["u0", "u1", "u2", "u3"];
    let owner = s.user("u0", "d").await;
    let conv = owner.group("busy", &users[1..]).await;
    let mut readers = Vec::new();
    for u in users {
        let mut ws = s.connect(u, "reader").await;
        ws.handshake().await;
        readers.push(ws);
    }
    const EACH: usize = 25;
    let mut senders = Vec::new();
    for u in users {
        let mut ws = s.connect(u, "writer").await;
        ws.handshake().await;
        let conv = conv.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..EACH {
                let ack = ws
                    .send_message(&conv, &format!("{u}-{i}"), &format!("{u} {i}"))
                    .await;
                assert_eq!(ack["type"], "sent", "{ack}");
            }
        }));
    }
    for t in senders {
        t.await.unwrap();
    }
    let total = EACH * users.len();
    let mut orders = Vec::new();
    for ws in &mut readers {
        let got = ws.messages(&conv, total).await;
        assert_eq!(seqs(&got), (1..=total as u64).collect::<Vec<_>>());
        let ids: Vec<String> = got
            .iter()
            .map(|m| m["msg_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), total);
        orders.push(ids);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "every device sees one order"
    );
    // Each sender's own messages keep the order it sent them in.
    let history = owner.history(&conv, "limit=500").await;
    for u in users {
        let mine: Vec<String> = history
            .iter()
            .filter(|m| m["sender"] == u)
            .map(|m| m["client_msg_id"].as_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (0..EACH).map(|i| format!("{u}-{i}")).collect();
        assert_eq!(mine, expected);
    }
}

#[tokio::test]
async fn typing_reaches_the_others_only() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut a = s.connect("alice", "phone").await;
    let mut b = s.connect("bob", "phone").await;
    a.handshake().await;
    b.handshake().await;
    a.send(json!({"type": "typing", "conv": conv})).await;
    let t = b.expect("typing").await;
    assert_eq!(
        (t["conv"].as_str(), t["user"].as_str()),
        (Some(conv.as_str()), Some("alice"))
    );
    a.quiet("typing", Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_burst_arrives_complete_and_in_order() {
    let s = Server::start_with(|c| c.gateway.outbound_queue = 4096).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut reader = s.connect("bob", "phone").await;
    reader.handshake().await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let alice = alice.clone();
        let conv = conv.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..250 {
                alice.send(&conv, &format!("{w}-{i}"), "x").await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let got = reader.messages(&conv, 1000).await;
    assert_eq!(seqs(&got), (1..=1000).collect::<Vec<_>>());
}

/// A real-time engine that loses every message event whose seq is even.
struct Lossy(chat_embedded::InProcessChannels);

#[async_trait::async_trait]
impl chat_ports::Channels for Lossy {
    async fn publish(
        &self,
        channel: &str,
        event: chat_ports::RealtimeEvent,
    ) -> chat_ports::Result<()> {
        if let chat_ports::RealtimeEvent::Message { message, .. } = &event {
            if message.seq % 2 == 0 {
                return Ok(());
            }
        }
        self.0.publish(channel, event).await
    }

    async fn subscribe(&self, channel: &str) -> chat_ports::Result<chat_ports::Subscription> {
        self.0.subscribe(channel).await
    }
}

#[tokio::test]
async fn real_time_loss_is_repaired_from_the_store_without_gaps() {
    let s = Server::start_with_channels(
        |_| {},
        std::sync::Arc::new(Lossy(chat_embedded::InProcessChannels::new())),
    )
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    for i in 1..=9 {
        alice.send(&conv, &format!("c{i}"), &format!("m{i}")).await;
    }
    // Seq 9 is odd, so it arrives live; 2, 4, 6, 8 were lost on the way and
    // come from the store, each before the next live one.
    let got = bob.messages(&conv, 9).await;
    assert_eq!(seqs(&got), (1..=9).collect::<Vec<_>>());
    assert_eq!(got[1]["body"], "m2");
    // A loss at the tail is repaired on the next connect.
    alice.send(&conv, "c10", "m10").await;
    eventually(|| async { (alice.history(&conv, "").await.len() == 10).then_some(()) }).await;
    drop(bob);
    let mut bob = s.connect("bob", "phone").await;
    let backlog = bob.handshake().await;
    assert!(seqs(&backlog).contains(&10));
    assert!(seqs(&backlog).windows(2).all(|w| w[1] == w[0] + 1));
}

/// A send the sequencer refused after its `sent` (its sender was removed
/// just before it in the log) is reported to the device that sent it, as
/// an `error` frame with the send's `client_msg_id` as `ref` and its `conv`;
/// the user's other devices never heard of that send and are not told.
#[tokio::test]
async fn a_refused_send_is_reported_to_the_sending_device_only() {
    use chat_ports::Channels;
    let channels = std::sync::Arc::new(chat_embedded::InProcessChannels::new());
    let s = Server::start_with_channels(|_| {}, channels.clone()).await;
    let mut phone = s.connect("bob", "phone").await;
    phone.handshake().await;
    let mut laptop = s.connect("bob", "laptop").await;
    laptop.handshake().await;
    channels
        .publish(
            &chat_ports::channels::user_channel("bob"),
            chat_ports::RealtimeEvent::SendRejected {
                conv: "g-1".into(),
                device: "phone".into(),
                client_msg_id: "k7".into(),
                code: chat_domain::ErrorCode::NotMember,
                reason: "you are not a member of this conversation".into(),
            },
        )
        .await
        .unwrap();
    let e = phone.expect("error").await;
    assert_eq!(e["code"], "not_member");
    assert_eq!(e["ref"], "k7");
    assert_eq!(e["conv"], "g-1");
    laptop.quiet("error", Duration::from_millis(300)).await;
}

/// Receipts are watermarks (PROTOCOL): a device never sees one go back,
/// even when the real-time path repeats an old `ReceiptAdvanced` (fan-out
/// reading its events again after a rebalance, a stopped instance waking
/// up) after a newer one.
#[tokio::test]
async fn a_receipt_frame_never_takes_a_watermark_back() {
    use chat_ports::Channels;
    let channels = std::sync::Arc::new(chat_embedded::InProcessChannels::new());
    let s = Server::start_with_channels(|_| {}, channels.clone()).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut phone = s.connect("alice", "phone").await;
    phone.handshake().await;
    let receipt = |kind, seq| chat_ports::RealtimeEvent::Receipt {
        conv: conv.as_str().into(),
        user: "bob".into(),
        kind,
        seq,
    };
    use chat_domain::ReceiptKind::{Delivered, Read};
    for event in [
        receipt(Read, 5),
        receipt(Read, 3),
        receipt(Delivered, 4),
        receipt(Read, 5),
        receipt(Delivered, 6),
    ] {
        channels
            .publish(&chat_ports::channels::user_channel("alice"), event)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let r = phone.expect("receipt").await;
        seen.push((
            r["kind"].as_str().unwrap().to_string(),
            r["seq"].as_u64().unwrap(),
        ));
    }
    assert_eq!(
        seen,
        [
            ("read".to_string(), 5),
            ("delivered".to_string(), 4),
            ("delivered".to_string(), 6)
        ]
    );
    phone.quiet("receipt", Duration::from_millis(300)).await;
}

/// A real-time engine that loses every delete, edit, membership and
/// receipt event while `deaf` is set (a Redis restart, a subscriber's
/// lapse).
struct Deaf {
    inner: chat_embedded::InProcessChannels,
    deaf: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl chat_ports::Channels for Deaf {
    async fn publish(
        &self,
        channel: &str,
        event: chat_ports::RealtimeEvent,
    ) -> chat_ports::Result<()> {
        use chat_ports::RealtimeEvent as E;
        let lost = matches!(
            event,
            E::Deleted { .. } | E::Edited { .. } | E::Conversation { .. } | E::Receipt { .. }
        );
        if lost && self.deaf.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.publish(channel, event).await
    }

    async fn subscribe(&self, channel: &str) -> chat_ports::Result<chat_ports::Subscription> {
        self.inner.subscribe(channel).await
    }
}

/// A delete, an edit, a membership change and a receipt that the real-time
/// path lost are repaired on a device still connected when its gateway
/// learns that events may have been lost (`Resync`: the Redis subscription
/// came back; a lagging subscription): as `message_deleted`,
/// `message_edited` (the latest body), `conversation` and `receipt` frames
/// read from the store.
#[tokio::test]
async fn deletes_membership_and_receipts_lost_in_real_time_are_repaired() {
    use chat_ports::Channels;
    let channels = std::sync::Arc::new(Deaf {
        inner: chat_embedded::InProcessChannels::new(),
        deaf: false.into(),
    });
    let s = Server::start_with_channels(|_| {}, channels.clone()).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    alice.send(&conv, "m1", "one").await;
    alice.send(&conv, "m2", "two").await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;

    channels
        .deaf
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!(st, 204);
    for body in ["two, edited", "two, edited again"] {
        let (st, _) = alice
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/conversations/{conv}/messages/2"),
                Some(json!({ "body": body })),
            )
            .await;
        assert_eq!(st, 200);
    }
    let (st, _) = alice
        .post(
            &format!("/v1/conversations/{conv}/members"),
            json!({"add": ["carol"]}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = alice
        .post(
            "/v1/receipts",
            json!({"conv": conv, "seq": 2, "type": "read"}),
        )
        .await;
    assert_eq!(st, 204);
    eventually(|| async {
        let r = alice
            .get(&format!("/v1/conversations/{conv}/receipts"))
            .await
            .1;
        let read = r["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["user"] == "alice" && m["read_seq"] == 2));
        read.then_some(())
    })
    .await;
    bob.quiet("message_deleted", Duration::from_millis(200))
        .await;
    bob.quiet("message_edited", Duration::from_millis(10)).await;
    channels
        .deaf
        .store(false, std::sync::atomic::Ordering::SeqCst);

    channels
        .publish(
            &chat_ports::channels::user_channel("bob"),
            chat_ports::RealtimeEvent::Resync,
        )
        .await
        .unwrap();
    // (Bounded: without the repair these frames never come.)
    let repaired = tokio::time::timeout(Duration::from_secs(10), async {
        let deleted = bob.expect("message_deleted").await;
        let edited = bob.expect("message_edited").await;
        let c = bob
            .take(|f| f["type"] == "conversation" && f["conversation"]["id"] == conv.as_str())
            .await
            .unwrap();
        let r = bob
            .take(|f| f["type"] == "receipt" && f["user"] == "alice" && f["kind"] == "read")
            .await
            .unwrap();
        (deleted, edited, c, r)
    })
    .await;
    let (deleted, edited, c, r) = repaired.expect("the lost events are repaired after a resync");
    assert_eq!(
        (&edited["seq"], &edited["body"], &edited["edit_version"]),
        (&json!(2), &json!("two, edited again"), &json!(2)),
        "the latest body"
    );
    bob.quiet("message_edited", Duration::from_millis(200))
        .await;
    assert_eq!(
        (deleted["conv"].as_str(), deleted["seq"].as_u64()),
        (Some(conv.as_str()), Some(1))
    );
    assert_eq!(
        c["conversation"]["members"],
        json!(["alice", "bob", "carol"])
    );
    assert_eq!(r["seq"], 2);
}

/// A session whose subscription lagged repairs from the store without
/// sending again what it already sent on that connection.
#[tokio::test]
async fn a_lagging_subscription_repairs_without_repeats() {
    use chat_ports::Channels;
    let channels = std::sync::Arc::new(chat_embedded::InProcessChannels::new());
    let s = Server::start_with_channels(|_| {}, channels.clone()).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    for i in 1..=5 {
        alice.send(&conv, &format!("m{i}"), "x").await;
    }
    assert_eq!(seqs(&bob.messages(&conv, 5).await), [1, 2, 3, 4, 5]);
    // More events than a subscription holds, faster than it is read.
    let channel = chat_ports::channels::user_channel("bob");
    for _ in 0..20_000 {
        channels
            .publish(
                &channel,
                chat_ports::RealtimeEvent::Typing {
                    conv: conv.as_str().into(),
                    user: "alice".into(),
                },
            )
            .await
            .unwrap();
    }
    alice.send(&conv, "m6", "x").await;
    let got = tokio::time::timeout(Duration::from_secs(10), bob.messages(&conv, 1))
        .await
        .expect("the next message arrives");
    assert_eq!(seqs(&got), [6], "nothing sent again on the same connection");
}

/// A backlog read that meets messages above the conversation's state (a
/// batch committed between the two reads, or one still being written)
/// stops at the state and still records how far this connection got: the
/// next live message is not preceded by the conversation again.
#[tokio::test]
async fn a_backlog_that_meets_rows_above_the_state_sends_nothing_twice() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    for i in 1..=3 {
        alice.send(&conv, &format!("m{i}"), "x").await;
    }
    let stores = s._node.as_ref().unwrap().stores().clone();
    let state = eventually(|| async {
        let state = stores.conversations.conversation(&conv).await.unwrap()?;
        (state.last_seq == 3).then_some(state)
    })
    .await;
    let mut ahead = stores.messages.message(&conv, 3).await.unwrap().unwrap();
    ahead.seq = 4;
    ahead.msg_id = "not-yet".into();
    stores
        .sequencer
        .apply(chat_ports::SequencedBatch {
            conversations: vec![state],
            messages: vec![ahead],
            ..Default::default()
        })
        .await
        .unwrap();

    let mut bob = s.connect("bob", "phone").await;
    let backlog = bob.handshake().await;
    assert_eq!(seqs(&backlog), [1, 2, 3], "nothing above the state");
    alice.send(&conv, "m4", "x").await;
    let got = tokio::time::timeout(Duration::from_secs(10), bob.messages(&conv, 1))
        .await
        .expect("the next message arrives");
    assert_eq!(seqs(&got), [4], "the conversation is not sent again");
    assert_eq!(got[0]["client_msg_id"], "m4");
}
