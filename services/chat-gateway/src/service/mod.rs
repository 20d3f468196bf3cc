//! The operations of PROTOCOL.md, shared by the HTTP routes and the
//! WebSocket session. Writes are validated against the store, then appended
//! to the log as commands; the sequencer decides their final effect.

mod attachments;
mod conversations;
mod messages;
mod privacy;
mod reads;
mod search;
mod settings;

pub use attachments::{AttachmentInfo, UploadTicket, Variant};
pub use messages::{Outgoing, SentAck};
pub(crate) use privacy::hidden;
pub use privacy::PrivacyChange;
pub use reads::{ConversationListItem, HistoryPage, MAX_PRESENCE_QUERY};
pub use search::{SearchPage, SearchRequest, SearchResult};

use crate::auth::Tokens;
use crate::connections::Connections;
use crate::error::from_port;
use crate::limits::SendLimiter;
use crate::rates::ClientRates;
use crate::GatewayConfig;
use chat_domain::rules::Limits;
use chat_domain::Command;
use chat_domain::{ConversationId, ConversationState, DomainError, UserId};
use chat_events::{topics::COMMANDS, Codec};
use chat_ports::{
    BlobStore, Channels, EventLog, OutRecord, Position, Presence, SearchIndex, Stores,
};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The gateway's view of the ports, and its settings.
pub struct ChatService {
    pub config: GatewayConfig,
    pub stores: Stores,
    pub log: Arc<dyn EventLog>,
    pub channels: Arc<dyn Channels>,
    pub presence: Arc<dyn Presence>,
    pub blobs: Arc<dyn BlobStore>,
    /// The search index, unless search is off.
    pub search: Option<Arc<dyn SearchIndex>>,
    pub metrics: Arc<chat_telemetry::Metrics>,
    codec: Arc<Codec>,
    tokens: Tokens,
    limiter: SendLimiter,
    /// Allowances of typing, sync, presence watches, sends per user.
    pub rates: ClientRates,
    /// Each user's daily quota of stored bytes.
    pub quotas: crate::quota::Quotas,
    /// Open connections per user and device.
    pub connections: Arc<Connections>,
}

/// The ports a gateway works on.
#[derive(Clone)]
pub struct Backends {
    pub stores: Stores,
    pub log: Arc<dyn EventLog>,
    pub channels: Arc<dyn Channels>,
    pub presence: Arc<dyn Presence>,
    pub blobs: Arc<dyn BlobStore>,
    pub search: Option<Arc<dyn SearchIndex>>,
}

impl ChatService {
    pub fn new(
        config: GatewayConfig,
        backends: Backends,
        codec: Arc<Codec>,
        metrics: Arc<chat_telemetry::Metrics>,
    ) -> Self {
        let tokens = Tokens::new(&config.jwt_secret, config.token_ttl_secs);
        let limiter = SendLimiter::new(config.send_rate_per_sec, config.send_burst);
        let rates = ClientRates::new(&config.client_limits);
        let connections = Connections::new(&config.client_limits);
        let Backends {
            stores,
            log,
            channels,
            presence,
            blobs,
            search,
        } = backends;
        let quotas =
            crate::quota::Quotas::new(stores.usage.clone(), config.client_limits.daily_bytes);
        Self {
            config,
            stores,
            log,
            channels,
            presence,
            blobs,
            search,
            metrics,
            codec,
            tokens,
            limiter,
            rates,
            quotas,
            connections,
        }
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    pub fn limiter(&self) -> &SendLimiter {
        &self.limiter
    }

    /// Forgets the rate limits' idle keys (the gateway's housekeeping).
    pub fn forget_idle(&self) {
        self.limiter.forget_idle();
        self.rates.forget_idle();
    }

    /// The limits the rules enforce, as the sequencer has them.
    pub(crate) fn limits(&self) -> Limits {
        self.config.limits()
    }

    /// Appends one command to the commands topic; returns once durable.
    pub(crate) async fn append(&self, command: Command) -> Result<Position, DomainError> {
        let span = tracing::info_span!("append", command = command.name());
        self.append_in(command, span.clone()).instrument(span).await
    }

    async fn append_in(
        &self,
        command: Command,
        span: tracing::Span,
    ) -> Result<Position, DomainError> {
        let traceparent = chat_telemetry::trace::traceparent_of(&span);
        let record = OutRecord {
            topic: COMMANDS.to_string(),
            key: command.conv().to_string(),
            payload: self
                .codec
                .encode_command(&command)
                .map_err(|e| DomainError::internal(e.to_string()))?,
            headers: vec![(
                chat_ports::log::TRACEPARENT.to_string(),
                traceparent.clone().into_bytes(),
            )],
            timestamp: chat_domain::time::now_ms(),
        };
        tracing::debug!(%traceparent, command = command.name(), "Appending a command.");
        let mut positions = self.log.append(vec![record]).await.map_err(from_port)?;
        positions
            .pop()
            .ok_or_else(|| DomainError::internal("the log returned no position"))
    }

    /// The conversation, or `unknown_conversation`.
    pub(crate) async fn conversation(
        &self,
        conv: &ConversationId,
    ) -> Result<ConversationState, DomainError> {
        let started = std::time::Instant::now();
        let state = self.stores.conversations.conversation(conv).await;
        self.metrics
            .store_read_seconds
            .observe(started.elapsed().as_secs_f64());
        state
            .map_err(from_port)?
            .ok_or_else(DomainError::unknown_conversation)
    }

    /// The conversation if `user` is a member, else `not_member`.
    pub(crate) async fn membership(
        &self,
        conv: &ConversationId,
        user: &UserId,
    ) -> Result<ConversationState, DomainError> {
        let state = self.conversation(conv).await?;
        if state.is_member(user) {
            Ok(state)
        } else {
            Err(DomainError::not_member())
        }
    }

    /// Every conversation `user` is a member of, with its state.
    pub(crate) async fn member_conversations(
        &self,
        user: &UserId,
    ) -> Result<Vec<ConversationState>, DomainError> {
        let ids = self
            .stores
            .conversations
            .conversations_of(user)
            .await
            .map_err(from_port)?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let states = self
            .stores
            .conversations
            .conversation_states(&ids)
            .await
            .map_err(from_port)?;
        Ok(states
            .into_iter()
            .flatten()
            .filter(|s| s.is_member(user))
            .collect())
    }

    /// Waits until the sequencer has applied the command at `position` to
    /// `conv`, and returns the conversation as it left it. The store counts
    /// in positions (the partition's cursor base + offset; see
    /// `chat_ports::LogCursor`). While the sequencer has not yet seen a new
    /// incarnation of the log, the old base makes this answer early, from
    /// the state before the command; a read afterwards finds it applied.
    pub(crate) async fn applied(
        &self,
        conv: &ConversationId,
        position: &Position,
    ) -> Result<ConversationState, DomainError> {
        let deadline = tokio::time::Instant::now() + self.config.apply_timeout();
        let mut pause = Duration::from_millis(1);
        loop {
            let base = self
                .stores
                .sequencer
                .cursors()
                .await
                .map_err(from_port)?
                .into_iter()
                .find(|c| c.partition == position.partition)
                .map_or(0, |c| c.base);
            if let Some(state) = self
                .stores
                .conversations
                .conversation(conv)
                .await
                .map_err(from_port)?
            {
                if state.applied_offset > base + position.offset {
                    return Ok(state);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DomainError::new(
                    chat_domain::ErrorCode::Overloaded,
                    "the change is recorded but not applied yet; read it again shortly",
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }
}
