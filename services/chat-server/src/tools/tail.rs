//! `chatctl tail`: prints a topic's records decoded with the schema files
//! of a folder (not the compiled-in ones), one JSON object per line.

use crate::engines::open_log;
use crate::Config;
use chat_events::Codec;
use chat_processors::replay::Progress;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Prints every record of `topic` from the earliest retained one; without
/// `follow`, stops once it has printed every record the topic held when it
/// started (its high watermarks), and fails when no record comes for
/// `stall` while some are still to print. Returns how many it printed.
pub async fn tail(
    config: &Config,
    topic: &str,
    schemas: &Path,
    follow: bool,
    stall: Duration,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<u64> {
    let codec = Codec::from_dir(schemas)?;
    let (log, embedded) = open_log(config).await?;
    let mut progress = Progress::of(log.as_ref(), &[topic]).await?;
    let group = format!("tail-{}", chat_domain::time::now_ms());
    let mut consumer = log.consumer(&group, &[topic]).await?;
    let mut printed = 0;
    let mut quiet = Duration::ZERO;
    let step = Duration::from_millis(250);
    let first_wait = chat_processors::replay::FIRST_RECORD_WAIT.max(stall);
    while follow || !progress.done() {
        let batch = consumer.poll(512, step).await?;
        if batch.is_empty() {
            quiet += step;
            let limit = if printed == 0 { first_wait } else { stall };
            if !follow && quiet >= limit {
                anyhow::bail!("no record came for {quiet:?} with some still to print");
            }
            continue;
        }
        quiet = Duration::ZERO;
        for r in batch {
            let line = match codec.decode_json(&r.payload) {
                Ok((schema, record)) => serde_json::json!({
                    "topic": r.topic, "partition": r.partition, "offset": r.offset,
                    "key": r.key, "timestamp": r.timestamp, "schema": schema, "record": record,
                }),
                Err(e) => serde_json::json!({
                    "topic": r.topic, "partition": r.partition, "offset": r.offset,
                    "key": r.key, "timestamp": r.timestamp, "error": e.to_string(),
                }),
            };
            writeln!(out, "{line}")?;
            printed += 1;
            progress.read(&r.topic, r.partition, r.offset);
        }
        out.flush()?;
    }
    if let Some(log) = embedded {
        log.close().await;
    }
    Ok(printed)
}
