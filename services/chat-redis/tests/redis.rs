//! The Redis engines against a real Redis. They run when `REDIS_URL` is
//! set (`infra/redis/start.sh` starts one and prints it); each test uses a
//! fresh random prefix. The tests take turns (one lock), because some count
//! or kill the server's pub/sub connections. The channel and presence
//! conformance suites run in `conformance`.

use async_trait::async_trait;
use chat_domain::UserId;
use chat_ports::channels::{presence_channel, user_channel};
use chat_ports::{
    Channels, LastSeenStore, PortError, Presence, RealtimeEvent, RecvError, Subscription,
};
use chat_redis::{RedisChannels, RedisPresence};
use redis::aio::MultiplexedConnection;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::time::{sleep, timeout};

mod conformance;

const SKIP: &str = "REDIS_URL is not set (./infra/test.sh starts a local Redis)";

/// One test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Ctx {
    url: String,
    prefix: String,
    admin: MultiplexedConnection,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Ctx {
    async fn channels(&self) -> RedisChannels {
        RedisChannels::connect(&self.url, &self.prefix)
            .await
            .expect("connect channels")
    }

    fn name(&self, channel: &str) -> String {
        format!("{}{}", self.prefix, channel)
    }

    /// Subscribers Redis counts for a port channel.
    async fn numsub(&self, channel: &str) -> i64 {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(self.name(channel))
            .query_async(&mut self.admin.clone())
            .await
            .expect("PUBSUB NUMSUB");
        n
    }

    /// Waits until Redis counts `n` subscribers for the channel.
    async fn numsub_becomes(&self, channel: &str, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = self.numsub(channel).await;
            if now == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{channel} kept {now} subscribers, expected {n}"
            );
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's pub/sub clients: id → their CLIENT LIST line.
    async fn pubsub_clients(&self) -> HashMap<String, String> {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut self.admin.clone())
            .await
            .expect("CLIENT LIST");
        list.lines()
            .filter_map(|line| {
                let id = line.split(' ').next()?.strip_prefix("id=")?;
                Some((id.to_string(), line.to_string()))
            })
            .collect()
    }

    async fn exists(&self, key: &str) -> bool {
        redis::cmd("EXISTS")
            .arg(key)
            .query_async::<i64>(&mut self.admin.clone())
            .await
            .expect("EXISTS")
            == 1
    }
}

/// The context of a test, or `None` (after printing why) without Redis.
async fn setup() -> Option<Ctx> {
    let Some(url) = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        chat_ports::conformance::skip(SKIP);
        return None;
    };
    let turn = SERIAL.lock().await;
    let admin = redis::Client::open(url.as_str())
        .expect("REDIS_URL is a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis at REDIS_URL answers");
    Some(Ctx {
        url,
        prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        admin,
        _turn: turn,
    })
}

fn typing(n: usize) -> RealtimeEvent {
    RealtimeEvent::Typing {
        conv: n.to_string().into(),
        user: "t".into(),
    }
}

async fn next(sub: &mut Subscription) -> RealtimeEvent {
    let event = timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("an event within 5 s")
        .expect("an event, not a lag or a close");
    (*event).clone()
}

async fn nothing(sub: &mut Subscription) {
    if let Ok(got) = timeout(Duration::from_millis(300), sub.recv()).await {
        panic!("expected no event, got {got:?}");
    }
}

/// The last-seen store of the tests.
#[derive(Default)]
struct MemLastSeen(Mutex<HashMap<String, i64>>);

#[async_trait]
impl LastSeenStore for MemLastSeen {
    async fn set_last_seen(&self, user: &str, ts: i64) -> chat_ports::Result<()> {
        self.0.lock().unwrap().insert(user.to_string(), ts);
        Ok(())
    }

    async fn last_seen(&self, user: &str) -> chat_ports::Result<Option<i64>> {
        Ok(self.0.lock().unwrap().get(user).copied())
    }
}

