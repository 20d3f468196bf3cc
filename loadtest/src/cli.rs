//! The command line: one subcommand per scenario, options shared by all.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

/// Load generator for the chat service, side by side with ejabberd.
#[derive(Parser, Debug)]
#[command(name = "chat-load", version)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// Which server(s) a run drives.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetChoice {
    /// Our server (`chatctl serve`).
    Chat,
    /// ejabberd over XMPP-over-WebSocket (connections, direct, groups).
    Ejabberd,
    /// Ours, then ejabberd, in one invocation: one report with both and their ratio.
    Both,
}

/// Options every scenario takes.
#[derive(Args, Debug, Clone, Serialize)]
pub struct Common {
    /// Which server to drive.
    #[arg(long, value_enum, default_value = "chat", global = true)]
    pub target: TargetChoice,
    /// Our server's HTTP base URL; several, comma-separated, for the
    /// gateways of a distributed deployment (devices are dealt over them).
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        value_delimiter = ',',
        global = true
    )]
    pub chat_url: Vec<String>,
    /// Our server's pid (default: whoever listens on the URL's port).
    #[arg(long, global = true)]
    pub chat_pid: Option<u32>,
    /// ejabberd's XMPP-over-WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:5280/ws", global = true)]
    pub ejabberd_url: String,
    /// ejabberd's virtual host.
    #[arg(long, default_value = "localhost", global = true)]
    pub xmpp_domain: String,
    /// ejabberd's multi-user chat service.
    #[arg(long, default_value = "conference.localhost", global = true)]
    pub xmpp_muc: String,
    /// Time XMPP sends with stream-management acks (XEP-0198).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub xmpp_sm: bool,
    /// ejabberd's pid (default: whoever listens on the URL's port).
    #[arg(long, global = true)]
    pub ejabberd_pid: Option<u32>,
    /// Loopback source addresses to spread connections over (127.0.0.2 up).
    #[arg(long, default_value_t = 32, global = true)]
    pub source_addrs: u32,
    /// Prefix of user names and rooms (default: unique per run, so that
    /// conversations start empty).
    #[arg(long, global = true)]
    pub prefix: Option<String>,
    /// Seed of the random choices (send phases, conversations).
    #[arg(long, default_value_t = 1, global = true)]
    pub seed: u64,
    /// Results go to OUT/<date>-<scenario>[-label]/.
    #[arg(long, default_value = "loadtest/results", global = true)]
    pub out: PathBuf,
    /// A label appended to the results folder's name.
    #[arg(long, global = true)]
    pub label: Option<String>,
    /// Concurrent HTTP requests during setup (logins, conversations).
    #[arg(long, default_value_t = 64, global = true)]
    pub setup_concurrency: usize,
    /// Connections opened per second while devices come up.
    #[arg(long, default_value_t = 1000.0, global = true)]
    pub connect_rate: f64,
    /// Seconds to wait for every device to be connected.
    #[arg(long, default_value_t = 120, global = true)]
    pub ready_timeout: u64,
    #[command(flatten)]
    pub cell: CellOpts,
}

/// A distributed cell the run starts, drives and stops.
#[derive(Args, Debug, Clone, Serialize)]
pub struct CellOpts {
    /// Starts a distributed cell on this store (one Kafka broker, the
    /// store, Redis, gateways and processors, processes on loopback), runs
    /// the scenario against its gateways (`--chat-url` is ignored),
    /// measures its components' bare rates (`chatctl baseline`), and stops
    /// it. Ours only.
    #[arg(long, value_enum, global = true)]
    #[serde(skip)]
    pub cell: Option<chat_cell::StoreKind>,
    /// Gateways of the cell.
    #[arg(long, default_value_t = 2, global = true)]
    pub cell_gateways: usize,
    /// Processor instances of the cell (each runs every processor).
    #[arg(long, default_value_t = 1, global = true)]
    pub cell_processors: usize,
    /// Partitions of the cell's topics.
    #[arg(long, default_value_t = 8, global = true)]
    pub cell_partitions: u32,
    /// Cassandra's JVM heap in the cell.
    #[arg(long, default_value = "1g", global = true)]
    pub cell_store_heap: String,
    /// The cell's folder (data and logs); default: a temporary folder,
    /// removed afterwards.
    #[arg(long, global = true)]
    pub cell_dir: Option<PathBuf>,
    /// The chatctl the cell runs.
    #[arg(long, default_value = "target/release/chatctl", global = true)]
    pub chatctl: PathBuf,
    /// Skips the component baselines after the scenario.
    #[arg(long, global = true)]
    pub no_baseline: bool,
    /// Records, messages and deliveries of each component baseline.
    #[arg(long, default_value_t = 50_000, global = true)]
    pub baseline_count: u64,
    /// After the scenario (and the baselines), rebuilds the cell's store
    /// from its log into an empty one beside it with `chatctl replay`, and
    /// reports the replay's rate beside the store's bare rate.
    #[arg(long, global = true)]
    pub replay: bool,
}

