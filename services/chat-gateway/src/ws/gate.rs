//! Which watched users' presence a connection may see (their privacy
//! settings, `service/privacy.rs`): decided when a watch starts or the
//! presence is read again, and decided anew for a change that comes when
//! the decision is older than [`REDECIDE`]. A user who hides its presence
//! is hidden from every watcher within that time; a change it hides sends
//! nothing, so even its timing stays hidden.

use crate::service::hidden;
use crate::ChatService;
use chat_domain::{PresenceStatus, UserId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long a decision holds.
pub(crate) const REDECIDE: Duration = Duration::from_secs(30);

/// The decisions for the users a connection watches (at most its watch
/// limit of them).
#[derive(Default)]
pub(crate) struct PresenceGate {
    decided: HashMap<UserId, (bool, Instant)>,
}

impl PresenceGate {
    /// Records a decision; answers the one before.
    pub(crate) fn note(&mut self, user: &UserId, visible: bool) -> Option<bool> {
        self.decided
            .insert(user.clone(), (visible, Instant::now()))
            .map(|(v, _)| v)
    }

    /// The frame a watched user's change becomes for `viewer`: the status
    /// itself, the hidden status once when the user just became hidden,
    /// or nothing. Nothing as well while the store cannot say.
    pub(crate) async fn admit(
        &mut self,
        service: &ChatService,
        viewer: &UserId,
        status: &PresenceStatus,
    ) -> Option<PresenceStatus> {
        let fresh = self
            .decided
            .get(&status.user)
            .filter(|(_, at)| at.elapsed() < REDECIDE)
            .map(|(v, _)| *v);
        let (visible, before) = match fresh {
            Some(v) => (v, Some(v)),
            None => {
                let users = std::slice::from_ref(&status.user);
                let visible = *service
                    .presence_visible(viewer, users)
                    .await
                    .ok()?
                    .first()?;
                (visible, self.note(&status.user, visible))
            }
        };
        if visible {
            Some(status.clone())
        } else if before != Some(false) {
            Some(hidden(status.user.clone()))
        } else {
            None
        }
    }
}
