//! Client traffic: users with two devices each, spread over both gateways,
//! in direct conversations and groups. Each device holds a WebSocket,
//! sends now and then (one send in flight, retried with the same
//! client_msg_id until `sent`: the idempotency key), acknowledges
//! `delivered` (and sometimes `read`) up to the highest seq it holds without
//! a gap, reconnects at random and whenever its connection drops (to the
//! other gateway after two failed attempts), and records every `message`,
//! `receipt` and `sent` it gets. A poller reads the receipts over HTTP.

use crate::checker::{Ack, DeviceLog, Got, ReceiptRead, ReceiptSeen};
use crate::client::Http;
use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Sends and random reconnects.
    Run,
    /// No new sends and no random reconnects; sends in flight are retried.
    Quiet,
    Stop,
}

/// What a device has seen so far (shared with the harness, which waits on
/// it for probes and the final settle).
#[derive(Default)]
pub struct Seen {
    pub log: DeviceLog,
    pub ids: HashSet<String>,
    /// A send not yet acknowledged.
    pub pending: bool,
    /// Connections opened.
    pub conns: u32,
}

pub struct World {
    pub users: Vec<String>,
    /// conv → members.
    pub convs: BTreeMap<String, Vec<String>>,
    /// (user, device) → token.
    pub tokens: HashMap<(String, String), String>,
}

impl World {
    pub fn token_of(&self, user: &str) -> &str {
        self.tokens
            .get(&(user.to_string(), "d0".to_string()))
            .map(String::as_str)
            .unwrap_or_default()
    }
}

const USERS: usize = 6;

/// Logs every device in and creates the conversations, retrying for up to
/// a minute (the cell has just started).
pub async fn setup(http: &Http, base: &str) -> Result<World> {
    let users: Vec<String> = (0..USERS).map(|i| format!("u{i}")).collect();
    let mut tokens = HashMap::new();
    for u in &users {
        for d in ["d0", "d1"] {
            let t = retry(|| http.token(base, u, d)).await?;
            tokens.insert((u.clone(), d.to_string()), t);
        }
    }
    let shapes: Vec<(&str, Vec<usize>)> = vec![
        ("direct", vec![0, 1]),
        ("direct", vec![2, 3]),
        ("direct", vec![4, 5]),
        ("direct", vec![1, 4]),
        ("group", vec![0, 1, 2, 3, 4, 5]),
        ("group", vec![0, 2, 5]),
    ];
    let mut convs = BTreeMap::new();
    for (kind, members) in shapes {
        let creator = &users[members[0]];
        let others: Vec<String> = members[1..].iter().map(|&i| users[i].clone()).collect();
        let token = tokens[&(creator.clone(), "d0".to_string())].clone();
        let id = retry(|| http.conversation(base, &token, kind, &others)).await?;
        convs.insert(id, members.iter().map(|&i| users[i].clone()).collect());
    }
    Ok(World {
        users,
        convs,
        tokens,
    })
}

