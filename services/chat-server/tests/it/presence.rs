use crate::harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn presence_changes_are_seen_within_two_seconds() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let mut watcher = s.connect("alice", "phone").await;
    watcher.handshake().await;
    watcher
        .send(json!({"type": "subscribe_presence", "users": ["bob"]}))
        .await;
    let p = watcher.expect("presence").await;
    assert_eq!(
        (p["user"].as_str(), p["online"].as_bool()),
        (Some("bob"), Some(false))
    );
    assert_eq!(p["last_seen"], serde_json::Value::Null);

    let t = Instant::now();
    let bob_phone = s.connect("bob", "phone").await;
    let p = watcher.expect("presence").await;
    assert_eq!(p["online"], true);
    assert!(t.elapsed() < Duration::from_secs(2));
    // The laptop's session is up (its hello comes after presence counted
    // it) before the phone goes: the upgrade alone returns before that.
    let mut bob_laptop = s.connect("bob", "laptop").await;
    bob_laptop.handshake().await;
    drop(bob_phone);
    // Still online: one device remains.
    watcher.quiet("presence", Duration::from_millis(300)).await;
    let (_, now) = alice.get("/v1/presence?users=bob,carol").await;
    assert_eq!(now["presence"][0]["online"], true);
    assert_eq!(now["presence"][1]["online"], false);

    let t = Instant::now();
    drop(bob_laptop);
    let p = watcher.expect("presence").await;
    assert_eq!(p["online"], false);
    assert!(p["last_seen"].as_i64().is_some());
    assert!(t.elapsed() < Duration::from_secs(2));
    let (_, now) = alice.get("/v1/presence?users=bob").await;
    assert_eq!(now["presence"][0]["last_seen"], p["last_seen"]);
}

#[tokio::test]
async fn a_connection_that_stops_answering_pings_is_closed_and_goes_offline() {
    let s = Server::start_with(|c| {
        c.gateway.ping_interval_ms = 100;
        c.gateway.idle_timeout_ms = 400;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    eventually(|| async {
        let (_, p) = alice.get("/v1/presence?users=bob").await;
        (p["presence"][0]["online"] == true).then_some(())
    })
    .await;
    // Bob's socket stays open but nobody reads it, so no pong goes back.
    let t = Instant::now();
    eventually(|| async {
        let (_, p) = alice.get("/v1/presence?users=bob").await;
        (p["presence"][0]["online"] == false).then_some(())
    })
    .await;
    assert!(t.elapsed() < Duration::from_secs(3));
    drop(bob);

    // A client that answers pings (tungstenite does when read) stays.
    let mut carol = s.connect("carol", "phone").await;
    carol.handshake().await;
    carol.quiet("error", Duration::from_millis(1000)).await;
    carol.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(carol.expect("pong").await["id"], 1);
}
