use crate::harness::*;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn sends_over_the_rate_get_rate_limited_with_a_wait() {
    let s = Server::start_with(|c| {
        c.gateway.send_rate_per_sec = 1;
        c.gateway.send_burst = 3;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    let mut limited = None;
    for i in 0..6 {
        let r = ws.send_message(&conv, &format!("c{i}"), "x").await;
        if r["type"] == "error" {
            limited = Some(r);
            break;
        }
    }
    let e = limited.expect("a burst of 6 over a burst allowance of 3 is limited");
    assert_eq!(e["code"], "rate_limited");
    assert!(e["retry_after_ms"].as_u64().unwrap() > 0);
    // HTTP sends share the device's allowance.
    let (st, body) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "h", "body": "x"}),
        )
        .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(body["error"]["retry_after_ms"].as_u64().is_some());
    // The connection is still usable, and after the wait a send goes through.
    tokio::time::sleep(std::time::Duration::from_millis(
        e["retry_after_ms"].as_u64().unwrap() + 50,
    ))
    .await;
    assert_eq!(ws.send_message(&conv, "later", "x").await["type"], "sent");
    // Another device has its own allowance.
    let mut tablet = s.connect("alice", "tablet").await;
    tablet.handshake().await;
    assert_eq!(tablet.send_message(&conv, "t", "x").await["type"], "sent");
}

#[tokio::test]
async fn a_reader_too_slow_is_disconnected_and_loses_nothing() {
    let s = Server::start_with(|c| c.gateway.outbound_queue = 8).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    // Bob stops reading; big messages fill the socket buffers, then his queue.
    let body = "z".repeat(60 * 1024);
    for i in 0..200 {
        alice.send(&conv, &format!("c{i}"), &body).await;
    }
    // Reading now drains what was buffered, then finds the connection closed.
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, bob.stream.next()).await.unwrap() {
            Some(Ok(WsMessage::Text(t))) => {
                let f: serde_json::Value = serde_json::from_str(&t).unwrap();
                if f["type"] == "message" {
                    seen.push(f["seq"].as_u64().unwrap());
                }
            }
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    assert!(seen.len() < 200, "the slow reader was cut off");
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1));
    // Reconnecting gets the rest, in order: the backlog, then live ones
    // that were still being sequenced. Those come as fan-out publishes them,
    // a batch at once, which a queue of 8 may not hold either: a connection
    // cut again is reconnected, as a client does, and each one sees its
    // messages in order.
    let want: Vec<u64> = (1..=200).collect();
    let mut all = seen.clone();
    for _ in 0..10 {
        let mut again = s.connect("bob", "phone").await;
        let mut got = Vec::new();
        while let Some(f) = tokio::time::timeout(WAIT, again.next()).await.unwrap() {
            if f["type"] == "message" && f["conv"] == conv.as_str() {
                got.push(f["seq"].as_u64().unwrap());
                let mut now = all.clone();
                now.extend(&got);
                now.sort();
                now.dedup();
                if now == want {
                    break;
                }
            }
        }
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 1),
            "in order: {got:?}"
        );
        all.extend(got);
        all.sort();
        all.dedup();
        if all == want {
            break;
        }
    }
    assert_eq!(all, (1..=200).collect::<Vec<_>>());
}

