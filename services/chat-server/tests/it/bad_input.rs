use crate::harness::*;
use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_stays_usable() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    // Something sent before the bad frames is not lost.
    let first = ws.send_message(&conv, "before", "kept").await;
    assert_eq!(first["type"], "sent");

    let cases: Vec<(WsMessage, &str)> = vec![
        (WsMessage::Text("{not json".into()), "bad_request"),
        (WsMessage::Text("[1,2]".into()), "bad_request"),
        (WsMessage::Binary(vec![1u8, 2, 3].into()), "bad_request"),
        (WsMessage::Text(json!({"type": "teleport"}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "send", "conv": conv}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "delivered", "conv": conv, "seq": "x"}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "send", "conv": conv, "client_msg_id": "", "body": "x"}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "send", "conv": conv, "client_msg_id": "x".repeat(65), "body": "x"}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "send", "conv": "g-none", "client_msg_id": "n", "body": "x"}).to_string().into()), "unknown_conversation"),
        (WsMessage::Text(json!({"type": "send", "conv": conv, "client_msg_id": "k\u{0}", "body": "x"}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "send", "conv": conv, "client_msg_id": "att", "body": "x", "attachments": ["nope"]}).to_string().into()), "bad_request"),
        (WsMessage::Text(json!({"type": "subscribe_presence", "users": ["bad user"]}).to_string().into()), "bad_request"),
    ];
    for (frame, code) in cases {
        let shown = format!("{frame:?}");
        ws.send_raw(frame).await;
        let e = ws.expect("error").await;
        assert_eq!(e["code"], code, "{shown} → {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // A body over the message limit (64 KiB) but under the frame limit.
    let big = "x".repeat(64 * 1024 + 1);
    let e = ws.send_message(&conv, "big", &big).await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("too_large"))
    );
    assert_eq!(e["ref"], "big");

    // Still usable.
    ws.send(json!({"type": "ping", "id": "still-here"})).await;
    assert_eq!(ws.expect("pong").await["id"], "still-here");
    let ok = ws.send_message(&conv, "after", "fine").await;
    assert_eq!(ok["type"], "sent");
    let h = eventually(|| async {
        let h = alice.history(&conv, "").await;
        (h.len() == 2).then_some(h)
    })
    .await;
    assert_eq!(h[0]["client_msg_id"], "before");
    assert_eq!(h[1]["client_msg_id"], "after");
}

#[tokio::test]
async fn a_frame_over_the_hard_limit_closes_with_1009() {
    let s = Server::start_with(|c| c.gateway.max_frame_bytes = 128 * 1024).await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    ws.send_raw(WsMessage::Text("y".repeat(200 * 1024).into()))
        .await;
    loop {
        match tokio::time::timeout(WAIT, ws.stream.next()).await.unwrap() {
            Some(Ok(WsMessage::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Size);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a 1009 close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_http_bodies_get_protocol_errors() {
    let s = Server::start_with(|c| c.gateway.max_frame_bytes = 128 * 1024).await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let r = s
        .http
        .post(format!("{}/v1/messages", s.base))
        .bearer_auth(&alice.token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    let (st, e) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "a", "body": "x".repeat(70_000)}),
        )
        .await;
    assert_eq!((st, e["error"]["code"].as_str()), (413, Some("too_large")));
    let (st, e) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "a", "body": "x".repeat(200_000)}),
        )
        .await;
    assert_eq!((st, e["error"]["code"].as_str()), (413, Some("too_large")));
    let (st, e) = alice
        .post("/v1/conversations", json!({"kind": "channel"}))
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (st, e) = alice.get("/v1/nowhere").await;
    assert_eq!((st, e["error"]["code"].as_str()), (404, Some("not_found")));
    // Bad paths, queries and methods get the protocol's error body too.
    let (st, e) = alice
        .get(&format!(
            "/v1/conversations/{conv}/messages?after=1&after=2"
        ))
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{e}"
    );
    let (st, e) = alice.get("/v1/conversations/%FF").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{e}"
    );
    let (st, e) = alice.call(reqwest::Method::PUT, "/v1/messages", None).await;
    assert_eq!(st, 405);
    assert!(e["error"]["code"].is_string(), "{e}");
}

/// A body is a JSON object: serde would take a struct from an array of
/// its fields in order (`[null, null]` was a privacy change of nothing,
/// found by the API fuzzing run), which no client means.
#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    for (method, path, body) in [
        (reqwest::Method::PUT, "/v1/privacy", json!([null, null])),
        (
            reqwest::Method::POST,
            "/v1/conversations",
            json!(["group", "t", []]),
        ),
        (reqwest::Method::PUT, "/v1/push/settings", json!([false])),
        (reqwest::Method::POST, "/v1/conversations", json!("group")),
    ] {
        let (st, e) = alice.call(method.clone(), path, Some(body.clone())).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{method} {path} {body}: {e}"
        );
    }
    let (_, list) = alice.get("/v1/conversations").await;
    assert_eq!(list["conversations"], json!([]), "nothing was created");
    let (_, push) = alice.get("/v1/push/settings").await;
    assert_eq!(push["previews"], true, "nothing was changed");
}

