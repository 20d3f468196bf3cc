//! Test harness: a node in-process on 127.0.0.1:0 with its own data
//! directory, an HTTP client, and a WebSocket client that reads JSON frames.

use chat_server::{Config, Node};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Server {
    pub _node: Option<Node>,
    pub base: String,
    pub http: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

/// Client limits no test trips unless it means to (those of
/// `client_limits.rs` set their own).
pub fn generous_client_limits() -> chat_gateway::ClientLimits {
    chat_gateway::ClientLimits {
        typing_every_ms: 1,
        typing_burst: 10_000,
        sync_every_ms: 1,
        sync_burst: 10_000,
        presence_every_ms: 1,
        presence_burst: 10_000,
        receipts_every_ms: 1,
        receipt_burst: 10_000,
        user_sends_per_sec: 10_000,
        user_send_burst: 10_000,
        conversations_every_ms: 1,
        conversation_burst: 10_000,
        member_adds_every_ms: 1,
        member_add_burst: 100_000,
        searches_every_ms: 1,
        search_burst: 10_000,
        max_connections_per_user: 1_000,
        max_connections_per_device: 1_000,
        max_fleet_connections_per_user: 0,
        daily_bytes: 0,
    }
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_inner(tweak, None).await
    }

    /// A server whose real-time channels are `channels`.
    pub async fn start_with_channels(
        tweak: impl FnOnce(&mut Config),
        channels: std::sync::Arc<dyn chat_ports::Channels>,
    ) -> Self {
        Self::start_inner(tweak, Some(channels)).await
    }

    async fn start_inner(
        tweak: impl FnOnce(&mut Config),
        channels: Option<std::sync::Arc<dyn chat_ports::Channels>>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().to_path_buf();
        config.log.partitions = 4;
        config.gateway.send_rate_per_sec = 1000;
        config.gateway.send_burst = 1000;
        config.gateway.client_limits = generous_client_limits();
        tweak(&mut config);
        let node = Node::start_with_channels(config, channels).await.unwrap();
        let base = format!("http://{}", node.addr);
        Self {
            _node: Some(node),
            base,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn ws_url(&self) -> String {
        self.base.replace("http://", "ws://") + "/v1/ws"
    }

    pub async fn token(&self, user: &str, device: &str) -> String {
        let r = self
            .http
            .post(format!("{}/v1/dev/token", self.base))
            .json(&json!({"user": user, "device": device}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A user's HTTP client.
    pub async fn user(&self, user: &str, device: &str) -> User {
        User {
            token: self.token(user, device).await,
            base: self.base.clone(),
            http: self.http.clone(),
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn connect(&self, user: &str, device: &str) -> Ws {
        let token = self.token(user, device).await;
        Ws::connect(&format!("{}?token={token}", self.ws_url())).await
    }
}

#[derive(Clone)]
pub struct User {
    pub token: String,
    pub base: String,
    pub http: reqwest::Client,
}

impl User {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// `GET path` without following a redirect: the status, and the
    /// `Location` when it is a redirect.
    pub async fn location(&self, path: &str) -> (u16, Option<String>) {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (r.status().as_u16(), location)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Creates a group with `members` and returns its id.
    pub async fn group(&self, title: &str, members: &[&str]) -> String {
        let (status, conv) = self
            .post(
                "/v1/conversations",
                json!({"kind": "group", "title": title, "members": members}),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {conv}");
        conv["id"].as_str().unwrap().to_string()
    }

    pub async fn direct(&self, other: &str) -> String {
        let (status, conv) = self
            .post(
                "/v1/conversations",
                json!({"kind": "direct", "members": [other]}),
            )
            .await;
        assert!(status == 200 || status == 201, "{status} {conv}");
        conv["id"].as_str().unwrap().to_string()
    }

    pub async fn send(&self, conv: &str, client_msg_id: &str, body: &str) -> Value {
        let (status, ack) = self
            .post(
                "/v1/messages",
                json!({"conv": conv, "client_msg_id": client_msg_id, "body": body}),
            )
            .await;
        assert_eq!(status, 200, "{ack}");
        ack
    }

    /// The row of `user` in the conversation's receipts, if it has one.
    pub async fn receipt_row(&self, conv: &str, user: &str) -> Option<Value> {
        let (_, r) = self
            .get(&format!("/v1/conversations/{conv}/receipts"))
            .await;
        r["members"]
            .as_array()?
            .iter()
            .find(|m| m["user"] == user)
            .cloned()
    }

    /// The history once it holds `n` messages.
    pub async fn history_of(&self, conv: &str, n: usize) -> Vec<Value> {
        eventually(|| async {
            let h = self.history(conv, "").await;
            (h.len() == n).then_some(h)
        })
        .await
    }

    pub async fn history(&self, conv: &str, query: &str) -> Vec<Value> {
        let (status, page) = self
            .get(&format!("/v1/conversations/{conv}/messages?{query}"))
            .await;
        assert_eq!(status, 200, "{page}");
        page["messages"].as_array().unwrap().clone()
    }
}

pub struct Ws {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Frames read while looking for another one, in arrival order.
    pending: std::collections::VecDeque<Value>,
}

impl Ws {
    pub async fn connect(url: &str) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self {
            stream,
            pending: Default::default(),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(WsMessage::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, m: WsMessage) {
        self.stream.send(m).await.unwrap();
    }

    /// The next JSON frame, or None when the connection closed.
    pub async fn next(&mut self) -> Option<Value> {
        if let Some(f) = self.pending.pop_front() {
            return Some(f);
        }
        self.read().await
    }

    /// The next text frame, within `WAIT` however many pings and pongs
    /// come before it (the server's heartbeat must not keep a test that
    /// waits for a frame that never comes running forever).
    async fn read(&mut self) -> Option<Value> {
        let end = tokio::time::Instant::now() + WAIT;
        loop {
            let m = tokio::time::timeout_at(end, self.stream.next())
                .await
                .expect("no frame within the wait")?;
            match m {
                Ok(WsMessage::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
                Ok(WsMessage::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The first frame that matches, keeping the others for later reads.
    pub async fn take(&mut self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i);
        }
        loop {
            let f = self.read().await?;
            if pred(&f) {
                return Some(f);
            }
            self.pending.push_back(f);
        }
    }

    /// The next frame of type `kind`; others stay for later reads.
    pub async fn expect(&mut self, kind: &str) -> Value {
        self.take(|f| f["type"] == kind)
            .await
            .unwrap_or_else(|| panic!("closed while waiting for {kind}"))
    }

    /// Frames until (and including) the first that matches.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let f = self.next().await.expect("closed while waiting");
            let done = pred(&f);
            seen.push(f);
            if done {
                return seen;
            }
        }
    }

    /// hello, the backlog, synced: returns the backlog's messages.
    pub async fn handshake(&mut self) -> Vec<Value> {
        let hello = self.next().await.unwrap();
        assert_eq!(hello["type"], "hello", "{hello}");
        let frames = self.until(|f| f["type"] == "synced").await;
        frames
            .into_iter()
            .filter(|f| f["type"] == "message")
            .collect()
    }

    /// Sends and waits for `sent` (or an error with this ref).
    pub async fn send_message(&mut self, conv: &str, client_msg_id: &str, body: &str) -> Value {
        self.send(
            json!({"type": "send", "conv": conv, "client_msg_id": client_msg_id, "body": body}),
        )
        .await;
        self.take(|f| {
            f["type"] == "sent" && f["client_msg_id"] == client_msg_id
                || f["type"] == "error" && f["ref"] == client_msg_id
        })
        .await
        .expect("closed while waiting for sent")
    }

    /// Message frames of `conv` until `n` have arrived.
    pub async fn messages(&mut self, conv: &str, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            let f = self
                .take(|f| f["type"] == "message" && f["conv"] == conv)
                .await
                .expect("closed while waiting for messages");
            out.push(f);
        }
        out
    }

    /// Asserts nothing of type `kind` arrives within `d`.
    pub async fn quiet(&mut self, kind: &str, d: Duration) {
        assert!(
            !self.pending.iter().any(|f| f["type"] == kind),
            "unexpected {kind} already received"
        );
        let end = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(end, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    let f: Value = serde_json::from_str(&t).unwrap();
                    assert_ne!(f["type"], kind, "unexpected {f}");
                }
                Ok(Some(Ok(_))) => {}
                Ok(_) => return,
            }
        }
    }
}

pub fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

/// Polls `f` until it returns Some, for at most `WAIT`.
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts `chatctl <args…> --listen 127.0.0.1:0` with `env`, waits for its
/// `listening on ADDR` line; returns the child and `http://ADDR`.
pub fn spawn_chatctl(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatctl"));
    cmd.args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("chatctl starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{args:?} did not start: {line:?}"))
        .to_string();
    (child, format!("http://{addr}"))
}
