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

/// A free loopback port (bound, then released).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(l.local_addr().map_err(io("finding a free port"))?.port())
}
