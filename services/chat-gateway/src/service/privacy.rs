//! Privacy settings (an extension of PROTOCOL.md): who sees a user's
//! presence, who may add it to groups, and who counts as its contact.
//! Presence is hidden here, on every read; group adds are recorded in the
//! command (`refusing`) for the sequencer's rules to refuse.

use super::ChatService;
use crate::error::from_port;
use chat_domain::privacy::{Audience, PrivacySettings};
use chat_domain::{ConversationKind, DomainError, PresenceStatus, UserId};
use chat_ports::store::side_by_side;
use std::collections::HashSet;

/// A change to some of a user's privacy settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrivacyChange {
    pub presence: Option<Audience>,
    pub group_adds: Option<Audience>,
}

impl ChatService {
    /// The caller's privacy settings.
    pub async fn privacy(&self, user: &UserId) -> Result<PrivacySettings, DomainError> {
        self.stores.devices.privacy(user).await.map_err(from_port)
    }

    /// Changes the settings the request names and answers them all.
    pub async fn change_privacy(
        &self,
        user: &UserId,
        change: PrivacyChange,
    ) -> Result<PrivacySettings, DomainError> {
        let mut settings = self.privacy(user).await?;
        settings.presence = change.presence.unwrap_or(settings.presence);
        settings.group_adds = change.group_adds.unwrap_or(settings.group_adds);
        if !settings.is_valid() {
            return Err(DomainError::bad_request(
                "group_adds is \"everyone\" or \"contacts\"",
            ));
        }
        self.stores
            .devices
            .set_privacy(user, settings)
            .await
            .map_err(from_port)?;
        Ok(settings)
    }

    /// The presence of `users` as `viewer` may see it, and whether it may:
    /// a user whose settings keep it from `viewer` reads as offline and
    /// never seen, as a user who never connected does.
    pub(crate) async fn presence_seen_by(
        &self,
        viewer: &UserId,
        users: &[UserId],
    ) -> Result<Vec<(PresenceStatus, bool)>, DomainError> {
        let statuses = self.presence.status(users).await.map_err(from_port)?;
        let visible = self.presence_visible(viewer, users).await?;
        Ok(statuses
            .into_iter()
            .zip(visible)
            .map(|(status, visible)| (if visible { status } else { hidden(status.user) }, visible))
            .collect())
    }

    /// Whether `viewer` may see the presence of each of `users` (its own
    /// always).
    pub(crate) async fn presence_visible(
        &self,
        viewer: &UserId,
        users: &[UserId],
    ) -> Result<Vec<bool>, DomainError> {
        let users: Vec<&UserId> = users.iter().collect();
        let admitted = self.admitting(viewer, &users, |s| s.presence).await?;
        Ok(users
            .iter()
            .zip(admitted)
            .map(|(u, admitted)| *u == viewer || admitted)
            .collect())
    }

    /// Of `users`, those whose settings do not let `actor` add them to a
    /// group, as a command records them (`refusing`).
    pub(crate) async fn refusing_group_adds(
        &self,
        actor: &UserId,
        users: &[UserId],
    ) -> Result<Vec<UserId>, DomainError> {
        let users: Vec<&UserId> = users.iter().filter(|u| *u != actor).collect();
        let admitted = self.admitting(actor, &users, |s| s.group_adds).await?;
        Ok(users
            .into_iter()
            .zip(admitted)
            .filter(|(_, admitted)| !admitted)
            .map(|(u, _)| u.clone())
            .collect())
    }

    /// Whether each of `users` lets `other` in, by the audience `which`
    /// names in its settings (contacts are worked out only for the users
    /// whose audience is `contacts`).
    async fn admitting(
        &self,
        other: &UserId,
        users: &[&UserId],
        which: fn(&PrivacySettings) -> Audience,
    ) -> Result<Vec<bool>, DomainError> {
        let names: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
        let settings = self
            .stores
            .devices
            .privacy_of(&names)
            .await
            .map_err(from_port)?;
        let asks: Vec<&UserId> = users
            .iter()
            .zip(&settings)
            .filter(|(_, s)| which(s).needs_contacts())
            .map(|(u, _)| *u)
            .collect();
        let contacts = self.counting_as_contact(other, &asks).await?;
        Ok(users
            .iter()
            .zip(&settings)
            .map(|(u, s)| which(s).admits(contacts.contains(*u)))
            .collect())
    }

    /// Of `owners`, those who count `other` among their contacts: they
    /// share a group with it, or a direct conversation they wrote in (a
    /// stranger who opens a direct conversation is not a contact for it).
    /// Reads `other`'s conversations, and counts the owner's messages in
    /// a direct conversation they share.
    async fn counting_as_contact(
        &self,
        other: &UserId,
        owners: &[&UserId],
    ) -> Result<HashSet<UserId>, DomainError> {
        let wanted: HashSet<&UserId> = owners.iter().copied().filter(|o| *o != other).collect();
        let mut contacts = HashSet::new();
        if wanted.is_empty() {
            return Ok(contacts);
        }
        let mut direct = Vec::new();
        for state in self.member_conversations(other).await? {
            for m in state.members.iter().filter(|m| wanted.contains(&m.user)) {
                match state.kind {
                    ConversationKind::Group => {
                        contacts.insert(m.user.clone());
                    }
                    ConversationKind::Direct => direct.push((state.id.clone(), m.user.clone())),
                }
            }
        }
        direct.retain(|(_, owner)| !contacts.contains(owner));
        let written = side_by_side(
            direct
                .iter()
                .map(|(conv, _)| self.stores.messages.count_from_others(conv, other, 0))
                .collect(),
        )
        .await
        .map_err(from_port)?;
        for ((_, owner), n) in direct.into_iter().zip(written) {
            if n > 0 {
                contacts.insert(owner);
            }
        }
        Ok(contacts)
    }
}

/// How a user whose presence is kept from a viewer reads to it.
pub(crate) fn hidden(user: UserId) -> PresenceStatus {
    PresenceStatus {
        user,
        online: false,
        last_seen: None,
    }
}
