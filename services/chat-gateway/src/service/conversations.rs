//! Creating conversations and changing their members.

use super::ChatService;
use chat_domain::{ids, ConversationKind, ConversationState, DomainError, ErrorCode};
use chat_events::{ChangeMembers, CreateConversation};

/// Longest group title, characters.
const MAX_TITLE: usize = 256;

fn group_full(cap: usize) -> DomainError {
    DomainError::new(
        ErrorCode::GroupFull,
        format!("a group has at most {cap} members"),
    )
}

impl ChatService {
    /// Creates a conversation; the bool says whether it is new. A direct
    /// conversation with the same user again returns the first one.
    pub async fn create_conversation(
        &self,
        user: &str,
        kind: ConversationKind,
        title: Option<String>,
        members: Vec<String>,
    ) -> Result<(ConversationState, bool), DomainError> {
        for m in &members {
            ids::check_id("members", m)?;
        }
        let (conv, members, title) = match kind {
            ConversationKind::Direct => {
                let [other] = members.as_slice() else {
                    return Err(DomainError::bad_request(
                        "a direct conversation has exactly one other member",
                    ));
                };
                let conv = ids::direct_conversation_id(user, other);
                if let Some(state) = self
                    .stores
                    .conversations
                    .conversation(&conv)
                    .await
                    .map_err(crate::error::from_port)?
                {
                    if state.is_member(user) {
                        return Ok((state, false));
                    }
                }
                (conv, members, None)
            }
            ConversationKind::Group => {
                let mut unique: Vec<String> = vec![user.to_string()];
                for m in members {
                    if !unique.contains(&m) {
                        unique.push(m);
                    }
                }
                if unique.len() > self.config.group_cap {
                    return Err(group_full(self.config.group_cap));
                }
                if title
                    .as_ref()
                    .is_some_and(|t| t.chars().count() > MAX_TITLE)
                {
                    return Err(DomainError::bad_request(format!(
                        "title is over {MAX_TITLE} characters"
                    )));
                }
                (ids::new_group_id(), unique, title)
            }
        };
        let position = self
            .append(
                CreateConversation {
                    conv: conv.clone(),
                    kind: kind.as_str().into(),
                    title,
                    creator: user.into(),
                    members,
                    ts: chat_domain::time::now_ms(),
                }
                .into(),
            )
            .await?;
        let state = self.applied(&conv, &position).await?;
        if !state.is_member(user) {
            return Err(group_full(self.config.group_cap));
        }
        Ok((state, true))
    }

    /// An admin adds members to a group.
    pub async fn add_members(
        &self,
        user: &str,
        conv: &str,
        add: Vec<String>,
    ) -> Result<ConversationState, DomainError> {
        let state = self.membership(conv, user).await?;
        if state.kind != ConversationKind::Group {
            return Err(DomainError::bad_request(
                "direct conversations have fixed members",
            ));
        }
        if !state.is_admin(user) {
            return Err(DomainError::new(
                ErrorCode::Forbidden,
                "only admins add members",
            ));
        }
        if add.is_empty() {
            return Err(DomainError::bad_request("add names no user"));
        }
        for m in &add {
            ids::check_id("add", m)?;
        }
        let mut new: Vec<&String> = add.iter().filter(|u| !state.is_member(u)).collect();
        new.dedup();
        if state.members.len() + new.len() > self.config.group_cap {
            return Err(group_full(self.config.group_cap));
        }
        let after = self.change(conv, user, add.clone(), Vec::new()).await?;
        // The sequencer has the last word (another admin may have filled
        // the group first): the answer says what it decided.
        if add.iter().all(|u| after.is_member(u)) {
            Ok(after)
        } else if !after.is_admin(user) {
            Err(DomainError::new(
                ErrorCode::Forbidden,
                "only admins add members",
            ))
        } else {
            Err(group_full(self.config.group_cap))
        }
    }

    /// An admin removes a member, or a member leaves.
    pub async fn remove_member(
        &self,
        user: &str,
        conv: &str,
        target: &str,
    ) -> Result<ConversationState, DomainError> {
        ids::check_id("user", target)?;
        let state = self.membership(conv, user).await?;
        if state.kind != ConversationKind::Group {
            return Err(DomainError::bad_request(
                "direct conversations have fixed members",
            ));
        }
        if target != user && !state.is_admin(user) {
            return Err(DomainError::new(
                ErrorCode::Forbidden,
                "only admins remove others",
            ));
        }
        if !state.is_member(target) {
            return Err(DomainError::new(ErrorCode::NotFound, "no such member"));
        }
        let after = self
            .change(conv, user, Vec::new(), vec![target.to_string()])
            .await?;
        if after.is_member(target) {
            // Refused at its place in the log (the caller lost admin rights
            // just before, for instance).
            return Err(DomainError::new(
                ErrorCode::Forbidden,
                "the removal was refused",
            ));
        }
        Ok(after)
    }

    async fn change(
        &self,
        conv: &str,
        actor: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> Result<ConversationState, DomainError> {
        let position = self
            .append(
                ChangeMembers {
                    conv: conv.into(),
                    actor: actor.into(),
                    add,
                    remove,
                    ts: chat_domain::time::now_ms(),
                }
                .into(),
            )
            .await?;
        self.applied(conv, &position).await
    }
}
