//! Push notifications on the embedded engines, against a real HTTP server
//! that the test starts and that records what it is sent: collapsing,
//! presence and receipt checks, previews, retries and dead-lettering, and
//! a message path that never waits on the webhook.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chat_domain::rules::Limits;
use chat_domain::time::now_ms;
use chat_domain::ReceiptKind;
use chat_embedded::{
    EmbeddedLog, EmbeddedStore, FsyncPolicy, InProcessChannels, InProcessPresence, LogOptions,
};
use chat_events::topics::{COMMANDS, EVENTS, PUSH_DEADLETTER};
use chat_events::{Codec, CreateConversation, DeleteMessage, Record, SendMessage};
use chat_ports::{EventLog, LogConsumer, LogRecord, OutRecord, Presence, ReceiptUpdate, Stores};
use chat_processors::push::{Push, PushConfig};
use chat_processors::sequencer::Sequencer;
use chat_processors::Processor;
use chat_telemetry::Metrics;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

// ---- the push gateway the tests talk to ----

/// How the test's push gateway answers.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Accept,
    Fail,
    Slow(Duration),
}

/// One request the gateway got.
#[derive(Debug, Clone)]
struct Seen {
    auth: Option<String>,
    body: Value,
}

struct Gateway {
    mode: Mode,
    seen: Mutex<Vec<Seen>>,
}

impl Gateway {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn receive(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    gw.seen.lock().unwrap().push(Seen { auth, body });
    match gw.mode {
        Mode::Accept => StatusCode::ACCEPTED,
        Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK
        }
    }
}