#[tokio::test]
async fn events_published_on_one_gateway_reach_another_in_order() {
    let Some(ctx) = setup().await else { return };
    let a = ctx.channels().await;
    let b = ctx.channels().await;
    a.health().await.unwrap();
    let alice = user_channel("alice");
    let bob = user_channel("bob");
    let mut on_b = b.subscribe(&alice).await.unwrap();
    let mut on_b_too = b.subscribe(&alice).await.unwrap();
    let mut on_a = a.subscribe(&alice).await.unwrap();
    let mut bob_on_b = b.subscribe(&bob).await.unwrap();
    // Another deployment on the same Redis hears nothing of this one.
    let other = RedisChannels::connect(&ctx.url, &format!("{}other:", ctx.prefix))
        .await
        .unwrap();
    let mut elsewhere = other.subscribe(&alice).await.unwrap();

    // Something that is not an event is ignored.
    let _: i64 = redis::cmd("PUBLISH")
        .arg(ctx.name(&alice))
        .arg("not json")
        .query_async(&mut ctx.admin.clone())
        .await
        .unwrap();
    // Fewer than the channel's capacity (128), read after all are sent.
    for i in 0..100 {
        a.publish(&alice, typing(i)).await.unwrap();
    }
    a.publish_many(&[alice.clone(), bob.clone()], typing(100))
        .await
        .unwrap();
    a.publish_many(&[], typing(999)).await.unwrap();
    b.publish(&alice, typing(101)).await.unwrap();

    for sub in [&mut on_b, &mut on_b_too, &mut on_a] {
        for i in 0..=101 {
            assert_eq!(next(sub).await, typing(i));
        }
    }
    assert_eq!(next(&mut bob_on_b).await, typing(100));
    nothing(&mut bob_on_b).await;
    nothing(&mut elsewhere).await;
}

#[tokio::test]
async fn dropping_the_last_subscriber_unsubscribes() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    let carol = user_channel("carol");
    let first = ch.subscribe(&carol).await.unwrap();
    let second = ch.subscribe(&carol).await.unwrap();
    assert_eq!(
        ctx.numsub(&carol).await,
        1,
        "one Redis subscription per process"
    );
    drop(first);
    sleep(Duration::from_millis(200)).await;
    assert_eq!(ctx.numsub(&carol).await, 1, "a subscriber remains");
    drop(second);
    ctx.numsub_becomes(&carol, 0).await;
    assert!(ch.is_empty());

    // Quick subscribe/drop cycles leave Redis in step with the registry.
    for _ in 0..50 {
        drop(ch.subscribe(&carol).await.unwrap());
    }
    ctx.numsub_becomes(&carol, 0).await;
    let mut again = ch.subscribe(&carol).await.unwrap();
    assert_eq!(ctx.numsub(&carol).await, 1);
    ch.publish(&carol, typing(1)).await.unwrap();
    assert_eq!(next(&mut again).await, typing(1));

    // Dropping the engine closes what is still subscribed.
    drop(ch);
    let closed = timeout(Duration::from_secs(5), again.recv())
        .await
        .expect("the subscription closes");
    assert_eq!(closed.unwrap_err(), RecvError::Closed);
    ctx.numsub_becomes(&carol, 0).await;
}

#[tokio::test]
async fn a_hundred_subscriptions_share_one_pubsub_connection() {
    let Some(ctx) = setup().await else { return };
    let publisher = ctx.channels().await;
    let before: HashSet<String> = ctx.pubsub_clients().await.into_keys().collect();
    let ch = ctx.channels().await;
    let names: Vec<String> = (0..100).map(|i| user_channel(&format!("u{i}"))).collect();
    let mut subs = Vec::new();
    for name in &names {
        subs.push(ch.subscribe(name).await.unwrap());
    }
    for name in names.iter().take(10) {
        subs.push(ch.subscribe(name).await.unwrap());
    }
    let clients = ctx.pubsub_clients().await;
    let new: Vec<&String> = clients
        .iter()
        .filter(|(id, _)| !before.contains(*id))
        .map(|(_, line)| line)
        .collect();
    assert_eq!(new.len(), 1, "one pub/sub connection, got {new:?}");
    assert!(new[0].contains(" sub=100 "), "{}", new[0]);
    for name in &names {
        assert_eq!(ctx.numsub(name).await, 1, "{name}");
    }
    publisher.publish_many(&names, typing(7)).await.unwrap();
    for sub in &mut subs {
        assert_eq!(next(sub).await, typing(7));
    }
}

