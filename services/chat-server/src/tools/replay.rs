//! `chatctl replay`: runs the sequencer and the receipts processor over the
//! whole retained log, under fresh consumer groups and without publishing
//! events, into the store `[engines] store` names (meant to be empty); with
//! `--search`, then the search processor over `chat.events` into the index
//! `[engines] search` names.

use crate::engines::{open_log, open_search, open_store};
use crate::Config;
use chat_events::Codec;
use chat_processors::receipts::Receipts;
use chat_processors::replay::replay as run;
use chat_processors::search::Search;
use chat_processors::sequencer::Sequencer;
use std::sync::Arc;
use std::time::Duration;

/// What a replay handled, and how fast: each processor's records per
/// second from its first record to its last (the consumer group's
/// assignment before the first is left out).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub sequencer_records: u64,
    pub sequencer_secs: f64,
    pub sequencer_per_sec: f64,
    pub receipt_records: u64,
    pub receipt_secs: f64,
    pub receipt_per_sec: f64,
    /// Events the search processor read (with `--search`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_records: Option<u64>,
}

/// Rebuilds the derived state from every record the log holds now; fails
/// when no record comes for `stall` while some are still to read. With
/// `search`, the search index is rebuilt too.
pub async fn replay(
    config: &Config,
    stall: Duration,
    search: bool,
) -> anyhow::Result<ReplayReport> {
    let (log, embedded) = open_log(config).await?;
    let stores = open_store(config).await?;
    let codec = Arc::new(Codec::new());
    let suffix = format!("replay-{}", chat_domain::time::now_ms());
    let sequencer = Sequencer::new(
        stores.clone(),
        log.clone(),
        codec.clone(),
        config.gateway.limits(),
    )
    .without_events();
    let sequencer = run(Arc::new(sequencer), log.clone(), &suffix, stall).await?;
    let receipts = Receipts::new(stores.clone(), log.clone(), codec.clone()).without_events();
    let receipts = run(Arc::new(receipts), log.clone(), &suffix, stall).await?;
    let search_records = if search {
        let Some(index) = open_search(config).await? else {
            anyhow::bail!("--search: search is off (engines.search = off)");
        };
        let search = Search::new(index, stores.messages.clone(), codec);
        Some(run(Arc::new(search), log, &suffix, stall).await?.records)
    } else {
        None
    };
    if let Some(log) = embedded {
        log.close().await;
    }
    Ok(ReplayReport {
        sequencer_records: sequencer.records,
        sequencer_secs: sequencer.reading.as_secs_f64(),
        sequencer_per_sec: sequencer.per_sec(),
        receipt_records: receipts.records,
        receipt_secs: receipts.reading.as_secs_f64(),
        receipt_per_sec: receipts.per_sec(),
        search_records,
    })
}
