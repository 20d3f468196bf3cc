//! What one user may ask of the server besides sends (issue 15, "Hostile
//! clients"): each attack here once made the server do much for little.

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

/// Typing costs the sender a few bytes and the server a publish to every
/// member: 50 000 typing frames once became 487 000 deliveries. A flood
/// reaches the others as a trickle.
#[tokio::test]
async fn a_typing_flood_reaches_the_others_as_a_trickle() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.typing_every_ms = 60_000;
        c.gateway.client_limits.typing_burst = 3;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    let mut a = s.connect("alice", "phone").await;
    a.handshake().await;
    for _ in 0..200 {
        a.send(json!({"type": "typing", "conv": conv})).await;
    }
    // A ping after the flood: its pong says every typing frame was handled.
    a.send(json!({"type": "ping", "id": "after"})).await;
    a.take(|f| f["type"] == "pong").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.send_message(&conv, "m1", "marker").await;
    let seen = bob
        .until(|f| f["type"] == "message" && f["body"] == "marker")
        .await;
    let typing = seen.iter().filter(|f| f["type"] == "typing").count();
    assert!(typing <= 3, "bob got {typing} typing frames of 200");
    assert!(typing >= 1, "typing still works");
}

/// Every `sync` sends a backlog: 18 KB of syncs once produced 141 MB of
/// frames. Past a device's allowance a sync waits its turn: each is still
/// answered as the protocol says (its backlog, then `synced`), but the
/// server sends at most one backlog per period.
#[tokio::test]
async fn a_sync_flood_gets_one_backlog_per_period() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.sync_every_ms = 400;
        c.gateway.client_limits.sync_burst = 2;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut ws = s.connect("alice", "tablet").await;
    ws.handshake().await;
    alice.send(&conv, "m1", "hello").await;
    // Stored once it is delivered live: every sync below finds it (an
    // acknowledged send may not be sequenced yet when a sync reads).
    ws.expect("message").await;
    let started = std::time::Instant::now();
    for _ in 0..6 {
        ws.send(json!({"type": "sync", "after": {conv.clone(): 0}}))
            .await;
    }
    for _ in 0..6 {
        let backlog = ws.until(|f| f["type"] == "synced").await;
        assert!(
            backlog
                .iter()
                .any(|f| f["type"] == "message" && f["body"] == "hello"),
            "{backlog:?}"
        );
    }
    // Two at once, then one per 400 ms.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "6 backlogs in {took:?}"
    );
}

/// Connections past the caps are refused at the upgrade: device ids are
/// free, so a user could otherwise hold any number.
#[tokio::test]
async fn connections_past_the_caps_per_device_and_per_user_are_refused() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.max_connections_per_device = 2;
        c.gateway.client_limits.max_connections_per_user = 3;
    })
    .await;
    let url = |token: &str| format!("{}?token={token}", s.ws_url());
    let phone = s.token("alice", "phone").await;
    let _one = Ws::connect(&url(&phone)).await;
    let _two = Ws::connect(&url(&phone)).await;
    let third = tokio_tungstenite::connect_async(url(&phone)).await;
    let (status, body) = match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => (
            r.status().as_u16(),
            String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).to_string(),
        ),
        other => panic!("a third connection of one device: {:?}", other.map(|_| ())),
    };
    assert_eq!(status, 429);
    assert!(body.contains("retry_after_ms"), "{body}");
    let tablet = s.token("alice", "tablet").await;
    let _three = Ws::connect(&url(&tablet)).await;
    let laptop = s.token("alice", "laptop").await;
    let fourth = tokio_tungstenite::connect_async(url(&laptop)).await;
    assert!(
        matches!(&fourth, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429),
        "a fourth connection of one user: {:?}",
        fourth.map(|_| ())
    );
    // Another user is not affected.
    let _bob = s.connect("bob", "phone").await;
    // A closed connection frees its place.
    drop(_one);
    let mut again = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(url(&phone)).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "the freed place was not given back");
}

