//! Creating conversations and changing their members. The privacy
//! settings of the users added are read here and recorded in the command
//! (`refusing`), which the rules refuse. The rules are
//! `chat_domain::rules`: run here as the pre-check on the state read, and by
//! the sequencer at the command's place in the log; the answer is the
//! sequencer's verdict, read from the state it left.

use super::ChatService;
use chat_domain::commands::{ChangeMembers, Command, CreateConversation};
use chat_domain::rules::{self, Facts};
use chat_domain::{ids, ConversationId, ConversationKind, ConversationState, DomainError, UserId};

impl ChatService {
    /// Creates a conversation; the bool says whether it is new. A direct
    /// conversation with the same user again returns the first one.
    pub async fn create_conversation(
        &self,
        user: &UserId,
        kind: ConversationKind,
        title: Option<String>,
        members: Vec<UserId>,
    ) -> Result<(ConversationState, bool), DomainError> {
        let conv = match (kind, members.as_slice()) {
            (ConversationKind::Direct, [other]) => {
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
                conv
            }
            // (A direct conversation naming other than one user is refused
            // by the rules below, before the id is used.)
            (ConversationKind::Direct, _) | (ConversationKind::Group, _) => ids::new_group_id(),
        };
        let members = match kind {
            // The record names a group's members as they will be.
            ConversationKind::Group => rules::create::members_of(user, &members),
            ConversationKind::Direct => members,
        };
        let adds = members.iter().filter(|m| *m != user).count();
        let mut create = CreateConversation {
            conv: conv.clone(),
            kind: kind.as_str().into(),
            title,
            creator: user.clone(),
            members,
            ts: chat_domain::time::now_ms(),
            refusing: vec![],
        };
        rules::decide(&create.clone().into(), Facts::default(), &self.limits())?;
        self.rates.creation(user, adds)?;
        // (After the allowance: a refused group costs the reads below.)
        if kind == ConversationKind::Group {
            create.refusing = self.refusing_group_adds(user, &create.members).await?;
        }
        let command: Command = create.into();
        rules::decide(&command, Facts::default(), &self.limits())?;
        let state = self.decided(command).await?;
        Ok((state, true))
    }

    /// An admin adds members to a group.
    pub async fn add_members(
        &self,
        user: &UserId,
        conv: &ConversationId,
        add: Vec<UserId>,
    ) -> Result<ConversationState, DomainError> {
        self.change(conv, user, add, Vec::new()).await
    }

    /// An admin removes a member, or a member leaves.
    pub async fn remove_member(
        &self,
        user: &UserId,
        conv: &ConversationId,
        target: UserId,
    ) -> Result<ConversationState, DomainError> {
        self.change(conv, user, Vec::new(), vec![target]).await
    }

    async fn change(
        &self,
        conv: &ConversationId,
        actor: &UserId,
        add: Vec<UserId>,
        remove: Vec<UserId>,
    ) -> Result<ConversationState, DomainError> {
        let state = self.conversation(conv).await?;
        let new: Vec<UserId> = add
            .iter()
            .filter(|u| !state.is_member(u))
            .cloned()
            .collect();
        let mut change = ChangeMembers {
            conv: conv.clone(),
            actor: actor.clone(),
            add,
            remove,
            ts: chat_domain::time::now_ms(),
            refusing: vec![],
        };
        let facts = Facts {
            state: Some(&state),
            message: None,
        };
        rules::decide(&change.clone().into(), facts, &self.limits())?;
        self.rates.member_adds(actor, new.len())?;
        // (After the allowance: a refused add costs the reads below.)
        change.refusing = self.refusing_group_adds(actor, &new).await?;
        let command: Command = change.into();
        rules::decide(&command, facts, &self.limits())?;
        self.decided(command).await
    }

    /// Appends a command the pre-check accepted, waits until the sequencer
    /// applied it, and answers with its verdict (another command may have
    /// come first: an admin filled the group, or took the caller's rights).
    async fn decided(&self, command: Command) -> Result<ConversationState, DomainError> {
        let conv = command.conv().clone();
        let position = self.append(command.clone()).await?;
        let after = self.applied(&conv, &position).await?;
        rules::verdict(&command, Some(&after), &self.limits())?;
        Ok(after)
    }
}
