//! The schema migrations (`infra/postgres/migrations/*.sql`, compiled in)
//! and their runner.
//!
//! The runner holds a session advisory lock on its own connection while it
//! reads `schema_migrations` and applies what is missing, each migration in
//! its own transaction with its row in `schema_migrations`. A second process
//! that starts at the same time waits on the lock, then finds nothing left
//! to do. The lock goes with the connection, so a runner that fails or dies
//! cannot leave it held.

use crate::error;
use chat_ports::{PortError, Result};
use std::collections::BTreeSet;
use tokio_postgres::{Client, NoTls};

/// One migration: `version` is the number its file name starts with.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order; versions are 1, 2, 3, ….
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("../../../infra/postgres/migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_attachments_devices.sql",
        sql: include_str!("../../../infra/postgres/migrations/0002_attachments_devices.sql"),
    },
    Migration {
        version: 3,
        name: "0003_sequencer_cursors.sql",
        sql: include_str!("../../../infra/postgres/migrations/0003_sequencer_cursors.sql"),
    },
    Migration {
        version: 4,
        name: "0004_edits_and_replies.sql",
        sql: include_str!("../../../infra/postgres/migrations/0004_edits_and_replies.sql"),
    },
    Migration {
        version: 5,
        name: "0005_search.sql",
        sql: include_str!("../../../infra/postgres/migrations/0005_search.sql"),
    },
    Migration {
        version: 6,
        name: "0006_privacy.sql",
        sql: include_str!("../../../infra/postgres/migrations/0006_privacy.sql"),
    },
    Migration {
        version: 7,
        name: "0007_usage.sql",
        sql: include_str!("../../../infra/postgres/migrations/0007_usage.sql"),
    },
];

/// The schema version this build writes: the last migration's.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The advisory lock key of the runner ("chatmigr" in ASCII). Advisory locks
/// are per database, so runners on different databases do not wait on each
/// other.
const LOCK_KEY: i64 = 0x6368_6174_6d69_6772;

/// Applies every pending migration to the database `config` names.
pub(crate) async fn run(config: &tokio_postgres::Config) -> Result<()> {
    let (mut client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| PortError::unavailable("store", error::describe(&e)))?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %error::describe(&e), "The migration connection failed.");
        }
    });
    let outcome = locked(&mut client).await;
    // Closing the connection also releases the lock if unlocking failed.
    drop(client);
    if let Err(e) = driver.await {
        tracing::warn!(error = %e, "The migration connection's task failed.");
    }
    outcome
}

/// Takes the lock, applies what is pending, releases the lock.
async fn locked(client: &mut Client) -> Result<()> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(error::db)?;
    let applied = apply_pending(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .map_err(error::db);
    applied?;
    unlocked?;
    Ok(())
}

async fn apply_pending(client: &mut Client) -> Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(error::db)?;
    let applied: BTreeSet<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .map_err(error::db)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(error::db)?;
    if let Some(newer) = applied.iter().find(|v| **v > SCHEMA_VERSION) {
        tracing::warn!(
            version = newer,
            known = SCHEMA_VERSION,
            "The database has a migration this build does not know."
        );
    }
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let tx = client.transaction().await.map_err(error::db)?;
        tx.batch_execute(m.sql).await.map_err(|e| {
            PortError::storage(
                "store",
                format!("migration {}: {}", m.name, error::describe(&e)),
            )
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
            &[&m.version],
        )
        .await
        .map_err(error::db)?;
        tx.commit().await.map_err(error::db)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "Applied a store migration."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one_and_match_the_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    }

    #[test]
    fn every_file_of_the_migrations_folder_is_listed() {
        let folder = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/postgres/migrations"
        );
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .expect("the migrations folder")
            .map(|entry| entry.expect("a folder entry").file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
    }
}
