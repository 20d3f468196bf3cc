//! The `hostile` scenario (ours only): every attack of issue 15 at once,
//! against one server, while a bystander checks `/healthz`; reports the
//! server's resident memory before, at its peak and at the end, how each
//! attack was answered, and whether the bystander was served.
//!
//! The attacks: clients that send pings and never read; a typing flood; a
//! sync flood; one user sending 60 KB bodies from many devices; idle TCP
//! connections without a token; requests whose head never ends; upload
//! tickets of the largest size, never used; groups of strangers created in
//! a loop; presence watches of a thousand strangers, again and again.

use super::Env;
use crate::chat::http::Api;
use crate::chat::ChatTarget;
use crate::clock;
use crate::record::Recorder;
use crate::report::RunOutput;
use crate::sampler::Sampler;
use crate::world::World;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

/// How many of each attacker.
#[derive(Debug, Clone, Copy)]
pub struct Attackers {
    /// Clients that send pings and never read.
    pub pingers: usize,
    /// Devices of the one user that sends large bodies.
    pub flood_devices: usize,
    /// Idle TCP connections, and requests whose head never ends.
    pub idle: usize,
    /// Clients of each of the other floods (typing, sync, presence,
    /// uploads, group creation).
    pub others: usize,
}

/// How each attack was answered: (attack, outcome) → count.
#[derive(Default)]
struct Outcomes(Mutex<BTreeMap<(String, String), u64>>);

impl Outcomes {
    fn add(&self, attack: &str, outcome: &str) {
        let mut m = self.0.lock().expect("outcomes lock");
        *m.entry((attack.to_string(), outcome.to_string()))
            .or_default() += 1;
    }
}

/// What a text frame from the server says: its type, or `error_<code>`.
fn outcome_of(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    match v["type"].as_str() {
        Some("error") => format!("error_{}", v["code"].as_str().unwrap_or("unknown")),
        Some(t) => t.to_string(),
        None => "unreadable".into(),
    }
}

