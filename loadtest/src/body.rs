//! The text of every generated message: which conversation, which device
//! sent it, its number among that device's sends there, and when it was
//! scheduled, padded to the requested size. Plain ASCII letters, digits and
//! colons, so it needs no escaping in JSON or XML.

/// What a body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Conversation index.
    pub conv: usize,
    /// Sending device index.
    pub sender: usize,
    /// The sender's count of sends in this conversation, from 1.
    pub n: u64,
    /// Scheduled send time, microseconds since the generator's epoch.
    pub t_us: u64,
}

/// The body for `stamp`, padded with `x` up to `size` bytes.
pub fn encode(stamp: Stamp, size: usize) -> String {
    let mut s = format!(
        "lt:{}:{}:{}:{}:",
        stamp.conv, stamp.sender, stamp.n, stamp.t_us
    );
    if s.len() < size {
        s.extend(std::iter::repeat_n('x', size - s.len()));
    }
    s
}

/// Reads a body written by [`encode`]; `None` for any other text.
pub fn decode(body: &str) -> Option<Stamp> {
    let mut parts = body.strip_prefix("lt:")?.splitn(5, ':');
    Some(Stamp {
        conv: parts.next()?.parse().ok()?,
        sender: parts.next()?.parse().ok()?,
        n: parts.next()?.parse().ok()?,
        t_us: parts.next()?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_are_padded() {
        let st = Stamp {
            conv: 3,
            sender: 17,
            n: 42,
            t_us: 123_456,
        };
        let b = encode(st, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(decode(&b), Some(st));
        assert_eq!(decode("hello"), None);
    }
}
