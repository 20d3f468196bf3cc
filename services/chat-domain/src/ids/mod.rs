//! Identifiers and their validation.
//!
//! User and device ids match `^[A-Za-z0-9_.-]{1,64}$`. Direct conversations
//! have a deterministic id derived from the pair, so creating the same pair
//! twice lands on the same conversation; message ids are derived from the
//! idempotency key, so a retried send gets the first send's id on any gateway.

mod typed;

pub use typed::{ClientMsgId, ConversationId, DeviceId, MessageId, UserId};

use crate::DomainError;
use uuid::Uuid;

/// Namespace for the name-based (v5) UUIDs this service derives.
const NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_2f0e_8c55_4f7b_9a43_52d6_0f41_c0de);

/// True when `s` is a valid user or device id.
pub fn is_valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Checks a user or device id, naming the field in the error.
pub fn check_id(field: &str, s: &str) -> Result<(), DomainError> {
    if is_valid_id(s) {
        Ok(())
    } else {
        Err(DomainError::bad_request(format!(
            "{field} must match ^[A-Za-z0-9_.-]{{1,64}}$"
        )))
    }
}

/// Checks a conversation id: what [`direct_conversation_id`] or
/// [`new_group_id`] produce, or any id of the same alphabet.
pub fn check_conversation_id(s: &str) -> Result<(), DomainError> {
    if s.len() <= 80
        && !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
    {
        Ok(())
    } else {
        Err(DomainError::bad_request(
            "conv is not a valid conversation id",
        ))
    }
}

/// Checks a client message id: 1 to 64 characters, none of them a control
/// character (NUL, which PostgreSQL's text refuses, among them).
pub fn check_client_msg_id(s: &str) -> Result<(), DomainError> {
    let n = s.chars().count();
    if !(1..=64).contains(&n) {
        Err(DomainError::bad_request(
            "client_msg_id must be 1 to 64 characters",
        ))
    } else if s.chars().any(char::is_control) {
        Err(DomainError::bad_request(
            "client_msg_id must not contain control characters",
        ))
    } else {
        Ok(())
    }
}

/// The id of the direct conversation between two users, the same whichever
/// of them asks.
pub fn direct_conversation_id(a: &UserId, b: &UserId) -> ConversationId {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let id = Uuid::new_v5(&NAMESPACE, format!("direct\0{lo}\0{hi}").as_bytes());
    ConversationId::from_trusted(format!("d-{}", id.simple()))
}

/// A fresh group conversation id.
pub fn new_group_id() -> ConversationId {
    ConversationId::from_trusted(format!("g-{}", Uuid::now_v7().simple()))
}

/// A fresh attachment id: random, so one cannot be derived from another
/// (access is still checked on every download).
pub fn new_attachment_id() -> String {
    format!("a-{}", Uuid::new_v4().simple())
}

/// Checks an attachment id: `a-` and 32 lowercase hex digits, as
/// [`new_attachment_id`] makes them.
pub fn check_attachment_id(s: &str) -> Result<(), DomainError> {
    let hex = s.strip_prefix("a-").unwrap_or("");
    if hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(DomainError::bad_request(format!(
            "{s:?} is not an attachment id"
        )))
    }
}

/// The message id of a send, derived from its idempotency key
/// (conversation, sender, client_msg_id): a retry through any gateway gets
/// the id of the first send.
pub fn message_id(
    conv: &ConversationId,
    sender: &UserId,
    client_msg_id: &ClientMsgId,
) -> MessageId {
    MessageId::from_trusted(
        Uuid::new_v5(
            &NAMESPACE,
            format!("msg\0{conv}\0{sender}\0{client_msg_id}").as_bytes(),
        )
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_protocol_pattern() {
        assert!(is_valid_id("alice"));
        assert!(is_valid_id("a.b-c_D9"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("al ice"));
        assert!(!is_valid_id("ålice"));
        assert!(is_valid_id(&"x".repeat(64)));
        assert!(!is_valid_id(&"x".repeat(65)));
    }

    #[test]
    fn direct_ids_do_not_depend_on_who_asks() {
        let [alice, bob, carol] = ["alice", "bob", "carol"].map(UserId::from);
        assert_eq!(
            direct_conversation_id(&alice, &bob),
            direct_conversation_id(&bob, &alice)
        );
        assert_ne!(
            direct_conversation_id(&alice, &bob),
            direct_conversation_id(&alice, &carol)
        );
    }

    #[test]
    fn message_ids_follow_the_idempotency_key() {
        let id = |c: &str, u: &str, k: &str| message_id(&c.into(), &u.into(), &k.into());
        assert_eq!(id("c", "alice", "1"), id("c", "alice", "1"));
        assert_ne!(id("c", "alice", "1"), id("c", "bob", "1"));
        assert_ne!(id("c", "alice", "1"), id("c", "alice", "2"));
    }
}
