//! One WebSocket connection: hello, backlog, synced, then live traffic,
//! client frames and heartbeats until it closes.

use super::delivery::{Delivery, Stop};
use super::edits;
use super::gate::PresenceGate;
use super::held::HeldReceipts;
use super::outbound::{Gone, Outbound};
use super::parse::parse;
use super::shed::{admits, Kind};
use crate::auth::Caller;
use crate::error::from_port;
use crate::service::Outgoing;
use crate::ChatService;
use axum::extract::ws::{Message, WebSocket};
use chat_domain::frames::{ClientFrame, ServerFrame};
use chat_domain::{ConversationId, ConversationState, DomainError, ReceiptKind, UserId};
use chat_ports::channels::{conversation_channel, presence_channel, user_channel};
use chat_ports::{RealtimeEvent, RecvError, Subscription};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// WebSocket close codes.
const GOING_AWAY: u16 = 1001;
const TOO_BIG: u16 = 1009;
/// Close code of a text frame that is not UTF-8.
const INVALID_TEXT: u16 = 1007;
/// Close code of any other violation of RFC 6455.
const PROTOCOL_ERROR: u16 = 1002;
const TRY_AGAIN_LATER: u16 = 1013;

pub(crate) async fn run(socket: WebSocket, service: Arc<ChatService>, caller: Caller) {
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (sink, stream) = socket.split();
    let (out, writer) = Outbound::spawn(
        sink,
        service.config.outbound_queue,
        service.config.outbound_queue_bytes,
    );
    let subscription = match service
        .channels
        .subscribe(&user_channel(&caller.user))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "A connection could not subscribe to its channel.");
            out.close(TRY_AGAIN_LATER, "channels unavailable").await;
            return;
        }
    };
    // Before presence: a connection refused here is not counted.
    let seen_before = match Box::pin(service.device_seen_now(&caller.user, &caller.device)).await {
        Ok(at) => at,
        Err(e) => {
            tracing::warn!(error = %e, "A connection could not read its device's time.");
            out.close(TRY_AGAIN_LATER, "store unavailable").await;
            return;
        }
    };
    service.metrics.connections.inc();
    if let Err(e) = service
        .presence
        .connected(&caller.user, &caller.device, conn)
        .await
    {
        tracing::warn!(error = %e, "Presence could not record a connection.");
    }
    let (presence_tx, presence_rx) = mpsc::channel(256);
    let (conv_tx, conv_rx) = mpsc::channel(1024);
    let mut session = Session {
        service: service.clone(),
        caller,
        out,
        delivery: Delivery::default(),
        subscription,
        presence_tx,
        presence_rx,
        watching: HashSet::new(),
        watchers: JoinSet::new(),
        gate: PresenceGate::default(),
        last_heard: Instant::now(),
        conn,
        conv_tx,
        conv_rx,
        conv_subs: HashMap::new(),
        held: HeldReceipts::default(),
        seen_before,
    };
    session.serve(stream).await;
    // Receipts still held go now: the connection is gone, not its reads.
    Box::pin(session.flush_held()).await;
    // The device's time moves to its disconnection: its next connection
    // looks for edits from here on.
    if let Err(e) =
        Box::pin(service.device_seen_now(&session.caller.user, &session.caller.device)).await
    {
        tracing::debug!(error = %e, "A device's disconnection time could not be recorded.");
    }
    if let Err(e) = service
        .presence
        .disconnected(&session.caller.user, conn)
        .await
    {
        tracing::warn!(error = %e, "Presence could not record a disconnection.");
    }
    service.metrics.connections.dec();
    session.watchers.abort_all();
    for (_, task) in session.conv_subs.drain() {
        task.abort();
    }
    drop(session);
    let _ = writer.await;
}

