//! The sequencer: reads the commands topic in log order and decides, per
//! conversation, what each command does. It gives every accepted message the
//! next dense seq, applies membership changes between messages, deletes,
//! drops repeated sends by their idempotency key, then writes the batch to
//! the store atomically and publishes the derived events.
//!
//! Everything it decides is a function of the log prefix and the store that
//! the same prefix produced, so handling a batch again after a crash writes
//! the same values (invariant 3).

use crate::{event_records, Processor, Result};
use async_trait::async_trait;
use chat_domain::{ConversationKind, ConversationState, Member, Message};
use chat_events::topics::COMMANDS;
use chat_events::{
    ChangeMembers, Codec, CommandRejected, CreateConversation, DeleteMessage, MembershipApplied,
    MessageDeleted, MessageSequenced, Record, SendMessage,
};
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
    group_cap: usize,
    /// The events of the last batch, being appended while the next batch
    /// is read and sequenced (see [`Processor::start`]).
    in_flight: tokio::sync::Mutex<Option<InFlight>>,
}

/// A batch's events on their way to the log.
struct InFlight {
    records: Vec<OutRecord>,
    /// The append under way; `None` once it failed (appended again by
    /// the next settle).
    append: Option<tokio::task::JoinHandle<chat_ports::Result<Vec<chat_ports::Position>>>>,
}

impl Sequencer {
    pub fn new(
        stores: Stores,
        log: Arc<dyn EventLog>,
        codec: Arc<Codec>,
        group_cap: usize,
    ) -> Self {
        Self {
            stores,
            log,
            codec,
            group_cap,
            publish: true,
            in_flight: Default::default(),
        }
    }

    /// The same, publishing no events: for rebuilding a store from the log.
    pub fn without_events(mut self) -> Self {
        self.publish = false;
        self
    }
}

#[async_trait]
impl Processor for Sequencer {
    fn group(&self) -> &'static str {
        "sequencer"
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

    /// Sequences the batch and writes it to the store; its events go to
    /// the log in the background, so the next batch is read and sequenced
    /// while they are fsynced. They are in the log before the next batch's
    /// (each `start` settles the one before), and the runner commits the
    /// batch's offsets only once they are.
    async fn start(&self, records: &[LogRecord]) -> Result<()> {
        self.settle().await?;
        let mut work = Work::new(&self.stores, self.group_cap);
        let mut traces: Vec<Option<String>> = Vec::new();
        for r in records {
            let trace = r.traceparent();
            match self.codec.decode(&r.payload) {
                Ok(cmd) => {
                    let span = tracing::info_span!(
                        "sequence",
                        command = cmd.name(),
                        partition = r.partition,
                        offset = r.offset,
                    );
                    if let Some(t) = &trace {
                        chat_telemetry::trace::follow(&span, t);
                    }
                    work.command(cmd, r.offset).instrument(span).await?;
                    // Events derived from this command carry its trace.
                    traces.resize(work.events.len(), trace);
                }
                Err(e) => tracing::warn!(
                    partition = r.partition, offset = r.offset, error = %e,
                    "The sequencer skipped a record it cannot decode."
                ),
            }
        }
        let (batch, events) = work.finish();
        if !batch.conversations.is_empty() {
            self.stores.sequencer.apply(batch).await?;
        }
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
    group_cap: usize,
    /// None: looked up, does not exist.
    convs: BTreeMap<String, Option<ConversationState>>,
    touched: Vec<String>,
    messages: HashMap<(String, u64), Message>,
    sent: HashMap<(String, String, String), u64>,
    joined: Vec<(String, String)>,
    left: Vec<(String, String)>,
    events: Vec<Record>,
}

impl<'a> Work<'a> {
    fn new(stores: &'a Stores, group_cap: usize) -> Self {
        Self {
            stores,
            group_cap,
            convs: BTreeMap::new(),
            touched: Vec::new(),
            messages: HashMap::new(),
            sent: HashMap::new(),
            joined: Vec::new(),
            left: Vec::new(),
            events: Vec::new(),
        }
    }