#[tokio::test]
async fn a_killed_pubsub_connection_resyncs_its_subscribers_and_recovers() {
    let Some(ctx) = setup().await else { return };
    let publisher = ctx.channels().await;
    let before: HashSet<String> = ctx.pubsub_clients().await.into_keys().collect();
    let ch = ctx.channels().await;
    let dave = user_channel("dave");
    let dave_presence = presence_channel("dave");
    let mut messages = ch.subscribe(&dave).await.unwrap();
    let mut presence = ch.subscribe(&dave_presence).await.unwrap();
    let ours: Vec<String> = ctx
        .pubsub_clients()
        .await
        .into_keys()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");

    // CLIENT KILL TYPE pubsub, narrowed to this engine's connection so
    // other users of the same Redis keep theirs.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .arg("ID")
        .arg(&ours[0])
        .query_async(&mut ctx.admin.clone())
        .await
        .unwrap();
    assert_eq!(killed, 1);

    assert_eq!(next(&mut messages).await, RealtimeEvent::Resync);
    assert_eq!(next(&mut presence).await, RealtimeEvent::Resync);
    ch.health().await.unwrap();
    assert_eq!(ctx.numsub(&dave).await, 1);
    publisher.publish(&dave, typing(1)).await.unwrap();
    ch.publish(&dave_presence, typing(2)).await.unwrap();
    assert_eq!(next(&mut messages).await, typing(1));
    assert_eq!(next(&mut presence).await, typing(2));
    // A new subscriber after the loss works as before.
    let mut late = ch.subscribe(&dave).await.unwrap();
    publisher.publish(&dave, typing(3)).await.unwrap();
    assert_eq!(next(&mut messages).await, typing(3));
    assert_eq!(next(&mut late).await, typing(3));
}

