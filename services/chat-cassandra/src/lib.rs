//! The Cassandra store engine: every store port of `chat-ports` on one
//! [`CassandraStore`], over the `scylla` driver (the maintained async Rust
//! driver for Apache Cassandra and ScyllaDB; the `cassandra-cpp` crate
//! needs the DataStax C++ driver, which no package registry ships).
//!
//! The schema (`infra/cassandra/schema/`, compiled in) is designed for
//! Cassandra: every read names a partition key and a clustering range; a
//! conversation's messages are spread over buckets of 512 seqs; no
//! `ALLOW FILTERING`, no secondary index; deletes and retention remove
//! whole partitions or ranges, not row after row.
//!
//! Fencing without transactions. Cassandra has no multi-partition
//! transaction, so a sequencer batch is written in an order that makes a
//! crash at any point safe, and with write timestamps that make a zombie's
//! writes lose:
//! - every row the sequencer writes for a conversation carries the write
//!   timestamp `2 * applied_offset` (deletes) or one above (upserts) of the
//!   state the batch leaves it in ([`keys::Stamp`]): a later point of the log
//!   always wins, whatever order writes arrive in, and writing a batch again
//!   writes the same cells at the same timestamps;
//! - messages, idempotency keys, the member index and attachment references
//!   are written first, the conversation state last: the state is the
//!   batch's commit point, so a sequencer that finds a conversation applied
//!   up to offset N finds every row of it too;
//! - a batch whose conversation is stored from further in the log is
//!   refused (read before write); the timestamps keep a zombie that passed
//!   that check just before the newer batch landed from changing anything.
//!
//! Receipts are max-merged by timestamp: a watermark's write timestamp is
//! its seq, so the highest seq wins without a read-modify-write. The engine
//! reads the watermarks before writing only to report which moved.
//!
//! Lightweight transactions are used only to update an attachment record
//! that must exist (`IF EXISTS`); nothing on the message path takes Paxos.
//!
//! # Layout
//! - `lib.rs`: [`CassandraStore`]: connect, helpers.
//! - `options.rs`: [`CassandraOptions`]: the URL, consistency levels.
//! - `schema.rs`: the migrations and their runner.
//! - `statements.rs`: every prepared statement.
//! - `keys.rs`: buckets, days, shards, write timestamps.
//! - `rows.rs`: rows to port values.
//! - `writes.rs`: the sequencer's batches, last-seen.
//! - `batches.rs`: rows of one statement as unlogged batches.
//! - `reads.rs`: conversation and message reads.
//! - `retention.rs`: expiry by day index and whole-bucket drops.
//! - `receipts.rs`: the receipts' max-merge.
//! - `attachments.rs`: attachment records and references.
//! - `devices.rs`: devices and push settings.
//! - `ports.rs`: the port traits, on top of the modules above.

mod attachments;
mod batches;
mod cursors;
mod devices;
mod error;
mod keys;
mod options;
mod ports;
mod reads;
mod receipts;
mod retention;
mod rows;
mod schema;
mod statements;
mod writes;

pub use options::{
    check_keyspace, parse_consistency, parse_serial_consistency, CassandraOptions,
    DEFAULT_KEYSPACE, DEFAULT_REPLICATION, DEFAULT_WRITE_BATCH_ROWS,
};
pub use schema::SCHEMA_VERSION;

use chat_ports::{PortError, Result};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::deserialize::row::DeserializeRow;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use statements::Statements;
use std::sync::Arc;
use std::time::Duration;

/// How many writes of one batch are in flight at once.
const WRITE_CONCURRENCY: usize = 64;
/// How long connecting to the first node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Cassandra store; cheap to clone (the session is shared).
#[derive(Clone)]
pub struct CassandraStore {
    session: Arc<Session>,
    st: Arc<Statements>,
    keyspace: String,
    /// Rows of one statement per unlogged batch on the write path
    /// ([`CassandraOptions::write_batch_rows`]).
    batch_rows: usize,
}

impl std::fmt::Debug for CassandraStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CassandraStore")
            .field("keyspace", &self.keyspace)
            .finish()
    }
}