    async fn load(&mut self, conv: &str) -> Result<Option<ConversationState>> {
        if !self.convs.contains_key(conv) {
            let state = self.stores.conversations.conversation(conv).await?;
            self.convs.insert(conv.to_string(), state);
        }
        Ok(self.convs[conv].clone())
    }

    fn save(&mut self, state: ConversationState) {
        if !self.touched.contains(&state.id) {
            self.touched.push(state.id.clone());
        }
        self.convs.insert(state.id.clone(), Some(state));
    }

    fn reject(&mut self, conv: &str, command: &str, actor: &str, reason: &str, ts: i64) {
        tracing::info!(
            conv,
            command,
            actor,
            reason,
            "The sequencer refused a command."
        );
        self.events.push(
            CommandRejected {
                conv: conv.into(),
                command: command.into(),
                actor: actor.into(),
                reason: reason.into(),
                ts,
            }
            .into(),
        );
    }

    async fn command(&mut self, cmd: Record, offset: u64) -> Result<()> {
        let conv = cmd.conv().to_string();
        if matches!(cmd, Record::SubmitReceipt(_)) {
            return Ok(());
        }
        if let Some(state) = self.load(&conv).await? {
            if offset < state.applied_offset {
                // Applied before (a redelivery after a crash or rebalance):
                // the stored state already holds its effect and is later
                // than this command, so deciding again would be wrong.
                return self.reemit(cmd, &state).await;
            }
        }
        match cmd {
            Record::SendMessage(c) => self.send(c).await?,
            Record::CreateConversation(c) => self.create(c).await?,
            Record::ChangeMembers(c) => self.change_members(c).await?,
            Record::DeleteMessage(c) => self.delete(c).await?,
            // Events are not commands.
            _ => return Ok(()),
        }
        if let Some(mut state) = self.load(&conv).await? {
            if state.applied_offset < offset + 1 {
                state.applied_offset = offset + 1;
                self.save(state);
            }
        }
        Ok(())
    }

    /// Publishes again the event of a command applied before, in case the
    /// crash came between the store write and the publish. Messages and
    /// deletes are re-derived exactly from the store; a membership change
    /// is announced with the conversation's current members.
    async fn reemit(&mut self, cmd: Record, state: &ConversationState) -> Result<()> {
        match cmd {
            Record::SendMessage(c) => {
                if let Some(m) = self.find_sent(&c).await? {
                    self.events.push(sequenced(&m, state).into());
                }
            }
            Record::DeleteMessage(c) => {
                let seq = c.seq.max(0) as u64;
                if let Some(m) = self.stores.messages.message(&c.conv, seq).await? {
                    if m.deleted {
                        self.events.push(deleted(state, seq, &c.actor, c.ts).into());
                    }
                }
            }
            Record::CreateConversation(CreateConversation {
                creator: actor, ts, ..
            })
            | Record::ChangeMembers(ChangeMembers { actor, ts, .. }) => {
                self.events.push(membership(state, &actor, &[], ts).into());
            }
            _ => {}
        }
        Ok(())
    }

    async fn find_sent(&mut self, c: &SendMessage) -> Result<Option<Message>> {
        let key = (c.conv.clone(), c.sender.clone(), c.client_msg_id.clone());
        if let Some(seq) = self.sent.get(&key) {
            return Ok(self.messages.get(&(c.conv.clone(), *seq)).cloned());
        }
        Ok(self
            .stores
            .messages
            .find_sent(&c.conv, &c.sender, &c.client_msg_id)
            .await?)
    }

