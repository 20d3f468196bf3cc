//! Once a second, the server's and the generator's CPU time and resident
//! memory, for the timeline and for CPU use over any window of a run.

use crate::clock;
use crate::procfs::{self, ProcSample};
use crate::record::Second;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// One reading: when, the server (if known), the generator, and the
/// parts of a cell.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Microseconds since the epoch.
    pub t_us: u64,
    /// The server process, if its pid is known and readable.
    pub server: Option<ProcSample>,
    /// This process.
    pub generator: ProcSample,
    /// Each part of a cell (a process and those below it), in the order of
    /// `Sampler::parts`; `None` when it could not be read (it was down).
    pub parts: Vec<Option<ProcSample>>,
}

/// Named processes (each with what runs below it): the parts of a cell.
pub type Parts = Arc<Vec<(String, u32)>>;

/// Reads the processes every second in the background.
pub struct Sampler {
    pid: Option<u32>,
    parts: Parts,
    ticks_per_sec: f64,
    readings: Arc<Mutex<Vec<Reading>>>,
    task: JoinHandle<()>,
}

/// Reads the processes now.
pub fn read(pid: Option<u32>, parts: &[(String, u32)]) -> Reading {
    Reading {
        t_us: clock::now_us(),
        server: pid.and_then(|p| procfs::sample(Some(p)).ok()),
        generator: procfs::sample(None).unwrap_or_default(),
        parts: if parts.is_empty() {
            Vec::new()
        } else {
            let table = procfs::table();
            parts
                .iter()
                .map(|(_, pid)| procfs::tree_sum(&table, *pid))
                .collect()
        },
    }
}

impl Sampler {
    /// Starts sampling the server `pid`, the `parts` of a cell, and this
    /// process.
    pub fn start(pid: Option<u32>, parts: Parts) -> Self {
        let readings = Arc::new(Mutex::new(vec![read(pid, &parts)]));
        let r = readings.clone();
        let p = parts.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            loop {
                every.tick().await;
                let p = p.clone();
                let reading = tokio::task::spawn_blocking(move || read(pid, &p))
                    .await
                    .expect("sampling does not panic");
                r.lock().expect("sampler lock").push(reading);
            }
        });
        Sampler {
            pid,
            parts,
            ticks_per_sec: procfs::clock_ticks_per_sec() as f64,
            readings,
            task,
        }
    }

    /// Reads the processes now (and keeps the reading).
    pub fn now(&self) -> Reading {
        let r = read(self.pid, &self.parts);
        self.readings.lock().expect("sampler lock").push(r.clone());
        r
    }

    fn pct(&self, secs: f64, x: &ProcSample, y: &ProcSample) -> f64 {
        y.cpu_ticks.saturating_sub(x.cpu_ticks) as f64 / self.ticks_per_sec / secs * 100.0
    }

    /// CPU use between two readings, percent of one core: (server, generator).
    pub fn cpu_pct(&self, a: &Reading, b: &Reading) -> (Option<f64>, f64) {
        let secs = (b.t_us.saturating_sub(a.t_us)) as f64 / 1e6;
        if secs <= 0.0 {
            return (None, 0.0);
        }
        let server = match (&a.server, &b.server) {
            (Some(x), Some(y)) => Some(self.pct(secs, x, y)),
            _ => None,
        };
        (server, self.pct(secs, &a.generator, &b.generator))
    }

    /// Each part's CPU use between two readings (percent of one core) and
    /// its resident memory at the second, MiB.
    pub fn parts_use(&self, a: &Reading, b: &Reading) -> Vec<(String, f64, f64)> {
        let secs = (b.t_us.saturating_sub(a.t_us)) as f64 / 1e6;
        let mut out = Vec::new();
        for (i, (name, _)) in self.parts.iter().enumerate() {
            if let (Some(Some(x)), Some(Some(y))) = (a.parts.get(i), b.parts.get(i)) {
                if secs > 0.0 {
                    out.push((
                        name.clone(),
                        self.pct(secs, x, y),
                        y.rss_kib as f64 / 1024.0,
                    ));
                }
            }
        }
        out
    }

    /// Fills the CPU and memory columns of a timeline that starts at
    /// `start_us`, from the readings.
    pub fn fill(&self, start_us: u64, timeline: &mut [Second]) {
        let readings = self.readings.lock().expect("sampler lock").clone();
        for second in timeline.iter_mut() {
            let from = start_us + second.t * 1_000_000;
            let to = from + 1_000_000;
            let a = readings
                .iter()
                .rev()
                .find(|r| r.t_us <= from)
                .or(readings.first());
            let b = readings.iter().find(|r| r.t_us >= to).or(readings.last());
            if let (Some(a), Some(b)) = (a, b) {
                let (server, generator) = self.cpu_pct(a, b);
                second.server_cpu_pct = server.unwrap_or(0.0);
                second.generator_cpu_pct = generator;
                second.server_rss_mib = b.server.map(|s| s.rss_kib as f64 / 1024.0).unwrap_or(0.0);
            }
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}
