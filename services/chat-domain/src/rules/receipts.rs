//! The receipts' max-merge: a member's (delivered, read) watermarks only
//! move forward, and reading a message implies it was delivered. Every
//! store engine calls this one function.

use crate::ReceiptKind;

/// Merges one update into a member's (delivered, read); returns the new
/// pair and whether the update moved the watermark of its kind.
pub fn merge_receipt(current: (u64, u64), kind: ReceiptKind, seq: u64) -> ((u64, u64), bool) {
    let (delivered, read) = current;
    match kind {
        ReceiptKind::Delivered => ((delivered.max(seq), read), seq > delivered),
        ReceiptKind::Read => ((delivered.max(seq), read.max(seq)), seq > read),
    }
}
