//! The schema (`infra/cassandra/schema/*.cql`, compiled in) and its runner.
//!
//! Cassandra has no transactional DDL and, before its transactional
//! metadata, no lock a runner could take; two processes that create one
//! table at the same moment could create two tables with different ids
//! that then collide. So every statement is idempotent (`IF NOT EXISTS`),
//! and each table gets an id derived from its keyspace and name
//! (`WITH ID = …`): processes that start together create the same table.
//! The runner applies every migration on every start, records the versions
//! it applied in `schema_migrations`, and waits for the nodes to agree on
//! the schema before it returns.

use crate::statements::qualify;
use chat_ports::{PortError, Result};
use scylla::client::session::Session;
use uuid::Uuid;

/// One migration: `version` is the number its file name starts with.
struct Migration {
    version: i32,
    name: &'static str,
    cql: &'static str,
}

/// Every migration, in order; versions are 1, 2, 3, ….
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.cql",
        cql: include_str!("../../../infra/cassandra/schema/0001_init.cql"),
    },
    Migration {
        version: 2,
        name: "0002_sequencer_cursors.cql",
        cql: include_str!("../../../infra/cassandra/schema/0002_sequencer_cursors.cql"),
    },
    Migration {
        version: 3,
        name: "0003_edits_and_replies.cql",
        cql: include_str!("../../../infra/cassandra/schema/0003_edits_and_replies.cql"),
    },
    Migration {
        version: 4,
        name: "0004_privacy.cql",
        cql: include_str!("../../../infra/cassandra/schema/0004_privacy.cql"),
    },
    Migration {
        version: 5,
        name: "0005_usage.cql",
        cql: include_str!("../../../infra/cassandra/schema/0005_usage.cql"),
    },
];

/// The schema version this build writes: the last migration's.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The table that records the migrations applied.
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version int PRIMARY KEY,
    name    text
) WITH ID = {id}";

/// The namespace of derived table ids.
const TABLE_IDS: Uuid = Uuid::from_u128(0x6368_6174_2d63_6173_7361_6e64_7261_0001);

fn unavailable(e: impl std::fmt::Display) -> PortError {
    PortError::unavailable("store", e)
}

/// The statements of a migration file: split at `;` that ends a line,
/// with `--` comment lines left out.
fn statements(cql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in cql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_string();
            out.push(statement);
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// The table a `CREATE TABLE IF NOT EXISTS name (` statement creates.
fn table_name(statement: &str) -> Option<&str> {
    let rest = statement.strip_prefix("CREATE TABLE IF NOT EXISTS ")?;
    let end = rest.find(|c: char| c.is_whitespace() || c == '(')?;
    Some(&rest[..end])
}

/// The statement with its table named in `keyspace` and `{id}` replaced
/// by the id of that table (an `ALTER TABLE` is only qualified).
fn with_table_id(statement: &str, keyspace: &str) -> String {
    if let Some(rest) = statement.strip_prefix("ALTER TABLE ") {
        return format!("ALTER TABLE {keyspace}.{rest}");
    }
    match table_name(statement) {
        Some(table) => {
            let id = Uuid::new_v5(&TABLE_IDS, format!("{keyspace}.{table}").as_bytes());
            statement
                .replacen(
                    &format!("IF NOT EXISTS {table}"),
                    &format!("IF NOT EXISTS {keyspace}.{table}"),
                    1,
                )
                .replace("{id}", &id.to_string())
        }
        None => statement.to_string(),
    }
}

/// Creates the keyspace if it is missing and applies every migration.
pub(crate) async fn run(session: &Session, keyspace: &str, replication: &str) -> Result<()> {
    session
        .query_unpaged(
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {keyspace} \
                 WITH replication = {replication} AND durable_writes = true"
            ),
            (),
        )
        .await
        .map_err(unavailable)?;
    session
        .query_unpaged(with_table_id(MIGRATIONS_TABLE, keyspace), ())
        .await
        .map_err(unavailable)?;
    for m in MIGRATIONS {
        for statement in statements(m.cql) {
            session
                .query_unpaged(with_table_id(&statement, keyspace), ())
                .await
                .map_err(|e| unavailable(format!("{}: {e}", m.name)))?;
        }
        session
            .query_unpaged(
                qualify(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    keyspace,
                ),
                (m.version, m.name),
            )
            .await
            .map_err(unavailable)?;
    }
    session
        .await_schema_agreement()
        .await
        .map_err(unavailable)?;
    tracing::debug!(
        keyspace,
        version = SCHEMA_VERSION,
        "The Cassandra schema is applied."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_split_into_create_statements_with_derived_ids() {
        let all = statements(MIGRATIONS[0].cql);
        assert!(all.len() >= 10, "{all:?}");
        for s in &all {
            assert!(s.starts_with("CREATE TABLE IF NOT EXISTS "), "{s}");
            assert!(!s.contains("--"), "{s}");
            assert!(s.contains("{id}"), "{s}");
        }
        let a = with_table_id(&all[0], "ks1");
        let b = with_table_id(&all[0], "ks1");
        let c = with_table_id(&all[0], "ks2");
        assert_eq!(a, b, "the same keyspace and table get the same id");
        assert_ne!(a, c, "another keyspace gets another id");
        assert!(!a.contains("{id}"));
        assert_eq!(table_name(&all[0]), Some("conversations"));
    }
}
