//! `chatctl baseline store`: the bare rate of the store of
//! `[engines] store` at the sequencer's writes, opened as every process
//! opens it.
//!
//! The sequencer writes one `SequencedBatch` per batch of commands it
//! reads from a partition, one batch at a time per partition. For direct
//! traffic spread over many conversations, a batch of `batch` sends holds
//! `batch` conversations, each with its new state (seq + 1, applied offset
//! past the command) and its one new message, and the partition's cursor.
//! The batches here leave the cursor out (one small row per batch): a
//! cursor of a partition the sequencer reads would stand for its own.
//! Here `concurrency` streams (the sequencers of that many partitions)
//! each write such batches one after the other, on conversations of their
//! own, with nothing else in between: this is the most messages per
//! second the pipeline's store can take from its sequencers.
//!
//! The conversations (direct pairs of users of the run) are created first,
//! untimed, as the sequencer creates them. They stay in the store, with
//! their messages until retention removes them; no cursor is written.

use super::shape::{message, Run};
use super::stats::{per_sec, secs, Latencies, Percentiles, Tickets};
use crate::engines::open_store;
use crate::Config;
use anyhow::Context;
use chat_domain::ConversationState;
use chat_ports::{SequencedBatch, SequencerStore, Stores};
use serde::Serialize;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How `chatctl baseline store` runs.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreOptions {
    /// Messages to write.
    #[arg(long, default_value_t = 50_000)]
    pub messages: u64,
    /// Conversations per batch, one new message each.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Batches in flight, on conversations of their own: the sequencers of
    /// that many partitions.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Bytes of each message's body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
}

/// What the store did.
#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    pub messages: u64,
    pub batches: u64,
    /// Conversations (and messages) per batch.
    pub batch: usize,
    pub concurrency: usize,
    /// From the first batch to the last one written.
    pub seconds: f64,
    pub messages_per_sec: f64,
    pub batches_per_sec: f64,
    /// One `SequencerStore::apply`.
    pub batch_ms: Percentiles,
    /// Conversations written to (created before the timing).
    pub conversations: u64,
    /// Messages the store holds for them afterwards: the sum of their
    /// last seqs, read back, of those whose last message reads back too.
    pub stored: u64,
    /// One of them, to look at.
    pub sample_conversation: String,
}

impl StoreReport {
    /// One line per figure, for people.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "store: {} messages in {} batches of {} in {} s, {} in flight: {} messages/s, {} batches/s",
                self.messages,
                self.batches,
                self.batch,
                self.seconds,
                self.concurrency,
                self.messages_per_sec,
                self.batches_per_sec
            ),
            format!("store: batch latency {}", self.batch_ms),
            format!(
                "store: {} of {} messages read back",
                self.stored, self.messages
            ),
        ]
    }
}

/// Writes `options.messages` messages in sequencer batches.
pub async fn store(config: &Config, options: &StoreOptions) -> anyhow::Result<StoreReport> {
    anyhow::ensure!(
        options.batch > 0 && options.concurrency > 0,
        "--batch and --concurrency must be above 0"
    );
    let stores = open_store(config).await?;
    let store = stores.sequencer.clone();
    let run = Arc::new(Run::new(options.body_bytes));

    let mut creating = JoinSet::new();
    for s in 0..options.concurrency {
        let mut stream = Stream::new(run.clone(), s, options.batch);
        let store = store.clone();
        creating.spawn(async move {
            let batch = stream.creation();
            store
                .apply(batch)
                .await
                .context("the store refused the batch that creates the conversations")?;
            anyhow::Ok(stream)
        });
    }
    let mut streams = Vec::new();
    while let Some(created) = creating.join_next().await {
        streams.push(created.context("a creation panicked")??);
    }
    let sample_conversation = streams[0].states[0].id.to_string();

    let batches = options.messages.div_ceil(options.batch as u64);
    let tickets = Arc::new(Tickets::new(batches));
    let started = Instant::now();
    let mut writers = JoinSet::new();
    for stream in streams {
        writers.spawn(write(
            store.clone(),
            stream,
            tickets.clone(),
            options.messages,
        ));
    }
    let mut latencies = Latencies::default();
    while let Some(done) = writers.join_next().await {
        latencies.merge(&done.context("a writer panicked")??);
    }
    let took = latencies.span_from(started);
    let conversations = (options.batch * options.concurrency) as u64;
    let stored = stored(&stores, &run, conversations).await?;
    Ok(StoreReport {
        messages: options.messages,
        batches,
        batch: options.batch,
        concurrency: options.concurrency,
        seconds: secs(took),
        messages_per_sec: per_sec(options.messages, took),
        batches_per_sec: per_sec(batches, took),
        batch_ms: latencies.summary(),
        conversations,
        stored,
        sample_conversation,
    })
}