/// Runs every attack for `duration`.
pub async fn run(env: &Env, attackers: Attackers, duration: Duration) -> anyhow::Result<RunOutput> {
    let super::Target::Chat(target) = &env.target else {
        anyhow::bail!("the hostile scenario runs against our server only");
    };
    let api = Api::new(target.base())?;
    let p = &env.prefix;
    let outcomes = Arc::new(Outcomes::default());
    let recorder = Arc::new(Recorder::new());
    let world = World::new(p, 0);

    // The group the typing and sync floods use, and the flooder's pair.
    let typist = api.login(&format!("{p}typist"), "d").await?;
    let (_, group) = api
        .post_status(
            "/v1/conversations",
            Some(&typist),
            json!({"kind": "group", "title": "hostile", "members": [format!("{p}victim")]}),
        )
        .await?;
    let group = group["id"].as_str().unwrap_or_default().to_string();
    let flooder = format!("{p}flooder");
    let first = api.login(&flooder, "d0").await?;
    let (_, direct) = api
        .post_status(
            "/v1/conversations",
            Some(&first),
            json!({"kind": "direct", "members": [format!("{p}victim")]}),
        )
        .await?;
    let direct = direct["id"].as_str().unwrap_or_default().to_string();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let sampler = Sampler::start(env.server_pid, env.parts.clone());
    let base = sampler.now();
    let until = Instant::now() + duration;
    let mut tasks = JoinSet::new();
    let ctx = Ctx {
        target: target.clone(),
        env: env.clone(),
        outcomes: outcomes.clone(),
        until,
    };

    for i in 0..attackers.pingers {
        let token = api.login(&format!("{p}pinger{i}"), "d").await?;
        tasks.spawn(ctx.clone().pinger(token, i));
    }
    for d in 0..attackers.flood_devices {
        let token = api.login(&flooder, &format!("d{d}")).await?;
        let conv = direct.clone();
        let frame = move |n: u64| json!({"type": "send", "conv": conv, "client_msg_id": format!("f{d}-{n}"), "body": "x".repeat(60_000)});
        tasks.spawn(ctx.clone().flood("large_sends", token, d, frame));
    }
    for i in 0..attackers.others {
        let token = api.login(&format!("{p}typist"), &format!("t{i}")).await?;
        let g = group.clone();
        tasks.spawn(ctx.clone().flood(
            "typing",
            token,
            1000 + i,
            move |_| json!({"type": "typing", "conv": g}),
        ));
        let token = api.login(&format!("{p}typist"), &format!("s{i}")).await?;
        let g = group.clone();
        let mut after = serde_json::Map::new();
        after.insert(g, 0.into());
        tasks.spawn(ctx.clone().flood(
            "sync",
            token,
            2000 + i,
            move |_| json!({"type": "sync", "after": after}),
        ));
        let token = api.login(&format!("{p}watcher{i}"), "d").await?;
        let strangers: Vec<String> = (0..1000).map(|k| format!("{p}stranger{k}")).collect();
        tasks.spawn(ctx.clone().flood(
            "presence_watch",
            token,
            3000 + i,
            move |_| json!({"type": "subscribe_presence", "users": strangers}),
        ));
        let token = api.login(&format!("{p}uploader{i}"), "d").await?;
        tasks.spawn(ctx.clone().http(api.clone(), "uploads", token, |_| {
            (
                "/v1/attachments",
                json!({"content_type": "video/mp4", "size": 64 << 20}),
            )
        }));
        let token = api.login(&format!("{p}adder{i}"), "d").await?;
        let p2 = p.clone();
        tasks.spawn(
            ctx.clone()
                .http(api.clone(), "group_of_strangers", token, move |n| {
                    let members: Vec<String> = (0..20).map(|k| format!("{p2}s{n}-{k}")).collect();
                    (
                        "/v1/conversations",
                        json!({"kind": "group", "title": "spam", "members": members}),
                    )
                }),
        );
    }
    let addr = target.base().trim_start_matches("http://").to_string();
    tasks.spawn(ctx.clone().idle(addr.clone(), attackers.idle, false));
    tasks.spawn(ctx.clone().idle(addr, attackers.idle, true));
    let bystander = tokio::spawn(ctx.clone().bystander(api.clone()));

    while tasks.join_next().await.is_some() {}
    let (served, failed, worst_ms) = bystander.await.unwrap_or((0, 0, 0.0));
    let end = sampler.now();

    let mut figures = BTreeMap::new();
    for ((attack, outcome), n) in outcomes.0.lock().expect("outcomes lock").iter() {
        figures.insert(format!("{attack}_{outcome}"), *n as f64);
    }
    figures.insert("bystander_healthz_served".into(), served as f64);
    figures.insert("bystander_healthz_failed".into(), failed as f64);
    figures.insert("bystander_healthz_worst_ms".into(), worst_ms);
    let secs = ((clock::now_us() - recorder.start_us()) / 1_000_000 + 1) as usize;
    let mut timeline = recorder.timeline(0, secs);
    sampler.fill(recorder.start_us(), &mut timeline);
    let peak = timeline
        .iter()
        .map(|s| s.server_rss_mib)
        .fold(0.0, f64::max);
    if let (Some(a), Some(b)) = (base.server, end.server) {
        figures.insert("server_rss_base_mib".into(), a.rss_kib as f64 / 1024.0);
        figures.insert("server_rss_peak_mib".into(), peak);
        figures.insert("server_rss_end_mib".into(), b.rss_kib as f64 / 1024.0);
    }
    if let (Some(cpu), _) = sampler.cpu_pct(&base, &end) {
        figures.insert("server_cpu_pct".into(), cpu);
    }
    let mut notes = vec![
        "every attack of issue 15 at once; figures named <attack>_<outcome> count what the server answered (frames by type, error frames by code, HTTP by status, closes)".to_string(),
        "server_rss_peak_mib is the highest of the per-second samples".to_string(),
    ];
    if env.server_pid.is_none() {
        notes.push("server pid unknown: no server memory figures".into());
    }
    Ok(RunOutput {
        target: env.target.name().to_string(),
        figures,
        latency: recorder.summaries(),
        errors: recorder.errors(),
        violations: world.violations.to_map(),
        timeline,
        notes,
        incomplete: None,
    })
}

/// What every attacker shares.
#[derive(Clone)]
struct Ctx {
    target: ChatTarget,
    env: Env,
    outcomes: Arc<Outcomes>,
    until: Instant,
}

impl Ctx {
    fn over(&self) -> bool {
        Instant::now() >= self.until
    }

