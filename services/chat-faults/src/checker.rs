//! The properties of a run, as pure functions over what the clients
//! observed and what history says at the end:
//!
//! 1. every acknowledged message (and every message history has) is in
//!    history exactly once, and each conversation's seqs are 1..n;
//! 2. every member device received every message of its conversations,
//!    and in each device's stream a conversation's messages come in
//!    increasing seq without a gap, repeats allowed only across a
//!    reconnect (a new connection);
//! 3. receipt watermarks, as each device saw them in `receipt` frames and
//!    as the receipts read over HTTP returned them, never go back;
//! 4. after the last heal, a probe in each conversation reached every
//!    member device within the bound;
//! 5. at the end nothing acknowledged is undelivered (2 and 1 together,
//!    reported apart so that a violation says which).

use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// A message frame as a device got it.
#[derive(Clone, Debug, Serialize)]
pub struct Got {
    /// The device's connection number (1, 2, …): a new one after each
    /// reconnect.
    pub conn: u32,
    pub conv: String,
    pub seq: u64,
    pub msg_id: String,
}

/// A `receipt` frame as a device got it.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiptSeen {
    pub conn: u32,
    pub conv: String,
    pub user: String,
    pub kind: String,
    pub seq: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DeviceLog {
    pub user: String,
    pub device: String,
    pub messages: Vec<Got>,
    pub receipts: Vec<ReceiptSeen>,
}

/// A `sent` (or HTTP 200 to a send): the send is durable.
#[derive(Clone, Debug, Serialize)]
pub struct Ack {
    pub conv: String,
    pub sender: String,
    pub client_msg_id: String,
    pub msg_id: String,
}

/// One message of history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryMsg {
    pub seq: u64,
    pub msg_id: String,
    pub sender: String,
    pub client_msg_id: String,
}

/// One row of `GET /v1/conversations/{id}/receipts`, by one poller, in the
/// order the poller read them.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiptRead {
    pub conv: String,
    pub user: String,
    pub delivered_seq: u64,
    pub read_seq: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Observed {
    pub devices: Vec<DeviceLog>,
    pub acks: Vec<Ack>,
    pub receipt_reads: Vec<ReceiptRead>,
    /// conv → its messages as history returned them, in order.
    pub history: BTreeMap<String, Vec<HistoryMsg>>,
    /// conv → its members (fixed for the run).
    pub members: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub property: &'static str,
    pub detail: String,
}

fn v(property: &'static str, detail: String) -> Violation {
    Violation { property, detail }
}

/// Every property over `o`; `recovery` is the measured time from the last
/// heal until every probe reached every member device (None: never).
pub fn check(o: &Observed, recovery: Option<Duration>, bound: Duration) -> Vec<Violation> {
    let mut out = check_history(o);
    out.extend(check_streams(o));
    out.extend(check_receipts(o));
    out.extend(check_recovery(recovery, bound));
    out.extend(check_delivered(o));
    out
}

/// Property 1.
pub fn check_history(o: &Observed) -> Vec<Violation> {
    const P: &str = "1 history exactly once, dense";
    let mut out = Vec::new();
    for (conv, msgs) in &o.history {
        for (i, m) in msgs.iter().enumerate() {
            if m.seq != i as u64 + 1 {
                out.push(v(
                    P,
                    format!(
                        "{conv}: history position {} has seq {} (gap or disorder)",
                        i + 1,
                        m.seq
                    ),
                ));
                break;
            }
        }
        let mut ids: HashMap<&str, u64> = HashMap::new();
        let mut keys: HashMap<(&str, &str), u64> = HashMap::new();
        for m in msgs {
            if let Some(first) = ids.insert(&m.msg_id, m.seq) {
                out.push(v(
                    P,
                    format!("{conv}: msg_id {} at seq {first} and {}", m.msg_id, m.seq),
                ));
            }
            if let Some(first) = keys.insert((&m.sender, &m.client_msg_id), m.seq) {
                out.push(v(
                    P,
                    format!(
                        "{conv}: ({}, {}) at seq {first} and {}",
                        m.sender, m.client_msg_id, m.seq
                    ),
                ));
            }
        }
    }
    for a in &o.acks {
        let found = o
            .history
            .get(&a.conv)
            .map(|msgs| msgs.iter().filter(|m| m.msg_id == a.msg_id).count())
            .unwrap_or(0);
        if found != 1 {
            out.push(v(
                P,
                format!(
                    "{}: acknowledged {} ({} from {}) is in history {found} times",
                    a.conv, a.msg_id, a.client_msg_id, a.sender
                ),
            ));
        }
    }
    out
}

