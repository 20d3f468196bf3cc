//! Reads: conversation lists, history pages, receipts, presence.

use super::ChatService;
use crate::error::from_port;
use chat_domain::{
    Conversation, ConversationId, DomainError, MemberReceipts, Message, PresenceStatus, UserId,
};
use serde::Serialize;

/// Default and largest history page.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 500;
/// Most users one presence query names.
pub const MAX_PRESENCE_QUERY: usize = 256;

/// One entry of `GET /v1/conversations`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationListItem {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub unread: u64,
    pub last_message: Option<Message>,
}

/// A page of history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

impl ChatService {
    /// The caller's conversations, most recent activity first.
    pub async fn list_conversations(
        &self,
        user: &UserId,
    ) -> Result<Vec<ConversationListItem>, DomainError> {
        let states = self.member_conversations(user).await?;
        let mut items = Vec::with_capacity(states.len());
        for state in states {
            let id = state.id.clone();
            let Some(member) = state.member(user) else {
                continue;
            };
            let read = self
                .stores
                .receipts
                .read_seq(&id, user)
                .await
                .map_err(from_port)?;
            let floor = read.max(member.joined_after);
            let unread = self
                .stores
                .messages
                .count_from_others(&id, user, floor)
                .await
                .map_err(from_port)?;
            let mut last_message = self
                .stores
                .messages
                .messages_before(&id, u64::MAX, 1)
                .await
                .map_err(from_port)?;
            last_message.retain(|m| m.seq > member.joined_after);
            self.show_replies(&mut last_message).await?;
            let last_message = last_message.pop();
            items.push((
                state.last_activity,
                ConversationListItem {
                    conversation: state.to_view(),
                    unread,
                    last_message,
                },
            ));
        }
        items.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.conversation.id.cmp(&b.1.conversation.id))
        });
        Ok(items.into_iter().map(|(_, i)| i).collect())
    }

    /// Fills in what each reply shows of the message it answers, as
    /// stored now (a reply quotes it to everyone who sees the reply).
    pub(crate) async fn show_replies(&self, messages: &mut [Message]) -> Result<(), DomainError> {
        chat_ports::replies::show_replies(&*self.stores.messages, messages)
            .await
            .map_err(from_port)
    }

    /// A page of history; a member sees messages from its join on.
    pub async fn history(
        &self,
        user: &UserId,
        conv: &ConversationId,
        after: Option<u64>,
        before: Option<u64>,
        limit: Option<usize>,
    ) -> Result<HistoryPage, DomainError> {
        let state = self.membership(conv, user).await?;
        let floor = state.member(user).map(|m| m.joined_after).unwrap_or(0);
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let (mut messages, has_more) = match (after, before) {
            (Some(_), Some(_)) => {
                return Err(DomainError::bad_request("give after or before, not both"))
            }
            (Some(after), None) => {
                let mut m = self
                    .stores
                    .messages
                    .messages_after(conv, after.max(floor), limit + 1)
                    .await
                    .map_err(from_port)?;
                let more = m.len() > limit;
                m.truncate(limit);
                (m, more)
            }
            (None, before) => {
                let before = before.unwrap_or(u64::MAX);
                let mut m = self
                    .stores
                    .messages
                    .messages_before(conv, before, limit + 1)
                    .await
                    .map_err(from_port)?;
                m.retain(|m| m.seq > floor);
                let more = m.len() > limit;
                if more {
                    m.remove(0);
                }
                (m, more)
            }
        };
        messages.retain(|m| m.seq > floor);
        self.show_replies(&mut messages).await?;
        Ok(HistoryPage { messages, has_more })
    }

    /// Every member's delivered and read watermarks.
    pub async fn receipts_of(
        &self,
        user: &UserId,
        conv: &ConversationId,
    ) -> Result<Vec<MemberReceipts>, DomainError> {
        let state = self.membership(conv, user).await?;
        let known = self
            .stores
            .receipts
            .member_receipts(conv)
            .await
            .map_err(from_port)?;
        Ok(state
            .members
            .iter()
            .map(|m| {
                known
                    .iter()
                    .find(|r| r.user == m.user)
                    .cloned()
                    .unwrap_or(MemberReceipts {
                        user: m.user.clone(),
                        delivered_seq: 0,
                        read_seq: 0,
                    })
            })
            .collect())
    }

    /// Presence of the named users, as `viewer` may see it (their privacy
    /// settings hide some: `service/privacy.rs`).
    pub async fn presence_of(
        &self,
        viewer: &UserId,
        users: &[UserId],
    ) -> Result<Vec<PresenceStatus>, DomainError> {
        Ok(self
            .presence_with_visibility(viewer, users)
            .await?
            .into_iter()
            .map(|(status, _)| status)
            .collect())
    }

    /// The same, with whether each is visible to `viewer`.
    pub(crate) async fn presence_with_visibility(
        &self,
        viewer: &UserId,
        users: &[UserId],
    ) -> Result<Vec<(PresenceStatus, bool)>, DomainError> {
        if users.len() > MAX_PRESENCE_QUERY {
            return Err(DomainError::bad_request(format!(
                "at most {MAX_PRESENCE_QUERY} users per query"
            )));
        }
        self.presence_seen_by(viewer, users).await
    }
}