impl CassandraStore {
    /// Connects to the cluster, creates the keyspace when it is missing
    /// (with `options.replication`), applies the schema, prepares every
    /// statement and returns the store once a query has succeeded.
    pub async fn connect(options: &CassandraOptions) -> Result<Self> {
        check_keyspace(&options.keyspace)?;
        let mut profile = ExecutionProfile::builder()
            .consistency(options.consistency)
            .serial_consistency(Some(options.serial_consistency))
            .request_timeout(Some(options.request_timeout));
        if let Some(dc) = &options.local_dc {
            profile = profile.load_balancing_policy(
                DefaultPolicy::builder()
                    .prefer_datacenter(dc.clone())
                    .token_aware(true)
                    .build(),
            );
        }
        let session = SessionBuilder::new()
            .known_nodes(&options.nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .default_execution_profile_handle(profile.build().into_handle())
            .build()
            .await
            .map_err(|e| PortError::unavailable("store", e))?;
        schema::run(&session, &options.keyspace, &options.replication).await?;
        let st = Statements::prepare(&session, &options.keyspace).await?;
        let store = Self {
            session: Arc::new(session),
            st: Arc::new(st),
            keyspace: options.keyspace.clone(),
            batch_rows: options.write_batch_rows,
        };
        store.health().await?;
        Ok(store)
    }

    /// Connects with the defaults and the nodes and keyspace of `url`.
    pub async fn connect_url(url: &str) -> Result<Self> {
        Self::connect(&CassandraOptions::from_url(url)?).await
    }

    /// The keyspace this store uses.
    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    /// Reads one row of the node's own system table.
    pub async fn health(&self) -> Result<()> {
        self.session
            .query_unpaged("SELECT release_version FROM system.local", ())
            .await
            .map_err(error::exec)?;
        Ok(())
    }

    /// Runs one statement, ignoring what it returns.
    pub(crate) async fn run(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<()> {
        self.session
            .execute_unpaged(statement, values)
            .await
            .map_err(error::exec)?;
        Ok(())
    }

    /// Writes `rows` (each with its estimated size in bytes) with
    /// `statement`: unlogged batches of up to `batch_rows` rows
    /// (`batches.rs`), one future each, to run with [`Self::join_writes`].
    pub(crate) fn batched<'a, T>(
        &'a self,
        statement: &'a PreparedStatement,
        rows: Vec<(usize, T)>,
    ) -> Vec<BoxFuture<'a, Result<()>>>
    where
        T: SerializeRow + Send + Sync + 'a,
    {
        let sizes: Vec<usize> = rows.iter().map(|(size, _)| *size).collect();
        let runs = batches::runs(&sizes, self.batch_rows, batches::MAX_BATCH_BYTES);
        let mut rows = rows.into_iter().map(|(_, row)| row);
        let mut out: Vec<BoxFuture<'a, Result<()>>> = Vec::with_capacity(runs.len());
        for run in runs {
            let chunk: Vec<T> = rows.by_ref().take(run.len()).collect();
            if chunk.len() == 1 {
                let row = chunk.into_iter().next().expect("one row");
                out.push(Box::pin(self.run(statement, row)));
                continue;
            }
            let mut batch = Batch::new(BatchType::Unlogged);
            for _ in 0..chunk.len() {
                batch.append_statement(statement.clone());
            }
            batch.set_is_idempotent(true);
            out.push(Box::pin(async move {
                self.session
                    .batch(&batch, chunk)
                    .await
                    .map_err(error::exec)?;
                Ok(())
            }));
        }
        out
    }

    /// Runs the writes, up to [`WRITE_CONCURRENCY`] at once; fails with the
    /// first error (the others may or may not have been applied: every
    /// write is keyed and stamped, so the caller's retry writes the same).
    pub(crate) async fn join_writes(&self, writes: Vec<BoxFuture<'_, Result<()>>>) -> Result<()> {
        stream::iter(writes)
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// Runs one statement and decodes every row it returns.
    pub(crate) async fn rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Vec<R>>
    where
        R: for<'f> DeserializeRow<'f, 'f>,
    {
        let result = self
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(error::exec)?;
        let rows = result.into_rows_result().map_err(error::corrupt)?;
        rows.rows::<R>()
            .map_err(error::corrupt)?
            .map(|r| r.map_err(error::corrupt))
            .collect()
    }

    /// The first row, if any.
    pub(crate) async fn row<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Option<R>>
    where
        R: for<'f> DeserializeRow<'f, 'f>,
    {
        Ok(self.rows(statement, values).await?.into_iter().next())
    }
}