/// The API's description gives its numbers as int64 with a minimum of 0
/// (what clients and its fuzzing run go by): one past i64::MAX, or
/// negative, is refused, not taken as a u64. (API fuzzing found
/// `GET /v1/search?limit=9223372036854775808` answered 200.)
#[tokio::test]
async fn numbers_outside_int64_are_refused() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let past = "9223372036854775808";
    for path in [
        format!("/v1/search?q=c&limit={past}"),
        format!("/v1/conversations/{conv}/messages?limit={past}"),
        format!("/v1/conversations/{conv}/messages?before={past}"),
        format!("/v1/conversations/{conv}/messages?after={past}"),
        format!("/v1/conversations/{conv}/messages?after=-1"),
    ] {
        let (st, e) = alice.get(&path).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "GET {path}: {e}"
        );
    }
    for (method, path) in [
        (
            reqwest::Method::DELETE,
            format!("/v1/conversations/{conv}/messages/{past}"),
        ),
        (
            reqwest::Method::PUT,
            format!("/v1/conversations/{conv}/messages/{past}/reactions/x"),
        ),
    ] {
        let (st, e) = alice.call(method.clone(), &path, None).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{method} {path}: {e}"
        );
    }
    // i64::MAX itself is a number the description allows.
    let (st, e) = alice
        .get(&format!(
            "/v1/conversations/{conv}/messages?after={}",
            i64::MAX
        ))
        .await;
    assert_eq!(st, 200, "{e}");
}

/// Numbers in bodies and frames follow the paths' rule: an integer from 0
/// to i64::MAX (what the stores keep, what the API description says);
/// past it is `bad_request`, and the connection stays usable.
#[tokio::test]
async fn numbers_past_int64_in_bodies_and_frames_are_refused() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let past = i64::MAX as u64 + 1;
    for (path, body) in [
        (
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "r", "body": "x", "reply_to": past}),
        ),
        (
            "/v1/receipts",
            json!({"conv": conv, "seq": past, "type": "delivered"}),
        ),
        (
            "/v1/attachments",
            json!({"content_type": "image/png", "size": past}),
        ),
    ] {
        let (st, e) = alice.post(path, body.clone()).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "POST {path} {body}: {e}"
        );
    }
    let (st, e) = alice
        .post(
            "/v1/receipts",
            json!({"conv": conv, "seq": i64::MAX, "type": "delivered"}),
        )
        .await;
    assert_eq!(st, 204, "i64::MAX is a seq like any other: {e}");

    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    for frame in [
        json!({"type": "send", "conv": conv, "client_msg_id": "r", "body": "x", "reply_to": past}),
        json!({"type": "delivered", "conv": conv, "seq": past}),
        json!({"type": "read", "conv": conv, "seq": past}),
        json!({"type": "edit", "conv": conv, "seq": past, "body": "y", "ref": "e"}),
        json!({"type": "react", "conv": conv, "seq": past, "emoji": "x", "on": true, "ref": "e"}),
        json!({"type": "sync", "after": {conv.clone(): past}}),
    ] {
        ws.send(frame.clone()).await;
        let e = ws.expect("error").await;
        assert_eq!(e["code"], "bad_request", "{frame} → {e}");
    }
    ws.send(json!({"type": "sync", "after": {conv.clone(): i64::MAX}}))
        .await;
    ws.expect("synced").await;
    let ok = ws.send_message(&conv, "after", "fine").await;
    assert_eq!(ok["type"], "sent");
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let s = Server::start().await;
    let token = s.token("alice", "phone").await;
    let url = format!("{}?token={token}", s.ws_url());
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        url.as_str(),
    )
    .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        url.as_str(),
    )
    .unwrap();
    let own = s.base.clone();
    req.headers_mut().insert("origin", own.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
}

/// Control characters where a store could not hold them, or a client could
/// not show them (titles, client_msg_ids), are refused with `bad_request`;
/// a body is any UTF-8 text, NUL and controls included, and comes back
/// exactly.
#[tokio::test]
async fn control_characters_are_refused_in_titles_and_kept_in_bodies() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let (status, e) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "group", "title": "a\u{0}b", "members": ["bob"]}),
        )
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{e}"
    );
    let conv = alice.group("fine", &["bob"]).await;
    let body = "x\u{0}y\u{1}z\u{7f}\u{202e}\u{1f600}";
    alice.send(&conv, "k1", body).await;
    let h = eventually(|| async {
        let h = alice.history(&conv, "").await;
        (h.len() == 1).then_some(h)
    })
    .await;
    assert_eq!(h[0]["body"], body);
}
