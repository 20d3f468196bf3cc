//! Redis engines for the real-time ports: [`RedisChannels`] implements
//! `chat_ports::Channels` over pub/sub, [`RedisPresence`] implements
//! `chat_ports::Presence` with sorted sets whose entries expire, swept by a
//! task that announces the expired users offline.
//!
//! A process holds one pub/sub connection, whatever its number of
//! subscribers, and one multiplexed connection per engine for commands.
//! Both come back by themselves after Redis does: the pub/sub reader
//! subscribes again and sends `RealtimeEvent::Resync` to its subscribers
//! (events published meanwhile are lost; the store repairs them), and
//! commands answer `PortError::Unavailable` at once while Redis is down.
//! Every key and channel name starts with a prefix given at construction,
//! so several deployments or test runs can share one Redis.
//!
//! # Layout
//! - [`channels`]: [`RedisChannels`], the local registry of broadcasts and
//!   publishing.
//! - `subscriber`: the task that owns the pub/sub connection: SUBSCRIBE and
//!   UNSUBSCRIBE in registry order, delivery, reconnection and resync.
//! - [`presence`]: [`RedisPresence`], the sorted sets of connections and
//!   the index of users by their latest expiry.
//! - `presence_lua`: the Lua scripts of presence.
//! - `offline`: the offline announcement, checked against a reconnect on
//!   another gateway on both sides of its publish.
//! - `members`: the members of the users' sets (`{node}:{conn}:{device}`)
//!   and the device of each of the engine's connections.
//! - `sweeper`: the task of each presence engine that announces offline the
//!   users whose connections expired without a disconnect.
//! - `conn`: a multiplexed connection that is replaced after a connection
//!   error, with backoff while Redis is down.
//! - `script`: Lua scripts run by SHA1, reloaded when Redis forgot them.
//! - `errors`: Redis errors as port errors.
//!
//! Tests against a real Redis are in `tests/redis.rs`; they run when
//! `REDIS_URL` is set (`infra/redis/start.sh` starts one).

pub mod channels;
mod conn;
mod errors;
mod members;
mod offline;
pub mod presence;
mod presence_lua;
mod script;
mod subscriber;
mod sweeper;

pub use channels::RedisChannels;
pub use presence::RedisPresence;
