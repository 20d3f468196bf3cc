//! A multiplexed connection for commands that comes back after Redis does.
//!
//! The redis crate's `MultiplexedConnection` does not reconnect: once its
//! socket is gone every command fails. [`Commands`] forgets a connection at
//! its first connection error and opens a new one on the next command. While
//! Redis is down it does not try on every call: after a failed attempt it
//! answers `Unavailable` at once until a backoff (100 ms doubling to 2 s)
//! has passed, so callers never wait on a dead server.

use crate::errors::{is_connection_error, port_error};
use chat_ports::{PortError, Result};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, RedisError, Value};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// How long opening a connection (TCP and handshake) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a command may wait for its reply.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The first pause after a failed connection attempt.
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between connection attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One request: a command or a pipeline.
#[derive(Clone, Copy)]
pub(crate) enum Request<'a> {
    Cmd(&'a Cmd),
    Pipe(&'a Pipeline),
}

impl Request<'_> {
    async fn send(self, mut conn: MultiplexedConnection) -> Result<Value, RedisError> {
        match self {
            Request::Cmd(cmd) => cmd.query_async(&mut conn).await,
            Request::Pipe(pipe) => pipe.query_async(&mut conn).await,
        }
    }
}

/// A self-healing multiplexed connection; `what` names the engine in errors.
pub(crate) struct Commands {
    client: Client,
    what: &'static str,
    state: Mutex<State>,
    /// One connection attempt at a time; the others wait for its outcome.
    connecting: tokio::sync::Mutex<()>,
}

struct State {
    current: Option<(u64, MultiplexedConnection)>,
    generation: u64,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Commands {
    /// Opens the first connection; fails when Redis cannot be reached.
    pub(crate) async fn connect(client: Client, what: &'static str) -> Result<Self> {
        let commands = Self {
            client,
            what,
            state: Mutex::new(State {
                current: None,
                generation: 0,
                retry_at: None,
                backoff: MIN_BACKOFF,
            }),
            connecting: tokio::sync::Mutex::new(()),
        };
        commands.connection().await?;
        Ok(commands)
    }

    /// The engine's name in errors.
    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn current(&self) -> Option<(u64, MultiplexedConnection)> {
        self.state().current.clone()
    }

    /// The live connection, or a new one; `true` with a new one.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection, bool)> {
        if let Some((generation, conn)) = self.current() {
            return Ok((generation, conn, false));
        }
        let _turn = self.connecting.lock().await;
        if let Some((generation, conn)) = self.current() {
            return Ok((generation, conn, true));
        }
        if let Some(at) = self.state().retry_at {
            if Instant::now() < at {
                return Err(PortError::Unavailable {
                    what: self.what,
                    detail: "Redis did not answer the last connection attempt".into(),
                });
            }
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => {
                let mut state = self.state();
                state.generation += 1;
                let generation = state.generation;
                state.current = Some((generation, conn.clone()));
                if state.retry_at.take().is_some() {
                    tracing::info!(engine = self.what, "The connection to Redis is back.");
                }
                state.backoff = MIN_BACKOFF;
                Ok((generation, conn, true))
            }
            Err(e) => {
                let mut state = self.state();
                state.retry_at = Some(Instant::now() + state.backoff);
                state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                tracing::warn!(engine = self.what, error = %e, "Redis could not be reached.");
                Err(PortError::unavailable(self.what, e))
            }
        }
    }

    /// Drops the connection of that generation (not a newer one).
    fn forget(&self, generation: u64) {
        let mut state = self.state();
        if state
            .current
            .as_ref()
            .is_some_and(|(g, _)| *g == generation)
        {
            state.current = None;
        }
    }

    /// Sends a request. Connection problems come back as `Unavailable`
    /// (outer error); a command Redis refused comes back as the inner error.
    /// A connection that went stale while idle (Redis restarted, the server
    /// closed it) is replaced and the request sent once more, unless the
    /// failure was a timeout, after which the request may have run.
    pub(crate) async fn send(&self, request: Request<'_>) -> Result<Result<Value, RedisError>> {
        let mut retried = false;
        loop {
            let (generation, conn, fresh) = self.connection().await?;
            match request.send(conn).await {
                Err(e) if is_connection_error(&e) => {
                    self.forget(generation);
                    if fresh || retried || e.is_timeout() {
                        return Err(PortError::unavailable(self.what, e));
                    }
                    tracing::debug!(engine = self.what, error = %e, "A connection to Redis went stale; opening a new one.");
                    retried = true;
                }
                other => return Ok(other),
            }
        }
    }

    /// Sends a command and converts its reply.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        self.convert(self.send(Request::Cmd(cmd)).await?)
    }

    /// Sends a pipeline in one round trip and converts its replies.
    pub(crate) async fn query_pipe<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T> {
        self.convert(self.send(Request::Pipe(pipe)).await?)
    }

    fn convert<T: FromRedisValue>(&self, reply: Result<Value, RedisError>) -> Result<T> {
        let value = reply.map_err(|e| port_error(self.what, e))?;
        redis::from_redis_value(value).map_err(|e| PortError::corrupt(self.what, e))
    }
}
