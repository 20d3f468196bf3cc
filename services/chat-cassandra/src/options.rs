//! Where the cluster is and how to talk to it: the engine URL
//! `cassandra://host[:port][,host[:port]…][/keyspace]` and the settings of
//! `[cassandra]`.

use chat_ports::{PortError, Result};
use scylla::frame::types::{Consistency, SerialConsistency};
use std::time::Duration;

/// Rows per unlogged batch on the write path, by default.
pub const DEFAULT_WRITE_BATCH_ROWS: usize = 16;

/// The native-protocol port when a host names none.
pub const DEFAULT_PORT: u16 = 9042;
/// The keyspace when the URL names none.
pub const DEFAULT_KEYSPACE: &str = "chat";
/// The replication of a keyspace the engine creates: one copy, for a single
/// node. Production sets `NetworkTopologyStrategy` with three per DC.
pub const DEFAULT_REPLICATION: &str = "{'class': 'SimpleStrategy', 'replication_factor': 1}";

/// How to reach the cluster and what to ask of it.
#[derive(Debug, Clone)]
pub struct CassandraOptions {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    /// The keyspace of every table; created at start when missing.
    pub keyspace: String,
    /// The keyspace's replication, a CQL map literal; used only when the
    /// engine creates the keyspace.
    pub replication: String,
    /// Consistency of every read and write. `LOCAL_QUORUM` (the default):
    /// with three replicas, reads see every acknowledged write and one
    /// replica per DC may be down.
    pub consistency: Consistency,
    /// Consistency of the Paxos phase of lightweight transactions.
    pub serial_consistency: SerialConsistency,
    /// The data centre whose nodes are tried first (others only when it
    /// has none up); `None` leaves the driver's default.
    pub local_dc: Option<String>,
    /// How long one request may take before it fails.
    pub request_timeout: Duration,
    /// Rows of one statement the sequencer's writes send per unlogged
    /// batch (`batches.rs`); 1 sends every row as a request of its own.
    pub write_batch_rows: usize,
}

impl Default for CassandraOptions {
    fn default() -> Self {
        Self {
            nodes: vec![format!("127.0.0.1:{DEFAULT_PORT}")],
            keyspace: DEFAULT_KEYSPACE.into(),
            replication: DEFAULT_REPLICATION.into(),
            consistency: Consistency::LocalQuorum,
            serial_consistency: SerialConsistency::LocalSerial,
            local_dc: None,
            request_timeout: Duration::from_secs(10),
            write_batch_rows: DEFAULT_WRITE_BATCH_ROWS,
        }
    }
}

fn invalid(detail: impl Into<String>) -> PortError {
    PortError::Unavailable {
        what: "store",
        detail: detail.into(),
    }
}

impl CassandraOptions {
    /// The defaults with the nodes and keyspace of
    /// `cassandra://host[:port][,…][/keyspace]`.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("cassandra://")
            .or_else(|| url.strip_prefix("scylla://"))
            .ok_or_else(|| invalid(format!("{url:?} is not a cassandra:// URL")))?;
        let (hosts, keyspace) = match rest.split_once('/') {
            Some((h, k)) => (h, k.trim_end_matches('/')),
            None => (rest, ""),
        };
        let nodes = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| {
                if h.rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                {
                    h.to_string()
                } else {
                    format!("{h}:{DEFAULT_PORT}")
                }
            })
            .collect::<Vec<_>>();
        if nodes.is_empty() {
            return Err(invalid(format!("{url:?} names no node")));
        }
        let keyspace = if keyspace.is_empty() {
            DEFAULT_KEYSPACE.to_string()
        } else {
            keyspace.to_string()
        };
        check_keyspace(&keyspace)?;
        Ok(Self {
            nodes,
            keyspace,
            ..Self::default()
        })
    }
}

/// Keyspace names are unquoted identifiers, which Cassandra folds to lower
/// case: 1 to 48 lower-case letters, digits and underscores, starting with
/// a letter (so that the table ids derived from the name are those of the
/// keyspace Cassandra sees).
pub fn check_keyspace(name: &str) -> Result<()> {
    let ok = (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name:?} is not a keyspace name: 1 to 48 lower-case letters, digits or _, starting with a letter"
        )))
    }
}

/// A consistency level by its CQL name, any case (`local_quorum`).
pub fn parse_consistency(name: &str) -> Result<Consistency> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "any" => Consistency::Any,
        "one" => Consistency::One,
        "two" => Consistency::Two,
        "three" => Consistency::Three,
        "quorum" => Consistency::Quorum,
        "all" => Consistency::All,
        "local_quorum" => Consistency::LocalQuorum,
        "each_quorum" => Consistency::EachQuorum,
        "local_one" => Consistency::LocalOne,
        other => return Err(invalid(format!("{other:?} is not a consistency level"))),
    })
}

/// A serial consistency level by its CQL name (`serial`, `local_serial`).
pub fn parse_serial_consistency(name: &str) -> Result<SerialConsistency> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "serial" => SerialConsistency::Serial,
        "local_serial" => SerialConsistency::LocalSerial,
        other => {
            return Err(invalid(format!(
                "{other:?} is not a serial consistency level"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_nodes_with_default_ports_and_a_keyspace() {
        let o = CassandraOptions::from_url("cassandra://a,b:9043/ks_1").unwrap();
        assert_eq!(o.nodes, vec!["a:9042", "b:9043"]);
        assert_eq!(o.keyspace, "ks_1");
        let o = CassandraOptions::from_url("cassandra://127.0.0.1:59042").unwrap();
        assert_eq!(o.nodes, vec!["127.0.0.1:59042"]);
        assert_eq!(o.keyspace, "chat");
        assert!(CassandraOptions::from_url("cassandra:///ks").is_err());
        assert!(CassandraOptions::from_url("cassandra://a/bad-name").is_err());
        assert!(CassandraOptions::from_url("cassandra://a/Chat").is_err());
        assert!(CassandraOptions::from_url("postgres://a/b").is_err());
    }

    #[test]
    fn consistency_levels_parse_by_their_cql_names() {
        assert_eq!(
            parse_consistency("LOCAL_QUORUM").unwrap(),
            Consistency::LocalQuorum
        );
        assert_eq!(parse_consistency("one").unwrap(), Consistency::One);
        assert!(parse_consistency("most").is_err());
        assert_eq!(
            parse_serial_consistency("serial").unwrap(),
            SerialConsistency::Serial
        );
    }
}