async fn retry<T, F, Fut>(mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > end => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

pub struct Traffic {
    pub phase: watch::Sender<Phase>,
    pub devices: Vec<Arc<Mutex<Seen>>>,
    pub acks: Arc<Mutex<Vec<Ack>>>,
    pub receipt_reads: Arc<Mutex<Vec<ReceiptRead>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Traffic {
    /// Starts every device and the receipts poller.
    pub fn start(world: &World, bases: &[String], seed: u64, http: &Http) -> Self {
        let (phase, rx) = watch::channel(Phase::Run);
        let acks = Arc::new(Mutex::new(Vec::new()));
        let receipt_reads = Arc::new(Mutex::new(Vec::new()));
        let mut devices = Vec::new();
        let mut tasks = Vec::new();
        for (i, user) in world.users.iter().enumerate() {
            let my_convs: Vec<String> = world
                .convs
                .iter()
                .filter(|(_, m)| m.contains(user))
                .map(|(c, _)| c.clone())
                .collect();
            for (d, device) in ["d0", "d1"].iter().enumerate() {
                let seen = Arc::new(Mutex::new(Seen {
                    log: DeviceLog {
                        user: user.clone(),
                        device: device.to_string(),
                        ..DeviceLog::default()
                    },
                    ..Seen::default()
                }));
                devices.push(seen.clone());
                let dev = Device {
                    user: user.clone(),
                    token: world.tokens[&(user.clone(), device.to_string())].clone(),
                    bases: bases.to_vec(),
                    gateway: (i + d) % bases.len(),
                    convs: my_convs.clone(),
                    seen,
                    acks: acks.clone(),
                    phase: rx.clone(),
                    rng: StdRng::seed_from_u64(
                        seed ^ ((i * 2 + d) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    ),
                };
                tasks.push(tokio::spawn(dev.run()));
            }
        }
        tasks.push(tokio::spawn(poll_receipts(
            http.clone(),
            bases.to_vec(),
            world
                .convs
                .iter()
                .map(|(c, m)| (c.clone(), world.token_of(&m[0]).to_string()))
                .collect(),
            receipt_reads.clone(),
            rx,
        )));
        Self {
            phase,
            devices,
            acks,
            receipt_reads,
            tasks,
        }
    }

    pub fn set(&self, p: Phase) {
        self.phase.send_replace(p);
    }

    /// Stops every task and waits for them.
    pub async fn stop(&mut self) {
        self.set(Phase::Stop);
        for t in self.tasks.drain(..) {
            if tokio::time::timeout(Duration::from_secs(5), &mut Box::pin(t))
                .await
                .is_err()
            {
                eprintln!("traffic: a task did not stop within 5 s");
            }
        }
    }

    /// Whether the device (user, device) has the message `msg_id`.
    pub fn has(&self, user: &str, msg_id: &str) -> Vec<bool> {
        self.devices
            .iter()
            .filter_map(|d| {
                let s = d.lock().ok()?;
                (s.log.user == user).then(|| s.ids.contains(msg_id))
            })
            .collect()
    }

    pub fn any_pending(&self) -> bool {
        self.devices
            .iter()
            .any(|d| d.lock().map(|s| s.pending).unwrap_or(false))
    }

    /// Reconnects over every device (connections after each one's first).
    pub fn reconnects(&self) -> u64 {
        self.devices
            .iter()
            .map(|d| {
                d.lock()
                    .map(|s| u64::from(s.conns.saturating_sub(1)))
                    .unwrap_or(0)
            })
            .sum()
    }

    pub fn logs(&self) -> Vec<DeviceLog> {
        self.devices
            .iter()
            .filter_map(|d| d.lock().ok().map(|s| s.log.clone()))
            .collect()
    }
}

struct Device {
    user: String,
    token: String,
    bases: Vec<String>,
    gateway: usize,
    convs: Vec<String>,
    seen: Arc<Mutex<Seen>>,
    acks: Arc<Mutex<Vec<Ack>>>,
    phase: watch::Receiver<Phase>,
    rng: StdRng,
}

/// A send in flight.
struct Pending {
    conv: String,
    cmid: String,
    sent_at: Instant,
    retry_at: Option<Instant>,
}

enum End {
    Dropped,
    Stop,
}

impl Device {
    async fn run(mut self) {
        let mut conn = 0u32;
        let mut failures = 0u32;
        let mut pending: Option<Pending> = None;
        // conv → highest seq held without a gap (what `delivered` says).
        let mut contiguous: HashMap<String, u64> = HashMap::new();
        let mut counter = 0u64;
        loop {
            if *self.phase.borrow() == Phase::Stop {
                return;
            }
            let url = format!(
                "{}/v1/ws?token={}",
                self.bases[self.gateway].replace("http://", "ws://"),
                self.token
            );
            let ws = tokio::time::timeout(
                Duration::from_secs(5),
                tokio_tungstenite::connect_async(&url),
            )
            .await;
            let Ok(Ok((ws, _))) = ws else {
                failures += 1;
                if failures >= 2 {
                    self.gateway = (self.gateway + 1) % self.bases.len();
                    failures = 0;
                }
                let wait = self.rng.random_range(200..1_000);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            };
            failures = 0;
            conn += 1;
            if let Ok(mut s) = self.seen.lock() {
                s.conns = conn;
            }
            let end = self
                .connection(ws, conn, &mut pending, &mut contiguous, &mut counter)
                .await;
            if let End::Stop = end {
                return;
            }
            let wait = self.rng.random_range(50..500);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    async fn connection(
        &mut self,
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        conn: u32,
        pending: &mut Option<Pending>,
        contiguous: &mut HashMap<String, u64>,
        counter: &mut u64,
    ) -> End {
        let (mut tx, mut rx) = ws.split();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let mut next_send =
            Instant::now() + Duration::from_millis(self.rng.random_range(200..1_500));
        // A random reconnect: on average every 25 s per device.
        let reconnect_at =
            Instant::now() + Duration::from_millis(self.rng.random_range(5_000..45_000));
        let mut acked: HashMap<String, u64> = HashMap::new();
        if let Some(p) = pending.as_mut() {
            p.retry_at = Some(Instant::now());
        }
        loop {
            tokio::select! {
                frame = rx.next() => {
                    let text = match frame {
                        Some(Ok(WsMessage::Text(t))) => t,
                        Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return End::Dropped,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(f) = serde_json::from_str::<Value>(&text) else { continue };
                    self.on_frame(&f, conn, pending, contiguous);
                }
                _ = tick.tick() => {
                    let phase = *self.phase.borrow();
                    if phase == Phase::Stop {
                        let _ = tx.close().await;
                        return End::Stop;
                    }
                    let now = Instant::now();
                    // Watermarks.
                    let mut frames = Vec::new();
                    for (conv, &seq) in contiguous.iter() {
                        if acked.get(conv).copied().unwrap_or(0) < seq {
                            acked.insert(conv.clone(), seq);
                            frames.push(json!({"type": "delivered", "conv": conv, "seq": seq}));
                            if self.rng.random_bool(0.3) {
                                frames.push(json!({"type": "read", "conv": conv, "seq": seq}));
                            }
                        }
                    }
                    // A send: the one in flight again when due, or a new one.
                    if let Some(p) = pending.as_mut() {
                        let due = p.retry_at.is_some_and(|t| now >= t)
                            || now.duration_since(p.sent_at) > Duration::from_secs(10);
                        if due {
                            p.sent_at = now;
                            p.retry_at = None;
                            frames.push(send_frame(&p.conv, &p.cmid, &self.user));
                        }
                    } else if phase == Phase::Run && now >= next_send && !self.convs.is_empty() {
                        *counter += 1;
                        let conv = self.convs[self.rng.random_range(0..self.convs.len())].clone();
                        let device = self.seen.lock().map(|s| s.log.device.clone()).unwrap_or_default();
                        let cmid = format!("{}-{device}-{counter}", self.user);
                        frames.push(send_frame(&conv, &cmid, &self.user));
                        *pending = Some(Pending { conv, cmid, sent_at: now, retry_at: None });
                        next_send = now + Duration::from_millis(self.rng.random_range(300..1_500));
                    }
                    if let Ok(mut s) = self.seen.lock() {
                        s.pending = pending.is_some();
                    }
                    for f in frames {
                        if tx.send(WsMessage::Text(f.to_string().into())).await.is_err() {
                            return End::Dropped;
                        }
                    }
                    if phase == Phase::Run && now >= reconnect_at {
                        let _ = tx.close().await;
                        return End::Dropped;
                    }
                }
            }
        }
    }

    fn on_frame(
        &mut self,
        f: &Value,
        conn: u32,
        pending: &mut Option<Pending>,
        contiguous: &mut HashMap<String, u64>,
    ) {
        let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
        match f["type"].as_str().unwrap_or_default() {
            "message" => {
                let (conv, seq, msg_id) = (s("conv"), f["seq"].as_u64().unwrap_or(0), s("msg_id"));
                let c = contiguous.entry(conv.clone()).or_insert(0);
                if seq <= *c + 1 {
                    *c = (*c).max(seq);
                }
                if let Ok(mut seen) = self.seen.lock() {
                    seen.ids.insert(msg_id.clone());
                    seen.log.messages.push(Got {
                        conn,
                        conv,
                        seq,
                        msg_id,
                    });
                }
            }
            "receipt" => {
                if let Ok(mut seen) = self.seen.lock() {
                    seen.log.receipts.push(ReceiptSeen {
                        conn,
                        conv: s("conv"),
                        user: s("user"),
                        kind: s("kind"),
                        seq: f["seq"].as_u64().unwrap_or(0),
                    });
                }
            }
            "sent"
                if pending
                    .as_ref()
                    .is_some_and(|p| p.cmid == s("client_msg_id")) =>
            {
                if let Some(p) = pending.take() {
                    if let Ok(mut acks) = self.acks.lock() {
                        acks.push(Ack {
                            conv: p.conv,
                            sender: self.user.clone(),
                            client_msg_id: p.cmid,
                            msg_id: s("msg_id"),
                        });
                    }
                }
                if let Ok(mut seen) = self.seen.lock() {
                    seen.pending = false;
                }
            }
            "error" => {
                if let Some(p) = pending.as_mut() {
                    if f["ref"].as_str() == Some(p.cmid.as_str()) {
                        let after = f["retry_after_ms"]
                            .as_u64()
                            .unwrap_or(500)
                            .clamp(100, 5_000);
                        p.retry_at = Some(Instant::now() + Duration::from_millis(after));
                    }
                }
            }
            _ => {}
        }
    }
}

fn send_frame(conv: &str, cmid: &str, user: &str) -> Value {
    json!({"type": "send", "conv": conv, "client_msg_id": cmid, "body": format!("{user}: {cmid}")})
}

/// Reads every conversation's receipts once a second, alternating
/// gateways, and records what it read in order.
async fn poll_receipts(
    http: Http,
    bases: Vec<String>,
    convs: Vec<(String, String)>,
    out: Arc<Mutex<Vec<ReceiptRead>>>,
    phase: watch::Receiver<Phase>,
) {
    let mut i = 0usize;
    while *phase.borrow() != Phase::Stop {
        for (conv, token) in &convs {
            i += 1;
            let base = &bases[i % bases.len()];
            if let Ok(rows) = http.receipts(base, token, conv).await {
                if let Ok(mut out) = out.lock() {
                    for (user, delivered_seq, read_seq) in rows {
                        out.push(ReceiptRead {
                            conv: conv.clone(),
                            user,
                            delivered_seq,
                            read_seq,
                        });
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The probe: one message per conversation, sent over HTTP by its first
/// member (retried until durable), then waits until every member device
/// has it. Returns the acks and when the last device got its probe, or
/// None by `deadline`.
pub async fn probe(
    world: &World,
    traffic: &Traffic,
    http: &Http,
    bases: &[String],
    tag: &str,
    deadline: Instant,
) -> (Vec<Ack>, Option<Instant>) {
    let mut acks = Vec::new();
    for (n, (conv, members)) in world.convs.iter().enumerate() {
        let sender = &members[0];
        let cmid = format!("probe-{tag}-{n}");
        let mut k = 0usize;
        loop {
            k += 1;
            let base = &bases[k % bases.len()];
            match http
                .send(base, world.token_of(sender), conv, &cmid, "probe")
                .await
            {
                Ok(msg_id) => {
                    acks.push(Ack {
                        conv: conv.clone(),
                        sender: sender.clone(),
                        client_msg_id: cmid.clone(),
                        msg_id,
                    });
                    break;
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(_) => return (acks, None),
            }
        }
    }
    loop {
        let done = acks.iter().all(|a| {
            world.convs[&a.conv]
                .iter()
                .all(|u| traffic.has(u, &a.msg_id).iter().all(|b| *b))
        });
        if done {
            return (acks, Some(Instant::now()));
        }
        if Instant::now() > deadline {
            return (acks, None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// History of every conversation, as the checker wants it.
pub async fn history(
    world: &World,
    http: &Http,
    bases: &[String],
) -> Result<BTreeMap<String, Vec<crate::checker::HistoryMsg>>> {
    let mut out = BTreeMap::new();
    for (conv, members) in &world.convs {
        let token = world.token_of(&members[0]);
        let mut last = None;
        let mut msgs = None;
        for k in 0..20 {
            match http.history(&bases[k % bases.len()], token, conv).await {
                Ok(m) => {
                    msgs = Some(m);
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        let msgs = msgs.with_context(|| format!("history of {conv}: {last:?}"))?;
        out.insert(
            conv.clone(),
            msgs.iter()
                .map(|m| crate::checker::HistoryMsg {
                    seq: m["seq"].as_u64().unwrap_or(0),
                    msg_id: m["msg_id"].as_str().unwrap_or_default().to_string(),
                    sender: m["sender"].as_str().unwrap_or_default().to_string(),
                    client_msg_id: m["client_msg_id"].as_str().unwrap_or_default().to_string(),
                })
                .collect(),
        );
    }
    Ok(out)
}
