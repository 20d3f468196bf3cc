//! Raising this process's open-file limit, so that one generator can hold
//! as many sockets as the scenario asks for.

use anyhow::Context;
use rlimit::Resource;

/// The open-file limits in force after [`raise`].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FdLimit {
    /// The soft limit: what this process may open.
    pub soft: u64,
    /// The hard limit: how far an unprivileged process may raise it.
    pub hard: u64,
}

/// Raises RLIMIT_NOFILE as far as allowed, towards `want`: first the hard
/// limit too (which needs privilege, and stops at `fs.nr_open`), then the
/// soft limit up to the hard one.
pub fn raise(want: u64) -> anyhow::Result<FdLimit> {
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(want);
    let want = want.min(nr_open);
    let (soft, hard) = Resource::NOFILE.get().context("reading RLIMIT_NOFILE")?;
    if hard < want && Resource::NOFILE.set(want, want).is_ok() {
        return current();
    }
    if soft < want {
        rlimit::increase_nofile_limit(want).context("raising RLIMIT_NOFILE")?;
    }
    current()
}

fn current() -> anyhow::Result<FdLimit> {
    let (soft, hard) = Resource::NOFILE.get().context("reading RLIMIT_NOFILE")?;
    Ok(FdLimit { soft, hard })
}
