//! Changing a group's members: admins add and remove, any member leaves,
//! the cap holds, nobody joins whose privacy settings refuse the actor,
//! and a group whose last admin left gets a new one.

use super::{member, views, Decision, Facts, Limits, Rejection};
use crate::commands::ChangeMembers;
use crate::ids::UserId;
use crate::{ConversationKind, Member};
use std::collections::HashSet;

pub fn decide(c: &ChangeMembers, facts: Facts<'_>, limits: &Limits) -> Result<Decision, Rejection> {
    let state = member(facts, &c.actor)?;
    if state.kind != ConversationKind::Group {
        return Err(Rejection::NotAGroup);
    }
    let admin = state.is_admin(&c.actor);
    // (A change that removes nobody is an add, even of nobody.)
    if (!c.add.is_empty() || c.remove.is_empty()) && !admin {
        return Err(Rejection::OnlyAdminsAdd);
    }
    if c.remove.iter().any(|u| *u != c.actor) && !admin {
        return Err(Rejection::OnlyAdminsRemove);
    }
    if c.add.is_empty() && c.remove.is_empty() {
        return Err(Rejection::NothingToChange);
    }
    if c.remove.iter().any(|u| !state.is_member(u)) {
        return Err(Rejection::NoSuchMember);
    }
    // (A set: a request may name a hundred thousand users, refused by the
    // cap only after this.)
    let mut named: HashSet<&UserId> = HashSet::new();
    let mut new: Vec<UserId> = Vec::new();
    for u in &c.add {
        if named.insert(u) && !state.is_member(u) {
            new.push(u.clone());
        }
        if state.members.len() + new.len() > limits.group_cap {
            break; // (refused just below)
        }
    }
    if state.members.len() + new.len() > limits.group_cap {
        return Err(Rejection::GroupFull {
            cap: limits.group_cap,
        });
    }
    if let Some(u) = new.iter().find(|u| c.refusing.contains(u)) {
        return Err(Rejection::RefusesGroupAdds { user: u.clone() });
    }
    let mut state = state.clone();
    for u in &new {
        state.members.push(Member {
            user: u.clone(),
            joined_after: state.last_seq,
            admin: false,
        });
    }
    let mut removed: Vec<UserId> = Vec::new();
    for u in &c.remove {
        if state.is_member(u) {
            state.members.retain(|m| m.user != *u);
            removed.push(u.clone());
        }
    }
    if !state.members.is_empty() && !state.members.iter().any(|m| m.admin) {
        // The last admin left: the longest-standing member takes over.
        state.members[0].admin = true;
    }
    new.retain(|u| !removed.contains(u));
    Ok(Decision {
        events: vec![views::membership(&state, &c.actor, &removed, c.ts).into()],
        joined: new,
        left: removed,
        state: Some(state),
        message: None,
    })
}
