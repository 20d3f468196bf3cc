//! The population of one run: devices, the conversations they are in, and
//! how many of each member's sends the target acknowledged. Shared by every
//! device task; the correctness reconciliation at the end reads it.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

/// A conversation's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConvKind {
    /// Two users (an XMPP `chat` between two JIDs).
    Direct,
    /// A group (an XMPP multi-user chat room).
    Group,
}

/// One conversation.
pub struct Conv {
    /// Direct or group.
    pub kind: ConvKind,
    /// Its member devices, by device index.
    pub members: Vec<usize>,
    /// Its id on the target: our conversation id, or the room's bare JID.
    pub id: OnceLock<String>,
    /// Whether the sender's own device receives its message too.
    pub echo: bool,
    /// The room exists and admits members (XMPP: its creator joined first).
    pub open: AtomicBool,
    /// Acknowledged sends per member slot (same order as `members`).
    pub acked: Vec<AtomicU64>,
    /// The message seen at each seq (index seq − 1), `sender << 32 | n`:
    /// every device must see the same one (ours only).
    pub order: Mutex<Vec<u64>>,
}

impl Conv {
    /// A conversation of `members`.
    pub fn new(kind: ConvKind, members: Vec<usize>, echo: bool) -> Self {
        let acked = members.iter().map(|_| AtomicU64::new(0)).collect();
        Conv {
            kind,
            members,
            id: OnceLock::new(),
            echo,
            open: AtomicBool::new(false),
            acked,
            order: Mutex::new(Vec::new()),
        }
    }

    /// The target's id; empty until setup set it.
    pub fn id(&self) -> &str {
        self.id.get().map(String::as_str).unwrap_or("")
    }
}

/// One virtual device (one user with one device).
pub struct Device {
    /// The user name on our server; the MUC nickname on ejabberd.
    pub user: String,
    /// The conversations it is in: (conversation index, member slot).
    pub convs: Vec<(usize, usize)>,
    /// Its bearer token (ours).
    pub token: OnceLock<String>,
    /// Its bare JID once bound (ejabberd).
    pub jid: OnceLock<String>,
}

/// Correctness violations, counted as they are seen.
#[derive(Default)]
pub struct Violations {
    /// A message seen twice on one connection.
    pub duplicates: AtomicU64,
    /// Messages skipped: a seq (or a sender's counter, XMPP) jumped ahead.
    pub gaps: AtomicU64,
    /// A message older than one already seen on the same connection.
    pub out_of_order: AtomicU64,
    /// Two devices saw different messages at one seq.
    pub order_mismatch: AtomicU64,
    /// A message arrived in the wrong conversation or from the wrong place.
    pub misrouted: AtomicU64,
    /// Acknowledged messages a member device never received by the end.
    pub missing: AtomicU64,
    /// Connections the target closed while the scenario wanted them open.
    pub dropped_connections: AtomicU64,
}

impl Violations {
    /// Counts by name, for the report.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        [
            ("duplicates", &self.duplicates),
            ("gaps", &self.gaps),
            ("out_of_order", &self.out_of_order),
            ("order_mismatch", &self.order_mismatch),
            ("misrouted", &self.misrouted),
            ("missing", &self.missing),
            ("dropped_connections", &self.dropped_connections),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.load(Relaxed)))
        .collect()
    }

    /// The sum of all counts.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.to_map().values().sum()
    }
}

/// Devices, conversations and violations of one run.
pub struct World {
    /// Devices by index.
    pub devices: Vec<Device>,
    /// Conversations by index.
    pub convs: Vec<Conv>,
    /// What the checks found.
    pub violations: Violations,
}

impl World {
    /// `n` devices named `<prefix>-<i>`, in no conversation yet.
    pub fn new(prefix: &str, n: usize) -> Self {
        World {
            devices: (0..n)
                .map(|i| Device {
                    user: format!("{prefix}-{i}"),
                    convs: Vec::new(),
                    token: OnceLock::new(),
                    jid: OnceLock::new(),
                })
                .collect(),
            convs: Vec::new(),
            violations: Violations::default(),
        }
    }

    /// Adds a conversation of `members`; returns its index.
    pub fn add_conv(&mut self, kind: ConvKind, members: Vec<usize>, echo: bool) -> usize {
        let idx = self.convs.len();
        for (slot, &d) in members.iter().enumerate() {
            self.devices[d].convs.push((idx, slot));
        }
        self.convs.push(Conv::new(kind, members, echo));
        idx
    }

    /// Acknowledged sends of all conversations.
    pub fn total_acked(&self) -> u64 {
        self.convs
            .iter()
            .flat_map(|c| c.acked.iter())
            .map(|a| a.load(Relaxed))
            .sum()
    }
}

/// Pairs devices `2k` and `2k + 1` in direct conversations.
pub fn pair_up(world: &mut World, echo: bool) {
    let n = world.devices.len() / 2 * 2;
    for d in (0..n).step_by(2) {
        world.add_conv(ConvKind::Direct, vec![d, d + 1], echo);
    }
}

/// Puts consecutive runs of `size` devices in groups (a last short run
/// of fewer than two devices gets no group).
pub fn group_up(world: &mut World, size: usize, echo: bool) {
    let n = world.devices.len();
    let mut start = 0;
    while start + 1 < n {
        let end = (start + size).min(n);
        world.add_conv(ConvKind::Group, (start..end).collect(), echo);
        start = end;
    }
}