/// Starts a gateway on a loopback port; returns it and its webhook URL.
async fn gateway(mode: Mode) -> (Arc<Gateway>, String) {
    let gw = Arc::new(Gateway {
        mode,
        seen: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/push", post(receive))
        .with_state(gw.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (gw, url)
}

// ---- the engines and the pipeline up to the push processor ----

struct Rig {
    _dir: tempfile::TempDir,
    log: EmbeddedLog,
    stores: Stores,
    presence: Arc<InProcessPresence>,
    codec: Arc<Codec>,
    metrics: Arc<Metrics>,
    sequencer: Sequencer,
    events: tokio::sync::Mutex<Box<dyn LogConsumer>>,
    push: Arc<Push>,
    shutdown: CancellationToken,
    flusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings for tests: short windows and pauses.
fn config(url: &str) -> PushConfig {
    PushConfig {
        webhook_url: Some(url.to_string()),
        webhook_token: Some("secret".into()),
        collapse_window_ms: 300,
        attempts: 3,
        backoff_ms: 20,
        backoff_max_ms: 100,
        timeout_ms: 2000,
        ..PushConfig::default()
    }
}

/// The engines, a group `g` of alice (the sender), bob and carol with
/// their devices, and a push processor whose flusher runs.
async fn rig(config: PushConfig) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), LogOptions::default()).unwrap();
    let store =
        Arc::new(EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Always).unwrap());
    let stores = Stores::from_engine(store);
    let presence = Arc::new(InProcessPresence::new(
        Arc::new(InProcessChannels::new()),
        stores.last_seen.clone(),
    ));
    let codec = Arc::new(Codec::new());
    let metrics = Metrics::new();
    let shared_log: Arc<dyn EventLog> = Arc::new(log.clone());
    let sequencer = Sequencer::new(
        stores.clone(),
        shared_log.clone(),
        codec.clone(),
        Limits::default(),
    );
    let events = log.consumer("test-events", &[EVENTS]).await.unwrap();
    let push = Arc::new(
        Push::new(
            config,
            stores.clone(),
            presence.clone(),
            shared_log,
            codec.clone(),
            metrics.clone(),
        )
        .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let flusher = tokio::spawn(push.clone().run(shutdown.clone()));
    let rig = Rig {
        _dir: dir,
        log,
        stores,
        presence,
        codec,
        metrics,
        sequencer,
        events: tokio::sync::Mutex::new(events),
        push,
        shutdown,
        flusher: Mutex::new(Some(flusher)),
    };
    for (user, device) in [
        ("alice", "a-phone"),
        ("bob", "b-phone"),
        ("bob", "b-laptop"),
        ("carol", "c-phone"),
    ] {
        rig.stores
            .devices
            .register_device(user, device, now_ms())
            .await
            .unwrap();
    }
    rig.command(
        CreateConversation {
            conv: "g".into(),
            kind: "group".into(),
            title: None,
            creator: "alice".into(),
            members: vec!["bob".into(), "carol".into()],
            ts: now_ms(),
            refusing: vec![],
        }
        .into(),
    )
    .await;
    rig
}

impl Rig {
    /// Appends commands, sequences them, and returns the events that the
    /// sequencer published: the push processor's input.
    async fn commands(&self, commands: Vec<Record>) -> Vec<LogRecord> {
        let out = commands
            .iter()
            .map(|r| OutRecord {
                topic: COMMANDS.into(),
                key: r.key().into(),
                payload: self.codec.encode(r).unwrap(),
                headers: vec![],
                timestamp: now_ms(),
            })
            .collect();
        let positions = self.log.append(out).await.unwrap();
        let mut consumer = self
            .log
            .consumer("test-commands", &[COMMANDS])
            .await
            .unwrap();
        let mut batch = Vec::new();
        while batch.len() < positions.len() {
            batch.extend(
                consumer
                    .poll(1000, Duration::from_millis(200))
                    .await
                    .unwrap(),
            );
        }
        consumer
            .commit(&chat_ports::log::last_positions(&batch))
            .await
            .unwrap();
        self.sequencer.handle(&batch).await.unwrap();
        let mut events = self.events.lock().await;
        let got = events.poll(1000, Duration::from_millis(200)).await.unwrap();
        events
            .commit(&chat_ports::log::last_positions(&got))
            .await
            .unwrap();
        got
    }

    async fn command(&self, command: Record) -> Vec<LogRecord> {
        self.commands(vec![command]).await
    }

    /// Sends `n` messages from alice, sequences them and hands the events to
    /// the push processor in one batch.
    async fn burst(&self, conv: &str, from: u32, n: u32) {
        let sends = (from..from + n)
            .map(|i| send(conv, "alice", &format!("m{i}"), &format!("hello {i}")))
            .collect();
        let events = self.commands(sends).await;
        assert_eq!(events.len(), n as usize);
        self.push.handle(&events).await.unwrap();
    }

    /// Stops the flusher; fails if it does not stop within a second.
    async fn stop(&self) {
        self.shutdown.cancel();
        let flusher = self.flusher.lock().unwrap().take().unwrap();
        tokio::time::timeout(Duration::from_secs(1), flusher)
            .await
            .expect("the flusher stops at once")
            .unwrap();
    }

    fn outcome(&self, outcome: &str) -> u64 {
        let text = self.metrics.render();
        let prefix = format!("chat_pushes_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |v| v.parse().unwrap())
    }
}

fn send(conv: &str, sender: &str, cmid: &str, body: &str) -> Record {
    SendMessage {
        conv: conv.into(),
        msg_id: chat_domain::ids::message_id(&conv.into(), &sender.into(), &cmid.into()),
        sender: sender.into(),
        sender_device: "a-phone".into(),
        client_msg_id: cmid.into(),
        body: body.into(),
        attachments: vec![],
        ts: now_ms(),
        reply_to: None,
    }
    .into()
}

/// Waits until `check` holds, for at most `within`.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// The requests for one device, by their bodies.
fn for_device(seen: &[Seen], device: &str) -> Vec<Value> {
    seen.iter()
        .filter(|s| s.body["device"] == device)
        .map(|s| s.body.clone())
        .collect()
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_device_gets_one_push_per_burst_and_online_ones_none() {
    let (gw, url) = gateway(Mode::Accept).await;
    let rig = rig(config(&url)).await;
    rig.presence.connected("bob", "b-laptop", 1).await.unwrap();

    // A burst of five, handed over in two batches within one window.
    rig.burst("g", 1, 3).await;
    rig.burst("g", 4, 2).await;
    assert!(
        eventually(Duration::from_secs(5), || gw.seen().len() >= 2).await,
        "bob's phone and carol's phone are pushed"
    );
    // Nothing more arrives after the window.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let seen = gw.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");

    let phone = for_device(&seen, "b-phone");
    assert_eq!(phone.len(), 1, "one push for the burst");
    assert_eq!(
        phone[0],
        serde_json::json!({
            "user": "bob", "device": "b-phone", "conv": "g", "seq": 5,
            "sender": "alice", "count": 5, "preview": "hello 5"
        })
    );
    assert_eq!(for_device(&seen, "c-phone").len(), 1);
    assert!(for_device(&seen, "b-laptop").is_empty(), "online: no push");
    assert!(
        for_device(&seen, "a-phone").is_empty(),
        "the sender: no push"
    );
    assert!(seen
        .iter()
        .all(|s| s.auth.as_deref() == Some("Bearer secret")));
    assert_eq!(rig.outcome("sent"), 2);
    assert_eq!(rig.outcome("skipped_online"), 1);
    assert_eq!(rig.push.pending(), 0);

    // The next burst opens a new window: one more push each.
    rig.burst("g", 6, 1).await;
    assert!(eventually(Duration::from_secs(5), || gw.seen().len() == 4).await);
    let phone = for_device(&gw.seen(), "b-phone");
    assert_eq!(
        (phone[1]["seq"].clone(), phone[1]["count"].clone()),
        (6.into(), 1.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_comes_online_or_has_the_message_before_the_push_is_due_is_not_pushed() {
    let (gw, url) = gateway(Mode::Accept).await;
    let rig = rig(PushConfig {
        collapse_window_ms: 500,
        ..config(&url)
    })
    .await;
    rig.burst("g", 1, 2).await;
    // Within the window: bob's phone connects; carol's phone syncs through
    // a connection that has closed again and reports what it got.
    rig.presence.connected("bob", "b-phone", 7).await.unwrap();
    rig.stores
        .receipts
        .advance(&[ReceiptUpdate {
            conv: "g".into(),
            user: "carol".into(),
            device: "c-phone".into(),
            kind: ReceiptKind::Delivered,
            seq: 2,
        }])
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || gw.seen().len() == 1).await,
        "only bob's laptop is pushed: {:?}",
        gw.seen()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = gw.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].body["device"], "b-laptop");
    assert_eq!(rig.outcome("skipped_online"), 1);
    assert_eq!(rig.outcome("skipped_delivered"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_conversations_and_previews_off_carry_no_preview() {
    let (gw, url) = gateway(Mode::Accept).await;
    let rig = rig(PushConfig {
        preview_chars: 5,
        ..config(&url)
    })
    .await;
    rig.stores.devices.set_previews("bob", false).await.unwrap();
    rig.stores
        .devices
        .set_muted("carol", "g", true)
        .await
        .unwrap();
    rig.burst("g", 1, 1).await;
    assert!(eventually(Duration::from_secs(5), || gw.seen().len() == 3).await);
    for s in gw.seen() {
        assert!(
            s.body.get("preview").is_none(),
            "no preview field: {}",
            s.body
        );
    }

    // Unmuted, carol gets the preview back, cut to five characters.
    rig.stores
        .devices
        .set_muted("carol", "g", false)
        .await
        .unwrap();
    rig.burst("g", 2, 1).await;
    assert!(eventually(Duration::from_secs(5), || gw.seen().len() == 6).await);
    let carol = for_device(&gw.seen(), "c-phone");
    assert_eq!(carol[1]["preview"], "hello");
    let bob = for_device(&gw.seen(), "b-phone");
    assert!(bob[1].get("preview").is_none());

    // A message deleted for everyone before its push is due: no preview.
    rig.burst("g", 3, 1).await;
    rig.command(
        DeleteMessage {
            conv: "g".into(),
            seq: 3,
            actor: "alice".into(),
            ts: now_ms(),
        }
        .into(),
    )
    .await;
    assert!(eventually(Duration::from_secs(5), || gw.seen().len() == 9).await);
    let carol = for_device(&gw.seen(), "c-phone");
    assert_eq!(carol[2]["seq"], 3);
    assert!(carol[2].get("preview").is_none(), "{}", carol[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_is_retried_then_dead_lettered() {
    let (gw, url) = gateway(Mode::Fail).await;
    let rig = rig(config(&url)).await;
    // Only bob's phone is offline.
    rig.presence.connected("bob", "b-laptop", 1).await.unwrap();
    rig.presence.connected("carol", "c-phone", 2).await.unwrap();
    rig.burst("g", 1, 2).await;

    let mut dead = rig
        .log
        .consumer("test-deadletter", &[PUSH_DEADLETTER])
        .await
        .unwrap();
    let mut records = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while records.is_empty() && Instant::now() < until {
        records = dead.poll(10, Duration::from_millis(200)).await.unwrap();
    }
    assert_eq!(records.len(), 1, "one dead-letter record");
    assert_eq!(records[0].key, "bob");
    let Ok(chat_domain::Event::PushDeadLettered(d)) = rig.codec.decode_event(&records[0].payload)
    else {
        panic!("not a PushDeadLettered record");
    };
    assert_eq!(
        (d.user.as_str(), d.device.as_str(), d.conv.as_str()),
        ("bob", "b-phone", "g")
    );
    assert_eq!((d.seq, d.count, d.attempts), (2, 2, 3));
    assert_eq!(d.sender, "alice");
    assert!(d.error.contains("500"), "{}", d.error);

    // Exactly `attempts` requests, and nothing after the dead letter.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gw.seen().len(), 3);
    assert!(dead
        .poll(10, Duration::from_millis(200))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(rig.outcome("retried"), 2);
    assert_eq!(rig.outcome("dead_lettered"), 1);
    assert_eq!(rig.outcome("sent"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_path_never_waits_on_a_slow_or_dead_webhook() {
    let (gw, url) = gateway(Mode::Slow(Duration::from_secs(10))).await;
    let slow = rig(PushConfig {
        collapse_window_ms: 10,
        timeout_ms: 20_000,
        concurrency: 2,
        ..config(&url)
    })
    .await;
    // The first notifications are taken and hang in the slow gateway.
    slow.burst("g", 1, 1).await;
    assert!(eventually(Duration::from_secs(5), || gw.seen().len() == 2).await);
    // Every delivery slot is busy; batches keep being handled at once.
    for i in 0..5 {
        let started = Instant::now();
        slow.burst("g", 10 + i * 10, 10).await;
        let took = started.elapsed();
        // `burst` includes appending and sequencing; the push processor's
        // own share is measured on its own below.
        assert!(took < Duration::from_secs(5), "batch {i}: {took:?}");
    }
    let events = slow
        .commands(
            (100..150)
                .map(|i| send("g", "alice", &format!("x{i}"), "x"))
                .collect(),
        )
        .await;
    let started = Instant::now();
    slow.push.handle(&events).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "handle took {took:?}");
    assert!(slow.push.pending() > 0, "the rest waits for a slot");
    assert_eq!(gw.seen().len(), 2, "still two in flight");

    // A gateway that is down: its port refuses connections.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/push", l.local_addr().unwrap())
    };
    let down = rig(PushConfig {
        collapse_window_ms: 10,
        attempts: 50,
        backoff_ms: 200,
        ..config(&closed)
    })
    .await;
    down.burst("g", 1, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = down
        .commands(
            (2..52)
                .map(|i| send("g", "alice", &format!("m{i}"), "x"))
                .collect(),
        )
        .await;
    let started = Instant::now();
    down.push.handle(&events).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "handle took {took:?}");
    assert!(down.outcome("retried") > 0, "the flusher is retrying");

    // Shutting down does not wait for hanging requests or retries.
    slow.stop().await;
    down.stop().await;
}
