//! The sequencer's cursors, one row per partition of the commands topic.
//! A cursor row takes the write timestamp 2 × its position + 1, so that the
//! furthest one wins whatever order writes arrive in.

use crate::keys::{to_db, Stamp};
use crate::{error, CassandraStore};
use chat_ports::{LogCursor, Result};

/// The partition key of the commands topic's cursors (the sequencer reads
/// no other topic).
const TOPIC: &str = "commands";

/// The values of `put_cursor`, checked before anything of the batch is
/// written.
pub(crate) type CursorRow = (i64, i32, i64, i64, i64, &'static str, i32);

pub(crate) fn cursor_row(c: &LogCursor) -> Result<CursorRow> {
    let int = |what: &str, v: u32| {
        i32::try_from(v).map_err(|_| error::refuse(format!("{what} {v} is above an int")))
    };
    let position = c
        .base
        .checked_add(c.last_offset)
        .ok_or_else(|| error::refuse("a cursor position past u64"))?;
    Ok((
        Stamp::of(position)?.upsert,
        int("partition count", c.partitions)?,
        to_db("base", c.base)?,
        to_db("offset", c.last_offset)?,
        to_db("fingerprint", c.last_fingerprint)?,
        TOPIC,
        int("partition", c.partition)?,
    ))
}

impl CassandraStore {
    pub(crate) async fn read_cursors(&self) -> Result<Vec<LogCursor>> {
        type Row = (i32, Option<i32>, Option<i64>, Option<i64>, Option<i64>);
        let found: Vec<Row> = self.rows(&self.st.cursors, (TOPIC,)).await?;
        let unsigned = |what: &str, v: Option<i64>| {
            let v = v.ok_or_else(|| error::corrupt(format!("a cursor without its {what}")))?;
            u64::try_from(v).map_err(|_| error::corrupt(format!("cursor {what} {v}")))
        };
        found
            .into_iter()
            .map(|(partition, partitions, base, last_offset, fingerprint)| {
                let small = |what: &str, v: Option<i32>| {
                    let v = unsigned(what, v.map(i64::from))?;
                    u32::try_from(v).map_err(|_| error::corrupt(format!("cursor {what} {v}")))
                };
                Ok(LogCursor {
                    partition: small("partition", Some(partition))?,
                    partitions: small("partition count", partitions)?,
                    base: unsigned("base", base)?,
                    last_offset: unsigned("offset", last_offset)?,
                    last_fingerprint: unsigned("fingerprint", fingerprint)?,
                })
            })
            .collect()
    }
}