/// A private redis-server, killed when dropped.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> std::io::Result<Self> {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        Ok(Self { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_restarted_redis_is_survived() {
    let Some(ctx) = setup().await else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = match OwnRedis::start(port) {
        Ok(server) => server,
        Err(e) => {
            chat_ports::conformance::skip(&format!("redis-server could not be started here ({e})"));
            return;
        }
    };
    server.wait_ready().await;
    let url = server.url();
    let ch = RedisChannels::connect(&url, &ctx.prefix).await.unwrap();
    let erin = user_channel("erin");
    let mut sub = ch.subscribe(&erin).await.unwrap();
    ch.publish(&erin, typing(1)).await.unwrap();
    assert_eq!(next(&mut sub).await, typing(1));

    drop(server);
    // Publishing while Redis is down fails fast.
    for _ in 0..3 {
        let started = Instant::now();
        let err = ch.publish(&erin, typing(2)).await.unwrap_err();
        assert!(matches!(err, PortError::Unavailable { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }
    assert!(ch.health().await.is_err());
    // Subscribing while Redis is down degrades instead of failing: the
    // subscription is made when Redis is back, announced by Resync.
    let started = Instant::now();
    let frank = user_channel("frank");
    let mut frank_sub = ch.subscribe(&frank).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(RedisChannels::connect(&url, &ctx.prefix).await.is_err());

    let server = OwnRedis::start(port).unwrap();
    server.wait_ready().await;
    assert_eq!(next(&mut sub).await, RealtimeEvent::Resync);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = ch.publish(&erin, typing(3)).await {
        assert!(Instant::now() < deadline, "publishing did not recover: {e}");
        sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(next(&mut sub).await, typing(3));
    assert_eq!(next(&mut frank_sub).await, RealtimeEvent::Resync);
    ch.publish(&frank, typing(4)).await.unwrap();
    assert_eq!(next(&mut frank_sub).await, typing(4));
    ch.health().await.unwrap();
}

#[tokio::test]
async fn connecting_to_nothing_is_unavailable_quickly() {
    let Some(ctx) = setup().await else { return };
    let started = Instant::now();
    let err = RedisChannels::connect("redis://127.0.0.1:1/", &ctx.prefix)
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(matches!(err, PortError::Unavailable { .. }), "{err}");
    let store = Arc::new(MemLastSeen::default());
    let ch: Arc<dyn Channels> = Arc::new(ctx.channels().await);
    let err = RedisPresence::connect(
        "redis://127.0.0.1:1/",
        &ctx.prefix,
        Duration::from_secs(1),
        ch,
        store,
    )
    .await
    .err()
    .expect("nothing listens on port 1");
    assert!(matches!(err, PortError::Unavailable { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

async fn presence(ctx: &Ctx, ttl: Duration, store: &Arc<MemLastSeen>) -> RedisPresence {
    let channels: Arc<dyn Channels> = Arc::new(ctx.channels().await);
    RedisPresence::connect(&ctx.url, &ctx.prefix, ttl, channels, store.clone())
        .await
        .expect("connect presence")
}

fn status_event(event: RealtimeEvent) -> chat_domain::PresenceStatus {
    let RealtimeEvent::Presence { status } = event else {
        panic!("expected a presence event, got {event:?}");
    };
    status
}

#[tokio::test]
async fn presence_is_shared_by_gateways_until_the_last_connection_goes() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let a = presence(&ctx, Duration::from_secs(30), &store).await;
    let b = presence(&ctx, Duration::from_secs(30), &store).await;
    assert_ne!(a.node(), b.node());
    let watcher = ctx.channels().await;
    let mut changes = watcher.subscribe(&presence_channel("gina")).await.unwrap();
    let users: [UserId; 2] = ["gina".into(), "nobody".into()];

    a.connected("gina", "phone", 1).await.unwrap();
    // Scripts that Redis forgot (a restart, SCRIPT FLUSH) are loaded again.
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut ctx.admin.clone())
        .await
        .unwrap();
    a.heartbeat("gina", 1).await.unwrap();
    let online = status_event(next(&mut changes).await);
    assert_eq!(
        (online.user.as_str(), online.online, online.last_seen),
        ("gina", true, None)
    );
    // The same connection number on another gateway is another connection.
    b.connected("gina", "laptop", 1).await.unwrap();
    b.heartbeat("gina", 1).await.unwrap();
    nothing(&mut changes).await;
    let seen = b.status(&users).await.unwrap();
    assert!(seen[0].online && seen[0].last_seen.is_none(), "{seen:?}");
    assert!(!seen[1].online && seen[1].last_seen.is_none(), "{seen:?}");
    assert!(a.status(&[]).await.unwrap().is_empty());

    a.disconnected("gina", 1).await.unwrap();
    nothing(&mut changes).await;
    assert!(a.status(&users).await.unwrap()[0].online);

    let before = chat_domain::time::now_ms();
    b.disconnected("gina", 1).await.unwrap();
    let offline = status_event(next(&mut changes).await);
    assert_eq!((offline.user.as_str(), offline.online), ("gina", false));
    let ts = offline.last_seen.expect("last seen with offline");
    assert!(ts >= before, "{ts} < {before}");
    assert_eq!(store.last_seen("gina").await.unwrap(), Some(ts));
    let seen = a.status(&users).await.unwrap();
    assert!(!seen[0].online && seen[0].last_seen == Some(ts), "{seen:?}");
    assert!(!ctx.exists(&a.key("gina")).await);
}

#[tokio::test]
async fn heartbeats_keep_presence_and_silence_lets_it_expire() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let ttl = Duration::from_millis(1000);
    let p = presence(&ctx, ttl, &store).await;
    let watcher = ctx.channels().await;
    let mut ivy_changes = watcher.subscribe(&presence_channel("ivy")).await.unwrap();
    p.connected("hank", "phone", 1).await.unwrap();
    p.connected("ivy", "phone", 1).await.unwrap();
    assert!(status_event(next(&mut ivy_changes).await).online);
    let started = Instant::now();
    while started.elapsed() < ttl * 2 {
        sleep(Duration::from_millis(150)).await;
        p.heartbeat("hank", 1).await.unwrap();
    }
    let users: [UserId; 2] = ["hank".into(), "ivy".into()];
    // The sweeper announced ivy offline when her entry expired.
    let expired = status_event(next(&mut ivy_changes).await);
    assert!(
        !expired.online && expired.last_seen.is_some(),
        "{expired:?}"
    );
    let seen = p.status(&users).await.unwrap();
    assert!(seen[0].online, "heartbeats keep hank online: {seen:?}");
    assert!(!seen[1].online, "ivy expired: {seen:?}");
    assert_eq!(seen[1].last_seen, expired.last_seen, "{seen:?}");
    assert!(
        !ctx.exists(&p.key("ivy")).await,
        "the key expires with its entries"
    );
    let pttl: i64 = redis::cmd("PTTL")
        .arg(p.key("hank"))
        .query_async(&mut ctx.admin.clone())
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 1000, "{pttl}");

    // A heartbeat after the expiry brings the user back, and says so.
    p.heartbeat("ivy", 1).await.unwrap();
    assert!(status_event(next(&mut ivy_changes).await).online);
    assert!(p.status(&users).await.unwrap()[1].online);
    p.disconnected("ivy", 1).await.unwrap();
    let offline = status_event(next(&mut ivy_changes).await);
    assert!(!offline.online && offline.last_seen.is_some());
    p.disconnected("hank", 1).await.unwrap();
    assert!(p.status(&users).await.unwrap().iter().all(|s| !s.online));
}

/// The next event within `within`, which must be a presence change.
async fn change_within(sub: &mut Subscription, within: Duration) -> chat_domain::PresenceStatus {
    let event = timeout(within, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("a presence change within {within:?}"))
        .expect("an event, not a lag or a close");
    status_event((*event).clone())
}

#[tokio::test]
async fn a_crashed_gateway_s_users_are_announced_offline_by_another() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let ttl = Duration::from_millis(400);
    let crashing = presence(&ctx, ttl, &store).await;
    let survivor = presence(&ctx, ttl, &store).await;
    let watcher = ctx.channels().await;
    let mut changes = watcher.subscribe(&presence_channel("jack")).await.unwrap();

    let before = chat_domain::time::now_ms();
    crashing.connected("jack", "phone", 1).await.unwrap();
    let after = chat_domain::time::now_ms();
    assert!(
        change_within(&mut changes, Duration::from_secs(5))
            .await
            .online
    );
    let index: f64 = redis::cmd("ZSCORE")
        .arg(survivor.index_key())
        .arg("jack")
        .query_async(&mut ctx.admin.clone())
        .await
        .unwrap();
    let ttl_ms = ttl.as_millis() as i64;
    assert!(
        (before + ttl_ms..=after + ttl_ms).contains(&(index as i64)),
        "{index}"
    );
    drop(crashing);

    let offline = change_within(&mut changes, ttl + Duration::from_secs(2)).await;
    let noticed = chat_domain::time::now_ms();
    assert_eq!((offline.user.as_str(), offline.online), ("jack", false));
    let ts = offline.last_seen.expect("last seen with offline");
    // Last seen is the expiry (Redis runs on this machine's clock).
    assert!(
        (before + ttl_ms - 20..=after + ttl_ms + 20).contains(&ts),
        "{ts} is not the expiry {}..={}",
        before + ttl_ms,
        after + ttl_ms
    );
    assert!(
        noticed - ts <= 2000,
        "announced {} ms after the expiry",
        noticed - ts
    );
    assert_eq!(store.last_seen("jack").await.unwrap(), Some(ts));
    let seen = survivor.status(&["jack".into()]).await.unwrap();
    assert!(!seen[0].online && seen[0].last_seen == Some(ts), "{seen:?}");
    assert!(!ctx.exists(&survivor.key("jack")).await);
    assert!(
        !ctx.exists(survivor.index_key()).await,
        "the index is empty"
    );
    // Announced once.
    if let Ok(got) = timeout(Duration::from_millis(1200), changes.recv()).await {
        panic!("expected no event, got {got:?}");
    }
}

#[tokio::test]
async fn a_user_with_a_live_connection_elsewhere_is_not_swept() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let ttl = Duration::from_millis(400);
    let crashing = presence(&ctx, ttl, &store).await;
    let alive = presence(&ctx, ttl, &store).await;
    let watcher = ctx.channels().await;
    let mut changes = watcher.subscribe(&presence_channel("kate")).await.unwrap();

    crashing.connected("kate", "phone", 1).await.unwrap();
    assert!(
        change_within(&mut changes, Duration::from_secs(5))
            .await
            .online
    );
    alive.connected("kate", "laptop", 7).await.unwrap();
    drop(crashing);
    let started = Instant::now();
    while started.elapsed() < ttl + Duration::from_secs(2) {
        alive.heartbeat("kate", 7).await.unwrap();
        if let Ok(got) = timeout(Duration::from_millis(100), changes.recv()).await {
            panic!("kate has a live connection, got {got:?}");
        }
    }
    let seen = alive.status(&["kate".into()]).await.unwrap();
    assert!(seen[0].online, "{seen:?}");
    assert_eq!(store.last_seen("kate").await.unwrap(), None);
    let members: i64 = redis::cmd("ZCARD")
        .arg(alive.key("kate"))
        .query_async(&mut ctx.admin.clone())
        .await
        .unwrap();
    assert_eq!(members, 1, "the crashed gateway's entry is gone");

    // The last connection closing announces offline, and only that.
    alive.disconnected("kate", 7).await.unwrap();
    let offline = change_within(&mut changes, Duration::from_secs(5)).await;
    assert!(
        !offline.online && offline.last_seen.is_some(),
        "{offline:?}"
    );
    assert!(!ctx.exists(alive.index_key()).await, "kate left the index");
    if let Ok(got) = timeout(Duration::from_millis(1200), changes.recv()).await {
        panic!("expected no event, got {got:?}");
    }
}

#[tokio::test]
async fn two_sweeping_gateways_announce_each_expired_user_once() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let ttl = Duration::from_millis(400);
    let crashing = presence(&ctx, ttl, &store).await;
    let first = presence(&ctx, ttl, &store).await;
    let second = presence(&ctx, ttl, &store).await;
    let watcher = ctx.channels().await;
    let users: Vec<UserId> = (0..20).map(|i| format!("crowd{i}").into()).collect();
    let mut subs = Vec::new();
    for user in &users {
        subs.push(watcher.subscribe(&presence_channel(user)).await.unwrap());
    }
    for (conn, user) in users.iter().enumerate() {
        crashing
            .connected(user, "phone", conn as u64)
            .await
            .unwrap();
    }
    for sub in &mut subs {
        assert!(change_within(sub, Duration::from_secs(5)).await.online);
    }
    drop(crashing);

    sleep(ttl + Duration::from_secs(2)).await;
    // Let one more round of both sweepers go by.
    sleep(Duration::from_millis(600)).await;
    for (user, sub) in users.iter().zip(&mut subs) {
        let offline = change_within(sub, Duration::from_millis(10)).await;
        assert_eq!(
            (offline.user.as_str(), offline.online),
            (user.as_str(), false)
        );
        assert_eq!(store.last_seen(user).await.unwrap(), offline.last_seen);
        if let Ok(got) = timeout(Duration::from_millis(10), sub.recv()).await {
            panic!("{user} was announced again: {got:?}");
        }
    }
    let seen = first.status(&users).await.unwrap();
    assert!(seen.iter().all(|s| !s.online), "{seen:?}");
    drop(second);
}

