//! Load shedding per connection (DESIGN invariant 8): as a connection's
//! outbound queue fills, typing goes first, then presence, then receipts;
//! messages (and the session's own replies) are never shed: a queue full of
//! them closes the connection, and the device resyncs without loss.

/// What kind of shed-able frame is about to be queued (messages are not:
/// they never pass through here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Typing,
    Presence,
    Receipt,
}

/// Whether a frame of `kind` is sent when the queue is `fill` full (0 to 1).
pub(crate) fn admits(kind: Kind, fill: f64) -> bool {
    match kind {
        Kind::Typing => fill < 0.25,
        Kind::Presence => fill < 0.5,
        Kind::Receipt => fill < 0.75,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_goes_first_then_presence_then_receipts() {
        let order = [Kind::Typing, Kind::Presence, Kind::Receipt];
        for fill in [0.0, 0.1, 0.3, 0.6, 0.8, 0.99, 1.0] {
            let admitted: Vec<bool> = order.iter().map(|k| admits(*k, fill)).collect();
            // Once a kind is shed, every kind before it in the order is too.
            assert!(
                admitted.windows(2).all(|w| w[0] <= w[1]),
                "fill {fill}: {admitted:?}"
            );
        }
        assert!(admits(Kind::Typing, 0.0));
        assert!(!admits(Kind::Typing, 0.3) && admits(Kind::Presence, 0.3));
        assert!(!admits(Kind::Presence, 0.6) && admits(Kind::Receipt, 0.6));
        assert!(!admits(Kind::Receipt, 0.8));
    }
}
