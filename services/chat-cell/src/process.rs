//! One managed process of the cell: started in a process group of its own
//! (so that a signal reaches everything it forked: broker.sh's helper,
//! PostgreSQL's backends), its output appended to a log file, and signalled
//! with the system's `kill` (no `unsafe` here, no extra crate).

use crate::error::{io, CellError, Result};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::process::{Child, Command};

/// How to start a process: program, arguments, environment.
#[derive(Clone, Debug)]
pub struct Spec {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Spec {
    pub fn new(program: impl Into<String>, args: &[&str]) -> Self {
        Self {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        }
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.to_string(), v.into()));
        self
    }
}

pub struct Proc {
    pub name: String,
    pub spec: Spec,
    pub log: PathBuf,
    child: Option<Child>,
    stopped: bool,
}

impl Proc {
    pub fn new(name: &str, spec: Spec, log: PathBuf) -> Self {
        Self {
            name: name.to_string(),
            spec,
            log,
            child: None,
            stopped: false,
        }
    }

    /// Starts it (again), with `extra` environment on top of its spec.
    pub fn spawn(&mut self, extra: &[(String, String)]) -> Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io(format!("opening {}", self.log.display())))?;
        let err = out
            .try_clone()
            .map_err(io(format!("opening {}", self.log.display())))?;
        let mut cmd = Command::new(&self.spec.program);
        cmd.args(&self.spec.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true);
        for (k, v) in self.spec.env.iter().chain(extra) {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(io(format!(
            "starting {} ({})",
            self.name, self.spec.program
        )))?;
        self.child = Some(child);
        self.stopped = false;
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Its exit status when it has exited, for error messages.
    pub fn exited(&mut self) -> Option<String> {
        let c = self.child.as_mut()?;
        c.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// Sends `signal` (a name: KILL, STOP, CONT, TERM) to its whole group.
    pub async fn signal(&mut self, signal: &str) -> Result<()> {
        let Some(pid) = self.pid() else {
            return Err(CellError::Signal(format!("{} is not running", self.name)));
        };
        let status = Command::new("kill")
            .args(["-s", signal, "--", &format!("-{pid}")])
            .status()
            .await
            .map_err(io("running kill"))?;
        if !status.success() {
            return Err(CellError::Signal(format!(
                "kill -s {signal} of {} ({pid}) failed",
                self.name
            )));
        }
        match signal {
            "STOP" => self.stopped = true,
            "CONT" => self.stopped = false,
            _ => {}
        }
        Ok(())
    }

    /// kill -9 of the whole group, and reaps it.
    pub async fn kill9(&mut self) -> Result<()> {
        if self.pid().is_some() {
            self.signal("KILL").await?;
        }
        if let Some(mut c) = self.child.take() {
            c.wait().await.ok();
        }
        self.stopped = false;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Teardown (also after an error or a panic): the whole group, so
        // no JVM outlives the run.
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// A free loopback port for a server of the cell: free now, below the
/// kernel's ephemeral range (a port the kernel hands out, `127.0.0.1:0`,
/// can be taken by any client socket before the server binds it: a broker
/// failed to start that way), and never handed out before by this process.
pub fn free_port() -> Result<u16> {
    free_port_where(|_| true)
}

/// The same, for a port that `also` accepts (Cassandra's, whose neighbours
/// must be free too).
pub(crate) fn free_port_where(also: impl Fn(u16) -> bool) -> Result<u16> {
    use std::hash::{BuildHasher, Hasher};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    const LOW: u16 = 10_000;
    let high = ephemeral_low().saturating_sub(1).max(LOW + 1000);
    let state = std::collections::hash_map::RandomState::new();
    for attempt in 0u64..2000 {
        let mut h = state.build_hasher();
        h.write_u64(attempt);
        let port = LOW + (h.finish() % u64::from(high - LOW)) as u16;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.contains(&port) || !also(port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return Ok(port);
        }
    }
    Err(CellError::Missing(format!(
        "found no free port between {LOW} and {high}"
    )))
}

/// The first port of the kernel's ephemeral range (32768 when unreadable).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_below_the_ephemeral_range_and_never_given_twice() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
        assert!(ports.iter().all(|p| *p < ephemeral_low()), "{ports:?}");
        let even = free_port_where(|p| p % 2 == 0).unwrap();
        assert_eq!(even % 2, 0);
    }
}