/// A last-seen store whose first `fail` writes fail.
struct FlakyLastSeen {
    fail: Mutex<usize>,
    inner: MemLastSeen,
}

#[async_trait]
impl LastSeenStore for FlakyLastSeen {
    async fn set_last_seen(&self, user: &str, ts: i64) -> chat_ports::Result<()> {
        {
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(PortError::Unavailable {
                    what: "test store",
                    detail: "down for the test".into(),
                });
            }
        }
        self.inner.set_last_seen(user, ts).await
    }

    async fn last_seen(&self, user: &str) -> chat_ports::Result<Option<i64>> {
        self.inner.last_seen(user).await
    }
}

#[tokio::test]
async fn a_disconnect_whose_store_failed_is_announced_by_the_sweeper() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(FlakyLastSeen {
        fail: Mutex::new(2),
        inner: MemLastSeen::default(),
    });
    let channels: Arc<dyn Channels> = Arc::new(ctx.channels().await);
    let p = RedisPresence::connect(
        &ctx.url,
        &ctx.prefix,
        Duration::from_secs(30),
        channels,
        store.clone(),
    )
    .await
    .unwrap();
    let watcher = ctx.channels().await;
    let mut changes = watcher.subscribe(&presence_channel("liam")).await.unwrap();
    p.connected("liam", "phone", 1).await.unwrap();
    assert!(
        change_within(&mut changes, Duration::from_secs(5))
            .await
            .online
    );

    let before = chat_domain::time::now_ms();
    let err = p.disconnected("liam", 1).await.unwrap_err();
    assert!(matches!(err, PortError::Unavailable { .. }), "{err}");
    // The sweeper's first try fails too (the store is down twice), its
    // second one announces.
    let offline = change_within(&mut changes, Duration::from_secs(3)).await;
    assert!(!offline.online, "{offline:?}");
    let ts = offline.last_seen.expect("last seen with offline");
    assert!((before..before + 100).contains(&ts), "{ts} vs {before}");
    assert_eq!(store.last_seen("liam").await.unwrap(), Some(ts));
    assert!(!ctx.exists(p.index_key()).await);
    nothing(&mut changes).await;
}

