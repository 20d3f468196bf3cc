//! Presence in Redis: soft state with a TTL, shared by every gateway.
//!
//! Each user has a sorted set `{prefix}online:{user}` whose members are the
//! user's connections, `{node}:{conn}:{device}` (`node` is random per
//! engine, since `conn` is only unique per process; see `members`), scored
//! with their expiry time in milliseconds (now + TTL). A user is online
//! while a member's score is in the future. `connected` and `heartbeat`
//! push a member's expiry forward, `disconnected` removes it; the set's own
//! key TTL follows its latest expiry, so the entries of a gateway that
//! crashed disappear by themselves. The scripts read the clock of Redis (`TIME`), so gateways
//! with skewed clocks agree on who is online. The devices online are those
//! of the live members, whichever gateway wrote them.
//!
//! The first live connection announces `online` on the user's presence
//! channel; a disconnect that leaves no live connection writes last-seen
//! and announces `offline`. The index `{prefix}online_index` scores each
//! user with the latest expiry of its connections, so that the sweeper
//! (`sweeper`), a task of each engine, finds the users whose connections
//! all expired without a disconnect and announces them offline. The Lua
//! scripts are in `presence_lua`.

use crate::conn::Commands;
use crate::members::{self, Connections};
use crate::offline::Offline;
use crate::presence_lua::{LEAVE, LIVE, LIVE_MEMBERS, TOUCH};
use crate::script::LuaScript;
use crate::sweeper::{requeue, Sweeper};
use async_trait::async_trait;
use chat_domain::{time::now_ms, PresenceStatus, UserId};
use chat_ports::channels::presence_channel;
use chat_ports::{
    Channels, LastSeenStore, LiveConnections, PortError, Presence, RealtimeEvent, Result,
};
use redis::{Client, Value};
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::{CancellationToken, DropGuard};

const WHAT: &str = "Redis presence";

/// Presence shared through Redis. Dropping it stops its sweeper.
pub struct RedisPresence {
    commands: Arc<Commands>,
    prefix: String,
    index: String,
    node: String,
    ttl: Duration,
    channels: Arc<dyn Channels>,
    last_seen: Arc<dyn LastSeenStore>,
    touch: LuaScript,
    leave: LuaScript,
    live: LuaScript,
    live_members: LuaScript,
    /// The device of each connection this engine was told about.
    connections: Connections,
    _sweeper: DropGuard,
}

impl RedisPresence {
    /// Connects to Redis at `url`. Keys start with `prefix`; a connection
    /// without a heartbeat for `ttl` counts as gone (so `ttl` must exceed
    /// the heartbeat interval, with room for one missed beat). Changes are
    /// announced on `channels`, last-seen is written to `last_seen`. Starts
    /// the sweeper task, which announces offline the users whose
    /// connections expired (on any gateway) about every 500 ms.
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
        channels: Arc<dyn Channels>,
        last_seen: Arc<dyn LastSeenStore>,
    ) -> Result<Self> {
        if ttl.as_millis() == 0 {
            return Err(PortError::Storage {
                what: WHAT,
                detail: "the presence TTL must be at least 1 ms".into(),
            });
        }
        let client = Client::open(url).map_err(|e| PortError::unavailable(WHAT, e))?;
        let commands = Arc::new(Commands::connect(client, WHAT).await?);
        let node = node_id();
        let index = index_key(prefix);
        let stop = CancellationToken::new();
        let sweeper = Sweeper {
            commands: commands.clone(),
            prefix: prefix.to_string(),
            index: index.clone(),
            channels: channels.clone(),
            last_seen: last_seen.clone(),
        };
        tokio::spawn(sweeper.run(stop.clone()));
        tracing::info!(prefix, node = %node, ttl_ms = ttl.as_millis() as u64, "Redis presence is connected.");
        Ok(Self {
            commands,
            prefix: prefix.to_string(),
            index,
            node,
            ttl,
            channels,
            last_seen,
            touch: LuaScript::new("presence touch", TOUCH),
            leave: LuaScript::new("presence leave", LEAVE),
            live: LuaScript::new("presence live", LIVE),
            live_members: LuaScript::new("presence live members", LIVE_MEMBERS),
            connections: Connections::default(),
            _sweeper: stop.drop_guard(),
        })
    }

    /// This engine's random node id (the first part of its members).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The key of a user's set of connections.
    pub fn key(&self, user: &str) -> String {
        user_key(&self.prefix, user)
    }

    /// The key of the index: each user with the latest expiry of its
    /// connections.
    pub fn index_key(&self) -> &str {
        &self.index
    }

    /// Scores the connection of `device`; true when it made the user
    /// online.
    async fn touch(&self, user: &str, conn: u64, device: &str) -> Result<bool> {
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let member = members::member(&self.node, conn, device);
        let first: i64 = self
            .touch
            .run(
                &self.commands,
                &[&self.key(user), &self.index],
                (member.as_str(), ttl, user),
            )
            .await?;
        Ok(first == 1)
    }

    async fn announce_online(&self, user: &str) -> Result<()> {
        let status = PresenceStatus {
            user: user.into(),
            online: true,
            last_seen: None,
        };
        announce(self.channels.as_ref(), status).await
    }

    /// Writes last-seen, then announces `offline`, checked against a
    /// reconnect on another gateway (`offline.rs`).
    async fn go_offline(&self, user: &str, ts: i64) -> Result<()> {
        self.last_seen.set_last_seen(user, ts).await?;
        Offline {
            commands: &self.commands,
            live: &self.live,
            channels: self.channels.as_ref(),
            prefix: &self.prefix,
        }
        .announce(user, ts)
        .await
    }
}