/// Property 2, the order half: per device and conversation, each
/// connection's seqs increase, a seq above all seen so far is the next one
/// (no gap), and a repeat comes only on a later connection. And every
/// frame matches history at its seq.
pub fn check_streams(o: &Observed) -> Vec<Violation> {
    const P: &str = "2 in order, no gap, repeats only across a reconnect";
    let mut out = Vec::new();
    let at: HashMap<(&str, u64), &str> = o
        .history
        .iter()
        .flat_map(|(c, msgs)| {
            msgs.iter()
                .map(move |m| ((c.as_str(), m.seq), m.msg_id.as_str()))
        })
        .collect();
    for d in &o.devices {
        // conv → (highest seq ever, (connection, last seq on it))
        let mut state: HashMap<&str, (u64, (u32, u64))> = HashMap::new();
        for g in &d.messages {
            let (max, (conn, last)) = state.entry(&g.conv).or_insert((0, (0, 0)));
            if *conn != g.conn {
                *conn = g.conn;
                *last = 0;
            }
            let who = format!("{}/{} {} conn {}", d.user, d.device, g.conv, g.conn);
            if g.seq <= *last {
                out.push(v(
                    P,
                    format!("{who}: seq {} after {} on one connection", g.seq, *last),
                ));
            } else if g.seq > *max + 1 {
                out.push(v(P, format!("{who}: seq {} after {} (gap)", g.seq, *max)));
            }
            *last = g.seq;
            *max = (*max).max(g.seq);
            match at.get(&(g.conv.as_str(), g.seq)) {
                Some(id) if *id == g.msg_id => {}
                Some(id) => out.push(v(
                    P,
                    format!("{who}: seq {} is {} but history has {id}", g.seq, g.msg_id),
                )),
                None => out.push(v(P, format!("{who}: got seq {} that history lacks", g.seq))),
            }
        }
    }
    out
}

/// Property 3.
pub fn check_receipts(o: &Observed) -> Vec<Violation> {
    const P: &str = "3 receipt watermarks never go back";
    let mut out = Vec::new();
    for d in &o.devices {
        let mut high: HashMap<(&str, &str, &str), u64> = HashMap::new();
        for r in &d.receipts {
            let h = high.entry((&r.conv, &r.user, &r.kind)).or_insert(0);
            if r.seq < *h {
                out.push(v(
                    P,
                    format!(
                        "{}/{} saw {} {} of {} go from {} back to {}",
                        d.user, d.device, r.user, r.kind, r.conv, *h, r.seq
                    ),
                ));
            }
            *h = (*h).max(r.seq);
        }
    }
    let mut high: HashMap<(&str, &str), (u64, u64)> = HashMap::new();
    for r in &o.receipt_reads {
        let h = high.entry((&r.conv, &r.user)).or_insert((0, 0));
        if r.delivered_seq < h.0 || r.read_seq < h.1 {
            out.push(v(
                P,
                format!(
                    "receipts of {} for {} went from delivered {}/read {} back to {}/{}",
                    r.conv, r.user, h.0, h.1, r.delivered_seq, r.read_seq
                ),
            ));
        }
        *h = (h.0.max(r.delivered_seq), h.1.max(r.read_seq));
    }
    out
}

