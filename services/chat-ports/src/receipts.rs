//! The receipts' max-merge over batches, around the one rule every store
//! engine calls (`chat_domain::rules::receipts::merge_receipt`): a
//! member's (delivered, read) watermarks only move forward, and reading a
//! message implies it was delivered.

use crate::ReceiptUpdate;
use chat_domain::ReceiptKind;
use std::collections::BTreeMap;

pub use chat_domain::rules::receipts::merge_receipt;

/// Merges the updates, in order, into the watermarks of `current` keyed by
/// (conversation, user) (a missing key counts as (0, 0)). Returns whether
/// each update moved its kind's watermark, and the keys whose values
/// changed, ascending.
pub fn merge_receipts<'a>(
    current: &mut BTreeMap<(&'a str, &'a str), (u64, u64)>,
    updates: &'a [ReceiptUpdate],
) -> (Vec<bool>, Vec<(&'a str, &'a str)>) {
    let mut moved = Vec::with_capacity(updates.len());
    let mut changed = Vec::new();
    for u in updates {
        let key = (u.conv.as_str(), u.user.as_str());
        let before = current.get(&key).copied().unwrap_or((0, 0));
        let (next, advanced) = merge_receipt(before, u.kind, u.seq);
        moved.push(advanced);
        if next != before {
            current.insert(key, next);
            if !changed.contains(&key) {
                changed.push(key);
            }
        }
    }
    changed.sort_unstable();
    (moved, changed)
}

/// A (user, device, conversation) key.
pub type DeviceKey<'a> = (&'a str, &'a str, &'a str);

/// The device-level side of the merge: the highest delivered seq above 0
/// that each device reported in `updates`, by (user, device, conversation).
pub fn delivered_by_device(updates: &[ReceiptUpdate]) -> BTreeMap<DeviceKey<'_>, u64> {
    let mut devices: BTreeMap<DeviceKey<'_>, u64> = BTreeMap::new();
    for u in updates {
        if u.kind == ReceiptKind::Delivered && u.seq > 0 {
            let entry = devices
                .entry((u.user.as_str(), u.device.as_str(), u.conv.as_str()))
                .or_insert(0);
            *entry = (*entry).max(u.seq);
        }
    }
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(user: &str, kind: ReceiptKind, seq: u64) -> ReceiptUpdate {
        ReceiptUpdate {
            conv: "c".into(),
            user: user.into(),
            device: "d".into(),
            kind,
            seq,
        }
    }

    #[test]
    fn the_merge_reports_moves_of_each_kind_and_read_raises_delivered() {
        let updates = vec![
            up("a", ReceiptKind::Read, 3),
            up("a", ReceiptKind::Delivered, 3),
            up("a", ReceiptKind::Delivered, 4),
            up("b", ReceiptKind::Delivered, 0),
            up("b", ReceiptKind::Read, 0),
        ];
        let mut current = BTreeMap::new();
        let (moved, changed) = merge_receipts(&mut current, &updates);
        assert_eq!(moved, vec![true, false, true, false, false]);
        assert_eq!(changed, vec![("c", "a")]);
        assert_eq!(current[&("c", "a")], (4, 3));
        assert!(!current.contains_key(&("c", "b")));
    }

    #[test]
    fn each_device_keeps_its_highest_delivered_seq() {
        let mut updates = vec![
            up("a", ReceiptKind::Delivered, 3),
            up("a", ReceiptKind::Delivered, 2),
            up("a", ReceiptKind::Read, 9),
            up("b", ReceiptKind::Delivered, 0),
        ];
        updates[1].device = "e".into();
        let devices = delivered_by_device(&updates);
        assert_eq!(
            devices.into_iter().collect::<Vec<_>>(),
            vec![(("a", "d", "c"), 3), (("a", "e", "c"), 2)]
        );
    }

    #[test]
    fn watermarks_never_move_back() {
        assert_eq!(
            merge_receipt((5, 2), ReceiptKind::Delivered, 3),
            ((5, 2), false)
        );
        assert_eq!(merge_receipt((5, 2), ReceiptKind::Read, 1), ((5, 2), false));
        assert_eq!(merge_receipt((5, 2), ReceiptKind::Read, 7), ((7, 7), true));
    }
}
