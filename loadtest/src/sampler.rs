//! Once a second, the server's and the generator's CPU time and resident
//! memory, for the timeline and for CPU use over any window of a run.

use crate::clock;
use crate::procfs::{self, ProcSample};
use crate::record::Second;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// One reading: when, the server (if known), the generator.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// Microseconds since the epoch.
    pub t_us: u64,
    /// The server process, if its pid is known and readable.
    pub server: Option<ProcSample>,
    /// This process.
    pub generator: ProcSample,
}

/// Reads both processes every second in the background.
pub struct Sampler {
    pid: Option<u32>,
    ticks_per_sec: f64,
    readings: Arc<Mutex<Vec<Reading>>>,
    task: JoinHandle<()>,
}

/// Reads both processes now.
pub fn read(pid: Option<u32>) -> Reading {
    Reading {
        t_us: clock::now_us(),
        server: pid.and_then(|p| procfs::sample(Some(p)).ok()),
        generator: procfs::sample(None).unwrap_or_default(),
    }
}

impl Sampler {
    /// Starts sampling the server `pid` (and this process).
    pub fn start(pid: Option<u32>) -> Self {
        let readings = Arc::new(Mutex::new(vec![read(pid)]));
        let r = readings.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            loop {
                every.tick().await;
                let reading = tokio::task::spawn_blocking(move || read(pid))
                    .await
                    .expect("sampling does not panic");
                r.lock().expect("sampler lock").push(reading);
            }
        });
        Sampler {
            pid,
            ticks_per_sec: procfs::clock_ticks_per_sec() as f64,
            readings,
            task,
        }
    }

    /// Reads both processes now (and keeps the reading).
    pub fn now(&self) -> Reading {
        let r = read(self.pid);
        self.readings.lock().expect("sampler lock").push(r);
        r
    }

    /// CPU use between two readings, percent of one core: (server, generator).
    pub fn cpu_pct(&self, a: &Reading, b: &Reading) -> (Option<f64>, f64) {
        let secs = (b.t_us.saturating_sub(a.t_us)) as f64 / 1e6;
        if secs <= 0.0 {
            return (None, 0.0);
        }
        let pct = |x: &ProcSample, y: &ProcSample| {
            y.cpu_ticks.saturating_sub(x.cpu_ticks) as f64 / self.ticks_per_sec / secs * 100.0
        };
        let server = match (&a.server, &b.server) {
            (Some(x), Some(y)) => Some(pct(x, y)),
            _ => None,
        };
        (server, pct(&a.generator, &b.generator))
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
