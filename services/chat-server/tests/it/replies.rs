//! Replies (PROTOCOL v1.1): a send names a message of the same
//! conversation it answers; the message shows it as it is when read.

use crate::harness::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_reply_carries_what_it_answers_live_and_in_history() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let question = format!("{}?", "why ".repeat(40));
    alice.send(&conv, "q", &question).await;
    alice.history_of(&conv, 1).await;
    let mut a_phone = s.connect("alice", "phone").await;
    let mut b_phone = s.connect("bob", "phone").await;
    a_phone.handshake().await;
    b_phone.handshake().await;

    b_phone
        .send(json!({"type": "send", "conv": conv, "client_msg_id": "a", "body": "because", "reply_to": 1}))
        .await;
    assert_eq!(b_phone.expect("sent").await["client_msg_id"], "a");
    let preview: String = question.chars().take(100).collect();
    let want = json!({"seq": 1, "sender": "alice", "preview": preview, "deleted": false});
    for ws in [&mut a_phone, &mut b_phone] {
        let m = ws.messages(&conv, 1).await.remove(0);
        assert_eq!((&m["seq"], &m["reply_to"]), (&json!(2), &want), "{m}");
    }
    // Over HTTP too; a message that answers nothing has `reply_to: null`.
    let (st, _) = bob
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "b", "body": "also", "reply_to": 2}),
        )
        .await;
    assert_eq!(st, 200);
    let h = alice.history_of(&conv, 3).await;
    assert_eq!(h[0]["reply_to"], Value::Null);
    assert_eq!(h[1]["reply_to"], want);
    assert_eq!(
        h[2]["reply_to"],
        json!({"seq": 2, "sender": "bob", "preview": "because", "deleted": false})
    );

    // What it answers, as it is when read: edited, then deleted.
    let (st, _) = alice
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/conversations/{conv}/messages/1"),
            Some(json!({"body": "why?"})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        alice.history(&conv, "").await[1]["reply_to"]["preview"],
        "why?"
    );
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!(st, 204);
    assert_eq!(
        bob.history(&conv, "").await[1]["reply_to"],
        json!({"seq": 1, "sender": "alice", "preview": "", "deleted": true})
    );
    // A device's backlog shows it the same way.
    let mut tablet = s.connect("bob", "tablet").await;
    let backlog = tablet.handshake().await;
    assert_eq!(backlog[1]["reply_to"]["deleted"], true);
}

#[tokio::test]
async fn a_reply_to_a_message_the_conversation_has_not_is_refused() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let other = alice.group("o", &["bob"]).await;
    alice.send(&conv, "m1", "one").await;
    alice.send(&other, "x1", "elsewhere").await;
    alice.send(&other, "x2", "elsewhere").await;
    alice.history_of(&conv, 1).await;
    alice.history_of(&other, 2).await;
    for seq in [0, 2, 99] {
        let (st, e) = alice
            .post(
                "/v1/messages",
                json!({"conv": conv, "client_msg_id": format!("r{seq}"), "body": "re", "reply_to": seq}),
            )
            .await;
        assert_eq!(
            (st, &e["error"]["code"]),
            (400, &json!("bad_request")),
            "{seq}: {e}"
        );
    }
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    ws.send(
        json!({"type": "send", "conv": conv, "client_msg_id": "w", "body": "re", "reply_to": 5}),
    )
    .await;
    let e = ws.expect("error").await;
    assert_eq!(
        (&e["code"], &e["ref"]),
        (&json!("bad_request"), &json!("w"))
    );
    assert_eq!(alice.history(&conv, "").await.len(), 1, "nothing was sent");
}