/// The send limit is per device and device ids are free: one user with
/// ten devices once wrote 125 MiB in 18 s. A user has an allowance of its
/// own across its devices.
#[tokio::test]
async fn a_user_sending_from_many_devices_is_rate_limited_as_one() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.user_sends_per_sec = 1;
        c.gateway.client_limits.user_send_burst = 5;
    })
    .await;
    let alice = s.user("alice", "d0").await;
    let conv = alice.direct("bob").await;
    let (mut accepted, mut limited) = (0, 0);
    for d in 0..4 {
        let device = s.user("alice", &format!("d{d}")).await;
        for i in 0..4 {
            let (status, answer) = device
                .post(
                    "/v1/messages",
                    json!({"conv": conv, "client_msg_id": format!("d{d}-{i}"), "body": "x"}),
                )
                .await;
            match status {
                200 => accepted += 1,
                429 => {
                    assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
                    limited += 1;
                }
                other => panic!("{other} {answer}"),
            }
        }
    }
    assert!(accepted <= 7, "{accepted} of 16 sends accepted");
    assert!(limited >= 9, "{limited} refused");
}

/// One user once created 500 groups in 3 s, each full of strangers. A user
/// creates conversations within an allowance (`rate_limited` with
/// `retry_after_ms` past it; asking again for an existing direct
/// conversation is free), and other users are not held back.
#[tokio::test]
async fn a_user_creating_conversations_in_a_flood_is_rate_limited() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.conversations_every_ms = 60_000;
        c.gateway.client_limits.conversation_burst = 3;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let (mut created, mut limited) = (0, 0);
    for i in 0..10 {
        let (status, answer) = alice
            .post(
                "/v1/conversations",
                json!({"kind": "group", "title": format!("g{i}"), "members": ["bob"]}),
            )
            .await;
        match status {
            200 | 201 => created += 1,
            429 => {
                assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
                assert!(answer["error"]["retry_after_ms"].as_u64().unwrap() > 0);
                limited += 1;
            }
            other => panic!("{other} {answer}"),
        }
    }
    assert_eq!((created, limited), (3, 7));
    // The direct conversations already there are answered again for free.
    let carol = s.user("carol", "phone").await;
    let direct = carol.direct("alice").await;
    let (status, again) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "direct", "members": ["carol"]}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], direct.as_str());
    // Others create as before.
    carol.group("c", &["bob"]).await;
}

/// Members added to groups count one by one against the adder's
/// allowance, those named at a group's creation included.
#[tokio::test]
async fn a_user_adding_members_in_a_flood_is_rate_limited() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.member_adds_every_ms = 60_000;
        c.gateway.client_limits.member_add_burst = 5;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &["u1", "u2"]).await;
    let path = format!("/v1/conversations/{conv}/members");
    let (status, answer) = alice.post(&path, json!({"add": ["u3", "u4"]})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = alice.post(&path, json!({"add": ["u5", "u6"]})).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited");
    let (status, answer) = alice.post(&path, json!({"add": ["u5"]})).await;
    assert_eq!(status, 200, "the fifth add fits: {answer}");
    let (status, answer) = alice.post(&path, json!({"add": ["u6"]})).await;
    assert_eq!(status, 429, "{answer}");
    // More at once than the burst can never fit.
    let many: Vec<String> = (0..6).map(|i| format!("v{i}")).collect();
    let (status, answer) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "group", "title": "big", "members": many}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
}