#[tokio::test]
async fn a_late_disconnect_after_the_sweeper_announces_nothing_more() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let ttl = Duration::from_millis(300);
    let p = presence(&ctx, ttl, &store).await;
    let watcher = ctx.channels().await;
    let mut changes = watcher.subscribe(&presence_channel("mia")).await.unwrap();
    p.connected("mia", "phone", 1).await.unwrap();
    assert!(
        change_within(&mut changes, Duration::from_secs(5))
            .await
            .online
    );
    let offline = change_within(&mut changes, ttl + Duration::from_secs(2)).await;
    assert!(!offline.online, "{offline:?}");
    // The gateway notices the dead connection only now.
    p.disconnected("mia", 1).await.unwrap();
    nothing(&mut changes).await;
    assert_eq!(store.last_seen("mia").await.unwrap(), offline.last_seen);
}

#[tokio::test]
async fn online_devices_span_gateways_and_a_crashed_one_s_expire() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen::default());
    let ttl = Duration::from_millis(400);
    let crashing = presence(&ctx, ttl, &store).await;
    let alive = presence(&ctx, ttl, &store).await;
    assert!(alive.online_devices("nora").await.unwrap().is_empty());

    crashing.connected("nora", "tablet", 1).await.unwrap();
    crashing.connected("nora", "phone", 2).await.unwrap();
    // The same device on both gateways is listed once.
    alive.connected("nora", "phone", 1).await.unwrap();
    alive.connected("nora", "laptop", 2).await.unwrap();
    alive.connected("omar", "watch", 3).await.unwrap();
    for p in [&crashing, &alive] {
        assert_eq!(
            p.online_devices("nora").await.unwrap(),
            vec!["laptop", "phone", "tablet"]
        );
    }
    assert_eq!(alive.online_devices("omar").await.unwrap(), vec!["watch"]);

    // A closed connection takes its device along, unless the device holds
    // another live connection.
    alive.disconnected("nora", 2).await.unwrap();
    crashing.disconnected("nora", 2).await.unwrap();
    assert_eq!(
        alive.online_devices("nora").await.unwrap(),
        vec!["phone", "tablet"]
    );

    // The crashed gateway's entries expire; the heartbeats keep the others.
    drop(crashing);
    let started = Instant::now();
    while started.elapsed() < ttl * 3 {
        alive.heartbeat("nora", 1).await.unwrap();
        alive.heartbeat("omar", 3).await.unwrap();
        // A connection the engine was not told about records nothing.
        alive.heartbeat("nora", 99).await.unwrap();
        sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alive.online_devices("nora").await.unwrap(), vec!["phone"]);
    assert_eq!(alive.online_devices("omar").await.unwrap(), vec!["watch"]);

    // Silence: an expired entry is not online, swept or not; a heartbeat
    // after the expiry brings the device back.
    sleep(ttl + Duration::from_millis(100)).await;
    assert!(alive.online_devices("nora").await.unwrap().is_empty());
    alive.heartbeat("nora", 1).await.unwrap();
    assert_eq!(alive.online_devices("nora").await.unwrap(), vec!["phone"]);

    alive.disconnected("nora", 1).await.unwrap();
    alive.disconnected("omar", 3).await.unwrap();
    assert!(alive.online_devices("nora").await.unwrap().is_empty());
    assert!(alive.online_devices("omar").await.unwrap().is_empty());
    assert!(!ctx.exists(&alive.key("nora")).await);
}

