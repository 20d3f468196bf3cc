//! Bad values in every text field a client sets, through the whole
//! pipeline (issue 12, item 4): each is refused at the edge with the
//! protocol's error (the WebSocket stays usable), or stored and read back
//! exactly (the answer, history, the live frame, the conversation list);
//! and afterwards every conversation, and a new one, still sequences and
//! delivers.
//!
//! The cases are one table ([`cases`]), run by [`run_table`] against a
//! gateway: the embedded engines in-process, and clusters of `chatctl`
//! processes on Kafka and Redis with PostgreSQL and with Cassandra.
//!
//! What is refused and what is kept is docs/protocol.md's "Text fields".

use crate::harness::*;
use reqwest::{Method, Url};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The fields a client sets, each where it enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `POST /v1/conversations {"kind":"group","title"}`.
    Title,
    /// `POST /v1/messages {"body"}`.
    Body,
    /// `{"type":"send","body"}`.
    WsBody,
    /// `POST /v1/messages {"client_msg_id"}`.
    ClientMsgId,
    /// `{"type":"send","client_msg_id"}`.
    WsClientMsgId,
    /// `POST /v1/conversations {"members":[…]}`.
    Member,
    /// `POST /v1/conversations/{id}/members {"add":[…]}`.
    AddMember,
    /// `DELETE /v1/conversations/{id}/members/{user}`.
    RemovedMember,
    /// `GET /v1/presence?users=…`.
    PresenceUser,
    /// `{"type":"subscribe_presence","users":[…]}`.
    WatchedUser,
    /// `POST /v1/dev/token {"user"}` and `{"device"}`.
    DevUser,
    DevDevice,
    /// `POST /v1/messages {"conv"}`.
    SendConv,
    /// `GET /v1/conversations/{id}/messages` (and the other routes of a
    /// conversation id: one parser).
    HistoryConv,
    /// `PUT /v1/conversations/{id}/mute`.
    MuteConv,
    /// `{"type":"typing","conv"}`.
    TypingConv,
    /// `{"type":"read","conv"}`.
    ReadConv,
    /// `{"type":"sync","after":{conv: seq}}`.
    SyncConv,
    /// `POST /v1/messages {"attachments":[…]}`.
    AttachmentId,
    /// `GET /v1/attachments/{id}`.
    AttachmentPath,
    /// `POST /v1/attachments {"content_type"}`.
    ContentType,
    /// `PUT /v1/push/settings {"previews"}` (a bool: any text is refused).
    Previews,
    /// `POST /v1/conversations {"kind"}`.
    Kind,
    /// `POST /v1/receipts {"type"}`.
    ReceiptType,
    /// `{"type":"ping","id"}`.
    PingId,
}

use Field::*;

/// What the server does with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Stored (or echoed) and read back exactly.
    Kept,
    /// Refused at the edge with this code.
    Refused(&'static str),
}

use Expect::*;

struct Case {
    field: Field,
    what: String,
    value: String,
    expect: Expect,
}

/// The troublesome values, by name; `true` for the control characters.
fn values() -> Vec<(&'static str, String, bool)> {
    let c0: String = (1u32..0x20).filter_map(char::from_u32).collect();
    let c1: String = (0x80u32..=0x9f).filter_map(char::from_u32).collect();
    vec![
        ("NUL", "a\u{0}b".into(), true),
        ("NUL alone", "\u{0}".into(), true),
        ("C0 controls", c0, true),
        ("DEL", "a\u{7f}".into(), true),
        ("C1 controls", c1, true),
        (
            "noncharacters",
            "\u{fdd0}\u{fffe}\u{ffff}\u{1fffe}\u{10ffff}".into(),
            false,
        ),
        (
            "format characters",
            "\u{200b}\u{200e}\u{202e}\u{2066}\u{feff}\u{2028}".into(),
            false,
        ),
        ("private use", "\u{e000}\u{f8ff}\u{f0000}".into(), false),
        ("astral and combining", "\u{1f600}e\u{301}".into(), false),
    ]
}