/// The outbound queue is bounded in bytes too: frames whose bodies grow six
/// times when JSON escapes them (control characters) cut a reader that does
/// not read long before the frame count would, and nothing is lost.
#[tokio::test]
async fn a_reader_too_slow_in_bytes_is_disconnected_and_loses_nothing() {
    const N: usize = 64;
    let s = Server::start_with(|c| {
        c.gateway.outbound_queue = 1024;
        c.gateway.outbound_queue_bytes = 256 * 1024;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    // 60 KiB of U+0001: about 360 KiB of frame each, 23 MiB in all.
    let body = "\u{1}".repeat(60 * 1024);
    for i in 0..N {
        alice.send(&conv, &format!("c{i}"), &body).await;
    }
    let mut seen = Vec::new();
    let mut closed = None;
    loop {
        match tokio::time::timeout(WAIT, bob.stream.next()).await.unwrap() {
            Some(Ok(WsMessage::Text(t))) => {
                let f: serde_json::Value = serde_json::from_str(&t).unwrap();
                if f["type"] == "message" {
                    seen.push(f["seq"].as_u64().unwrap());
                }
            }
            Some(Ok(WsMessage::Close(frame))) => {
                closed = frame.map(|f| u16::from(f.code));
                break;
            }
            None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
        if seen.len() == N {
            break;
        }
    }
    assert!(
        seen.len() < N,
        "cut off by the byte bound: {} of {N}",
        seen.len()
    );
    assert_eq!(closed, Some(1013), "closed as too slow");
    // A client reconnects until it has everything: with a budget of about
    // one frame, a live frame that lands during the backlog cuts it again.
    let mut all = seen.clone();
    for _ in 0..10 {
        let mut again = s.connect("bob", "phone").await;
        loop {
            match tokio::time::timeout(WAIT, again.stream.next())
                .await
                .unwrap()
            {
                Some(Ok(WsMessage::Text(t))) => {
                    let f: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if f["type"] == "message" && f["conv"] == conv.as_str() {
                        all.push(f["seq"].as_u64().unwrap());
                    }
                    if f["type"] == "synced" {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            }
        }
        all.sort();
        all.dedup();
        if all.len() == N {
            break;
        }
    }
    assert_eq!(all, (1..=N as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn overload_refuses_sends_and_never_drops_an_acknowledged_one() {
    // A log queue of one: concurrent sends beyond what the disk takes are
    // refused with `overloaded`, not queued without bound.
    let s = Server::start_with(|c| c.log.queue_capacity = 1).await;
    let alice = s.user("alice", "phone").await;
    // Even creating the conversation may be refused while the processors'
    // own writes hold the one place; a client retries.
    let conv = eventually(|| async {
        let (st, c) = alice
            .post(
                "/v1/conversations",
                json!({"kind": "direct", "members": ["bob"]}),
            )
            .await;
        (st == 201 || st == 200).then(|| c["id"].as_str().unwrap().to_string())
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let alice = alice.clone();
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            let (st, body) = alice
                .post(
                    "/v1/messages",
                    json!({"conv": conv, "client_msg_id": format!("c{i}"), "body": "x"}),
                )
                .await;
            (i, st, body)
        }));
    }
    let mut acked = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (i, st, body) = t.await.unwrap();
        match st {
            200 => acked.push(format!("c{i}")),
            503 => {
                assert_eq!(body["error"]["code"], "overloaded");
                refused += 1;
            }
            other => panic!("unexpected {other} {body}"),
        }
    }
    assert!(refused > 0, "64 concurrent sends into a queue of one");
    let h = eventually(|| async {
        let h = alice.history(&conv, "limit=500").await;
        (h.len() >= acked.len()).then_some(h)
    })
    .await;
    for cmid in &acked {
        assert!(
            h.iter().any(|m| m["client_msg_id"] == *cmid),
            "{cmid} was acknowledged"
        );
    }
    assert_eq!(h.len(), acked.len(), "nothing refused was stored");
}

/// A client that sends pings and never reads: every ping is answered by a
/// pong the server cannot write, and the pings keep the connection looking
/// alive (it once grew the server by 1.4 GB in 20 s). The server's write
/// buffer is bounded: past it, pongs are coalesced rather than queued, so
/// far fewer come back than were asked for once the client reads.
#[tokio::test]
async fn a_client_that_pings_and_never_reads_holds_a_bounded_buffer() {
    let s = Server::start_with(|c| c.gateway.ws_max_write_buffer_bytes = 1024 * 1024).await;
    let mut mallory = s.connect("mallory", "laptop").await;
    // 125 bytes, the most a ping carries: 64 MiB of pings, far more than
    // the kernel's socket buffers on both ends hold.
    let ping = WsMessage::Ping(vec![7u8; 125].into());
    let pings = 64 * 1024 * 1024 / 125;
    let mut sent = 0usize;
    while sent < pings {
        if mallory.stream.send(ping.clone()).await.is_err() {
            break;
        }
        sent += 1;
    }
    // Now read what the server kept for us.
    let mut pongs = 0usize;
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(3), mallory.stream.next()).await {
            Ok(Some(Ok(WsMessage::Pong(_)))) => pongs += 1,
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) | Err(_) => break,
        }
    }
    assert!(
        pongs < sent / 2,
        "the server kept a pong for each of {sent} pings ({pongs} came back)"
    );
}