/// The messages the store holds in the run's first `conversations`
/// conversations (untimed).
async fn stored(stores: &Stores, run: &Run, conversations: u64) -> anyhow::Result<u64> {
    let mut stored = 0;
    for n in 0..conversations {
        let conv = run.conversation(n);
        let state = stores
            .conversations
            .conversation(&conv)
            .await
            .context("cannot read a conversation back")?
            .with_context(|| format!("conversation {conv} is not in the store"))?;
        let last = stores
            .messages
            .message(&conv, state.last_seq)
            .await
            .context("cannot read a message back")?;
        if last.is_some() {
            stored += state.last_seq;
        }
    }
    Ok(stored)
}

/// The batches of one sequencer: conversations of its own.
struct Stream {
    run: Arc<Run>,
    /// The number of its first conversation, and how many it has.
    first: u64,
    size: u64,
    states: Vec<ConversationState>,
    /// The offset of its next command.
    next: u64,
}

impl Stream {
    fn new(run: Arc<Run>, index: usize, batch: usize) -> Self {
        Self {
            run,
            first: (index * batch) as u64,
            size: batch as u64,
            states: Vec::with_capacity(batch),
            next: 0,
        }
    }

    /// The offset of one more command.
    fn advance(&mut self) -> u64 {
        let offset = self.next;
        self.next += 1;
        offset
    }

    /// The batch that creates the stream's conversations, one command
    /// each.
    fn creation(&mut self) -> SequencedBatch {
        let mut joined = Vec::new();
        for n in self.first..self.first + self.size {
            let position = self.advance();
            let state = self.run.created(n, position);
            for m in &state.members {
                joined.push((m.user.to_string(), state.id.to_string()));
            }
            self.states.push(state);
        }
        SequencedBatch {
            conversations: self.states.clone(),
            joined,
            ..SequencedBatch::default()
        }
    }

    /// The batch of one send to each of the first `n` conversations.
    fn sends(&mut self, n: usize) -> SequencedBatch {
        let mut messages = Vec::with_capacity(n);
        for k in 0..n {
            let position = self.advance();
            let conversation = self.first + k as u64;
            let state = &mut self.states[k];
            let seq = state.last_seq + 1;
            let send = self.run.send(conversation, seq);
            state.last_seq = seq;
            state.last_activity = state.last_activity.max(send.ts);
            state.applied_offset = position + 1;
            messages.push(message(send, seq));
        }
        SequencedBatch {
            conversations: self.states[..n].to_vec(),
            messages,
            ..SequencedBatch::default()
        }
    }
}

/// Takes tickets and writes one batch for each, until `messages` are
/// written by all the streams together.
async fn write(
    store: Arc<dyn SequencerStore>,
    mut stream: Stream,
    tickets: Arc<Tickets>,
    messages: u64,
) -> anyhow::Result<Latencies> {
    let size = stream.size;
    let mut latencies = Latencies::default();
    while let Some(t) = tickets.take() {
        let n = (messages - t * size).min(size) as usize;
        let batch = stream.sends(n);
        let started = Instant::now();
        store
            .apply(batch)
            .await
            .with_context(|| format!("the store refused batch {t}"))?;
        latencies.time(started);
    }
    Ok(latencies)
}
