//! The sequencer: reads the commands topic in log order and applies, per
//! conversation, what the rules (`chat_domain::rules`) decide for each
//! command: it loads the state and the one message a command names, keeps
//! the batch's working set, writes the batch to the store atomically and
//! publishes the derived events. It holds no business rule of its own.
//!
//! Everything it decides is a function of the log prefix and the store that
//! the same prefix produced, so handling a batch again after a crash writes
//! the same values (invariant 3).

use crate::incarnation::{Known, Positions};
use crate::prefetch::{prefetch, Prefetched};
use crate::{event_records, Processor, Result};
use async_trait::async_trait;
use chat_domain::rules::{self, Decision, Facts, Limits, Rejection, Wants};
use chat_domain::{Command, ConversationId, ConversationState, Event, Message, UserId};
use chat_events::topics::COMMANDS;
use chat_events::Codec;
use chat_ports::{EventLog, LogRecord, OutRecord, SequencedBatch, Stores};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tracing::Instrument;

pub struct Sequencer {
    stores: Stores,
    log: Arc<dyn EventLog>,
    codec: Arc<Codec>,
    /// Publish derived events (off when replaying into a new store: the
    /// events topic has them already).
    publish: bool,
    limits: Limits,
    /// The events of the last batch, being appended while the next batch
    /// is read and sequenced (see [`Processor::start`]).
    in_flight: tokio::sync::Mutex<Option<InFlight>>,
    /// The cursors this sequencer wrote, while its partitions stay.
    known: Known,
    /// The commands topic's partition count, and when it was asked.
    partitions: tokio::sync::Mutex<Option<(u32, std::time::Instant)>>,
}

/// How long a partition count is trusted before the log is asked again.
const PARTITIONS_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// A batch's events on their way to the log.
struct InFlight {
    records: Vec<OutRecord>,
    /// The append under way; `None` once it failed (appended again by
    /// the next settle).
    append: Option<tokio::task::JoinHandle<chat_ports::Result<Vec<chat_ports::Position>>>>,
}

impl Sequencer {
    pub fn new(stores: Stores, log: Arc<dyn EventLog>, codec: Arc<Codec>, limits: Limits) -> Self {
        Self {
            stores,
            log,
            codec,
            limits,
            publish: true,
            in_flight: Default::default(),
            known: Default::default(),
            partitions: Default::default(),
        }
    }

    /// The same, publishing no events: for rebuilding a store from the log.
    pub fn without_events(mut self) -> Self {
        self.publish = false;
        self
    }

    async fn partitions(&self) -> Result<u32> {
        let mut known = self.partitions.lock().await;
        if let Some((n, at)) = *known {
            if at.elapsed() < PARTITIONS_TTL {
                return Ok(n);
            }
        }
        let n = self.log.end_offsets(COMMANDS).await?.len() as u32;
        *known = Some((n, std::time::Instant::now()));
        Ok(n)
    }
}