/// Every (field, value) and what the server must do with it.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut add = |field: Field, what: &str, value: String, expect: Expect| {
        out.push(Case {
            field,
            what: what.to_string(),
            value,
            expect,
        })
    };
    let ids = [
        Member,
        AddMember,
        RemovedMember,
        PresenceUser,
        WatchedUser,
        DevUser,
        DevDevice,
        SendConv,
        HistoryConv,
        MuteConv,
        TypingConv,
        ReadConv,
        SyncConv,
        AttachmentId,
        ContentType,
        Kind,
        ReceiptType,
        Previews,
    ];
    for (name, value, control) in values() {
        // Free text: any UTF-8, kept. Echoed: kept.
        for f in [Body, WsBody, PingId] {
            add(f, name, value.clone(), Kept);
        }
        // Shown text: no control character.
        for f in [Title, ClientMsgId, WsClientMsgId] {
            let expect = if control {
                Refused("bad_request")
            } else {
                Kept
            };
            add(f, name, value.clone(), expect);
        }
        // Identifiers and keywords: ASCII of their own alphabets.
        for f in ids {
            add(f, name, format!("x{value}"), Refused("bad_request"));
        }
        add(
            AttachmentPath,
            name,
            format!("a-{value}"),
            Refused("not_found"),
        );
    }

    // Lengths. Bodies count bytes, shown text counts characters (a
    // 4-byte character is one), identifiers are ASCII (bytes = chars).
    let euro = "\u{20ac}".repeat(21_845); // 65,535 bytes
    add(
        Body,
        "64 KiB of 3-byte characters",
        format!("{euro}x"),
        Kept,
    );
    add(
        WsBody,
        "64 KiB of 3-byte characters",
        format!("{euro}x"),
        Kept,
    );
    add(
        Body,
        "one byte past 64 KiB",
        format!("{euro}xy"),
        Refused("too_large"),
    );
    add(
        WsBody,
        "one byte past 64 KiB",
        format!("{euro}xy"),
        Refused("too_large"),
    );
    add(Body, "64 KiB of NUL", "\u{0}".repeat(65_536), Kept);
    add(WsBody, "64 KiB of NUL", "\u{0}".repeat(65_536), Kept);
    add(
        Body,
        "a 4-byte character cut by the limit",
        format!("{}\u{1f600}", "x".repeat(65_533)),
        Refused("too_large"),
    );
    add(Body, "empty", String::new(), Kept);
    let emoji = |n| "\u{1f600}".repeat(n);
    add(Title, "256 astral characters", emoji(256), Kept);
    add(
        Title,
        "257 characters",
        "t".repeat(257),
        Refused("bad_request"),
    );
    add(Title, "empty", String::new(), Kept);
    for f in [ClientMsgId, WsClientMsgId] {
        add(f, "64 astral characters", emoji(64), Kept);
        add(f, "65 characters", "k".repeat(65), Refused("bad_request"));
        add(f, "empty", String::new(), Refused("bad_request"));
    }
    add(Member, "64 characters", "m".repeat(64), Kept);
    for f in [Member, DevUser, DevDevice, WatchedUser] {
        add(f, "65 characters", "m".repeat(65), Refused("bad_request"));
        add(f, "empty", String::new(), Refused("bad_request"));
    }
    add(DevUser, "64 characters", "u".repeat(64), Kept);
    add(DevDevice, "64 characters", "d".repeat(64), Kept);
    let conv80 = format!("g-{}", "c".repeat(78));
    add(
        SendConv,
        "80 characters",
        conv80.clone(),
        Refused("unknown_conversation"),
    );
    add(
        HistoryConv,
        "80 characters",
        conv80.clone(),
        Refused("unknown_conversation"),
    );
    add(
        SendConv,
        "81 characters",
        format!("{conv80}c"),
        Refused("bad_request"),
    );
    add(
        HistoryConv,
        "81 characters",
        format!("{conv80}c"),
        Refused("bad_request"),
    );
    add(SendConv, "empty", String::new(), Refused("bad_request"));
    let ct = |n: usize| format!("application/{}", "x".repeat(n - "application/".len()));
    add(ContentType, "255 bytes", ct(255), Kept);
    add(ContentType, "256 bytes", ct(256), Refused("bad_request"));
    add(
        AttachmentId,
        "well formed, unknown",
        format!("a-{}", "0".repeat(32)),
        Refused("bad_request"),
    );
    add(PingId, "64 KiB", "p".repeat(65_536), Kept);
    out
}

