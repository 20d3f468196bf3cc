use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn auth_is_required_and_checked() {
    let s = Server::start().await;
    let r = s
        .http
        .get(format!("{}/v1/conversations", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = s
        .http
        .get(format!("{}/v1/conversations", s.base))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The WebSocket upgrade is refused with 401 too.
    let err = tokio_tungstenite::connect_async(format!("{}?token=bad", s.ws_url()))
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(r) = err else {
        panic!("expected an HTTP refusal, got {err}");
    };
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .post(format!("{}/v1/dev/token", s.base))
        .json(&json!({"user": "bad user", "device": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    for path in ["/healthz", "/readyz"] {
        let r = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}

/// A token in the URL ends up in proxies' and servers' access logs and in
/// browser history: only the WebSocket upgrade, which a browser cannot give
/// a header, takes `?token=` (PROTOCOL.md, Authentication).
#[tokio::test]
async fn only_the_websocket_upgrade_takes_a_token_in_the_query() {
    let s = Server::start().await;
    let token = s.token("alice", "phone").await;
    for path in [
        "/v1/conversations".to_string(),
        "/v1/presence?users=bob".to_string(),
        "/v1/push/settings".to_string(),
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = s
            .http
            .get(format!("{}{path}{sep}token={token}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = s
            .http
            .get(format!("{}{path}", s.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} with the header");
    }
    let mut ws = s.connect("alice", "phone").await;
    ws.expect("hello").await;
}

/// With a metrics token set, `/metrics` answers only the scraper that
/// presents it, loopback included (a proxy on the same host).
#[tokio::test]
async fn metrics_answer_only_the_holder_of_the_metrics_token() {
    let token = "a-scrape-token-of-some-length";
    let s = Server::start_with(|c| c.gateway.metrics_token = token.into()).await;
    let url = format!("{}/metrics", s.base);
    let r = s.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let user = s.token("alice", "phone").await;
    let r = s.http.get(&url).bearer_auth(&user).send().await.unwrap();
    assert_eq!(r.status(), 401, "a user's token is not the metrics token");
    let r = s.http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("chat_connections"));
}

#[tokio::test]
async fn dev_login_can_be_turned_off() {
    let s = Server::start_with(|c| c.gateway.dev_login = Some(false)).await;
    let r = s
        .http
        .post(format!("{}/v1/dev/token", s.base))
        .json(&json!({"user": "alice", "device": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn conversations_are_created_listed_and_guarded() {
    let s = Server::start_with(|c| c.gateway.group_cap = 3).await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let dave = s.user("dave", "phone").await;

    let (st, first) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "direct", "members": ["bob"]}),
        )
        .await;
    assert_eq!(st, 201, "{first}");
    assert_eq!(first["kind"], "direct");
    assert_eq!(first["last_seq"], 0);
    let (st, again) = bob
        .post(
            "/v1/conversations",
            json!({"kind": "direct", "members": ["alice"]}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        again["id"], first["id"],
        "the same pair is the same conversation"
    );

    let (st, g) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "group", "title": "Trip", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(g["admins"], json!(["alice"]));
    assert_eq!(g["title"], "Trip");
    let (st, e) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "group", "title": "Big", "members": ["bob", "carol", "dave"]}),
        )
        .await;
    assert_eq!((st, e["error"]["code"].as_str()), (422, Some("group_full")));
    let gid = g["id"].as_str().unwrap();
    let (st, e) = alice
        .post(
            &format!("/v1/conversations/{gid}/members"),
            json!({"add": ["dave"]}),
        )
        .await;
    assert_eq!((st, e["error"]["code"].as_str()), (422, Some("group_full")));

    let (st, e) = dave.get(&format!("/v1/conversations/{gid}")).await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("not_member")));
    let (st, e) = dave.get("/v1/conversations/g-doesnotexist").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("unknown_conversation"))
    );
    let (st, e) = bob
        .post(
            &format!("/v1/conversations/{gid}/members"),
            json!({"add": ["dave"]}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "only admins add"
    );

    // Most recent activity first, with unread counts and the last message.
    let direct = first["id"].as_str().unwrap();
    bob.send(direct, "b1", "hello alice").await;
    let list = eventually(|| async {
        let (_, l) = alice.get("/v1/conversations").await;
        let l = l["conversations"].as_array().unwrap().clone();
        (l.len() == 2 && l[0]["unread"] == 1).then_some(l)
    })
    .await;
    assert_eq!(list[0]["id"], first["id"]);
    assert_eq!(list[0]["last_message"]["body"], "hello alice");
    assert_eq!(list[1]["id"], g["id"]);
    assert_eq!(list[1]["last_message"], serde_json::Value::Null);
    assert_eq!(list[1]["unread"], 0);
}

#[tokio::test]
async fn history_pages_by_seq() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    for i in 1..=7 {
        alice.send(&conv, &format!("c{i}"), &format!("m{i}")).await;
    }
    eventually(|| async {
        let (_, c) = alice.get(&format!("/v1/conversations/{conv}")).await;
        (c["last_seq"] == 7).then_some(())
    })
    .await;
    let (_, page) = alice
        .get(&format!(
            "/v1/conversations/{conv}/messages?after=2&limit=3"
        ))
        .await;
    assert_eq!(seqs(page["messages"].as_array().unwrap()), vec![3, 4, 5]);
    assert_eq!(page["has_more"], true);
    let (_, page) = alice
        .get(&format!(
            "/v1/conversations/{conv}/messages?after=5&limit=3"
        ))
        .await;
    assert_eq!(seqs(page["messages"].as_array().unwrap()), vec![6, 7]);
    assert_eq!(page["has_more"], false);
    let (_, page) = alice
        .get(&format!(
            "/v1/conversations/{conv}/messages?before=4&limit=2"
        ))
        .await;
    assert_eq!(seqs(page["messages"].as_array().unwrap()), vec![2, 3]);
    assert_eq!(page["has_more"], true);
    let (_, page) = alice
        .get(&format!("/v1/conversations/{conv}/messages"))
        .await;
    assert_eq!(
        seqs(page["messages"].as_array().unwrap()),
        (1..=7).collect::<Vec<_>>()
    );
    let m = &page["messages"][0];
    for field in [
        "conv",
        "seq",
        "msg_id",
        "sender",
        "sender_device",
        "client_msg_id",
        "body",
        "attachments",
        "ts",
        "deleted",
    ] {
        assert!(m.get(field).is_some(), "message lacks {field}: {m}");
    }
    let (st, _) = alice
        .get(&format!("/v1/conversations/{conv}/messages?after=x"))
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn the_sender_deletes_for_everyone() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    let mut bob_ws = s.connect("bob", "phone").await;
    bob_ws.handshake().await;
    alice.send(&conv, "c1", "oops").await;
    bob_ws.messages(&conv, 1).await;
    let (st, e) = bob
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/9"))
        .await;
    assert_eq!(st, 404);
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!(st, 204);
    let f = bob_ws.expect("message_deleted").await;
    assert_eq!(
        (f["conv"].as_str(), f["seq"].as_u64()),
        (Some(conv.as_str()), Some(1))
    );
    let h = bob.history(&conv, "").await;
    assert_eq!(h[0]["deleted"], true);
    assert_eq!(h[0]["body"], "");
    assert_eq!(h[0]["attachments"], json!([]));
    assert_eq!(h[0]["seq"], 1);
}

#[tokio::test]
async fn chatctl_token_mints_a_token_the_server_accepts() {
    let s = Server::start_with(|c| c.gateway.jwt_secret = "a-shared-secret-for-tests".into()).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(["token", "--user", "alice", "--device", "cli"])
        .env("CHAT__GATEWAY__JWT_SECRET", "a-shared-secret-for-tests")
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let r = s
        .http
        .get(format!("{}/v1/conversations", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A token signed with another secret is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(["token", "--user", "alice", "--device", "cli"])
        .env("CHAT__GATEWAY__JWT_SECRET", "another-secret-for-tests")
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let r = s
        .http
        .get(format!("{}/v1/conversations", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn metrics_count_sends_deliveries_and_processing_without_ids() {
    let s = Server::start().await;
    let alice = s.user("alice-metrics", "phone").await;
    let conv = alice.direct("bob-metrics").await;
    let mut bob = s.connect("bob-metrics", "phone").await;
    bob.handshake().await;
    alice.send(&conv, "c1", "counted").await;
    bob.messages(&conv, 1).await;
    let text = eventually(|| async {
        let t = s.metrics().await;
        t.contains("chat_processed_records_total{group=\"fanout\"}")
            .then_some(t)
    })
    .await;
    assert!(
        text.contains("chat_sends_total{outcome=\"acked\"} 1"),
        "{text}"
    );
    assert!(text.contains("chat_connections 1"), "{text}");
    assert!(text.contains("chat_deliveries_total 1"), "{text}");
    assert!(text.contains("chat_record_age_seconds_bucket{"), "{text}");
    assert!(text.contains("chat_ack_seconds_count 1"), "{text}");
    for id in ["alice-metrics", "bob-metrics", conv.as_str()] {
        assert!(!text.contains(id), "metrics must not name {id}");
    }
}

#[tokio::test]
async fn the_web_client_is_served_from_the_api_origin() {
    let s = Server::start().await;
    let page = s.http.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/app.js") && html.contains("/app.css"),
        "{html}"
    );
    for (path, kind) in [("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let r = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        assert!(
            !r.text().await.unwrap().trim().is_empty(),
            "{path} is empty"
        );
    }
}
