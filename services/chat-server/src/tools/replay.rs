//! `chatctl replay`: runs the sequencer and the receipts processor over the
//! whole retained log, under fresh consumer groups and without publishing
//! events, into the store `[engines] store` names (meant to be empty).

use crate::engines::{open_log, open_store};
use crate::Config;
use chat_events::Codec;
use chat_processors::receipts::Receipts;
use chat_processors::replay::replay as run;
use chat_processors::sequencer::Sequencer;
use std::sync::Arc;
use std::time::Duration;

/// What a replay handled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub sequencer_records: u64,
    pub receipt_records: u64,
}

/// Rebuilds the derived state from every record the log holds now; fails
/// when no record comes for `stall` while some are still to read.
pub async fn replay(config: &Config, stall: Duration) -> anyhow::Result<ReplayReport> {
    let (log, embedded) = open_log(config).await?;
    let stores = open_store(config).await?;
    let codec = Arc::new(Codec::new());
    let suffix = format!("replay-{}", chat_domain::time::now_ms());
    let sequencer = Sequencer::new(
        stores.clone(),
        log.clone(),
        codec.clone(),
        config.gateway.group_cap,
    )
    .without_events();
    let sequencer_records = run(Arc::new(sequencer), log.clone(), &suffix, stall).await?;
    let receipts = Receipts::new(stores, log.clone(), codec).without_events();
    let receipt_records = run(Arc::new(receipts), log, &suffix, stall).await?;
    if let Some(log) = embedded {
        log.close().await;
    }
    Ok(ReplayReport {
        sequencer_records,
        receipt_records,
    })
}
