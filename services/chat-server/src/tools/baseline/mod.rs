//! `chatctl baseline`: the bare rate of each shared engine the pipeline
//! runs on, so that a load test can state the pipeline's throughput as a
//! share of its slowest component.
//!
//! Each baseline opens its engine through [`crate::engines`] with the
//! loaded configuration, exactly as the gateway and processors do, and
//! drives it alone with traffic of the size and shape the pipeline gives
//! it (see [`shape`]): the event log with send records ([`log()`]), the
//! store with the sequencer's batches ([`store()`]), the real-time channels
//! with message deliveries ([`channels()`]). Every name carries a run tag,
//! so runs never collide with each other or with real traffic.
//!
//! # Layout
//! - `shape`: the run's conversations, sends and messages.
//! - `stats`: percentiles, tickets, send instants.
//! - `log`, `store`, `channels`: one baseline each.

mod channels;
mod log;
mod shape;
mod stats;
mod store;

pub use self::channels::{channels, ChannelsOptions, ChannelsReport};
pub use self::log::{log, LogOptions, LogReport};
pub use self::stats::Percentiles;
pub use self::store::{store, StoreOptions, StoreReport};

use crate::Config;
use serde::Serialize;

/// How `chatctl baseline all` runs: each baseline with its defaults but
/// for these.
#[derive(Debug, Clone, clap::Args)]
pub struct AllOptions {
    /// Records appended, messages written, and deliveries published.
    #[arg(long, default_value_t = 50_000)]
    pub count: u64,
    /// Bytes of each send's body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
}

/// The figures of one `chatctl baseline` command: one JSON object with a
/// member per baseline that ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Baselines {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<ChannelsReport>,
}

impl Baselines {
    /// One line per figure, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        lines.extend(self.log.iter().flat_map(LogReport::lines));
        lines.extend(self.store.iter().flat_map(StoreReport::lines));
        lines.extend(self.channels.iter().flat_map(ChannelsReport::lines));
        lines
    }
}

/// The three baselines, one after the other.
pub async fn all(config: &Config, options: &AllOptions) -> anyhow::Result<Baselines> {
    let (count, body_bytes) = (options.count, options.body_bytes);
    let log = log(
        config,
        &LogOptions {
            records: count,
            body_bytes,
            ..defaults()
        },
    )
    .await?;
    let store = store(
        config,
        &StoreOptions {
            messages: count,
            body_bytes,
            ..defaults()
        },
    )
    .await?;
    let channels = channels(
        config,
        &ChannelsOptions {
            events: count,
            body_bytes,
            ..defaults()
        },
    )
    .await?;
    Ok(Baselines {
        log: Some(log),
        store: Some(store),
        channels: Some(channels),
    })
}

/// Options with the defaults their flags declare.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"));
    T::from_arg_matches(&command.get_matches_from(["defaults"]))
        .expect("every option has a default")
}