/// Property 4.
pub fn check_recovery(recovery: Option<Duration>, bound: Duration) -> Vec<Violation> {
    const P: &str = "4 recovery within the bound";
    match recovery {
        Some(r) if r <= bound => Vec::new(),
        Some(r) => vec![v(
            P,
            format!("the probes took {r:?} after the last heal (bound {bound:?})"),
        )],
        None => vec![v(
            P,
            format!("the probes did not reach every member device (bound {bound:?})"),
        )],
    }
}

/// Properties 2 (completeness) and 5: every member device got every
/// message of history, and so every acknowledged one.
pub fn check_delivered(o: &Observed) -> Vec<Violation> {
    let mut out = Vec::new();
    let acked: HashSet<&str> = o.acks.iter().map(|a| a.msg_id.as_str()).collect();
    for (conv, msgs) in &o.history {
        let members = o.members.get(conv).cloned().unwrap_or_default();
        for d in o.devices.iter().filter(|d| members.contains(&d.user)) {
            let got: HashSet<&str> = d
                .messages
                .iter()
                .filter(|g| &g.conv == conv)
                .map(|g| g.msg_id.as_str())
                .collect();
            let missing: Vec<&HistoryMsg> = msgs
                .iter()
                .filter(|m| !got.contains(m.msg_id.as_str()))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let (acked_missing, other): (Vec<_>, Vec<_>) = missing
                .iter()
                .partition(|m| acked.contains(m.msg_id.as_str()));
            let seqs = |ms: &[&&HistoryMsg]| -> String {
                let s: Vec<String> = ms.iter().take(10).map(|m| m.seq.to_string()).collect();
                format!("{}{}", s.join(","), if ms.len() > 10 { ",…" } else { "" })
            };
            if !acked_missing.is_empty() {
                out.push(v(
                    "5 nothing acknowledged stays undelivered",
                    format!(
                        "{}/{} never got {} acknowledged message(s) of {conv}: seqs {}",
                        d.user,
                        d.device,
                        acked_missing.len(),
                        seqs(&acked_missing)
                    ),
                ));
            }
            if !other.is_empty() {
                out.push(v(
                    "2 every member device received it",
                    format!(
                        "{}/{} never got {} message(s) of {conv}: seqs {}",
                        d.user,
                        d.device,
                        other.len(),
                        seqs(&other)
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seq: u64, id: &str) -> HistoryMsg {
        HistoryMsg {
            seq,
            msg_id: id.into(),
            sender: "a".into(),
            client_msg_id: format!("c-{id}"),
        }
    }

    fn got(conn: u32, seq: u64, id: &str) -> Got {
        Got {
            conn,
            conv: "c".into(),
            seq,
            msg_id: id.into(),
        }
    }

    fn ack(id: &str) -> Ack {
        Ack {
            conv: "c".into(),
            sender: "a".into(),
            client_msg_id: format!("c-{id}"),
            msg_id: id.into(),
        }
    }

    /// One conversation c of a and b, history m1 m2 m3, both devices got
    /// everything once, everything acknowledged.
    fn clean() -> Observed {
        let dev = |user: &str| DeviceLog {
            user: user.into(),
            device: "d".into(),
            messages: vec![got(1, 1, "m1"), got(1, 2, "m2"), got(1, 3, "m3")],
            receipts: Vec::new(),
        };
        Observed {
            devices: vec![dev("a"), dev("b")],
            acks: vec![ack("m1"), ack("m2"), ack("m3")],
            receipt_reads: Vec::new(),
            history: [("c".to_string(), vec![h(1, "m1"), h(2, "m2"), h(3, "m3")])].into(),
            members: [("c".to_string(), vec!["a".to_string(), "b".to_string()])].into(),
        }
    }

    fn props(o: &Observed) -> Vec<&'static str> {
        check(o, Some(Duration::from_secs(1)), Duration::from_secs(30))
            .into_iter()
            .map(|v| v.property)
            .collect()
    }

    #[test]
    fn a_clean_run_passes() {
        assert!(check(
            &clean(),
            Some(Duration::from_secs(1)),
            Duration::from_secs(30)
        )
        .is_empty());
    }

    #[test]
    fn a_repeat_after_a_reconnect_is_fine() {
        let mut o = clean();
        o.devices[0].messages = vec![
            got(1, 1, "m1"),
            got(1, 2, "m2"),
            got(2, 2, "m2"),
            got(2, 3, "m3"),
        ];
        assert!(props(&o).is_empty(), "{:?}", props(&o));
    }

    #[test]
    fn an_acknowledged_message_missing_from_history_fails() {
        let mut o = clean();
        o.acks.push(ack("m4"));
        assert_eq!(props(&o), vec!["1 history exactly once, dense"]);
    }

    #[test]
    fn a_duplicate_or_a_gap_in_history_fails() {
        let mut o = clean();
        o.history.get_mut("c").unwrap().push(h(4, "m3"));
        assert!(props(&o).contains(&"1 history exactly once, dense"));
        let mut o = clean();
        o.history.get_mut("c").unwrap()[2].seq = 4;
        assert!(props(&o).contains(&"1 history exactly once, dense"));
    }

    #[test]
    fn a_repeat_on_one_connection_fails() {
        let mut o = clean();
        o.devices[1].messages = vec![
            got(1, 1, "m1"),
            got(1, 2, "m2"),
            got(1, 2, "m2"),
            got(1, 3, "m3"),
        ];
        assert_eq!(
            props(&o),
            vec!["2 in order, no gap, repeats only across a reconnect"]
        );
    }

    #[test]
    fn a_gap_or_disorder_in_a_stream_fails() {
        let mut o = clean();
        o.devices[1].messages = vec![got(1, 1, "m1"), got(1, 3, "m3"), got(2, 2, "m2")];
        assert!(props(&o).contains(&"2 in order, no gap, repeats only across a reconnect"));
    }

    #[test]
    fn a_frame_that_disagrees_with_history_fails() {
        let mut o = clean();
        o.devices[1].messages[2].msg_id = "other".into();
        assert!(props(&o).contains(&"2 in order, no gap, repeats only across a reconnect"));
    }

    #[test]
    fn an_undelivered_message_fails() {
        let mut o = clean();
        o.devices[1].messages.pop();
        assert_eq!(props(&o), vec!["5 nothing acknowledged stays undelivered"]);
        o.acks.pop();
        assert_eq!(props(&o), vec!["2 every member device received it"]);
    }

    #[test]
    fn a_receipt_going_back_fails() {
        let mut o = clean();
        let r = |seq| ReceiptSeen {
            conn: 1,
            conv: "c".into(),
            user: "b".into(),
            kind: "read".into(),
            seq,
        };
        o.devices[0].receipts = vec![r(2), r(3), r(3)];
        assert!(props(&o).is_empty());
        o.devices[0].receipts.push(r(1));
        assert_eq!(props(&o), vec!["3 receipt watermarks never go back"]);

        let mut o = clean();
        let rr = |d, r| ReceiptRead {
            conv: "c".into(),
            user: "b".into(),
            delivered_seq: d,
            read_seq: r,
        };
        o.receipt_reads = vec![rr(1, 0), rr(3, 1), rr(3, 0)];
        assert_eq!(props(&o), vec!["3 receipt watermarks never go back"]);
    }

    #[test]
    fn a_slow_or_missing_recovery_fails() {
        let bound = Duration::from_secs(30);
        assert!(check_recovery(Some(Duration::from_secs(29)), bound).is_empty());
        assert_eq!(
            check_recovery(Some(Duration::from_secs(31)), bound).len(),
            1
        );
        assert_eq!(check_recovery(None, bound).len(), 1);
    }
}
