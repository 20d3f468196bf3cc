//! Reactions (PROTOCOL v1.1): one per user and emoji; every member device
//! hears of a change; history carries the counts and who reacted.

use crate::harness::*;
use serde_json::json;

fn path(conv: &str, seq: u64, emoji: &str) -> String {
    let encoded: String = emoji.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("/v1/conversations/{conv}/messages/{seq}/reactions/{encoded}")
}

async fn put(user: &User, path: &str) -> (u16, serde_json::Value) {
    user.call(reqwest::Method::PUT, path, None).await
}

#[tokio::test]
async fn reactions_reach_every_device_and_show_in_history() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let carol = s.user("carol", "phone").await;
    let conv = alice.group("g", &["bob", "carol"]).await;
    alice.send(&conv, "m1", "lunch?").await;
    alice.history_of(&conv, 1).await;
    let mut a_phone = s.connect("alice", "phone").await;
    let mut b_phone = s.connect("bob", "phone").await;
    a_phone.handshake().await;
    b_phone.handshake().await;

    let party = "\u{1f389}";
    let thumbs = "\u{1f44d}\u{1f3fd}";
    // Twice: the second changes nothing and announces nothing.
    for _ in 0..2 {
        let (st, _) = put(&bob, &path(&conv, 1, party)).await;
        assert_eq!(st, 204);
    }
    for ws in [&mut a_phone, &mut b_phone] {
        let f = ws.expect("reaction").await;
        assert_eq!(
            f,
            json!({"type": "reaction", "conv": conv, "seq": 1, "user": "bob", "emoji": party, "on": true})
        );
    }
    // Over the WebSocket: no answer when accepted.
    a_phone
        .send(json!({"type": "react", "conv": conv, "seq": 1, "emoji": thumbs, "on": true, "ref": "r1"}))
        .await;
    assert_eq!(b_phone.expect("reaction").await["user"], "alice");
    let (st, _) = put(&carol, &path(&conv, 1, thumbs)).await;
    assert_eq!(st, 204);
    assert_eq!(b_phone.expect("reaction").await["user"], "carol");
    b_phone
        .quiet("reaction", std::time::Duration::from_millis(100))
        .await;

    let h = bob.history(&conv, "").await;
    assert_eq!(
        h[0]["reactions"],
        json!([
            {"emoji": thumbs, "count": 2, "users": ["alice", "carol"]},
            {"emoji": party, "count": 1, "users": ["bob"]}
        ]),
        "most used first, with who reacted"
    );

    // Removed, twice: one announcement, and it is gone from history.
    for _ in 0..2 {
        let (st, _) = bob
            .call(reqwest::Method::DELETE, &path(&conv, 1, party), None)
            .await;
        assert_eq!(st, 204);
    }
    let f = a_phone
        .take(|f| f["type"] == "reaction" && f["on"] == false)
        .await
        .unwrap();
    assert_eq!((&f["user"], &f["emoji"]), (&json!("bob"), &json!(party)));
    assert_eq!(
        carol.history(&conv, "").await[0]["reactions"],
        json!([{"emoji": thumbs, "count": 2, "users": ["alice", "carol"]}])
    );
}

#[tokio::test]
async fn reactions_are_refused_as_the_protocol_says() {
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

    let cases: Vec<(&str, &User, String, u16, &str)> = vec![
        (
            "a stranger",
            &mallory,
            path(&conv, 1, "+1"),
            403,
            "not_member",
        ),
        (
            "a deleted message",
            &bob,
            path(&conv, 2, "+1"),
            404,
            "not_found",
        ),
        (
            "no such message",
            &bob,
            path(&conv, 9, "+1"),
            404,
            "not_found",
        ),
        (
            "whitespace",
            &bob,
            path(&conv, 1, "a b"),
            400,
            "bad_request",
        ),
        (
            "over 32 bytes",
            &bob,
            path(&conv, 1, &"x".repeat(33)),
            400,
            "bad_request",
        ),
    ];
    for (name, user, p, status, code) in cases {
        let (st, e) = put(user, &p).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {e}"
        );
    }
    for i in 0..20 {
        let (st, _) = put(&bob, &path(&conv, 1, &format!("e{i}"))).await;
        assert_eq!(st, 204);
    }
    let (st, e) = put(&bob, &path(&conv, 1, "e20")).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (400, &json!("bad_request")),
        "{e}"
    );

    let mut ws = s.connect("mallory", "phone").await;
    ws.handshake().await;
    ws.send(
        json!({"type": "react", "conv": conv, "seq": 1, "emoji": "+1", "on": true, "ref": "x"}),
    )
    .await;
    let e = ws.expect("error").await;
    assert_eq!((&e["code"], &e["ref"]), (&json!("not_member"), &json!("x")));
    assert_eq!(
        alice.history(&conv, "").await[0]["reactions"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}
