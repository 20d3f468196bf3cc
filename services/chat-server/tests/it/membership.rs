use crate::harness::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn membership_changes_are_ordered_with_messages() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let carol = s.user("carol", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let mut bob_ws = s.connect("bob", "phone").await;
    bob_ws.handshake().await;
    alice.send(&conv, "c1", "before carol 1").await;
    alice.send(&conv, "c2", "before carol 2").await;
    bob_ws.messages(&conv, 2).await;

    // Carol joins when the last seq is 2: she gets 3 on, and sees no history before.
    let (st, after_add) = alice
        .post(
            &format!("/v1/conversations/{conv}/members"),
            json!({"add": ["carol"]}),
        )
        .await;
    assert_eq!(st, 200, "{after_add}");
    assert_eq!(after_add["members"], json!(["alice", "bob", "carol"]));
    // (The frame announcing the group's creation may come first.)
    bob_ws
        .take(|f| {
            f["type"] == "conversation"
                && f["conversation"]["members"] == json!(["alice", "bob", "carol"])
        })
        .await
        .expect("bob hears that carol joined");
    let mut carol_ws = s.connect("carol", "phone").await;
    assert!(
        carol_ws.handshake().await.is_empty(),
        "nothing from before she joined"
    );
    alice.send(&conv, "c3", "after carol").await;
    let got = carol_ws.messages(&conv, 1).await;
    assert_eq!(seqs(&got), vec![3]);
    assert_eq!(seqs(&carol.history(&conv, "").await), vec![3]);
    assert_eq!(seqs(&carol.history(&conv, "after=0").await), vec![3]);

    // Bob is removed after seq 3: nothing after reaches him, and he can no
    // longer read or send.
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/members/bob"))
        .await;
    assert_eq!(st, 200);
    bob_ws.messages(&conv, 1).await;
    bob_ws
        .take(|f| {
            f["type"] == "conversation" && f["conversation"]["members"] == json!(["alice", "carol"])
        })
        .await
        .expect("bob hears that he was removed");
    alice.send(&conv, "c4", "bob is gone").await;
    carol_ws.messages(&conv, 1).await;
    bob_ws.quiet("message", Duration::from_millis(300)).await;
    let (st, e) = bob.get(&format!("/v1/conversations/{conv}/messages")).await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("not_member")));
    let (st, e) = bob
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "b1", "body": "let me in"}),
        )
        .await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("not_member")));
    let ack = bob_ws.send_message(&conv, "b2", "still?").await;
    assert_eq!(
        (ack["type"].as_str(), ack["code"].as_str()),
        (Some("error"), Some("not_member"))
    );
    assert_eq!(ack["ref"], "b2");
    drop(bob_ws);
    let mut bob_again = s.connect("bob", "phone").await;
    assert!(bob_again.handshake().await.is_empty());

    // Carol leaves on her own; a non-admin cannot remove others.
    let (st, _) = carol
        .delete(&format!("/v1/conversations/{conv}/members/alice"))
        .await;
    assert_eq!(st, 403);
    let (st, left) = carol
        .delete(&format!("/v1/conversations/{conv}/members/carol"))
        .await;
    assert_eq!(st, 200);
    assert_eq!(left["members"], json!(["alice"]));
    let h = alice.history(&conv, "").await;
    assert_eq!(seqs(&h), vec![1, 2, 3, 4]);
}

