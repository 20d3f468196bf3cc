//! Edits (PROTOCOL v1.1): the sender replaces a message's body; every
//! member device hears of it live, on connect, or after a loss.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn patch(user: &User, conv: &str, seq: u64, body: Value) -> (u16, Value) {
    user.call(
        reqwest::Method::PATCH,
        &format!("/v1/conversations/{conv}/messages/{seq}"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn the_sender_edits_and_every_member_device_gets_the_new_body() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    alice.send(&conv, "m1", "helo").await;
    alice.send(&conv, "m2", "untouched").await;
    alice.history_of(&conv, 2).await;
    let mut a_phone = s.connect("alice", "phone").await;
    let mut a_laptop = s.connect("alice", "laptop").await;
    let mut b_phone = s.connect("bob", "phone").await;
    for ws in [&mut a_phone, &mut a_laptop, &mut b_phone] {
        ws.handshake().await;
    }

    let (st, m) = patch(&alice, &conv, 1, json!({"body": "hello"})).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(
        (
            &m["seq"],
            &m["body"],
            &m["edit_version"],
            &m["msg_id"].is_string()
        ),
        (&json!(1), &json!("hello"), &json!(1), &true),
        "the message object, as edited: {m}"
    );
    let edited_ts = m["edited_ts"].as_i64().expect("edited_ts is set");
    assert!(edited_ts >= m["ts"].as_i64().unwrap());
    for ws in [&mut b_phone, &mut a_laptop, &mut a_phone] {
        let f = ws.expect("message_edited").await;
        assert_eq!(
            f,
            json!({"type": "message_edited", "conv": conv, "seq": 1, "body": "hello",
                   "edit_version": 1, "edited_ts": edited_ts})
        );
    }

    // Over the WebSocket: no answer when accepted, the frame to everyone.
    a_phone
        .send(json!({"type": "edit", "conv": conv, "seq": 1, "body": "hello!", "ref": "e1"}))
        .await;
    for ws in [&mut b_phone, &mut a_phone] {
        let f = ws.expect("message_edited").await;
        assert_eq!(
            (&f["body"], &f["edit_version"]),
            (&json!("hello!"), &json!(2))
        );
    }

    let h = alice.history(&conv, "").await;
    assert_eq!(
        (&h[0]["body"], &h[0]["edit_version"]),
        (&json!("hello!"), &json!(2))
    );
    assert!(h[0]["edited_ts"].as_i64().unwrap() >= edited_ts);
    assert_eq!(
        (&h[1]["edit_version"], &h[1]["edited_ts"]),
        (&json!(0), &Value::Null),
        "a message never edited: {}",
        h[1]
    );

    // The body it has: accepted, nothing changes.
    let (st, m) = patch(&alice, &conv, 1, json!({"body": "hello!"})).await;
    assert_eq!((st, &m["edit_version"]), (200, &json!(2)));
}

#[tokio::test]
async fn edits_are_refused_as_the_protocol_says() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let mallory = s.user("mallory", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    alice.send(&conv, "m1", "one").await;
    alice.send(&conv, "m2", "two").await;
    alice.history_of(&conv, 2).await;
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/2"))
        .await;
    assert_eq!(st, 204);

    let body = json!({"body": "new"});
    let cases: Vec<(&str, &User, u64, Value, u16, &str)> = vec![
        ("another's message", &bob, 1, body.clone(), 403, "forbidden"),
        ("a stranger", &mallory, 1, body.clone(), 403, "not_member"),
        (
            "a deleted message",
            &alice,
            2,
            body.clone(),
            422,
            "not_editable",
        ),
        ("no such message", &alice, 9, body.clone(), 404, "not_found"),
        (
            "an empty body",
            &alice,
            1,
            json!({"body": ""}),
            400,
            "bad_request",
        ),
        (
            "a body over the limit",
            &alice,
            1,
            json!({"body": "x".repeat(64 * 1024 + 1)}),
            413,
            "too_large",
        ),
        ("no body", &alice, 1, json!({}), 400, "bad_request"),
    ];
    for (name, user, seq, body, status, code) in cases {
        let (st, e) = patch(user, &conv, seq, body).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {e}"
        );
    }

    // Over the WebSocket, a refusal carries the frame's ref.
    let mut ws = s.connect("bob", "phone").await;
    ws.handshake().await;
    ws.send(json!({"type": "edit", "conv": conv, "seq": 1, "body": "mine now", "ref": "r7"}))
        .await;
    let e = ws.expect("error").await;
    assert_eq!((&e["code"], &e["ref"]), (&json!("forbidden"), &json!("r7")));
    assert_eq!(alice.history(&conv, "").await[0]["body"], "one");
}