/// `processed{group}` of `/metrics`: records the processor has handled.
fn processed(metrics: &str, group: &str) -> u64 {
    let key = format!("chat_processed_records_total{{group=\"{group}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Each receipt frame costs the gateway store reads and, while the
/// watermark moves, an append to the log. Past a device's allowance the
/// frames are merged, the highest seq per conversation and kind kept and
/// sent when the allowance has room again: a flood becomes a trickle of
/// appends, and the watermark still ends where the client left it.
#[tokio::test]
async fn a_receipt_flood_is_merged_and_loses_no_watermark() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.receipts_every_ms = 300;
        c.gateway.client_limits.receipt_burst = 3;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let bob = s.user("bob", "phone").await;
    let mut ws = s.connect("bob", "phone").await;
    ws.handshake().await;
    for i in 0..50 {
        alice.send(&conv, &format!("m{i}"), "hi").await;
    }
    ws.messages(&conv, 50).await;
    // The receipts processor reads every command: wait until it has read
    // the creation and the 50 sends.
    let before = eventually(|| async {
        let n = processed(&s.metrics().await, "receipts");
        (n >= 51).then_some(n)
    })
    .await;
    for seq in 1..=50 {
        ws.send(json!({"type": "delivered", "conv": conv, "seq": seq}))
            .await;
        ws.send(json!({"type": "read", "conv": conv, "seq": seq}))
            .await;
    }
    let (delivered, read) = eventually(|| async {
        let me = bob.receipt_row(&conv, "bob").await?;
        let got = (me["delivered_seq"].as_u64()?, me["read_seq"].as_u64()?);
        (got == (50, 50)).then_some(got)
    })
    .await;
    assert_eq!((delivered, read), (50, 50));
    let appended = processed(&s.metrics().await, "receipts") - before;
    assert!(appended <= 12, "{appended} receipt commands for 100 frames");
}

/// Receipts held past the allowance are applied when the connection
/// closes: a client that acknowledges and leaves loses no watermark.
#[tokio::test]
async fn receipts_held_when_a_connection_closes_are_applied() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.receipts_every_ms = 60_000;
        c.gateway.client_limits.receipt_burst = 1;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let bob = s.user("bob", "phone").await;
    let mut ws = s.connect("bob", "phone").await;
    ws.handshake().await;
    for i in 0..3 {
        alice.send(&conv, &format!("m{i}"), "hi").await;
    }
    ws.messages(&conv, 3).await;
    for seq in 1..=3 {
        ws.send(json!({"type": "read", "conv": conv, "seq": seq}))
            .await;
    }
    // A ping after them: its pong says every receipt frame was handled.
    ws.send(json!({"type": "ping", "id": "after"})).await;
    ws.take(|f| f["type"] == "pong").await.unwrap();
    drop(ws);
    eventually(|| async {
        let me = bob.receipt_row(&conv, "bob").await?;
        (me["read_seq"] == 3).then_some(())
    })
    .await;
}

/// One user once wrote 125 MiB of messages in 18 s from ten devices, and
/// six 64 MiB uploads it never sent were kept a day: a user's stored bytes
/// (bodies of sends and edits, declared sizes of uploads) have a daily
/// quota, counted in the store.
#[tokio::test]
async fn a_user_past_its_daily_quota_of_bytes_is_refused_until_the_next_day() {
    let s = Server::start_with(|c| c.gateway.client_limits.daily_bytes = 10_000).await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    let body = "x".repeat(4_000);
    alice.send(&conv, "m1", &body).await;
    alice.send(&conv, "m2", &body).await;
    let refused = |status: u16, e: &serde_json::Value| {
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (429, Some("rate_limited")),
            "{e}"
        );
        let wait = e["error"]["retry_after_ms"].as_u64().unwrap();
        assert!(wait > 0 && wait <= 86_400_000, "until 00:00 UTC: {wait}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("daily quota"),
            "{e}"
        );
    };
    let (status, e) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "m3", "body": body}),
        )
        .await;
    refused(status, &e);
    // A retry of a stored send is answered, not counted again.
    let (status, again) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "m1", "body": body}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    // Uploads count their declared size, and small sends still fit.
    let (status, e) = alice
        .post(
            "/v1/attachments",
            json!({"content_type": "image/png", "size": 5_000}),
        )
        .await;
    refused(status, &e);
    alice.send(&conv, "m4", "ok").await;
    // Over the WebSocket: an error frame for the send, with its ref.
    let mut ws = s.connect("alice", "laptop").await;
    ws.handshake().await;
    ws.send(json!({"type": "send", "conv": conv, "client_msg_id": "m5", "body": body}))
        .await;
    let e = ws.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("rate_limited"), Some("m5")),
        "{e}"
    );
    // Bob's quota is his own.
    bob.send(&conv, "b1", &body).await;
    bob.send(&conv, "b2", &body).await;
}

