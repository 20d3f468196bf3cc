//! Presence in Redis: soft state with a TTL, shared by every gateway.
//!
//! Each user has a sorted set `{prefix}online:{user}` whose members are the
//! user's connections, `{node}:{conn}` (`node` is random per engine, since
//! `conn` is only unique per process), scored with their expiry time in
//! milliseconds (now + TTL). A user is online while a member's score is in
//! the future. `connected` and `heartbeat` push a member's expiry forward,
//! `disconnected` removes it; the set's own key TTL follows its latest
//! expiry, so the entries of a gateway that crashed disappear by
//! themselves. The scripts read the clock of Redis (`TIME`), so gateways
//! with skewed clocks agree on who is online.
//!
//! The first live connection announces `online` on the user's presence
//! channel; a disconnect that leaves no live connection writes last-seen
//! and announces `offline`.

use crate::conn::Commands;
use crate::script::LuaScript;
use async_trait::async_trait;
use chat_domain::{time::now_ms, PresenceStatus};
use chat_ports::channels::presence_channel;
use chat_ports::{Channels, LastSeenStore, PortError, Presence, RealtimeEvent, Result};
use redis::{Client, Value};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WHAT: &str = "Redis presence";

/// `KEYS[1]`: the user's set; `ARGV[1]`: the connection's member;
/// `ARGV[2]`: the TTL in ms. Drops expired members, (re)scores this one,
/// sets the key to expire with the latest member. Returns 1 when the user
/// had no live connection before.
const TOUCH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = function(x) return string.format('%.0f', x) end
local live = redis.call('ZCOUNT', KEYS[1], '(' .. ms(now), '+inf')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms(now))
redis.call('ZADD', KEYS[1], ms(now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
if live == 0 then return 1 end
return 0
";

/// `KEYS[1]`: the user's set; `ARGV[1]`: the connection's member. Removes
/// it and the expired members; returns how many live members remain.
const LEAVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
return redis.call('ZCARD', KEYS[1])
";

/// Presence shared through Redis.
pub struct RedisPresence {
    commands: Commands,
    prefix: String,
    node: String,
    ttl: Duration,
    channels: Arc<dyn Channels>,
    last_seen: Arc<dyn LastSeenStore>,
    touch: LuaScript,
    leave: LuaScript,
}

impl RedisPresence {
    /// Connects to Redis at `url`. Keys start with `prefix`; a connection
    /// without a heartbeat for `ttl` counts as gone (so `ttl` must exceed
    /// the heartbeat interval, with room for one missed beat). Changes are
    /// announced on `channels`, last-seen is written to `last_seen`.
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
        let commands = Commands::connect(client, WHAT).await?;
        let node = node_id();
        tracing::info!(prefix, node = %node, ttl_ms = ttl.as_millis() as u64, "Redis presence is connected.");
        Ok(Self {
            commands,
            prefix: prefix.to_string(),
            node,
            ttl,
            channels,
            last_seen,
            touch: LuaScript::new("presence touch", TOUCH),
            leave: LuaScript::new("presence leave", LEAVE),
        })
    }

    /// This engine's random node id (the first part of its members).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The key of a user's set of connections.
    pub fn key(&self, user: &str) -> String {
        format!("{}online:{}", self.prefix, user)
    }

    fn member(&self, conn: u64) -> String {
        format!("{}:{}", self.node, conn)
    }

    /// Scores the connection; true when it made the user online.
    async fn touch(&self, user: &str, conn: u64) -> Result<bool> {
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let member = self.member(conn);
        let first: i64 = self
            .touch
            .run(&self.commands, &[&self.key(user)], (member.as_str(), ttl))
            .await?;
        Ok(first == 1)
    }

    async fn announce(&self, status: PresenceStatus) -> Result<()> {
        let channel = presence_channel(&status.user);
        self.channels
            .publish(&channel, RealtimeEvent::Presence { status })
            .await
    }

    async fn announce_online(&self, user: &str) -> Result<()> {
        self.announce(PresenceStatus {
            user: user.to_string(),
            online: true,
            last_seen: None,
        })
        .await
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connected(&self, user: &str, conn: u64) -> Result<()> {
        if self.touch(user, conn).await? {
            self.announce_online(user).await?;
        }
        Ok(())
    }

    /// Pushes the connection's expiry forward. When its entry had expired
    /// (Redis was unreachable for longer than the TTL) and it was the
    /// user's only one, the user is announced online again.
    async fn heartbeat(&self, user: &str, conn: u64) -> Result<()> {
        if self.touch(user, conn).await? {
            tracing::debug!(user, "A heartbeat brought back an expired presence.");
            self.announce_online(user).await?;
        }
        Ok(())
    }

    /// When no live connection remains the user goes offline, even if this
    /// connection's entry had already expired: an expiry announces nothing,
    /// so this is the first moment the change can be told.
    async fn disconnected(&self, user: &str, conn: u64) -> Result<()> {
        let member = self.member(conn);
        let live: i64 = self
            .leave
            .run(&self.commands, &[&self.key(user)], member.as_str())
            .await?;
        if live == 0 {
            let ts = now_ms();
            self.last_seen.set_last_seen(user, ts).await?;
            self.announce(PresenceStatus {
                user: user.to_string(),
                online: false,
                last_seen: Some(ts),
            })
            .await?;
        }
        Ok(())
    }

    /// One pipeline: Redis's clock, then each user's latest expiry; then
    /// last-seen from the store for the users who are offline.
    async fn status(&self, users: &[String]) -> Result<Vec<PresenceStatus>> {
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
fn last_number(value: &Value) -> Option<f64> {
    match value {
        Value::Array(items) => items.iter().rev().find_map(last_number),
        other => number(other),
    }
}

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
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}