#[tokio::test]
async fn an_edit_past_the_window_is_not_editable() {
    let s = Server::start_with(|c| c.gateway.edit_window_secs = 0).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    alice.send(&conv, "m1", "one").await;
    alice.history_of(&conv, 1).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (st, e) = patch(&alice, &conv, 1, json!({"body": "late"})).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (422, &json!("not_editable")),
        "{e}"
    );
}

/// A device that was away gets, before `synced`, the latest body of what
/// is above its watermark in the backlog, and `message_edited` for the
/// edits of what it had: from the conversation's kept changes, and from
/// its messages when more changes came than the conversation keeps.
#[tokio::test]
async fn a_device_that_connects_after_edits_gets_them() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    for i in 1..=40 {
        alice
            .send(&conv, &format!("m{i}"), &format!("body {i}"))
            .await;
    }
    alice.history_of(&conv, 40).await;
    let mut ws = s.connect("bob", "phone").await;
    assert_eq!(ws.handshake().await.len(), 40);
    ws.send(json!({"type": "delivered", "conv": conv, "seq": 38}))
        .await;
    eventually(|| async {
        let row = bob.receipt_row(&conv, "bob").await?;
        (row["delivered_seq"] == 38).then_some(())
    })
    .await;
    drop(ws);

    // While away: seq 1 edited, then 35 more changes (more than a
    // conversation keeps), and seq 40, above the watermark, edited.
    let (st, _) = patch(&alice, &conv, 1, json!({"body": "first, edited"})).await;
    assert_eq!(st, 200);
    for seq in 2..=36 {
        let (st, _) = patch(&alice, &conv, seq, json!({"body": format!("edit {seq}")})).await;
        assert_eq!(st, 200);
    }
    let (st, _) = patch(&alice, &conv, 40, json!({"body": "last, edited"})).await;
    assert_eq!(st, 200);

    let mut ws = s.connect("bob", "phone").await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    let frames = ws.until(|f| f["type"] == "synced").await;
    let backlog: Vec<&Value> = frames.iter().filter(|f| f["type"] == "message").collect();
    assert_eq!(
        seqs(&backlog.iter().map(|v| (*v).clone()).collect::<Vec<_>>()),
        [39, 40]
    );
    assert_eq!(
        (&backlog[1]["body"], &backlog[1]["edit_version"]),
        (&json!("last, edited"), &json!(1))
    );
    let mut edited: Vec<u64> = frames
        .iter()
        .filter(|f| f["type"] == "message_edited")
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    edited.sort_unstable();
    edited.dedup();
    let want: Vec<u64> = (1..=36).collect();
    assert_eq!(edited, want, "every edit at or below the watermark");
    let first = frames
        .iter()
        .find(|f| f["type"] == "message_edited" && f["seq"] == 1)
        .unwrap();
    assert_eq!(first["body"], "first, edited");

    drop(ws);
    let mut tablet = s.connect("bob", "tablet").await;
    let frames = {
        assert_eq!(tablet.next().await.unwrap()["type"], "hello");
        tablet.until(|f| f["type"] == "synced").await
    };
    assert!(
        frames.iter().all(|f| f["type"] != "message_edited"),
        "a new device has no watermark: its backlog has every latest body"
    );
}
