//! Process figures read from `/proc`: resident memory and CPU time of the
//! server under test (found by pid or by its listening port) and of the
//! generator itself.

use anyhow::{bail, Context};
use std::path::Path;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcSample {
    /// Resident set size (VmRSS), KiB.
    pub rss_kib: u64,
    /// User plus system CPU time, clock ticks.
    pub cpu_ticks: u64,
}

/// Reads VmRSS from `/proc/<pid>/status` and utime + stime from
/// `/proc/<pid>/stat`. `pid` `None` is this process.
pub fn sample(pid: Option<u32>) -> anyhow::Result<ProcSample> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_string(),
    };
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .with_context(|| format!("reading {dir}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .with_context(|| format!("reading {dir}/stat"))?;
    Ok(ProcSample {
        rss_kib,
        cpu_ticks: cpu_ticks(&stat)?,
    })
}

/// utime + stime of a `/proc/<pid>/stat` line. The command name (field 2)
/// may hold spaces, so fields are counted from its closing parenthesis.
fn cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat line")?;
    // After ")": field 3 (state) is index 0, utime (14) index 11, stime (15) index 12.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Every visible process: pid, parent, and its figures (CPU including
/// reaped children's, resident pages already in KiB).
pub type Table = Vec<(u32, u32, ProcSample)>;

/// Reads every process of `/proc` once.
pub fn table() -> Table {
    let page_kib = page_size() / 1024;
    let mut procs = Table::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return procs;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((ppid, mut sample)) = tree_member(&stat) {
            sample.rss_kib *= page_kib;
            procs.push((pid, ppid, sample));
        }
    }
    procs
}

/// The sum over process `root` and every process below it (a JVM, a shell
/// and what it started, PostgreSQL's backends, which lead process groups
/// of their own): resident memory, and CPU time including that of
/// descendants that exited and were reaped (`cutime` + `cstime`), so a
/// backend that ended during the run still counts. None when `root` is
/// gone.
pub fn tree_sum(table: &Table, root: u32) -> Option<ProcSample> {
    let mut inside = std::collections::HashSet::from([root]);
    // Parents come before children in /proc only by accident: sweep until
    // nothing new joins.
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid, _) in table {
            if inside.contains(ppid) && inside.insert(*pid) {
                grew = true;
            }
        }
    }
    let mut total = ProcSample::default();
    let mut found = false;
    for (pid, _, sample) in table {
        if inside.contains(pid) {
            found = true;
            total.cpu_ticks += sample.cpu_ticks;
            total.rss_kib += sample.rss_kib;
        }
    }
    found.then_some(total)
}

/// A `/proc/<pid>/stat` line's parent, CPU ticks (own and reaped
/// children's) and resident pages.
fn tree_member(stat: &str) -> Option<(u32, ProcSample)> {
    let rest = stat.rsplit_once(')')?.1;
    // After ")": ppid (field 4) is index 1; utime, stime, cutime, cstime
    // (14–17) are 11–14; rss (24, pages) is 21.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((
        f.get(1)?.parse().ok()?,
        ProcSample {
            cpu_ticks: n(11)? + n(12)? + n(13)? + n(14)?,
            rss_kib: n(21)?,
        },
    ))
}

/// `getconf PAGESIZE`, asked once.
fn page_size() -> u64 {
    static SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("PAGESIZE")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4096)
    })
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every common Linux).
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The pid of the process listening on TCP `port` (IPv4 or IPv6): the
/// listening socket's inode from `/proc/net/tcp*`, then the process holding
/// a descriptor on it.
pub fn pid_listening_on(port: u16) -> anyhow::Result<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        bail!("nothing listens on port {port}");
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if holds_any(&entry.path().join("fd"), &wanted) {
            return Ok(pid);
        }
    }
    bail!("no visible process holds the socket listening on port {port}")
}

fn holds_any(fd_dir: &Path, wanted: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(fd_dir) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
            .unwrap_or(false)
    })
}

/// Inodes of sockets in state LISTEN (0A) on `port` in a `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    let hex_port = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            (local_port == hex_port && *f.get(3)? == "0A")
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_spaces_in_the_name_are_read() {
        let line = "42 (beam smp) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0 100 0 0";
        assert_eq!(cpu_ticks(line).unwrap(), 325);
    }

    #[test]
    fn tree_members_count_their_reaped_children() {
        let line =
            "42 (postgres) S 7 40 40 0 -1 4194560 100 0 0 0 250 75 30 5 20 0 30 0 100 0 77 0";
        let (ppid, m) = tree_member(line).unwrap();
        assert_eq!((ppid, m.cpu_ticks, m.rss_kib), (7, 360, 77));
    }

    #[test]
    fn a_tree_holds_its_descendants_only() {
        let p = |cpu_ticks| ProcSample {
            rss_kib: 1,
            cpu_ticks,
        };
        // 10 → 11 → 12 (listed before its parent), and 20 apart.
        let t = vec![(12, 11, p(4)), (10, 1, p(1)), (11, 10, p(2)), (20, 1, p(8))];
        let s = tree_sum(&t, 10).unwrap();
        assert_eq!((s.cpu_ticks, s.rss_kib), (7, 3));
        assert!(tree_sum(&t, 99).is_none());
        let me = tree_sum(&table(), std::process::id()).unwrap();
        assert!(me.rss_kib > 0);
    }

    #[test]
    fn listening_sockets_are_found_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 100 0 0 10 0\n\
   1: 0100007F:1F90 0200007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8080), vec![12345]);
        assert!(listening_inodes(table, 8081).is_empty());
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample(None).unwrap();
        assert!(s.rss_kib > 0);
    }
}
