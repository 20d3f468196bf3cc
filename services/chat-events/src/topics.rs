//! Topic names and the partitioner.

/// Commands appended by gateways, keyed by conversation id.
pub const COMMANDS: &str = "chat.commands";
/// Events derived by processors (sequenced messages, membership, deletes,
/// receipts), keyed by conversation id.
pub const EVENTS: &str = "chat.events";
/// Push notifications given up on after their retries, keyed by user id.
pub const PUSH_DEADLETTER: &str = "chat.push.deadletter";
/// Records a processor could never apply, set aside with their reason,
/// keyed by the original record's key.
pub const DEADLETTER: &str = "chat.deadletter";

/// A topic as `kafka/topics.toml` declares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TopicSpec {
    pub name: String,
    pub key: String,
    pub partitions: u32,
    pub retention_ms: i64,
    pub cleanup_policy: String,
    pub records: Vec<String>,
    #[serde(default)]
    pub producers: Vec<String>,
    #[serde(default)]
    pub consumers: Vec<String>,
}

#[derive(serde::Deserialize)]
struct TopicFile {
    topic: Vec<TopicSpec>,
}

/// The topics of `kafka/topics.toml`, compiled in.
pub fn declared() -> Vec<TopicSpec> {
    let file: TopicFile = toml::from_str(include_str!("../../../kafka/topics.toml"))
        .expect("kafka/topics.toml is valid");
    file.topic
}

/// Kafka's murmur2 hash, as its default partitioner computes it, so the
/// embedded log puts a key in the partition a Kafka producer would choose.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= u32::from(tail[2]) << 16;
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= u32::from(tail[1]) << 8;
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= u32::from(tail[0]);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of `key` among `partitions`, as Kafka's default partitioner
/// picks it: `(murmur2(key) & 0x7fffffff) % partitions`.
pub fn partition_for(key: &str, partitions: u32) -> u32 {
    ((murmur2(key.as_bytes()) & 0x7fff_ffff) as u32) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }
}

#[cfg(test)]
mod declared {
    use crate::records::SCHEMA_FILES;

    /// kafka/topics.toml names the topics this code uses, and every record
    /// it lists has a schema file.
    #[test]
    fn the_topic_file_matches_the_code() {
        let topics = super::declared();
        let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                super::COMMANDS,
                super::EVENTS,
                super::PUSH_DEADLETTER,
                super::DEADLETTER
            ]
        );
        let mut listed = 0;
        for t in &topics {
            assert!(t.partitions > 0 && t.retention_ms > 0);
            for r in &t.records {
                assert!(
                    SCHEMA_FILES.iter().any(|(n, _)| n == r),
                    "{r} has no schema"
                );
                listed += 1;
            }
        }
        assert_eq!(listed, SCHEMA_FILES.len(), "every schema is on a topic");
    }
}
