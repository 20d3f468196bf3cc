//! The PostgreSQL store engine: every store port of `chat-ports`
//! (`ConversationStore`, `MessageStore`, `SequencerStore`, `ReceiptStore`,
//! `LastSeenStore`, `AttachmentStore`, `DeviceStore`) on one
//! [`PostgresStore`], with the semantics of the embedded engine
//! (`chat-embedded`'s `store`), over a deadpool-postgres pool.
//!
//! [`PostgresStore::connect`] parses a URL, applies the schema migrations of
//! `infra/postgres/migrations/` (compiled in; in order; under an advisory
//! lock, so processes that start together do not race) and opens the pool.
//! The sequencer's batch and a set of receipts are each one transaction of
//! keyed upserts, so applying the same batch twice leaves the same state.
//!
//! Every u64 of the ports (seqs, watermarks) is stored in a bigint: a value
//! above `i64::MAX` is refused on write, and a read bound above it means "no
//! bound". Message bodies, attachment ids and content types are stored as
//! their UTF-8 bytes and serialized values as `json` (not `jsonb`), because
//! all may hold U+0000, which PostgreSQL's `text` and `jsonb` cannot.
//!
//! The index of attachment references (which messages carry an attachment)
//! is kept by the engine: the batch that writes a message replaces its
//! references in the same transaction, and retention's deletes cascade to
//! them.
//!
//! # Layout
//! - `lib.rs`: [`PostgresStore`]: connect, pool, health.
//! - `error.rs`: PostgreSQL and pool errors as [`PortError`]s.
//! - `migrate.rs`: the migrations and the runner.
//! - `rows.rs`: conversions between port values and columns.
//! - `session.rs`: the limits every session runs under (timeouts, keepalives).
//! - `reads.rs`: the read queries.
//! - `writes.rs`: the sequencer's batches, retention, last-seen.
//! - `refs.rs`: a batch's attachment references.
//! - `receipts.rs`: the receipts' max-merge.
//! - `attachments.rs`: attachment records and reference reads.
//! - `devices.rs`: devices and push settings.
//! - `search.rs`: the search index (`SearchIndex`) on PostgreSQL full-text
//!   search.
//! - `ports.rs`: the port traits, on top of the modules above.

mod attachments;
mod devices;
mod error;
mod migrate;
mod ports;
mod reads;
mod receipts;
mod refs;
mod rows;
mod search;
mod session;
mod writes;

pub use session::{IDLE_IN_TRANSACTION_TIMEOUT, LOCK_TIMEOUT, STATEMENT_TIMEOUT};

pub use migrate::SCHEMA_VERSION;

use chat_ports::{PortError, Result};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::NoTls;

/// Most connections the pool opens.
const POOL_SIZE: usize = 16;
/// How long a call waits for a free connection before it fails.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening one connection may take, when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db` or
    /// `host=… dbname=…`; no TLS), applies the pending migrations and
    /// returns the store once a query has succeeded.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| PortError::unavailable("store", error::describe(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        session::limit(&mut config);
        migrate::run(&config).await?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| PortError::unavailable("store", e))?;
        let store = Self { pool };
        store.health().await?;
        Ok(store)
    }

    /// Runs `SELECT 1` on a pooled connection.
    pub async fn health(&self) -> Result<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(error::db)?;
        Ok(())
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(error::pool)
    }
}
