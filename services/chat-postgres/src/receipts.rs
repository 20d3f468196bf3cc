//! Receipts: max-merged delivered and read watermarks, per device and per
//! user, in one transaction per set of updates.

use crate::rows::{self, to_db};
use crate::{error, PostgresStore};
use chat_ports::{ReceiptUpdate, Result};
use std::collections::BTreeMap;

const RAISE_DEVICE_DELIVERED: &str = "\
INSERT INTO device_delivered (user_id, device, conv, seq)
SELECT user_id, device, conv, seq
FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) AS t(user_id, device, conv, seq)
ON CONFLICT (user_id, device, conv) DO UPDATE SET seq = EXCLUDED.seq
WHERE device_delivered.seq < EXCLUDED.seq";

// Serializes advances of one (conv, user) across transactions, as the
// embedded engine's single writer does, so that two of them never both
// report the same move; the row lock below cannot, for a row that does not
// exist yet. Taken in one global order (by key hash), so it cannot deadlock.
const LOCK_RECEIPT_KEYS: &str = "\
SELECT pg_advisory_xact_lock(h)
FROM (SELECT DISTINCT hashtextextended(conv || '/' || user_id, 0) AS h
      FROM unnest($1::text[], $2::text[]) AS k(conv, user_id)
      ORDER BY h) AS keys";

const LOCK_USER_RECEIPTS: &str = "\
SELECT r.conv, r.user_id, r.delivered, r.read
FROM user_receipts AS r
JOIN unnest($1::text[], $2::text[]) AS k(conv, user_id)
    ON r.conv = k.conv AND r.user_id = k.user_id
ORDER BY r.conv, r.user_id
FOR UPDATE OF r";

// GREATEST: a row another transaction inserted since the lock above (there
// was none to lock) is merged, not overwritten.
const RAISE_USER_RECEIPTS: &str = "\
INSERT INTO user_receipts (conv, user_id, delivered, read)
SELECT conv, user_id, delivered, read
FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) AS t(conv, user_id, delivered, read)
ON CONFLICT (conv, user_id) DO UPDATE SET
    delivered = GREATEST(user_receipts.delivered, EXCLUDED.delivered),
    read = GREATEST(user_receipts.read, EXCLUDED.read)";

impl PostgresStore {
    /// Max-merges the updates in one transaction, as the embedded engine
    /// does one after another: a device's delivered watermark takes the
    /// highest delivered seq; the user's (delivered, read) takes the highest
    /// of each, a read raising delivered too. Reports, per update, whether
    /// the user-level watermark of its kind moved.
    pub(crate) async fn write_receipts(&self, updates: &[ReceiptUpdate]) -> Result<Vec<bool>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        // Device level: only the highest seq of each device matters.
        for u in updates {
            to_db("seq", u.seq)?;
        }
        let devices = chat_ports::delivered_by_device(updates);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error::db)?;
        if !devices.is_empty() {
            let mut columns: (Vec<&str>, Vec<&str>, Vec<&str>, Vec<i64>) = Default::default();
            for ((user, device, conv), seq) in &devices {
                columns.0.push(user);
                columns.1.push(device);
                columns.2.push(conv);
                columns.3.push(to_db("seq", *seq)?);
            }
            let statement = tx
                .prepare_cached(RAISE_DEVICE_DELIVERED)
                .await
                .map_err(error::db)?;
            tx.execute(
                &statement,
                &[&columns.0, &columns.1, &columns.2, &columns.3],
            )
            .await
            .map_err(error::db)?;
        }

        // User level: lock the rows there are, merge in order, write back.
        let mut current: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
        for u in updates {
            current.insert((u.conv.as_str(), u.user.as_str()), (0, 0));
        }
        let (convs, users): (Vec<&str>, Vec<&str>) = current.keys().copied().unzip();
        let statement = tx
            .prepare_cached(LOCK_RECEIPT_KEYS)
            .await
            .map_err(error::db)?;
        tx.execute(&statement, &[&convs, &users])
            .await
            .map_err(error::db)?;
        // Planned now, not cached: see `PostgresStore::rows_planned_now`.
        let stored = tx
            .query(LOCK_USER_RECEIPTS, &[&convs, &users])
            .await
            .map_err(error::db)?;
        let mut found: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for row in &stored {
            found.insert(
                (rows::text(row, 0)?, rows::text(row, 1)?),
                (rows::seq(row, 2)?, rows::seq(row, 3)?),
            );
        }
        for (key, value) in current.iter_mut() {
            if let Some(v) = found.get(&(key.0.to_string(), key.1.to_string())) {
                *value = *v;
            }
        }
        let (moved, changed) = chat_ports::merge_receipts(&mut current, updates);
        if !changed.is_empty() {
            let mut columns: (Vec<&str>, Vec<&str>, Vec<i64>, Vec<i64>) = Default::default();
            for key in &changed {
                let (delivered, read) = current[key];
                columns.0.push(key.0);
                columns.1.push(key.1);
                columns.2.push(to_db("delivered", delivered)?);
                columns.3.push(to_db("read", read)?);
            }
            let statement = tx
                .prepare_cached(RAISE_USER_RECEIPTS)
                .await
                .map_err(error::db)?;
            tx.execute(
                &statement,
                &[&columns.0, &columns.1, &columns.2, &columns.3],
            )
            .await
            .map_err(error::db)?;
        }
        tx.commit().await.map_err(error::db)?;
        Ok(moved)
    }
}
