//! Unlogged batches: the rows the sequencer writes with one statement go
//! to the cluster a few at a time in one request instead of one request
//! each, which is most of what a write costs a node (a batch is parsed,
//! scheduled and answered once). A batch is not atomic here, and needs not
//! be: every row is keyed and stamped (`keys::Stamp`), so a batch that
//! fails part-way is written again whole, as single writes were.
//!
//! Cassandra warns about a batch over `batch_size_warn_threshold` (5 KiB)
//! and refuses one over `batch_size_fail_threshold` (50 KiB); a batch here
//! holds at most [`MAX_BATCH_BYTES`] of values, and a row bigger than
//! that is written alone.

use std::ops::Range;

/// Estimated bytes of values one batch holds at most.
pub(crate) const MAX_BATCH_BYTES: usize = 16 * 1024;

/// Splits rows of the given estimated sizes, in order, into runs of at
/// most `max_rows` rows and `max_bytes` bytes; a row of `max_bytes` or
/// more is a run of its own. `max_rows` 0 or 1 gives one row per run.
pub(crate) fn runs(sizes: &[usize], max_rows: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let max_rows = max_rows.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start >= max_rows || (i > start && bytes + size > max_bytes);
        if full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_respect_the_row_and_byte_limits() {
        assert_eq!(runs(&[], 4, 100), Vec::<Range<usize>>::new());
        assert_eq!(runs(&[10; 10], 4, 100), vec![0..4, 4..8, 8..10]);
        assert_eq!(runs(&[40, 40, 40, 40], 10, 100), vec![0..2, 2..4]);
        // A row over the limit goes alone, and so do the rows around it
        // only as far as they must.
        assert_eq!(runs(&[10, 500, 10, 10], 10, 100), vec![0..1, 1..2, 2..4]);
        assert_eq!(runs(&[10; 3], 1, 100), vec![0..1, 1..2, 2..3]);
        assert_eq!(runs(&[10; 3], 0, 100), vec![0..1, 1..2, 2..3]);
    }
}
