//! The arithmetic of keys and timestamps: u64 and bigint, message buckets,
//! retention days and shards, and the write timestamps of the sequencer's
//! tables.

use crate::error;
use chat_ports::Result;

/// Seqs per message partition: a conversation's messages live in
/// partitions (conv, seq / BUCKET), so none grows with its age (512 bodies
/// of the protocol's 64 KiB at most are 32 MiB; typical ones, a few
/// hundred KiB).
pub(crate) const BUCKET: u64 = 512;

/// Shards of each retention day: the conversations active on one day are
/// spread over this many partitions.
pub(crate) const DAY_SHARDS: i32 = 32;

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// A u64 to write: refused above `i64::MAX` rather than wrapped.
pub(crate) fn to_db(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| error::refuse(format!("{what} {v} is above the largest bigint")))
}

/// A u64 bound of a read: values above `i64::MAX` stand for `i64::MAX`.
pub(crate) fn bound(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored bigint that stands for a u64.
pub(crate) fn from_db(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| error::corrupt(format!("{what} {v} is negative")))
}

/// The bucket of a seq.
pub(crate) fn bucket(seq: i64) -> i64 {
    seq.max(0) / BUCKET as i64
}

/// The first and last seq of a bucket.
pub(crate) fn bucket_range(bucket: i64) -> (i64, i64) {
    let first = bucket.saturating_mul(BUCKET as i64);
    (first, first.saturating_add(BUCKET as i64 - 1))
}

/// The retention day of a message timestamp (ms since the epoch).
pub(crate) fn day(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(DAY_MS)
}

/// The retention shard of a conversation: FNV-1a of its id.
pub(crate) fn shard(conv: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in conv.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % DAY_SHARDS as u32) as i32
}

/// Write timestamps of the rows a batch writes for a conversation whose
/// state it leaves at `applied_offset`: deletes at `2 * applied_offset`,
/// upserts one above, so a delete and an insert of one key in one batch
/// leave the insert, and anything a later batch writes wins over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub delete: i64,
    pub upsert: i64,
}

impl Stamp {
    pub(crate) fn of(applied_offset: u64) -> Result<Self> {
        let delete = i64::try_from(applied_offset)
            .ok()
            .and_then(|o| o.checked_mul(2))
            .filter(|d| *d < i64::MAX)
            .ok_or_else(|| {
                error::refuse(format!(
                    "applied offset {applied_offset} is above what a write timestamp holds"
                ))
            })?;
        Ok(Self {
            delete,
            upsert: delete + 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_seqs_without_overlap() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(511), 0);
        assert_eq!(bucket(512), 1);
        assert_eq!(bucket_range(1), (512, 1023));
        assert_eq!(bucket(i64::MAX), i64::MAX / 512);
        assert_eq!(bucket_range(i64::MAX / 512).1, i64::MAX);
    }

    #[test]
    fn days_floor_and_shards_stay_in_range() {
        assert_eq!(day(0), 0);
        assert_eq!(day(86_399_999), 0);
        assert_eq!(day(86_400_000), 1);
        assert_eq!(day(-1), -1);
        for c in ["", "a", "g-123", "d-ü"] {
            assert!((0..DAY_SHARDS).contains(&shard(c)));
        }
        assert_eq!(shard("abc"), shard("abc"));
    }

    #[test]
    fn a_later_batch_stamps_above_an_earlier_one_and_upserts_above_deletes() {
        let a = Stamp::of(7).unwrap();
        let b = Stamp::of(8).unwrap();
        assert!(a.delete < a.upsert && a.upsert < b.delete);
        assert!(Stamp::of(u64::MAX).is_err());
        assert_eq!(Stamp::of(i64::MAX as u64 / 2).unwrap().upsert, i64::MAX);
        assert!(Stamp::of(i64::MAX as u64 / 2 + 1).is_err());
    }
}