/// Message traffic options.
#[derive(Args, Debug, Clone, Serialize)]
pub struct Traffic {
    /// Aggregate sends per second (all devices together).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Message body size, bytes.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Devices send `delivered` receipts this often, ms (0: never; ours
    /// only). Default: never in `direct` and `groups` (ejabberd has no
    /// receipts to match), every 1000 ms in `reconnect-storm` (so that a
    /// reconnect resends only what was not acknowledged).
    #[arg(long)]
    pub receipts_ms: Option<u64>,
    /// Seconds to wait after sending for every message to arrive.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
}

/// The scenarios.
#[derive(Subcommand, Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Ramp to N idle connections: connect rate, failures, server memory
    /// per connection, generator CPU.
    Connections {
        /// Connections to open.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Seconds to hold them open once all are up.
        #[arg(long, default_value_t = 10)]
        hold: u64,
    },
    /// Pairs of users chatting at a target aggregate rate.
    Direct {
        /// Pairs of users (two devices each).
        #[arg(long, default_value_t = 100)]
        pairs: usize,
        #[command(flatten)]
        #[serde(flatten)]
        traffic: Traffic,
    },
    /// Every device in a direct conversation plus a group.
    Groups {
        /// Devices (one per user).
        #[arg(long, default_value_t = 200)]
        devices: usize,
        /// Members per group.
        #[arg(long, default_value_t = 10)]
        group_size: usize,
        /// Share of sends that go to the direct conversation.
        #[arg(long, default_value_t = 0.1)]
        direct_share: f64,
        #[command(flatten)]
        #[serde(flatten)]
        traffic: Traffic,
    },
    /// All devices drop at once and reconnect (ours only): time until all
    /// are resynced, and that nothing was lost.
    ReconnectStorm {
        /// Devices (in direct pairs).
        #[arg(long, default_value_t = 2000)]
        devices: usize,
        /// Seconds of traffic before the drop.
        #[arg(long, default_value_t = 5)]
        before: u64,
        #[command(flatten)]
        #[serde(flatten)]
        traffic: Traffic,
    },
    /// Every attack of a hostile client at once (ours only): the server's
    /// memory before, at its peak and after, how each attack was answered,
    /// and whether a bystander's health checks were served.
    Hostile {
        /// Seconds of attack.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Clients that send pings and never read.
        #[arg(long, default_value_t = 3)]
        pingers: usize,
        /// Devices of the one user that sends 60 KB bodies.
        #[arg(long, default_value_t = 10)]
        flood_devices: usize,
        /// Idle TCP connections, and as many requests whose head never ends.
        #[arg(long, default_value_t = 300)]
        idle: usize,
        /// Clients of each other flood (typing, sync, presence watches,
        /// upload tickets, groups of strangers).
        #[arg(long, default_value_t = 2)]
        others: usize,
    },
    /// Redraws summary.md and the charts of a results folder from its report.json.
    Render {
        /// The results folder.
        dir: PathBuf,
    },
}

impl Scenario {
    /// The scenario's name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Connections { .. } => "connections",
            Scenario::Direct { .. } => "direct",
            Scenario::Groups { .. } => "groups",
            Scenario::ReconnectStorm { .. } => "reconnect-storm",
            Scenario::Hostile { .. } => "hostile",
            Scenario::Render { .. } => "render",
        }
    }
}