#[async_trait]
impl Processor for Sequencer {
    fn group(&self) -> &'static str {
        crate::groups::SEQUENCER
    }

    fn topics(&self) -> &'static [&'static str] {
        &[COMMANDS]
    }

    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        self.start(records).await?;
        self.settle().await
    }

    fn pipelined(&self) -> bool {
        true
    }

    fn reassigned(&self) {
        // Another member may have written cursors meanwhile.
        self.known.forget();
    }

    /// Sequences the batch and writes it to the store; its events go to
    /// the log in the background, so the next batch is read, sequenced and
    /// written while they are fsynced. They are in the log before the next
    /// batch's (each `start` settles the one before ahead of its own
    /// append), and the runner commits the batch's offsets only once they
    /// are.
    async fn start(&self, records: &[LogRecord]) -> Result<()> {
        let positions = Positions::of(
            records,
            self.partitions().await?,
            &self.known,
            self.stores.sequencer.as_ref(),
            self.log.as_ref(),
        )
        .await?;
        // Every record decodes, or none is applied: a record of a newer
        // schema waits for an upgraded sequencer (transient); anything else
        // that does not decode is set aside by the runner
        // (`dead_letter.rs`). Nothing is ever skipped.
        let mut commands = Vec::with_capacity(records.len());
        for r in records {
            match self.codec.decode_command(&r.payload) {
                Ok(cmd) => commands.push(cmd),
                Err(e) => {
                    tracing::warn!(
                        partition = r.partition, offset = r.offset, error = %e,
                        "The sequencer cannot decode a command."
                    );
                    return Err(e.into());
                }
            }
        }
        let refs: Vec<&Command> = commands.iter().collect();
        let pre = prefetch(&self.stores, &refs).await?;
        let mut work = Work::new(&self.stores, self.limits, pre);
        let mut traces: Vec<Option<String>> = Vec::new();
        for (r, cmd) in records.iter().zip(commands) {
            let trace = r.traceparent();
            let span = tracing::info_span!(
                "sequence",
                command = cmd.name(),
                partition = r.partition,
                offset = r.offset,
            );
            if let Some(t) = &trace {
                chat_telemetry::trace::follow(&span, t);
            }
            work.command(cmd, positions.position(r))
                .instrument(span)
                .await?;
            // Events derived from this command carry its trace.
            traces.resize(work.events.len(), trace);
        }
        let (mut batch, events) = work.finish();
        batch.cursors = positions.after(records);
        if !batch.conversations.is_empty() {
            let cursors = batch.cursors.clone();
            self.stores.sequencer.apply(batch).await?;
            self.known.remember(&cursors);
        }
        // The batch before's events go first.
        self.settle().await?;
        if self.publish && !events.is_empty() {
            // Only after the store write: a device that gets a message from
            // the events topic finds it, and all before it, in the store.
            let records = event_records(&self.codec, &events, &traces)?;
            let log = self.log.clone();
            let sending = records.clone();
            let append = tokio::spawn(async move { log.append(sending).await });
            *self.in_flight.lock().await = Some(InFlight {
                records,
                append: Some(append),
            });
        }
        Ok(())
    }

    /// A command set aside is refused like one the rules refuse: a send's
    /// device is told (`SendRejected`), anything else is recorded
    /// (`CommandRejected`).
    fn set_aside(&self, record: &LogRecord, reason: &str) -> Vec<OutRecord> {
        if !self.publish {
            return Vec::new();
        }
        let Ok(cmd) = self.codec.decode_command(&record.payload) else {
            return Vec::new();
        };
        let event = rules::rejected(&cmd, &Rejection::Unstorable(reason.to_string()));
        event_records(&self.codec, &[event], &[record.traceparent()]).unwrap_or_default()
    }

    async fn settle(&self) -> Result<()> {
        let mut in_flight = self.in_flight.lock().await;
        let Some(f) = in_flight.as_mut() else {
            return Ok(());
        };
        if let Some(append) = f.append.as_mut() {
            match append.await {
                Ok(Ok(_)) => {
                    *in_flight = None;
                    return Ok(());
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "The sequencer's events did not reach the log; appending them again.")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "The sequencer's append task failed; appending again.")
                }
            }
            f.append = None;
        }
        self.log.append(f.records.clone()).await?;
        *in_flight = None;
        Ok(())
    }
}

/// The working set of one batch: conversation states as the batch leaves
/// them, new and changed messages, events to publish.
struct Work<'a> {
    stores: &'a Stores,
    limits: Limits,
    /// None: looked up, does not exist.
    convs: BTreeMap<ConversationId, Option<ConversationState>>,
    touched: Vec<ConversationId>,
    messages: HashMap<(ConversationId, u64), Message>,
    /// Seq of each message sent in this batch, by idempotency key.
    sent: HashMap<(ConversationId, UserId, String), u64>,
    joined: Vec<(String, String)>,
    left: Vec<(String, String)>,
    events: Vec<Event>,
    /// The store's answers to the batch's lookups, read ahead.
    pre: Prefetched,
}

impl<'a> Work<'a> {
    fn new(stores: &'a Stores, limits: Limits, pre: Prefetched) -> Self {
        Self {
            stores,
            limits,
            pre,
            convs: BTreeMap::new(),
            touched: Vec::new(),
            messages: HashMap::new(),
            sent: HashMap::new(),
            joined: Vec::new(),
            left: Vec::new(),
            events: Vec::new(),
        }
    }

    async fn load(&mut self, conv: &ConversationId) -> Result<Option<ConversationState>> {
        if !self.convs.contains_key(conv) {
            let state = match self.pre.convs.remove(conv) {
                Some(state) => state,
                None => self.stores.conversations.conversation(conv).await?,
            };
            self.convs.insert(conv.clone(), state);
        }
        Ok(self.convs[conv].clone())
    }