    async fn send(&mut self, c: SendMessage) -> Result<()> {
        let Some(mut state) = self.load(&c.conv).await? else {
            self.reject(
                &c.conv,
                "SendMessage",
                &c.sender,
                "unknown conversation",
                c.ts,
            );
            return Ok(());
        };
        if let Some(first) = self.find_sent(&c).await? {
            // (The stored state already counts it; never let a stale view
            // hand its seq out again.)
            if state.last_seq < first.seq {
                state.last_seq = first.seq;
                self.save(state.clone());
            }
            // A retried send: no second message. Its event goes out again, in
            // case the first handling crashed before publishing it; fan-out
            // drops what a device already has.
            self.events.push(sequenced(&first, &state).into());
            return Ok(());
        }
        if !state.is_member(&c.sender) {
            self.reject(
                &c.conv,
                "SendMessage",
                &c.sender,
                "sender is not a member",
                c.ts,
            );
            return Ok(());
        }
        state.last_seq += 1;
        state.last_activity = state.last_activity.max(c.ts);
        let message = Message {
            conv: c.conv.clone(),
            seq: state.last_seq,
            msg_id: c.msg_id,
            sender: c.sender.clone(),
            sender_device: c.sender_device,
            client_msg_id: c.client_msg_id.clone(),
            body: c.body,
            attachments: c.attachments,
            ts: c.ts,
            deleted: false,
        };
        self.events.push(sequenced(&message, &state).into());
        self.sent
            .insert((c.conv.clone(), c.sender, c.client_msg_id), message.seq);
        self.messages.insert((c.conv, message.seq), message);
        self.save(state);
        Ok(())
    }

    async fn create(&mut self, c: CreateConversation) -> Result<()> {
        if let Some(state) = self.load(&c.conv).await? {
            // Created before (a retry, or the other user of a direct pair):
            // announce the conversation again so the asker's devices learn it.
            self.events
                .push(membership(&state, &c.creator, &[], c.ts).into());
            return Ok(());
        }
        let Some(kind) = ConversationKind::parse(&c.kind) else {
            self.reject(
                &c.conv,
                "CreateConversation",
                &c.creator,
                "unknown kind",
                c.ts,
            );
            return Ok(());
        };
        let mut users: Vec<String> = Vec::new();
        for u in std::iter::once(&c.creator).chain(c.members.iter()) {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
        if kind == ConversationKind::Group && users.len() > self.group_cap {
            self.reject(
                &c.conv,
                "CreateConversation",
                &c.creator,
                "group full",
                c.ts,
            );
            return Ok(());
        }
        let state = ConversationState {
            id: c.conv.clone(),
            kind,
            title: c.title,
            created_at: c.ts,
            last_seq: 0,
            last_activity: c.ts,
            members: users
                .iter()
                .map(|u| Member {
                    user: u.clone(),
                    joined_after: 0,
                    admin: kind == ConversationKind::Group && *u == c.creator,
                })
                .collect(),
            applied_offset: 0,
        };
        for u in &users {
            self.joined.push((u.clone(), c.conv.clone()));
        }
        self.events
            .push(membership(&state, &c.creator, &[], c.ts).into());
        self.save(state);
        Ok(())
    }

    async fn change_members(&mut self, c: ChangeMembers) -> Result<()> {
        let Some(mut state) = self.load(&c.conv).await? else {
            self.reject(
                &c.conv,
                "ChangeMembers",
                &c.actor,
                "unknown conversation",
                c.ts,
            );
            return Ok(());
        };
        if state.kind != ConversationKind::Group {
            self.reject(&c.conv, "ChangeMembers", &c.actor, "not a group", c.ts);
            return Ok(());
        }
        let self_leave =
            c.add.is_empty() && c.remove.iter().all(|u| *u == c.actor) && state.is_member(&c.actor);
        if !(state.is_admin(&c.actor) || self_leave) {
            self.reject(
                &c.conv,
                "ChangeMembers",
                &c.actor,
                "only admins change members",
                c.ts,
            );
            return Ok(());
        }
        let new: Vec<&String> = c.add.iter().filter(|u| !state.is_member(u)).collect();
        if state.members.len() + new.len() > self.group_cap {
            self.reject(&c.conv, "ChangeMembers", &c.actor, "group full", c.ts);
            return Ok(());
        }
        for u in new {
            if !state.is_member(u) {
                state.members.push(Member {
                    user: u.clone(),
                    joined_after: state.last_seq,
                    admin: false,
                });
                let pair = (u.clone(), c.conv.clone());
                self.left.retain(|p| *p != pair);
                self.joined.push(pair);
            }
        }
        let mut removed = Vec::new();
        for u in &c.remove {
            if state.is_member(u) {
                state.members.retain(|m| m.user != *u);
                // Net of the batch: a user added then removed in one batch
                // ends up out of the index.
                let pair = (u.clone(), c.conv.clone());
                self.joined.retain(|p| *p != pair);
                self.left.push(pair);
                removed.push(u.clone());
            }
        }
        if !state.members.is_empty() && !state.members.iter().any(|m| m.admin) {
            // The last admin left: the longest-standing member takes over.
            state.members[0].admin = true;
        }
        self.events
            .push(membership(&state, &c.actor, &removed, c.ts).into());
        self.save(state);
        Ok(())
    }

    async fn delete(&mut self, c: DeleteMessage) -> Result<()> {
        let Some(state) = self.load(&c.conv).await? else {
            self.reject(
                &c.conv,
                "DeleteMessage",
                &c.actor,
                "unknown conversation",
                c.ts,
            );
            return Ok(());
        };
        let seq = c.seq.max(0) as u64;
        let key = (c.conv.clone(), seq);
        let message = match self.messages.get(&key) {
            Some(m) => Some(m.clone()),
            None => self.stores.messages.message(&c.conv, seq).await?,
        };
        let Some(mut message) = message else {
            self.reject(&c.conv, "DeleteMessage", &c.actor, "no such message", c.ts);
            return Ok(());
        };
        if message.sender != c.actor {
            self.reject(
                &c.conv,
                "DeleteMessage",
                &c.actor,
                "only the sender deletes",
                c.ts,
            );
            return Ok(());
        }
        message.tombstone();
        self.messages.insert(key, message);
        self.events
            .push(deleted(&state, seq, &c.actor, c.ts).into());
        // The conversation is saved so the caller's wait on its applied
        // offset ends.
        self.save(state);
        Ok(())
    }

    fn finish(self) -> (SequencedBatch, Vec<Record>) {
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
            },
            self.events,
        )
    }
}

