//! Receipts: delivered and read watermarks, per device and per member,
//! max-merged by write timestamp: each watermark is written with its seq as
//! timestamp, so the highest seq wins whatever order writes arrive in, and
//! no write can move one back. The stored values are read first only to
//! report which user-level watermarks moved.

use crate::keys::{from_db, to_db};
use crate::CassandraStore;
use chat_domain::MemberReceipts;
use chat_ports::{ReceiptUpdate, Result};
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};

/// A member's stored (delivered, read), by (conversation, user).
type Stored<'a> = ((&'a str, &'a str), (u64, u64));

/// Reads of stored watermarks in flight at once.
const READ_CONCURRENCY: usize = 32;

impl CassandraStore {
    /// The stored (delivered, read) of `user` in `conv`.
    async fn watermarks(&self, conv: &str, user: &str) -> Result<(u64, u64)> {
        let found: Option<(Option<i64>, Option<i64>)> =
            self.row(&self.st.user_receipts, (conv, user)).await?;
        let (delivered, read) = found.unwrap_or((None, None));
        Ok((
            from_db("delivered", delivered.unwrap_or(0))?,
            from_db("read", read.unwrap_or(0))?,
        ))
    }

    pub(crate) async fn write_receipts(&self, updates: &[ReceiptUpdate]) -> Result<Vec<bool>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        // Device level: only the highest seq of each device matters.
        for u in updates {
            to_db("seq", u.seq)?;
        }
        let devices = chat_ports::delivered_by_device(updates);
        // User level: the stored values, merged update by update.
        let keys: Vec<(&str, &str)> = {
            let mut k: Vec<(&str, &str)> = updates
                .iter()
                .map(|u| (u.conv.as_str(), u.user.as_str()))
                .collect();
            k.sort_unstable();
            k.dedup();
            k
        };
        let mut reads: Vec<BoxFuture<'_, Result<Stored<'_>>>> = Vec::new();
        for key in keys {
            reads.push(async move { Ok((key, self.watermarks(key.0, key.1).await?)) }.boxed());
        }
        let stored: Vec<Stored<'_>> = stream::iter(reads)
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut current: BTreeMap<(&str, &str), (u64, u64)> = stored.into_iter().collect();
        let (moved, changed) = chat_ports::merge_receipts(&mut current, updates);

        let st = &self.st;
        let mut writes: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
        for ((user, device, conv), seq) in devices {
            let seq = to_db("seq", seq)?;
            writes.push(
                self.run(&st.raise_device_delivered, (seq, seq, user, device, conv))
                    .boxed(),
            );
        }
        for (conv, user) in changed {
            let (delivered, read) = current[&(conv, user)];
            let delivered = to_db("delivered", delivered)?;
            let read = to_db("read", read)?;
            writes.push(
                self.run(&st.raise_delivered, (delivered, delivered, conv, user))
                    .boxed(),
            );
            if read > 0 {
                writes.push(self.run(&st.raise_read, (read, read, conv, user)).boxed());
            }
        }
        self.join_writes(writes).await?;
        Ok(moved)
    }

    pub(crate) async fn read_device_delivered(
        &self,
        user: &str,
        device: &str,
    ) -> Result<HashMap<String, u64>> {
        let found: Vec<(String, Option<i64>)> =
            self.rows(&self.st.device_delivered, (user, device)).await?;
        found
            .into_iter()
            .map(|(conv, seq)| Ok((conv, from_db("seq", seq.unwrap_or(0))?)))
            .collect()
    }

    pub(crate) async fn read_member_receipts(&self, conv: &str) -> Result<Vec<MemberReceipts>> {
        let found: Vec<(String, Option<i64>, Option<i64>)> =
            self.rows(&self.st.member_receipts, (conv,)).await?;
        found
            .into_iter()
            .map(|(user, delivered, read)| {
                Ok(MemberReceipts {
                    user: user.into(),
                    delivered_seq: from_db("delivered", delivered.unwrap_or(0))?,
                    read_seq: from_db("read", read.unwrap_or(0))?,
                })
            })
            .collect()
    }

    pub(crate) async fn read_read_seq(&self, conv: &str, user: &str) -> Result<u64> {
        Ok(self.watermarks(conv, user).await?.1)
    }

    pub(crate) async fn read_watermarks(&self, conv: &str, user: &str) -> Result<(u64, u64)> {
        self.watermarks(conv, user).await
    }
}