    /// The message a command names, as this batch left it or as stored.
    async fn wanted(&self, conv: &ConversationId, wants: Wants<'_>) -> Result<Option<Message>> {
        let seq = match wants {
            Wants::Nothing => return Ok(None),
            Wants::Message(seq) => seq,
            Wants::SentWithKey {
                sender,
                client_msg_id,
            } => {
                let key = (conv.clone(), sender.clone(), client_msg_id.to_string());
                match self.sent.get(&key) {
                    Some(seq) => *seq,
                    None => {
                        if let Some(found) = self.pre.sent.get(&key) {
                            return Ok(found.clone());
                        }
                        return Ok(self
                            .stores
                            .messages
                            .find_sent(conv, sender, client_msg_id)
                            .await?);
                    }
                }
            }
        };
        let key = (conv.clone(), seq);
        match (self.messages.get(&key), self.pre.messages.get(&key)) {
            (Some(m), _) => Ok(Some(m.clone())),
            (None, Some(stored)) => Ok(stored.clone()),
            (None, None) => Ok(self.stores.messages.message(conv, seq).await?),
        }
    }

    fn save(&mut self, state: ConversationState) {
        if !self.touched.contains(&state.id) {
            self.touched.push(state.id.clone());
        }
        self.convs.insert(state.id.clone(), Some(state));
    }

    /// Applies `cmd`, read at `position` (see `incarnation`).
    async fn command(&mut self, cmd: Command, position: u64) -> Result<()> {
        if !rules::is_sequenced(&cmd) {
            return Ok(());
        }
        let conv = cmd.conv().clone();
        let state = self.load(&conv).await?;
        let message = self.wanted(&conv, rules::wants(&cmd)).await?;
        let facts = Facts {
            state: state.as_ref(),
            message: message.as_ref(),
        };
        if state.as_ref().is_some_and(|s| position < s.applied_offset) {
            // Applied before (a redelivery after a crash or rebalance):
            // the stored state already holds its effect and is later
            // than this command, so deciding again would be wrong.
            self.events.extend(rules::replayed(&cmd, facts));
            return Ok(());
        }
        match rules::decide(&cmd, facts, &self.limits) {
            Ok(decision) => self.apply(decision),
            Err(rejection) => self.reject(&cmd, &rejection),
        }
        if let Some(mut state) = self.load(&conv).await? {
            // Also after a refusal, so the caller's wait on the applied
            // offset ends.
            if state.applied_offset < position + 1 {
                state.applied_offset = position + 1;
                self.save(state);
            }
        }
        Ok(())
    }

    fn reject(&mut self, cmd: &Command, rejection: &Rejection) {
        tracing::info!(
            conv = %cmd.conv(),
            command = cmd.name(),
            actor = %cmd.actor(),
            reason = %rejection,
            "The sequencer refused a command."
        );
        self.events.push(rules::rejected(cmd, rejection));
    }

    fn apply(&mut self, decision: Decision) {
        let Decision {
            state,
            message,
            joined,
            left,
            events,
        } = decision;
        let conv = state.as_ref().map(|s| s.id.clone());
        if let Some(state) = state {
            self.save(state);
        }
        if let Some(m) = message {
            let key = (
                m.conv.clone(),
                m.sender.clone(),
                m.client_msg_id.to_string(),
            );
            self.sent.insert(key, m.seq);
            self.messages.insert((m.conv.clone(), m.seq), m);
        }
        if let Some(conv) = conv {
            // Net of the batch: a user added then removed in one batch ends
            // up out of the index, and the other way round.
            for u in joined {
                let pair = (u.into_string(), conv.to_string());
                self.left.retain(|p| *p != pair);
                self.joined.push(pair);
            }
            for u in left {
                let pair = (u.into_string(), conv.to_string());
                self.joined.retain(|p| *p != pair);
                self.left.push(pair);
            }
        }
        self.events.extend(events);
    }

    fn finish(self) -> (SequencedBatch, Vec<Event>) {
        let mut conversations = Vec::new();
        for id in &self.touched {
            if let Some(Some(state)) = self.convs.get(id) {
                conversations.push(state.clone());
            }
        }
        let mut messages: Vec<Message> = self.messages.into_values().collect();
        messages.sort_by(|a, b| (&a.conv, a.seq).cmp(&(&b.conv, b.seq)));
        (
            SequencedBatch {
                conversations,
                messages,
                joined: self.joined,
                left: self.left,
                cursors: Vec::new(),
            },
            self.events,
        )
    }
}

pub use chat_domain::rules::views::state_from_event;