struct Session {
    service: Arc<ChatService>,
    caller: Caller,
    out: Outbound,
    delivery: Delivery,
    subscription: Subscription,
    presence_tx: mpsc::Sender<Arc<RealtimeEvent>>,
    presence_rx: mpsc::Receiver<Arc<RealtimeEvent>>,
    watching: HashSet<UserId>,
    watchers: JoinSet<()>,
    /// Whose presence changes this connection may see.
    gate: PresenceGate,
    last_heard: Instant,
    /// This connection's id in presence.
    conn: u64,
    /// Events of the large groups' conversation channels this session
    /// follows, and the tasks forwarding them.
    conv_tx: mpsc::Sender<Arc<RealtimeEvent>>,
    conv_rx: mpsc::Receiver<Arc<RealtimeEvent>>,
    conv_subs: HashMap<ConversationId, tokio::task::AbortHandle>,
    /// Receipt frames past the device's allowance, merged.
    held: HeldReceipts,
    /// The device's time before this connection (`None`: a new device).
    seen_before: Option<i64>,
}

impl Session {
    /// The loop. What runs seldom or is large (a frame's handling, the
    /// backlog, a repair) is boxed, so that an idle connection's task holds
    /// only the loop's own state: every idle connection pays for the
    /// largest future this loop awaits inline.
    async fn serve(&mut self, mut stream: futures::stream::SplitStream<WebSocket>) {
        if let Err(stop) = Box::pin(self.start()).await {
            Box::pin(self.stopped(stop)).await;
            return;
        }
        let mut heartbeat = tokio::time::interval(self.service.config.ping_interval());
        heartbeat.tick().await;
        loop {
            let step: Result<bool, Stop> = tokio::select! {
                incoming = stream.next() => match incoming {
                    None | Some(Ok(Message::Close(_))) => Ok(false),
                    Some(Ok(Message::Text(text))) => {
                        self.last_heard = Instant::now();
                        Box::pin(self.on_text(text.as_str())).await.map(|_| true)
                    }
                    Some(Ok(Message::Binary(_))) => {
                        self.last_heard = Instant::now();
                        self.error(DomainError::bad_request("binary frames are not supported; send JSON text"), None)
                            .map(|_| true).map_err(Stop::from)
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        self.last_heard = Instant::now();
                        Ok(true)
                    }
                    Some(Err(e)) => {
                        if let Some((code, reason)) = close_for(e) {
                            self.out.close(code, reason).await;
                        }
                        Ok(false)
                    }
                },
                event = self.subscription.recv() => match event {
                    Ok(event) => Box::pin(self.on_event(&event)).await.map(|_| true),
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "A connection lagged behind its channel; repairing from the store.");
                        Box::pin(self.repair()).await.map(|_| true)
                    }
                    Err(RecvError::Closed) => Ok(false),
                },
                Some(event) = self.conv_rx.recv() => Box::pin(self.on_event(&event)).await.map(|_| true),
                Some(event) = self.presence_rx.recv() => {
                    match &*event {
                        RealtimeEvent::Presence { status } if admits(Kind::Presence, self.out.fill()) => {
                            let seen = Box::pin(self.gate.admit(&self.service, &self.caller.user, status)).await;
                            if let Some(status) = seen {
                                let _ = self.out.try_push(&ServerFrame::Presence {
                                    user: status.user,
                                    online: status.online,
                                    last_seen: status.last_seen,
                                });
                            }
                        }
                        RealtimeEvent::Presence { .. } => self.service.metrics.shed("presence"),
                        // Changes may have been lost: read them again, once
                        // for every watcher that says so (and for whatever
                        // else is queued, which the refresh supersedes).
                        RealtimeEvent::Resync => {
                            while self.presence_rx.try_recv().is_ok() {}
                            Box::pin(self.refresh_presence()).await
                        }
                        // Presence channels carry presence and resyncs only.
                        RealtimeEvent::Message { .. }
                        | RealtimeEvent::Deleted { .. }
                        | RealtimeEvent::Edited { .. }
                        | RealtimeEvent::Reaction { .. }
                        | RealtimeEvent::Receipt { .. }
                        | RealtimeEvent::Conversation { .. }
                        | RealtimeEvent::SendRejected { .. }
                        | RealtimeEvent::Typing { .. } => {}
                    }
                    Ok(true)
                }
                _ = tokio::time::sleep_until(self.held.due().unwrap_or_else(Instant::now)),
                    if self.held.due().is_some() => {
                    Box::pin(self.release_receipts()).await.map(|_| true).map_err(Stop::from)
                }
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > self.service.config.idle_timeout() {
                        tracing::debug!(user = %self.caller.user, "A connection stopped answering pings; closing it.");
                        self.out.close(GOING_AWAY, "no heartbeat").await;
                        Ok(false)
                    } else {
                        if let Err(e) = self.service.presence.heartbeat(&self.caller.user, self.conn).await {
                            tracing::debug!(error = %e, "Presence could not record a heartbeat.");
                        }
                        self.out.ping().map(|_| true).map_err(Stop::from)
                    }
                }
            };
            match step {
                Ok(true) => {}
                Ok(false) => return,
                Err(stop) => {
                    Box::pin(self.stopped(stop)).await;
                    return;
                }
            }
        }
    }

    async fn stopped(&mut self, stop: Stop) {
        match stop {
            Stop::Gone => {
                self.service.metrics.shed("slow_reader");
                tracing::info!(user = %self.caller.user, "A connection could not keep up and was closed.");
                self.out.close(TRY_AGAIN_LATER, "too slow").await;
            }
            Stop::Failed(e) => {
                tracing::warn!(error = %e, "A connection failed.");
                let _ = self.error(e, None);
                self.out.close(TRY_AGAIN_LATER, "server error").await;
            }
        }
    }

    /// After events may have been lost: what changed besides messages
    /// (`repair`), handled as if its events came now, then the messages.
    async fn repair(&mut self) -> Result<(), Stop> {
        let user = self.caller.user.clone();
        let states = self.service.member_conversations(&user).await?;
        for state in self.delivery.missed_views(&self.service, &states).await? {
            Box::pin(self.on_event(&RealtimeEvent::Conversation { state })).await?;
        }
        self.delivery
            .repair_changes(&self.service, &self.out, &states)
            .await?;
        self.delivery
            .catch_up(&self.service, &self.out, &user, &Default::default())
            .await
    }

    /// `hello`, every retained message above this device's delivered
    /// watermarks, then `synced`.
    async fn start(&mut self) -> Result<(), Stop> {
        self.out
            .push(&ServerFrame::Hello {
                user: self.caller.user.clone(),
                device: self.caller.device.clone(),
                server_time: chat_domain::time::now_ms(),
            })
            .await?;
        // Follow the large groups first, so nothing published while the
        // backlog goes out is missed.
        let states = self.service.member_conversations(&self.caller.user).await?;
        for state in &states {
            self.follow(state).await?;
        }
        let watermarks = self
            .service
            .stores
            .receipts
            .device_delivered(&self.caller.user, &self.caller.device)
            .await
            .map_err(from_port)?;
        self.delivery
            .catch_up(&self.service, &self.out, &self.caller.user, &watermarks)
            .await?;
        if let Some(since) = self.seen_before {
            edits::send_missed(&self.service, &self.out, &states, &watermarks, since).await?;
        }
        self.out.push(&ServerFrame::Synced {}).await?;
        Ok(())
    }

    fn error(&self, e: DomainError, reference: Option<String>) -> Result<(), Gone> {
        self.out.try_push(&ServerFrame::Error {
            code: e.code,
            message: e.message,
            reference,
            retry_after_ms: e.retry_after_ms,
            conv: None,
        })
    }

    async fn on_event(&mut self, event: &RealtimeEvent) -> Result<(), Stop> {
        let user = &self.caller.user;
        match event {
            RealtimeEvent::Message {
                message,
                recipients,
            } => {
                // From a conversation channel: only for its recipients.
                if recipients.is_empty() || recipients.contains(user) {
                    self.delivery
                        .live(&self.service, &self.out, user, message)
                        .await?
                }
            }
            RealtimeEvent::Deleted { conv, seq } => {
                if self.delivery.knows(conv) {
                    self.out.try_push(&ServerFrame::MessageDeleted {
                        conv: conv.clone(),
                        seq: *seq,
                    })?
                }
            }
            RealtimeEvent::Edited {
                conv,
                seq,
                body,
                edit_version,
                edited_ts,
            } => {
                if self.delivery.knows(conv) {
                    self.out.try_push(&ServerFrame::MessageEdited {
                        conv: conv.clone(),
                        seq: *seq,
                        body: body.clone(),
                        edit_version: *edit_version,
                        edited_ts: *edited_ts,
                    })?
                }
            }
            RealtimeEvent::Reaction {
                conv,
                seq,
                user: who,
                emoji,
                on,
            } => {
                if self.delivery.knows(conv) {
                    self.out.try_push(&ServerFrame::Reaction {
                        conv: conv.clone(),
                        seq: *seq,
                        user: who.clone(),
                        emoji: emoji.clone(),
                        on: *on,
                    })?
                }
            }
            RealtimeEvent::Conversation { state } => {
                match state.member(user) {
                    Some(m) => {
                        self.delivery.joined(&state.id, m.joined_after);
                        self.delivery.saw(state);
                    }
                    None => self.delivery.left(&state.id),
                }
                let followed = self.follow(state).await?;
                self.out.try_push(&ServerFrame::Conversation {
                    conversation: state.to_view(),
                })?;
                if followed {
                    // What was published on the shared channel before this
                    // session followed it (the first message after the
                    // add, say) is in the store.
                    Box::pin(self.delivery.catch_up_one(
                        &self.service,
                        &self.out,
                        &self.caller.user,
                        state,
                    ))
                    .await?
                }
            }
            RealtimeEvent::Receipt {
                conv,
                user: who,
                kind,
                seq,
            } => {
                if !self.delivery.knows(conv) {
                    // A conversation this user left.
                } else if !admits(Kind::Receipt, self.out.fill()) {
                    self.service.metrics.shed("receipt");
                } else if self.delivery.receipt_moves(conv, who, *kind, *seq) {
                    self.out.try_push(&ServerFrame::Receipt {
                        conv: conv.clone(),
                        user: who.clone(),
                        kind: *kind,
                        seq: *seq,
                    })?
                }
            }
            RealtimeEvent::Typing { conv, user: who } => {
                if who != user {
                    if admits(Kind::Typing, self.out.fill()) {
                        self.out.try_push(&ServerFrame::Typing {
                            conv: conv.clone(),
                            user: who.clone(),
                        })?
                    } else {
                        self.service.metrics.shed("typing");
                    }
                }
            }
            RealtimeEvent::SendRejected {
                conv,
                device,
                client_msg_id,
                code,
                reason,
            } => {
                // Only the device that sent it heard of this send.
                if *device == self.caller.device {
                    self.out.try_push(&ServerFrame::Error {
                        code: *code,
                        message: reason.clone(),
                        reference: Some(client_msg_id.to_string()),
                        retry_after_ms: None,
                        conv: Some(conv.clone()),
                    })?
                }
            }
            RealtimeEvent::Resync => Box::pin(self.repair()).await?,
            RealtimeEvent::Presence { .. } => {}
        }
        Ok(())
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        let frame = match parse(text) {
            Ok(f) => f,
            Err(rejected) => return Ok(self.error(rejected.error, rejected.reference)?),
        };
        let outcome = self.on_frame(frame).await;
        match outcome {
            Ok(()) => Ok(()),
            Err((e, reference)) => Ok(self.error(e, reference)?),
        }
    }

    /// Handles one client frame; a refusal comes back with its `ref`.
    /// A receipt frame: handled now within the device's allowance, else
    /// held, merged with others (`held.rs`).
    async fn receipt(
        &mut self,
        conv: ConversationId,
        seq: u64,
        kind: ReceiptKind,
    ) -> Result<(), DomainError> {
        let (user, device) = (&self.caller.user, &self.caller.device);
        match self.service.rates.receipt(user, device) {
            Ok(()) => self.service.receipt(user, device, &conv, seq, kind).await,
            Err(wait) => {
                self.service.metrics.shed("receipt_rate");
                self.held.hold(conv, kind, seq, wait);
                Ok(())
            }
        }
    }

    /// Handles the held receipts the allowance has room for now, and holds
    /// the rest again; an error is told as for the frame itself.
    async fn release_receipts(&mut self) -> Result<(), Gone> {
        let mut pending = self.held.take().into_iter();
        while let Some((conv, kind, seq)) = pending.next() {
            let (user, device) = (&self.caller.user, &self.caller.device);
            match self.service.rates.receipt(user, device) {
                Ok(()) => {
                    if let Err(e) = self.service.receipt(user, device, &conv, seq, kind).await {
                        self.error(e, None)?;
                    }
                }
                Err(wait) => {
                    self.held.hold(conv, kind, seq, wait);
                    for (conv, kind, seq) in pending {
                        self.held.hold(conv, kind, seq, wait);
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    /// Applies every held receipt, past the allowance: the session ends.
    async fn flush_held(&mut self) {
        for (conv, kind, seq) in self.held.take() {
            let (user, device) = (&self.caller.user, &self.caller.device);
            if let Err(e) = self.service.receipt(user, device, &conv, seq, kind).await {
                tracing::debug!(error = %e, "A held receipt of a closed connection was refused.");
            }
        }
    }

    async fn on_frame(&mut self, frame: ClientFrame) -> Result<(), (DomainError, Option<String>)> {
        let service = self.service.clone();
        let (user, device) = (self.caller.user.clone(), self.caller.device.clone());
        let gone = |_| (DomainError::internal("connection closing"), None);
        match frame {
            ClientFrame::Send {
                conv,
                client_msg_id,
                body,
                attachments,
                reply_to,
            } => {
                let reference = Some(client_msg_id.clone());
                let out = Outgoing::parse(conv, client_msg_id, body, attachments)
                    .map_err(|e| {
                        service.refused_send(&e);
                        (e, reference.clone())
                    })?
                    .replying(reply_to);
                let ack = service
                    .send(&user, &device, out)
                    .await
                    .map_err(|e| (e, reference))?;
                self.out
                    .push(&ServerFrame::Sent {
                        conv: ack.conv,
                        client_msg_id: ack.client_msg_id,
                        msg_id: ack.msg_id,
                        ts: ack.ts,
                    })
                    .await
                    .map_err(gone)?;
            }
            ClientFrame::Delivered { conv, seq } => self
                .receipt(edge(conv)?, seq, ReceiptKind::Delivered)
                .await
                .map_err(|e| (e, None))?,
            ClientFrame::Read { conv, seq } => self
                .receipt(edge(conv)?, seq, ReceiptKind::Read)
                .await
                .map_err(|e| (e, None))?,
            ClientFrame::Typing { conv } => {
                let conv = edge(conv)?;
                if !service.rates.typing(&user, &conv) {
                    service.metrics.shed("typing_rate");
                    return Ok(());
                }
                let state = service
                    .membership(&conv, &user)
                    .await
                    .map_err(|e| (e, None))?;
                let channels: Vec<String> = state
                    .members
                    .iter()
                    .filter(|m| m.user != user)
                    .map(|m| user_channel(&m.user))
                    .collect();
                // Best effort: a failed typing publish is not worth an error.
                let _ = service
                    .channels
                    .publish_many(&channels, RealtimeEvent::Typing { conv, user })
                    .await;
            }
            ClientFrame::Edit {
                conv,
                seq,
                body,
                reference,
            } => {
                // Answered only when refused; the edited message comes as
                // `message_edited`, to this device as to every other.
                let conv = ConversationId::parse(conv).map_err(|e| (e, reference.clone()))?;
                service
                    .edit_message(&user, &conv, seq, body)
                    .await
                    .map_err(|e| (e, reference))?;
            }
            ClientFrame::React {
                conv,
                seq,
                emoji,
                on,
                reference,
            } => {
                // Answered only when refused; the change comes as a
                // `reaction` frame, to this device as to every other.
                let conv = ConversationId::parse(conv).map_err(|e| (e, reference.clone()))?;
                service
                    .react(&user, &conv, seq, &emoji, on)
                    .await
                    .map_err(|e| (e, reference))?;
            }
            ClientFrame::SubscribePresence { users } => self.watch(users).await?,
            ClientFrame::Sync { after } => {
                service.rates.sync(&user, &device).await;
                self.sync(after).await?
            }
            ClientFrame::Ping { id } => self
                .out
                .push(&ServerFrame::Pong { id })
                .await
                .map_err(gone)?,
        }
        Ok(())
    }

    /// `subscribe_presence`: current presence now, changes as they happen.
    async fn watch(&mut self, users: Vec<String>) -> Result<(), (DomainError, Option<String>)> {
        let users = users
            .into_iter()
            .map(|u| UserId::parse_field("users", u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (e, None))?;
        // Bad input is answered as such first; a valid watch takes from
        // the device's allowance (past it, it waits).
        self.service
            .rates
            .presence(&self.caller.user, &self.caller.device)
            .await;
        let mut new: Vec<UserId> = users
            .iter()
            .filter(|u| !self.watching.contains(*u))
            .cloned()
            .collect();
        new.sort();
        new.dedup();
        if self.watching.len() + new.len() > self.service.config.max_presence_subscriptions {
            return Err((
                DomainError::bad_request(format!(
                    "a connection watches at most {} users",
                    self.service.config.max_presence_subscriptions
                )),
                None,
            ));
        }
        for u in new {
            let mut sub = self
                .service
                .channels
                .subscribe(&presence_channel(&u))
                .await
                .map_err(|e| (from_port(e), None))?;
            let tx = self.presence_tx.clone();
            self.watchers.spawn(async move {
                loop {
                    match sub.recv().await {
                        // A full queue sheds presence for this connection.
                        Ok(e) => {
                            let _ = tx.try_send(e);
                        }
                        Err(RecvError::Lagged(_)) => {
                            let _ = tx.try_send(Arc::new(RealtimeEvent::Resync));
                        }
                        Err(RecvError::Closed) => return,
                    }
                }
            });
            self.watching.insert(u);
        }
        let mut statuses = Vec::with_capacity(users.len());
        for chunk in users.chunks(crate::service::MAX_PRESENCE_QUERY) {
            statuses.extend(
                self.service
                    .presence_with_visibility(&self.caller.user, chunk)
                    .await
                    .map_err(|e| (e, None))?,
            );
        }
        for (s, visible) in statuses {
            self.gate.note(&s.user, visible);
            self.out
                .push(&ServerFrame::Presence {
                    user: s.user,
                    online: s.online,
                    last_seen: s.last_seen,
                })
                .await
                .map_err(|_| (DomainError::internal("connection closing"), None))?;
        }
        Ok(())
    }

    /// Follows the conversation channel of a large group the user is in,
    /// and stops following one it left or that is no longer large.
    /// Follows or stops following a large group's shared channel as the
    /// membership says; true when it started following it.
    async fn follow(&mut self, state: &ConversationState) -> Result<bool, Stop> {
        let large = state.members.len() > self.service.config.conversation_channel_above;
        let wanted = large && state.is_member(&self.caller.user);
        let followed = self.conv_subs.contains_key(&state.id);
        if wanted && !followed {
            let mut sub = self
                .service
                .channels
                .subscribe(&conversation_channel(&state.id))
                .await
                .map_err(|e| Stop::Failed(from_port(e)))?;
            let tx = self.conv_tx.clone();
            let task = tokio::spawn(async move {
                loop {
                    let event = match sub.recv().await {
                        Ok(e) => e,
                        // Lost events are repaired from the store.
                        Err(RecvError::Lagged(_)) => Arc::new(RealtimeEvent::Resync),
                        Err(RecvError::Closed) => return,
                    };
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            });
            self.conv_subs.insert(state.id.clone(), task.abort_handle());
            return Ok(true);
        }
        if !wanted && followed {
            if let Some(task) = self.conv_subs.remove(&state.id) {
                task.abort();
            }
        }
        Ok(false)
    }

    /// Sends the current presence of every watched user (after a possible
    /// loss of changes); shed when the queue is busy.
    async fn refresh_presence(&mut self) {
        if !admits(Kind::Presence, self.out.fill()) || self.watching.is_empty() {
            return;
        }
        let users: Vec<UserId> = self.watching.iter().cloned().collect();
        for chunk in users.chunks(crate::service::MAX_PRESENCE_QUERY) {
            let Ok(statuses) = self
                .service
                .presence_with_visibility(&self.caller.user, chunk)
                .await
            else {
                return;
            };
            for (s, visible) in statuses {
                self.gate.note(&s.user, visible);
                let _ = self.out.try_push(&ServerFrame::Presence {
                    user: s.user,
                    online: s.online,
                    last_seen: s.last_seen,
                });
            }
        }
    }

    /// `sync`: every message above the given seqs, then `synced`. A
    /// conversation that cannot be synced gets an error frame (with its id
    /// as `ref`) and the others go on; `synced` always ends it.
    async fn sync(
        &mut self,
        after: BTreeMap<String, u64>,
    ) -> Result<(), (DomainError, Option<String>)> {
        let closing = || (DomainError::internal("connection closing"), None);
        for (conv, seq) in after {
            let checked = ConversationId::parse(conv.clone());
            let state = match checked {
                Ok(id) => self.service.membership(&id, &self.caller.user).await,
                Err(e) => Err(e),
            };
            let state = match state {
                Ok(s) => s,
                Err(e) => {
                    self.error(e, Some(conv)).map_err(|_| closing())?;
                    continue;
                }
            };
            let floor = state
                .member(&self.caller.user)
                .map(|m| m.joined_after)
                .unwrap_or(0);
            let result = self
                .delivery
                .replay(
                    &self.service,
                    &self.out,
                    &state.id,
                    seq.max(floor),
                    u64::MAX,
                )
                .await;
            match result {
                Ok(_) => {}
                Err(Stop::Failed(e)) => self.error(e, Some(conv)).map_err(|_| closing())?,
                Err(Stop::Gone) => return Err(closing()),
            }
        }
        self.out
            .push(&ServerFrame::Synced {})
            .await
            .map_err(|_| closing())
    }
}

/// Whether a read error is tungstenite's "message or frame too big".
/// The close code and reason RFC 6455 gives a read that failed (§7.4.1):
/// a frame over the limit 1009, text that is not UTF-8 1007, any other
/// violation of the protocol 1002. None: the connection itself failed.
fn close_for(e: axum::Error) -> Option<(u16, &'static str)> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some((TOO_BIG, "frame too large")),
        tungstenite::Error::Utf8(_) => Some((INVALID_TEXT, "text frames must be UTF-8")),
        tungstenite::Error::Protocol(_) | tungstenite::Error::AttackAttempt => {
            Some((PROTOCOL_ERROR, "protocol error"))
        }
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Io(_)
        | tungstenite::Error::Tls(_)
        | tungstenite::Error::WriteBufferFull(_)
        | tungstenite::Error::Url(_)
        | tungstenite::Error::Http(_)
        | tungstenite::Error::HttpFormat(_) => None,
    }
}

/// A conversation id from a frame, checked.
fn edge(conv: String) -> Result<ConversationId, (DomainError, Option<String>)> {
    ConversationId::parse(conv).map_err(|e| (e, None))
}