    async fn ws(&self, token: &str, i: usize) -> anyhow::Result<crate::net::Ws> {
        crate::net::connect(
            &self.target.ws_url(0),
            self.env.sources.for_connection(i),
            &[("authorization", format!("Bearer {token}"))],
        )
        .await
    }

    /// Sends pings and never reads; connects again when the server cuts it.
    async fn pinger(self, token: String, i: usize) {
        while !self.over() {
            let Ok(ws) = self.ws(&token, i).await else {
                self.outcomes.add("pings_unread", "connect_refused");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let (mut sink, _unread) = ws.split();
            loop {
                if self.over() {
                    return;
                }
                let sent = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(Message::Ping(vec![7u8; 125].into())),
                )
                .await;
                match sent {
                    Ok(Ok(())) => {}
                    // Our own socket is full: the server stopped reading.
                    Err(_) => self.outcomes.add("pings_unread", "blocked"),
                    Ok(Err(_)) => {
                        self.outcomes.add("pings_unread", "closed_by_server");
                        break;
                    }
                }
            }
        }
    }

    /// Sends `frame(n)` as fast as the socket takes it, reading (and
    /// counting) what comes back.
    async fn flood<F>(self, attack: &'static str, token: String, i: usize, frame: F)
    where
        F: Fn(u64) -> serde_json::Value + Send + 'static,
    {
        let mut n = 0u64;
        while !self.over() {
            let Ok(ws) = self.ws(&token, i).await else {
                self.outcomes.add(attack, "connect_refused");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let (mut sink, mut stream) = ws.split();
            let outcomes = self.outcomes.clone();
            let reader = tokio::spawn(async move {
                while let Some(Ok(m)) = stream.next().await {
                    if let Message::Text(t) = m {
                        let o = outcome_of(&t);
                        if o != "message" && o != "hello" {
                            outcomes.add(attack, &o);
                        }
                    }
                }
                outcomes.add(attack, "closed_by_server");
            });
            while !self.over() && !reader.is_finished() {
                n += 1;
                let text = frame(n).to_string();
                let sent = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(Message::Text(text.into())),
                )
                .await;
                match sent {
                    Ok(Ok(())) => self.outcomes.add(attack, "frames_sent"),
                    Err(_) => self.outcomes.add(attack, "blocked"),
                    Ok(Err(_)) => break,
                }
                tokio::task::yield_now().await;
            }
            reader.abort();
        }
    }

    /// Posts `request(n)` in a loop, counting the statuses.
    async fn http<F>(self, api: Api, attack: &'static str, token: String, request: F)
    where
        F: Fn(u64) -> (&'static str, serde_json::Value) + Send + 'static,
    {
        let mut n = 0u64;
        while !self.over() {
            n += 1;
            let (path, body) = request(n);
            match api.post_status(path, Some(&token), body).await {
                Ok((status, _)) => self.outcomes.add(attack, &format!("http_{status}")),
                Err(_) => self.outcomes.add(attack, "failed"),
            }
        }
    }

    /// Holds `n` TCP connections that send nothing (or a head that never
    /// ends), opening them again as the server closes them.
    async fn idle(self, addr: String, n: usize, half_sent: bool) {
        let attack = if half_sent {
            "half_sent_heads"
        } else {
            "idle_tcp"
        };
        let mut held: Vec<TcpStream> = Vec::new();
        while !self.over() {
            held.retain(|s| {
                let mut probe = [0u8; 1];
                // (A closed socket reads 0 bytes at once.)
                !matches!(s.try_read(&mut probe), Ok(0))
            });
            while held.len() < n && !self.over() {
                match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(&addr))
                    .await
                {
                    Ok(Ok(mut s)) => {
                        if half_sent {
                            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
                        }
                        self.outcomes.add(attack, "opened");
                        held.push(s);
                    }
                    Ok(Err(_)) | Err(_) => {
                        self.outcomes.add(attack, "connect_failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET /healthz` every 100 ms: (served, failed, slowest ms).
    async fn bystander(self, api: Api) -> (u64, u64, f64) {
        let (mut served, mut failed, mut worst) = (0u64, 0u64, 0f64);
        while !self.over() {
            let t = Instant::now();
            match api.get_status("/healthz").await {
                Ok(200) => served += 1,
                Ok(_) | Err(_) => failed += 1,
            }
            worst = worst.max(t.elapsed().as_secs_f64() * 1e3);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (served, failed, worst)
    }
}