#[async_trait]
impl Presence for RedisPresence {
    /// Remembers the connection's device before anything else, so that a
    /// heartbeat brings the entry back if writing it now fails.
    async fn connected(&self, user: &str, device: &str, conn: u64) -> Result<()> {
        self.connections.open(user, conn, device);
        if self.touch(user, conn, device).await? {
            self.announce_online(user).await?;
        }
        Ok(())
    }

    /// Pushes the connection's expiry forward. When its entry had expired
    /// (Redis was unreachable for longer than the TTL) and it was the
    /// user's only one, the user is announced online again. A connection
    /// this engine was not told about (no `connected`) has no device to
    /// record, and is left alone.
    async fn heartbeat(&self, user: &str, conn: u64) -> Result<()> {
        let Some(device) = self.connections.device(user, conn) else {
            tracing::debug!(
                user,
                conn,
                "A heartbeat of a connection this engine was not told about."
            );
            return Ok(());
        };
        if self.touch(user, conn, &device).await? {
            tracing::debug!(user, "A heartbeat brought back an expired presence.");
            self.announce_online(user).await?;
        }
        Ok(())
    }

    /// When no live connection remains the user goes offline (and leaves
    /// the index), even if this connection's entry had already expired,
    /// unless the sweeper announced it already. When writing last-seen or
    /// announcing fails, the user is put back in the index so that the
    /// sweeper announces it.
    async fn disconnected(&self, user: &str, conn: u64) -> Result<()> {
        // Unknown, the connection has no member to remove; the user still
        // goes offline if none of its connections is live.
        let device = self.connections.close(user, conn).unwrap_or_default();
        let member = members::member(&self.node, conn, &device);
        let went: i64 = self
            .leave
            .run(
                &self.commands,
                &[&self.key(user), &self.index],
                (member.as_str(), user),
            )
            .await?;
        if went == 1 {
            let ts = now_ms();
            if let Err(e) = self.go_offline(user, ts).await {
                tracing::debug!(user, error = %e, "A user could not be announced offline; the sweeper will do it.");
                requeue(&self.commands, &self.index, user, ts).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// One pipeline: Redis's clock, then each user's latest expiry; then
    /// last-seen from the store for the users who are offline.
    async fn status(&self, users: &[UserId]) -> Result<Vec<PresenceStatus>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("TIME");
        for user in users {
            pipe.cmd("ZRANGE")
                .arg(self.key(user))
                .arg(-1)
                .arg(-1)
                .arg("WITHSCORES");
        }
        let replies: Vec<Value> = self.commands.query_pipe(&pipe).await?;
        let mut replies = replies.into_iter();
        let now = replies
            .next()
            .and_then(|time| server_ms(&time))
            .ok_or_else(|| {
                PortError::corrupt(WHAT, "TIME did not answer seconds and microseconds")
            })?;
        let online: Vec<bool> = replies
            .map(|top| last_number(&top).is_some_and(|expiry| expiry > now))
            .collect();
        if online.len() != users.len() {
            return Err(PortError::corrupt(
                WHAT,
                "the pipeline answered fewer replies than it was sent commands",
            ));
        }
        let lookups = users.iter().zip(&online).map(|(user, online)| async move {
            if *online {
                Ok(None)
            } else {
                self.last_seen.last_seen(user).await
            }
        });
        let last_seen = futures::future::try_join_all(lookups).await?;
        Ok(users
            .iter()
            .zip(online)
            .zip(last_seen)
            .map(|((user, online), last_seen)| PresenceStatus {
                user: user.clone(),
                online,
                last_seen,
            })
            .collect())
    }

    /// The devices of the live members of the user's set, wherever they
    /// were written (one script: Redis's clock, then the members).
    async fn online_devices(&self, user: &str) -> Result<Vec<String>> {
        let live: Vec<String> = self
            .live_members
            .run(&self.commands, &[&self.key(user)], &[] as &[&str])
            .await?;
        let devices: BTreeSet<&str> = live.iter().filter_map(|m| members::device_of(m)).collect();
        Ok(devices.into_iter().map(str::to_string).collect())
    }

    /// The live members of the user's set: its connections on every node.
    async fn live_connections(&self, user: &str, device: &str) -> Result<LiveConnections> {
        let live: Vec<String> = self
            .live_members
            .run(&self.commands, &[&self.key(user)], &[] as &[&str])
            .await?;
        Ok(LiveConnections {
            of_user: live.len(),
            of_device: live
                .iter()
                .filter(|m| members::device_of(m) == Some(device))
                .count(),
        })
    }
}

/// The key of a user's set of connections; the sweep script builds the
/// same name.
pub(crate) fn user_key(prefix: &str, user: &str) -> String {
    format!("{prefix}online:{user}")
}

/// The key of the index of users by their latest expiry.
fn index_key(prefix: &str) -> String {
    format!("{prefix}online_index")
}

/// The `offline` status of `user`, last seen at `ts`.
pub(crate) fn offline(user: &str, ts: i64) -> PresenceStatus {
    PresenceStatus {
        user: user.into(),
        online: false,
        last_seen: Some(ts),
    }
}

/// Publishes `status` on the user's presence channel.
pub(crate) async fn announce(channels: &dyn Channels, status: PresenceStatus) -> Result<()> {
    let channel = presence_channel(&status.user);
    channels
        .publish(&channel, RealtimeEvent::Presence { status })
        .await
}

/// Milliseconds from a TIME reply (`[seconds, microseconds]`).
fn server_ms(time: &Value) -> Option<f64> {
    let Value::Array(parts) = time else {
        return None;
    };
    let [secs, micros] = parts.as_slice() else {
        return None;
    };
    Some(number(secs)? * 1000.0 + (number(micros)? / 1000.0).floor())
}

/// The last number in a reply, looking into nested arrays: the score of a
/// `ZRANGE … WITHSCORES` of one member, in RESP2 (`[member, score]`) or
/// RESP3 (`[[member, score]]`).
#[allow(clippy::wildcard_enum_match_arm)] // (`other`: every reply but an array)
fn last_number(value: &Value) -> Option<f64> {
    match value {
        Value::Array(items) => items.iter().rev().find_map(last_number),
        other => number(other),
    }
}

/// (Redis's reply enum: whatever is not named here is not a number.)
#[allow(clippy::wildcard_enum_match_arm)]
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        Value::Int(n) => Some(*n as f64),
        Value::Double(d) => Some(*d),
        _ => None,
    }
}

/// A random id for this engine: `RandomState` carries fresh random keys,
/// mixed with the time and the process id.
fn node_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    // Seed material for a random id, not a timestamp.
    #[allow(clippy::disallowed_methods)]
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}