/// Records which channels messages are published on.
struct Counting {
    inner: chat_embedded::InProcessChannels,
    message_channels: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl chat_ports::Channels for Counting {
    async fn publish(
        &self,
        channel: &str,
        event: chat_ports::RealtimeEvent,
    ) -> chat_ports::Result<()> {
        if matches!(event, chat_ports::RealtimeEvent::Message { .. }) {
            self.message_channels
                .lock()
                .unwrap()
                .push(channel.to_string());
        }
        self.inner.publish(channel, event).await
    }

    async fn subscribe(&self, channel: &str) -> chat_ports::Result<chat_ports::Subscription> {
        self.inner.subscribe(channel).await
    }
}

#[tokio::test]
async fn large_groups_go_out_once_on_their_conversation_channel() {
    let counting = std::sync::Arc::new(Counting {
        inner: chat_embedded::InProcessChannels::new(),
        message_channels: Default::default(),
    });
    let s = Server::start_with_channels(
        |c| c.gateway.conversation_channel_above = 2,
        counting.clone(),
    )
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("big", &["bob", "carol", "dave"]).await;
    let mut readers = Vec::new();
    for u in ["alice", "bob", "carol", "dave"] {
        let mut ws = s.connect(u, "phone").await;
        ws.handshake().await;
        readers.push(ws);
    }
    for i in 1..=5 {
        alice.send(&conv, &format!("c{i}"), "to all").await;
    }
    for ws in &mut readers {
        assert_eq!(seqs(&ws.messages(&conv, 5).await), vec![1, 2, 3, 4, 5]);
    }
    let published = counting.message_channels.lock().unwrap().clone();
    assert_eq!(published.len(), 5, "one publish per message: {published:?}");
    assert!(published.iter().all(|c| c.starts_with("c:")));

    // A member removed does not get what comes after, even though the
    // channel is shared; the others do.
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/members/dave"))
        .await;
    assert_eq!(st, 200);
    alice.send(&conv, "c6", "without dave").await;
    for ws in readers.iter_mut().take(3) {
        assert_eq!(ws.messages(&conv, 1).await[0]["seq"], 6);
    }
    readers[3]
        .quiet("message", Duration::from_millis(500))
        .await;
    // Small conversations still go to each member's channel.
    let direct = alice.direct("bob").await;
    alice.send(&direct, "d1", "just us").await;
    readers[1].messages(&direct, 1).await;
    let published = counting.message_channels.lock().unwrap().clone();
    assert!(
        published.iter().filter(|c| c.starts_with("u:")).count() == 2,
        "{published:?}"
    );
}

/// Channels on which news of a membership change travels slowly (a busy
/// Redis, a gateway far away): it arrives 300 ms after it was published.
struct SlowMembership(std::sync::Arc<chat_embedded::InProcessChannels>);

#[async_trait::async_trait]
impl chat_ports::Channels for SlowMembership {
    async fn publish(
        &self,
        channel: &str,
        event: chat_ports::RealtimeEvent,
    ) -> chat_ports::Result<()> {
        if matches!(event, chat_ports::RealtimeEvent::Conversation { .. }) {
            let (inner, channel) = (self.0.clone(), channel.to_string());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = inner.publish(&channel, event).await;
            });
            return Ok(());
        }
        self.0.publish(channel, event).await
    }

    async fn subscribe(&self, channel: &str) -> chat_ports::Result<chat_ports::Subscription> {
        self.0.subscribe(channel).await
    }
}

/// A member added to a large group hears of it on its own channel and then
/// follows the group's shared channel; the first message after the add,
/// published there before that, still reaches it live (read from the store
/// when it starts following), not only with the next message or on its
/// next connect.
#[tokio::test]
async fn the_first_message_after_joining_a_large_group_arrives_live() {
    let s = Server::start_with_channels(
        |c| c.gateway.conversation_channel_above = 2,
        std::sync::Arc::new(SlowMembership(std::sync::Arc::new(
            chat_embedded::InProcessChannels::new(),
        ))),
    )
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("big", &["bob", "carol"]).await;
    let mut dave = s.connect("dave", "phone").await;
    dave.handshake().await;
    let (st, e) = alice
        .post(
            &format!("/v1/conversations/{conv}/members"),
            json!({ "add": ["dave"] }),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    alice.send(&conv, "first", "welcome").await;
    let got = tokio::time::timeout(
        Duration::from_secs(3),
        dave.take(|f| f["type"] == "message" && f["client_msg_id"] == "first"),
    )
    .await
    .expect("the first message arrives live");
    assert!(got.is_some());
}
