//! Lua scripts run by their SHA1 (`EVALSHA`), loaded on first use and again
//! when Redis forgot them (a restart empties its script cache).
//!
//! The server computes the SHA1 (`SCRIPT LOAD` returns it), so no hashing
//! code is needed here.

use crate::conn::{Commands, Request};
use chat_ports::{PortError, Result};
use redis::{ErrorKind, FromRedisValue, ServerErrorKind, ToRedisArgs};
use std::sync::{Mutex, PoisonError};

/// A Lua script and, once loaded, its SHA1.
pub(crate) struct LuaScript {
    name: &'static str,
    body: &'static str,
    sha: Mutex<Option<String>>,
}

impl LuaScript {
    pub(crate) const fn new(name: &'static str, body: &'static str) -> Self {
        Self {
            name,
            body,
            sha: Mutex::new(None),
        }
    }

    async fn load(&self, commands: &Commands) -> Result<String> {
        let sha: String = commands
            .query(redis::cmd("SCRIPT").arg("LOAD").arg(self.body))
            .await?;
        *self.sha.lock().unwrap_or_else(PoisonError::into_inner) = Some(sha.clone());
        tracing::debug!(
            engine = commands.what(),
            script = self.name,
            "A Lua script was loaded into Redis."
        );
        Ok(sha)
    }

    /// Runs the script with these keys and arguments.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        commands: &Commands,
        keys: &[&str],
        args: impl ToRedisArgs + Copy,
    ) -> Result<T> {
        let what = commands.what();
        let known = self
            .sha
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut sha = match known {
            Some(sha) => sha,
            None => self.load(commands).await?,
        };
        for attempt in 0..2 {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&sha).arg(keys.len()).arg(keys).arg(args);
            match commands.send(Request::Cmd(&cmd)).await? {
                Ok(value) => {
                    return redis::from_redis_value(value).map_err(|e| PortError::corrupt(what, e))
                }
                Err(e)
                    if attempt == 0 && e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
                {
                    sha = self.load(commands).await?;
                }
                Err(e) => return Err(PortError::storage(what, e)),
            }
        }
        Err(PortError::Storage {
            what,
            detail: format!("Redis kept forgetting the {} script", self.name),
        })
    }
}
