//! Typed identifiers: a `UserId` cannot be passed where a `DeviceId` is
//! wanted, and each is validated once, where it enters (an HTTP route, a
//! WebSocket frame, a token). Inside, code takes `&UserId`, never `&str`.
//!
//! Serde sees them as plain strings (`#[serde(transparent)]`), so JSON frames,
//! Avro records and stored rows keep their shape. Values read back from the
//! log or a store were validated when they entered and are wrapped with
//! `From<String>` (or `from_trusted`) without a second check.

use super::{check_client_msg_id, check_conversation_id, check_id};
use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, |$f:ident, $s:ident| $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `s`, naming the field `
            #[doc = $field]
            /// ` in the error.
            pub fn parse(s: impl Into<String>) -> Result<Self, DomainError> {
                Self::parse_field($field, s)
            }

            /// Validates `s`, naming `field` in the error.
            pub fn parse_field(field: &str, s: impl Into<String>) -> Result<Self, DomainError> {
                let $s: String = s.into();
                let $f = field;
                $check?;
                Ok(Self($s))
            }

            /// Wraps an id validated when it entered (read back from the
            /// log, a store or a signed token).
            pub fn from_trusted(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

typed_id!(
    /// A user: `^[A-Za-z0-9_.-]{1,64}$`.
    UserId, "user", |field, s| check_id(field, &s)
);
typed_id!(
    /// One device of a user, chosen by the client: the same alphabet.
    DeviceId, "device", |field, s| check_id(field, &s)
);
typed_id!(
    /// A conversation: `d-…` for a direct pair, `g-…` for a group.
    ConversationId, "conv", |_field, s| check_conversation_id(&s)
);
typed_id!(
    /// A message's global id, derived from its idempotency key.
    MessageId, "msg_id", |field, s| check_uuid(field, &s)
);
typed_id!(
    /// The sender's idempotency key for a send: 1 to 64 characters.
    ClientMsgId, "client_msg_id", |_field, s| check_client_msg_id(&s)
);

fn check_uuid(field: &str, s: &str) -> Result<(), DomainError> {
    uuid::Uuid::parse_str(s)
        .map(|_| ())
        .map_err(|_| DomainError::bad_request(format!("{field} is not a message id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_where_they_enter() {
        assert!(UserId::parse("alice").is_ok());
        let e = UserId::parse_field("members", "al ice").unwrap_err();
        assert!(e.message.starts_with("members must match"), "{e}");
        assert!(DeviceId::parse("").is_err());
        assert!(ConversationId::parse("g-0189").is_ok());
        assert!(ConversationId::parse("g 1").is_err());
        assert!(ClientMsgId::parse("x".repeat(65)).is_err());
        assert!(MessageId::parse("not-a-uuid").is_err());
    }

    #[test]
    fn ids_travel_as_plain_strings() {
        let u = UserId::parse("alice").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"alice\"");
        let back: UserId = serde_json::from_str("\"alice\"").unwrap();
        assert_eq!(back, u);
        assert_eq!(u, "alice");
        assert_eq!(u.len(), 5);
    }
}
