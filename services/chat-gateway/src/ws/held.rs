//! Receipt frames past a device's allowance
//! (`client_limits.receipts_every_ms`): merged, the highest seq kept per
//! conversation and kind, and handled once the allowance has room again.
//! Receipts are watermarks, so merging loses nothing, and the connection's
//! other frames never wait behind them.

use chat_domain::{ConversationId, ReceiptKind};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Default)]
pub(super) struct HeldReceipts {
    held: HashMap<(ConversationId, ReceiptKind), u64>,
    /// When to try the held receipts again; None when none is held.
    until: Option<Instant>,
}

impl HeldReceipts {
    /// Holds a receipt, merged with any held for the same conversation and
    /// kind; tried again after `wait` if nothing was held before.
    pub(super) fn hold(
        &mut self,
        conv: ConversationId,
        kind: ReceiptKind,
        seq: u64,
        wait: Duration,
    ) {
        let held = self.held.entry((conv, kind)).or_insert(seq);
        *held = (*held).max(seq);
        if self.until.is_none() {
            self.until = Some(Instant::now() + wait);
        }
    }

    /// When the held receipts are to be tried again, if any are held.
    pub(super) fn due(&self) -> Option<Instant> {
        self.until
    }

    /// Everything held, which is no longer held.
    pub(super) fn take(&mut self) -> Vec<(ConversationId, ReceiptKind, u64)> {
        self.until = None;
        self.held
            .drain()
            .map(|((conv, kind), seq)| (conv, kind, seq))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_receipts_keep_the_highest_seq_per_conversation_and_kind() {
        let mut h = HeldReceipts::default();
        assert!(h.due().is_none());
        let wait = Duration::from_millis(100);
        let g: ConversationId = "g".into();
        h.hold(g.clone(), ReceiptKind::Read, 5, wait);
        let first = h.due().unwrap();
        h.hold(g.clone(), ReceiptKind::Read, 3, Duration::from_secs(9));
        h.hold(g.clone(), ReceiptKind::Read, 7, wait);
        h.hold(g.clone(), ReceiptKind::Delivered, 2, wait);
        assert_eq!(h.due(), Some(first), "the first hold sets the time");
        let mut all = h.take();
        all.sort_by_key(|(_, _, seq)| *seq);
        assert_eq!(
            all,
            vec![
                (g.clone(), ReceiptKind::Delivered, 2),
                (g, ReceiptKind::Read, 7)
            ]
        );
        assert!(h.due().is_none());
    }
}