/// JSON texts that serde_json refuses to read as a string: lone UTF-16
/// surrogates written as escapes. (A Rust string cannot hold one.)
const LONE_SURROGATES: [&str; 4] = [
    r#""\ud800""#,
    r#""\udc00""#,
    r#""a\udbffb""#,
    r#""\ud800\u0041""#,
];

/// A gateway, the users the table runs as, and what it must find at the end.
struct Run<'a> {
    s: &'a Server,
    alice: User,
    /// Alice's WebSocket, which sends the WebSocket cases.
    ws: Ws,
    /// Bob's, which receives the live frames of alice's group.
    bob: Ws,
    /// Alice's group with bob, where the HTTP sends go.
    group: String,
    /// Alice's direct conversation with bob, where the WebSocket sends go
    /// (so that a key kept over HTTP is not a retry over the WebSocket).
    direct: String,
    /// Messages that must be in history: (conversation, client_msg_id, body).
    kept: Vec<(String, String, String)>,
    /// Every conversation the run created.
    convs: Vec<String>,
    pings: u64,
}

impl Run<'_> {
    /// Pings and waits for the pong: the connection is still usable.
    async fn ping(&mut self) {
        self.pings += 1;
        let id = format!("alive-{}", self.pings);
        self.ws.send(json!({"type": "ping", "id": id})).await;
        self.ws
            .take(|f| f["type"] == "pong" && f["id"] == id.as_str())
            .await
            .expect("the connection stays usable");
    }

    /// Sends a WebSocket frame that must be refused with `code` (and
    /// `reference`), then checks that the connection still answers.
    async fn ws_refused(&mut self, frame: String, code: &str, reference: Option<&str>, what: &str) {
        self.ws.send_raw(WsMessage::Text(frame.into())).await;
        let e = self
            .ws
            .take(|f| f["type"] == "error")
            .await
            .unwrap_or_else(|| panic!("{what}: closed instead of an error frame"));
        assert_eq!(e["code"], code, "{what}: {e}");
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {e}"
        );
        assert_eq!(e["ref"].as_str(), reference, "{what}: {e}");
        self.ping().await;
    }

    /// A raw JSON request body.
    async fn raw(&self, method: Method, path: &str, body: String) -> (u16, Value) {
        let r = self
            .s
            .http
            .request(method, format!("{}{path}", self.s.base))
            .bearer_auth(&self.alice.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A request whose path segments are `segments`, percent-encoded, with
    /// `query` pairs.
    async fn at(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut url = Url::parse(&self.s.base).unwrap();
        url.path_segments_mut().unwrap().extend(segments);
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        let mut req = self
            .s
            .http
            .request(method, url)
            .bearer_auth(&self.alice.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn run(&mut self, n: usize, c: &Case) {
        let what = format!("{:?} {} ({} bytes)", c.field, c.what, c.value.len());
        println!("case {n}: {what}");
        let v = c.value.as_str();
        let key = format!("k{n}");
        let http = match c.field {
            Title => {
                let (st, conv) = self
                    .alice
                    .post("/v1/conversations", json!({"kind": "group", "title": v, "members": ["bob"]}))
                    .await;
                if st == 201 {
                    self.title_kept(&conv, v, &what).await;
                }
                (st, conv)
            }
            Body | ClientMsgId => {
                let (k, body) = if c.field == Body { (key.as_str(), v) } else { (v, "x") };
                let (st, ack) = self
                    .alice
                    .post("/v1/messages", json!({"conv": self.group, "client_msg_id": k, "body": body}))
                    .await;
                if st == 200 {
                    assert_eq!(ack["client_msg_id"], k, "{what}: {ack}");
                    let group = self.group.clone();
                    self.message_kept(&group, k, body, &what).await;
                }
                (st, ack)
            }
            WsBody | WsClientMsgId => {
                let (k, body) = if c.field == WsBody { (key.as_str(), v) } else { (v, "x") };
                let conv = self.direct.clone();
                let frame = json!({"type": "send", "conv": conv, "client_msg_id": k, "body": body});
                match c.expect {
                    Refused(code) => self.ws_refused(frame.to_string(), code, Some(k), &what).await,
                    Kept => {
                        let ack = self.ws.send_message(&conv, k, body).await;
                        assert_eq!(ack["type"], "sent", "{what}: {ack}");
                        assert_eq!(ack["client_msg_id"], k, "{what}: {ack}");
                        self.message_kept(&conv, k, body, &what).await;
                    }
                }
                return;
            }
            Member => {
                let (st, conv) = self
                    .alice
                    .post("/v1/conversations", json!({"kind": "group", "title": "m", "members": [v]}))
                    .await;
                if st == 201 {
                    assert!(conv["members"].as_array().unwrap().iter().any(|m| m == v), "{what}: {conv}");
                    self.convs.push(conv["id"].as_str().unwrap().to_string());
                }
                (st, conv)
            }
            AddMember => {
                self.alice
                    .post(&format!("/v1/conversations/{}/members", self.group), json!({"add": [v]}))
                    .await
            }
            RemovedMember => {
                self.at(Method::DELETE, &["v1", "conversations", &self.group, "members", v], &[], None)
                    .await
            }
            PresenceUser => self.at(Method::GET, &["v1", "presence"], &[("users", v)], None).await,
            WatchedUser => {
                let frame = json!({"type": "subscribe_presence", "users": [v]}).to_string();
                let Refused(code) = c.expect else { unreachable!() };
                self.ws_refused(frame, code, None, &what).await;
                return;
            }
            DevUser | DevDevice => {
                let (user, device) = if c.field == DevUser { (v, "phone") } else { ("alice", v) };
                let r = self
                    .s
                    .http
                    .post(format!("{}/v1/dev/token", self.s.base))
                    .json(&json!({"user": user, "device": device}))
                    .send()
                    .await
                    .unwrap();
                let st = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                if st == 200 {
                    // The token works, and names the caller exactly.
                    let token = body["token"].as_str().unwrap();
                    let mut ws = Ws::connect(&format!("{}?token={token}", self.s.ws_url())).await;
                    let hello = ws.next().await.unwrap();
                    assert_eq!((hello["user"].as_str(), hello["device"].as_str()), (Some(user), Some(device)), "{what}");
                }
                (st, body)
            }
            SendConv => {
                self.alice
                    .post("/v1/messages", json!({"conv": v, "client_msg_id": key, "body": "x"}))
                    .await
            }
            HistoryConv => self.at(Method::GET, &["v1", "conversations", v, "messages"], &[], None).await,
            MuteConv => {
                self.at(Method::PUT, &["v1", "conversations", v, "mute"], &[], Some(json!({"muted": true})))
                    .await
            }
            TypingConv | ReadConv => {
                let frame = if c.field == TypingConv {
                    json!({"type": "typing", "conv": v})
                } else {
                    json!({"type": "read", "conv": v, "seq": 1})
                };
                let Refused(code) = c.expect else { unreachable!() };
                self.ws_refused(frame.to_string(), code, None, &what).await;
                return;
            }
            SyncConv => {
                let mut after = serde_json::Map::new();
                after.insert(v.to_string(), json!(0));
                self.ws.send(json!({"type": "sync", "after": after})).await;
                let e = self.ws.take(|f| f["type"] == "error").await.unwrap();
                assert_eq!((e["code"].as_str(), e["ref"].as_str()), (Some("bad_request"), Some(v)), "{what}: {e}");
                self.ws.expect("synced").await;
                self.ping().await;
                return;
            }
            AttachmentId => {
                self.alice
                    .post("/v1/messages", json!({"conv": self.group, "client_msg_id": key, "body": "x", "attachments": [v]}))
                    .await
            }
            AttachmentPath => self.at(Method::GET, &["v1", "attachments", v], &[], None).await,
            ContentType => {
                let (st, ticket) = self
                    .alice
                    .post("/v1/attachments", json!({"content_type": v, "size": 1}))
                    .await;
                if st == 200 {
                    let id = ticket["id"].as_str().unwrap();
                    let (_, info) = self.alice.get(&format!("/v1/attachments/{id}/info")).await;
                    assert_eq!(info["content_type"], v, "{what}: {info}");
                }
                (st, ticket)
            }
            Kind => self.alice.post("/v1/conversations", json!({"kind": v, "members": ["bob"]})).await,
            Previews => {
                self.alice
                    .call(Method::PUT, "/v1/push/settings", Some(json!({"previews": v})))
                    .await
            }
            ReceiptType => {
                self.alice
                    .post("/v1/receipts", json!({"conv": self.group, "seq": 1, "type": v}))
                    .await
            }
            PingId => {
                self.ws.send(json!({"type": "ping", "id": v})).await;
                let pong = self.ws.expect("pong").await;
                assert_eq!(pong["id"], v, "{what}");
                return;
            }
        };
        let (st, body) = http;
        match c.expect {
            Kept => assert!((200..300).contains(&st), "{what}: {st} {body}"),
            Refused(code) => {
                assert_eq!(body["error"]["code"], code, "{what}: {st} {body}");
                let status = chat_domain::ErrorCode::parse(code).unwrap().http_status();
                assert_eq!(st, status, "{what}: {body}");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{what}: {body}"
                );
            }
        }
    }

    /// A new group's title, exactly, in the answer, the conversation, the
    /// list and bob's `conversation` frame.
    async fn title_kept(&mut self, conv: &Value, title: &str, what: &str) {
        assert_eq!(conv["title"], title, "{what}: {conv}");
        let id = conv["id"].as_str().unwrap().to_string();
        let (_, got) = self.alice.get(&format!("/v1/conversations/{id}")).await;
        assert_eq!(got["title"], title, "{what}: {got}");
        let (_, list) = self.alice.get("/v1/conversations").await;
        let listed = list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .cloned();
        assert_eq!(
            listed.map(|c| c["title"].clone()),
            Some(json!(title)),
            "{what}"
        );
        let frame = self
            .bob
            .take(|f| f["type"] == "conversation" && f["conversation"]["id"] == id.as_str())
            .await
            .unwrap();
        assert_eq!(frame["conversation"]["title"], title, "{what}");
        self.convs.push(id);
    }

    /// A message of `group`: bob's live frame has it exactly; history is
    /// checked at the end.
    async fn message_kept(&mut self, conv: &str, key: &str, body: &str, what: &str) {
        let m = self
            .bob
            .take(|f| f["type"] == "message" && f["conv"] == conv && f["client_msg_id"] == key)
            .await
            .unwrap_or_else(|| panic!("{what}: bob's connection closed"));
        assert_eq!(m["body"], body, "{what}: the live frame");
        self.kept
            .push((conv.to_string(), key.to_string(), body.to_string()));
    }
}

/// Runs every case of the table against the gateway of `s`, then checks
/// that history holds every kept message exactly and that every
/// conversation, and a new one, still sequences and delivers.
pub async fn run_table(s: &Server) {
    let alice = s.user("alice", "phone").await;
    let mut bob = s.connect("bob", "phone").await;
    bob.handshake().await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    let group = alice.group("bodies", &["bob"]).await;
    let direct = alice.direct("bob").await;
    let mut run = Run {
        s,
        alice,
        ws,
        bob,
        group: group.clone(),
        direct: direct.clone(),
        kept: Vec::new(),
        convs: vec![group.clone(), direct],
        pings: 0,
    };
    for (n, case) in cases().iter().enumerate() {
        // (A read waits for frames, and the server's pings keep it waiting.)
        tokio::time::timeout(WAIT * 3, run.run(n, case))
            .await
            .unwrap_or_else(|_| panic!("case {n} ({:?} {}) stalled", case.field, case.what));
    }

    // Lone surrogates: the JSON does not parse; a clear error, and over
    // the WebSocket the connection goes on.
    let g = run.group.clone();
    for lone in LONE_SURROGATES {
        let bodies = [
            (
                Method::POST,
                "/v1/conversations".to_string(),
                format!(r#"{{"kind":"group","title":{lone},"members":["bob"]}}"#),
            ),
            (
                Method::POST,
                "/v1/messages".into(),
                format!(r#"{{"conv":"{g}","client_msg_id":"s","body":{lone}}}"#),
            ),
            (
                Method::POST,
                "/v1/messages".into(),
                format!(r#"{{"conv":"{g}","client_msg_id":{lone},"body":"x"}}"#),
            ),
            (
                Method::POST,
                "/v1/dev/token".into(),
                format!(r#"{{"user":{lone},"device":"d"}}"#),
            ),
        ];
        for (method, path, body) in bodies {
            let (st, e) = run.raw(method, &path, body.clone()).await;
            assert_eq!(
                (st, e["error"]["code"].as_str()),
                (400, Some("bad_request")),
                "{body}: {e}"
            );
        }
        for frame in [
            format!(r#"{{"type":"send","conv":"{g}","client_msg_id":"s","body":{lone}}}"#),
            format!(r#"{{"type":"send","conv":"{g}","client_msg_id":{lone},"body":"x"}}"#),
            format!(r#"{{"type":"ping","id":{lone}}}"#),
            format!(r#"{{"type":"typing","conv":{lone}}}"#),
        ] {
            run.ws_refused(frame.clone(), "bad_request", None, &frame)
                .await;
        }
    }
    // A surrogate pair is one character, kept.
    let (st, ack) = run
        .raw(
            Method::POST,
            "/v1/messages",
            format!(r#"{{"conv":"{g}","client_msg_id":"pair","body":"\ud83d\ude00"}}"#),
        )
        .await;
    assert_eq!(st, 200, "{ack}");
    run.message_kept(&g, "pair", "\u{1f600}", "a surrogate pair")
        .await;

    for lone in LONE_SURROGATES {
        let body = format!(r#"{{"previews":false,"x":{lone}}}"#);
        let (st, e) = run.raw(Method::PUT, "/v1/push/settings", body).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{e}"
        );
    }
    // A direct conversation has no title: one sent is ignored.
    let (st, conv) = run
        .alice
        .post(
            "/v1/conversations",
            json!({"kind": "direct", "title": "a\u{0}b", "members": ["dave"]}),
        )
        .await;
    assert_eq!((st, &conv["title"]), (201, &Value::Null), "{conv}");
    run.convs.push(conv["id"].as_str().unwrap().to_string());

    // Push settings hold what the valid requests set, and nothing else.
    let (_, settings) = run.alice.get("/v1/push/settings").await;
    assert_eq!(settings, json!({"previews": true, "muted": []}));
    let (st, _) = run
        .alice
        .call(
            Method::PUT,
            &format!("/v1/conversations/{g}/mute"),
            Some(json!({"muted": true})),
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = run
        .alice
        .call(
            Method::PUT,
            "/v1/push/settings",
            Some(json!({"previews": false})),
        )
        .await;
    assert_eq!(st, 204);
    let (_, settings) = run.alice.get("/v1/push/settings").await;
    assert_eq!(settings, json!({"previews": false, "muted": [g]}));

    // Numbers at their bounds. The API's description gives int64 from 0,
    // and frames follow it: i64::MAX is a bound like any other, past it is
    // refused (u64::MAX too), in paths, queries, bodies and frames.
    let max = u64::MAX;
    let top = i64::MAX;
    for (path, status) in [
        (format!("/v1/conversations/{g}/messages?after={top}"), 200),
        (
            format!("/v1/conversations/{g}/messages?before={top}&limit={top}"),
            200,
        ),
        (format!("/v1/conversations/{g}/messages?after={max}"), 400),
        (format!("/v1/conversations/{g}/messages?after={top}0"), 400),
        (format!("/v1/conversations/{g}/messages?limit=-1"), 400),
    ] {
        let (st, page) = run.alice.get(&path).await;
        assert_eq!(st, status, "{path}: {page}");
    }
    let (st, e) = run
        .alice
        .delete(&format!("/v1/conversations/{g}/messages/{top}"))
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{e}"
    );
    for (seq, answer) in [(top as u64, (204, None)), (max, (400, Some("bad_request")))] {
        let (st, e) = run
            .alice
            .post(
                "/v1/receipts",
                json!({"conv": g, "seq": seq, "type": "delivered"}),
            )
            .await;
        assert_eq!((st, e["error"]["code"].as_str()), answer, "{seq}: {e}");
    }
    let direct = run.direct.clone();
    run.ws
        .send(json!({"type": "read", "conv": direct, "seq": top}))
        .await;
    run.ws
        .send(json!({"type": "sync", "after": {"x": 0}}))
        .await;
    run.ws
        .take(|f| f["type"] == "error" && f["ref"] == "x")
        .await
        .unwrap();
    run.ws.expect("synced").await;
    let mut after = serde_json::Map::new();
    after.insert(g.clone(), json!(top));
    run.ws.send(json!({"type": "sync", "after": after})).await;
    run.ws.expect("synced").await;
    run.ping().await;

    // A list of members as long as a request may be: refused at once.
    let many: Vec<String> = (0..100_000).map(|i| format!("{i:x}")).collect();
    let started = Instant::now();
    let (st, e) = run
        .alice
        .post(
            "/v1/conversations",
            json!({"kind": "group", "title": "big", "members": many}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("group_full")),
        "{e}"
    );
    let (st, e) = run
        .alice
        .post(
            &format!("/v1/conversations/{g}/members"),
            json!({"add": many}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("group_full")),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "two requests of 100,000 members took {:?}",
        started.elapsed()
    );

    // History holds every kept message exactly, in the order sent.
    for conv in [g.clone(), run.direct.clone()] {
        let expected: Vec<(String, String)> = run
            .kept
            .iter()
            .filter(|(c, _, _)| *c == conv)
            .map(|(_, k, b)| (k.clone(), b.clone()))
            .collect();
        let history = eventually(|| async {
            let h = run.alice.history(&conv, "limit=500").await;
            (h.len() == expected.len()).then_some(h)
        })
        .await;
        for (m, (key, body)) in history.iter().zip(&expected) {
            assert_eq!(m["client_msg_id"], key.as_str());
            assert_eq!(m["body"], body.as_str(), "history of {key:?}");
        }
        assert_eq!(
            seqs(&history),
            (1..=expected.len() as u64).collect::<Vec<_>>()
        );
        // A kept client_msg_id is an idempotency key like any other.
        for (key, body) in &expected {
            let again = run.alice.send(&conv, key, body).await;
            let first = history
                .iter()
                .find(|m| m["client_msg_id"] == key.as_str())
                .unwrap();
            assert_eq!(again["msg_id"], first["msg_id"], "{key:?}");
        }
    }

    // No stall: every conversation, and a new one, sequences and delivers.
    let mut carol = s.connect("carol", "phone").await;
    carol.handshake().await;
    let fresh = run.alice.direct("carol").await;
    run.convs.push(fresh.clone());
    for conv in &run.convs {
        run.alice.send(conv, "after-all", "ordinary").await;
        let h = eventually(|| async {
            let h = run.alice.history(conv, "").await;
            h.iter()
                .any(|m| m["client_msg_id"] == "after-all")
                .then_some(h)
        })
        .await;
        assert_eq!(h.last().unwrap()["body"], "ordinary", "{conv}");
    }
    let m = carol.messages(&fresh, 1).await;
    assert_eq!(
        (m[0]["seq"].as_u64(), m[0]["body"].as_str()),
        (Some(1), Some("ordinary"))
    );
    let (st, _) = run.alice.get("/healthz").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn every_text_field_is_refused_or_kept_exactly_on_the_embedded_engines() {
    let s = Server::start().await;
    run_table(&s).await;
}

#[cfg(all(
    feature = "kafka",
    feature = "cassandra",
    feature = "postgres",
    feature = "redis"
))]
mod distributed {
    use crate::cluster::{Cluster, Services, StoreService};

    /// Kafka and Redis from the environment, with the store `postgres`
    /// names; None (a skip, a failure under CI) when one is missing.
    fn services(postgres: bool) -> Option<Services> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let store = if postgres {
            get("DATABASE_URL").map(StoreService::Postgres)
        } else {
            get("CASSANDRA_NODES").map(StoreService::Cassandra)
        };
        match (get("KAFKA_BOOTSTRAP"), get("REDIS_URL"), store) {
            (Some(kafka), Some(redis), Some(store)) => Some(Services {
                kafka,
                redis,
                store,
            }),
            _ => {
                chat_ports::conformance::skip(
                    "KAFKA_BOOTSTRAP, REDIS_URL and DATABASE_URL or CASSANDRA_NODES must be set \
                     (./infra/test.sh starts local services)",
                );
                None
            }
        }
    }

    async fn on(postgres: bool) {
        let Some(s) = services(postgres) else { return };
        let mut c = Cluster::new(&s).await;
        c.start(&["processor", "--name", "all"]);
        let g = c.start(&["gateway"]);
        super::run_table(&c.gateway(g)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_text_field_is_refused_or_kept_exactly_on_postgres() {
        on(true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_text_field_is_refused_or_kept_exactly_on_cassandra() {
        on(false).await;
    }
}