/// A last-seen store that takes its time, as a store under load does.
struct SlowLastSeen(Arc<MemLastSeen>);

#[async_trait]
impl LastSeenStore for SlowLastSeen {
    async fn set_last_seen(&self, user: &str, ts: i64) -> chat_ports::Result<()> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        self.0.set_last_seen(user, ts).await
    }

    async fn last_seen(&self, user: &str) -> chat_ports::Result<Option<i64>> {
        self.0.last_seen(user).await
    }
}

/// A disconnect on one gateway and a reconnect on another that race: the
/// user's last connection closes on gateway A (which writes last-seen,
/// slowly), and the user connects on gateway B meanwhile. Watchers must end
/// with `online`, the truth, not with A's late `offline`.
#[tokio::test]
async fn a_reconnect_racing_a_disconnect_leaves_the_user_online() {
    let Some(ctx) = setup().await else { return };
    let store = Arc::new(MemLastSeen(Mutex::new(HashMap::new())));
    let slow: Arc<dyn LastSeenStore> = Arc::new(SlowLastSeen(store.clone()));
    let channels: Arc<dyn Channels> = Arc::new(ctx.channels().await);
    let a = Arc::new(
        RedisPresence::connect(
            &ctx.url,
            &ctx.prefix,
            Duration::from_secs(30),
            channels,
            slow,
        )
        .await
        .expect("connect presence"),
    );
    let b = presence(&ctx, Duration::from_secs(30), &store).await;
    let watcher = ctx.channels().await;
    let mut changes = watcher.subscribe(&presence_channel("zoe")).await.unwrap();
    a.connected("zoe", "phone", 1).await.unwrap();
    assert!(status_event(next(&mut changes).await).online);

    let leaving = {
        let a = a.clone();
        tokio::spawn(async move { a.disconnected("zoe", 1).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.connected("zoe", "laptop", 2).await.unwrap();
    leaving.await.unwrap().unwrap();

    let mut last = None;
    while let Ok(Ok(e)) = timeout(Duration::from_millis(700), changes.recv()).await {
        last = Some(status_event((*e).clone()).online);
    }
    assert_eq!(last, Some(true), "the last word is online");
    let now = b.status(&["zoe".into()]).await.unwrap();
    assert!(now[0].online);
}