/// The caps per gateway let a user hold that many connections on each
/// gateway of a fleet: a fleet-wide cap counts its connections through the
/// presence every gateway shares (Redis). Two gateways here, each with its
/// own embedded store and one Redis.
#[tokio::test]
async fn connections_past_the_fleet_cap_are_refused_on_every_gateway() {
    let Ok(redis) = std::env::var("REDIS_URL") else {
        chat_ports::conformance::skip(
            "REDIS_URL is not set: the fleet-wide cap is counted on Redis",
        );
        return;
    };
    let prefix = format!("fleetcap{}:", uuid::Uuid::new_v4().simple());
    let gateway = || {
        let (redis, prefix) = (redis.clone(), prefix.clone());
        Server::start_with(move |c| {
            c.engines.realtime = redis;
            c.redis.prefix = prefix;
            c.gateway.client_limits.max_connections_per_user = 10;
            c.gateway.client_limits.max_fleet_connections_per_user = 3;
        })
    };
    let (a, b) = (gateway().await, gateway().await);
    let mut held = Vec::new();
    for (s, device) in [(&a, "phone"), (&b, "laptop"), (&a, "tablet")] {
        let mut ws = s.connect("alice", device).await;
        ws.handshake().await; // (counted in presence once its session is up)
        held.push(ws);
    }
    for s in [&a, &b] {
        let token = s.token("alice", "watch").await;
        let fourth =
            tokio_tungstenite::connect_async(format!("{}?token={token}", s.ws_url())).await;
        assert!(
            matches!(&fourth, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429),
            "a fourth connection across the fleet: {:?}",
            fourth.map(|_| ())
        );
    }
    // Bob is not affected; a closed connection frees a place fleet-wide.
    let _bob = b.connect("bob", "phone").await;
    held.pop();
    let token = b.token("alice", "watch").await;
    eventually(|| async {
        tokio_tungstenite::connect_async(format!("{}?token={token}", b.ws_url()))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// The per-device cap holds across a fleet too: device ids are free, but
/// one device's connections spread over gateways still count together
/// (presence's members carry their device).
#[tokio::test]
async fn a_devices_connections_past_its_cap_are_refused_across_the_fleet() {
    let Ok(redis) = std::env::var("REDIS_URL") else {
        chat_ports::conformance::skip(
            "REDIS_URL is not set: the fleet-wide cap is counted on Redis",
        );
        return;
    };
    let prefix = format!("devcap{}:", uuid::Uuid::new_v4().simple());
    let gateway = || {
        let (redis, prefix) = (redis.clone(), prefix.clone());
        Server::start_with(move |c| {
            c.engines.realtime = redis;
            c.redis.prefix = prefix;
            c.gateway.client_limits.max_connections_per_device = 2;
            c.gateway.client_limits.max_connections_per_user = 10;
            c.gateway.client_limits.max_fleet_connections_per_user = 10;
        })
    };
    let (a, b) = (gateway().await, gateway().await);
    let mut held = Vec::new();
    for s in [&a, &b] {
        let mut ws = s.connect("alice", "phone").await;
        ws.handshake().await; // (counted in presence once its session is up)
        held.push(ws);
    }
    // One phone connection on each gateway: neither gateway's own count
    // is at the cap, the fleet's is.
    for s in [&a, &b] {
        let token = s.token("alice", "phone").await;
        let third = tokio_tungstenite::connect_async(format!("{}?token={token}", s.ws_url())).await;
        assert!(
            matches!(&third, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429),
            "a third connection of one device across the fleet: {:?}",
            third.map(|_| ())
        );
    }
    // Another device of the same user is let in.
    let mut laptop = a.connect("alice", "laptop").await;
    laptop.handshake().await;
}
