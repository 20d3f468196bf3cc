//! The stored form of a record: timestamp, key, headers, payload.

use chat_ports::{LogRecord, OutRecord, PortError, Result};

/// Encodes the parts of a record that are not in its key.
pub(crate) fn encode(r: &OutRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + r.key.len() + r.payload.len());
    out.extend_from_slice(&r.timestamp.to_le_bytes());
    put(&mut out, r.key.as_bytes());
    out.extend_from_slice(&(r.headers.len() as u32).to_le_bytes());
    for (k, v) in &r.headers {
        put(&mut out, k.as_bytes());
        put(&mut out, v);
    }
    out.extend_from_slice(&r.payload);
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The timestamp of a stored record, without decoding the rest.
pub(crate) fn timestamp(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Decodes a stored record found at (topic, partition, offset).
pub(crate) fn decode(topic: &str, partition: u32, offset: u64, bytes: &[u8]) -> Result<LogRecord> {
    let corrupt =
        || PortError::corrupt("event log", format!("record {topic}/{partition}/{offset}"));
    let mut cur = Cursor { bytes, at: 0 };
    let timestamp = i64::from_le_bytes(cur.take(8).ok_or_else(corrupt)?.try_into().unwrap());
    let key = cur.string().ok_or_else(corrupt)?;
    let n = cur.u32().ok_or_else(corrupt)?;
    let mut headers = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let k = cur.string().ok_or_else(corrupt)?;
        let v = cur.chunk().ok_or_else(corrupt)?.to_vec();
        headers.push((k, v));
    }
    Ok(LogRecord {
        topic: topic.to_string(),
        partition,
        offset,
        key,
        payload: bytes[cur.at..].to_vec(),
        headers,
        timestamp,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn chunk(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.chunk()?.to_vec()).ok()
    }
}