fn sequenced(m: &Message, state: &ConversationState) -> MessageSequenced {
    MessageSequenced {
        conv: m.conv.clone(),
        seq: m.seq as i64,
        msg_id: m.msg_id.clone(),
        sender: m.sender.clone(),
        sender_device: m.sender_device.clone(),
        client_msg_id: m.client_msg_id.clone(),
        body: m.body.clone(),
        attachments: m.attachments.clone(),
        ts: m.ts,
        recipients: state
            .members
            .iter()
            .filter(|mem| mem.joined_after < m.seq)
            .map(|mem| mem.user.clone())
            .collect(),
    }
}

fn deleted(state: &ConversationState, seq: u64, actor: &str, ts: i64) -> MessageDeleted {
    MessageDeleted {
        conv: state.id.clone(),
        seq: seq as i64,
        actor: actor.into(),
        recipients: state.members.iter().map(|m| m.user.clone()).collect(),
        ts,
    }
}

fn membership(
    state: &ConversationState,
    actor: &str,
    removed: &[String],
    ts: i64,
) -> MembershipApplied {
    MembershipApplied {
        conv: state.id.clone(),
        kind: state.kind.as_str().into(),
        title: state.title.clone(),
        actor: actor.into(),
        last_seq: state.last_seq as i64,
        created_at: state.created_at,
        members: state.members.iter().map(|m| m.user.clone()).collect(),
        joined_after: state
            .members
            .iter()
            .map(|m| m.joined_after as i64)
            .collect(),
        admins: state
            .members
            .iter()
            .filter(|m| m.admin)
            .map(|m| m.user.clone())
            .collect(),
        removed: removed.to_vec(),
        ts,
    }
}

/// Rebuilds the conversation state a [`MembershipApplied`] event describes.
pub fn state_from_event(e: &MembershipApplied) -> ConversationState {
    ConversationState {
        id: e.conv.clone(),
        kind: ConversationKind::parse(&e.kind).unwrap_or(ConversationKind::Group),
        title: e.title.clone(),
        created_at: e.created_at,
        last_seq: e.last_seq.max(0) as u64,
        last_activity: e.ts,
        members: e
            .members
            .iter()
            .zip(&e.joined_after)
            .map(|(u, j)| Member {
                user: u.clone(),
                joined_after: (*j).max(0) as u64,
                admin: e.admins.contains(u),
            })
            .collect(),
        applied_offset: 0,
    }
}
