//! Replay: a processor reads the log from its earliest retained record
//! under a fresh consumer group and applies everything until no record has
//! come for `idle`. Processing is deterministic, so the store it writes
//! equals the live one for the same log.

use crate::{Processor, Result};
use chat_ports::log::last_positions;
use chat_ports::EventLog;
use std::sync::Arc;
use std::time::Duration;

/// How long a replay waits for its first record: joining a group on a
/// broker takes seconds (the assignment), and an empty log has none.
pub const FIRST_RECORD_WAIT: Duration = Duration::from_secs(30);

/// Runs `processor` under the group `<its group>-<suffix>` until the log
/// stays quiet for `idle` after a first record (or gives none within
/// [`FIRST_RECORD_WAIT`]); returns how many records it handled.
pub async fn replay(
    processor: Arc<dyn Processor>,
    log: Arc<dyn EventLog>,
    suffix: &str,
    idle: Duration,
) -> Result<u64> {
    let group = format!("{}-{suffix}", processor.group());
    let mut consumer = log.consumer(&group, processor.topics()).await?;
    let mut handled = 0u64;
    let mut quiet = Duration::ZERO;
    let step = Duration::from_millis(250).min(idle);
    while quiet
        < if handled == 0 {
            FIRST_RECORD_WAIT
        } else {
            idle
        }
    {
        let batch = consumer.poll(512, step).await?;
        if batch.is_empty() {
            quiet += step;
            continue;
        }
        quiet = Duration::ZERO;
        processor.handle(&batch).await?;
        consumer.commit(&last_positions(&batch)).await?;
        handled += batch.len() as u64;
    }
    Ok(handled)
}
