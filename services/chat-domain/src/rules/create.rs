//! Creating a conversation: a direct pair, or a group within its cap whose
//! creator is its first admin and which names nobody whose privacy
//! settings refuse the creator. Creating one that exists announces it again.

use super::{views, Decision, Facts, Limits, Rejection};
use crate::commands::CreateConversation;
use crate::ids::UserId;
use crate::{ConversationKind, ConversationState, Member};
use std::collections::HashSet;

/// Longest group title, characters.
pub const MAX_TITLE: usize = 256;

/// The members of a new conversation: its creator first, then the others
/// named, each once. (Linear: a request may name a hundred thousand users,
/// refused by the cap only after this.)
pub fn members_of(creator: &UserId, named: &[UserId]) -> Vec<UserId> {
    let mut seen: HashSet<&UserId> = HashSet::from([creator]);
    let mut users: Vec<UserId> = vec![creator.clone()];
    for u in named {
        if seen.insert(u) {
            users.push(u.clone());
        }
    }
    users
}

pub fn decide(
    c: &CreateConversation,
    facts: Facts<'_>,
    limits: &Limits,
) -> Result<Decision, Rejection> {
    if let Some(state) = facts.state {
        // Created before (a retry, or the other user of a direct pair):
        // announced again so the asker's devices learn it.
        return Ok(Decision {
            events: vec![views::membership(state, &c.creator, &[], c.ts).into()],
            ..Decision::default()
        });
    }
    let kind =
        ConversationKind::parse(&c.kind).ok_or_else(|| Rejection::UnknownKind(c.kind.clone()))?;
    let users = members_of(&c.creator, &c.members);
    let title = match kind {
        ConversationKind::Direct => {
            if c.members.len() != 1 {
                return Err(Rejection::DirectNeedsOneOther);
            }
            None
        }
        ConversationKind::Group => {
            if users.len() > limits.group_cap {
                return Err(Rejection::GroupFull {
                    cap: limits.group_cap,
                });
            }
            if c.title
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_TITLE)
            {
                return Err(Rejection::TitleTooLong { max: MAX_TITLE });
            }
            if c.title
                .as_ref()
                .is_some_and(|t| t.chars().any(char::is_control))
            {
                // (PostgreSQL's text refuses NUL: a title that reached the
                // store would stop the partition's sequencing.)
                return Err(Rejection::TitleHasControl);
            }
            if let Some(u) = users.iter().find(|u| c.refusing.contains(u)) {
                return Err(Rejection::RefusesGroupAdds { user: u.clone() });
            }
            c.title.clone()
        }
    };
    let state = ConversationState {
        id: c.conv.clone(),
        kind,
        title,
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
        changes: Default::default(),
    };
    Ok(Decision {
        events: vec![views::membership(&state, &c.creator, &[], c.ts).into()],
        joined: users,
        state: Some(state),
        ..Decision::default()
    })
}
