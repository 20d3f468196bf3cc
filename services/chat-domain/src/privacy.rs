//! Privacy settings a user controls (an extension of PROTOCOL.md, after
//! WhatsApp's): who sees its presence (online and last seen), and who may
//! add it to groups. "Contacts" are the users who share a group with it, or
//! a direct conversation it wrote in: a stranger who opens a direct
//! conversation does not become a contact by doing so.

use serde::{Deserialize, Serialize};

/// Who is let in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    #[default]
    Everyone,
    Contacts,
    Nobody,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Everyone => "everyone",
            Audience::Contacts => "contacts",
            Audience::Nobody => "nobody",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "everyone" => Some(Audience::Everyone),
            "contacts" => Some(Audience::Contacts),
            "nobody" => Some(Audience::Nobody),
            _ => None,
        }
    }

    /// Whether someone is let in, given whether the owner counts them
    /// among its contacts.
    pub fn admits(self, contact: bool) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Contacts => contact,
            Audience::Nobody => false,
        }
    }

    /// Whether the answer depends on who asks being a contact.
    pub fn needs_contacts(self) -> bool {
        self == Audience::Contacts
    }
}

/// A user's privacy settings; the defaults let everyone in, as before
/// the settings existed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PrivacySettings {
    /// Who sees whether the user is online, and its last seen.
    pub presence: Audience,
    /// Who may add the user to a group: everyone or contacts (never
    /// `nobody`: a group the user creates itself is always allowed).
    pub group_adds: Audience,
}

impl PrivacySettings {
    /// Whether `group_adds` holds a value the settings accept.
    pub fn is_valid(&self) -> bool {
        self.group_adds != Audience::Nobody
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_admit_as_named() {
        assert!(Audience::Everyone.admits(false));
        assert!(Audience::Contacts.admits(true));
        assert!(!Audience::Contacts.admits(false));
        assert!(!Audience::Nobody.admits(true));
        for a in [Audience::Everyone, Audience::Contacts, Audience::Nobody] {
            assert_eq!(Audience::parse(a.as_str()), Some(a));
        }
        assert_eq!(Audience::parse("friends"), None);
    }

    #[test]
    fn settings_read_and_write_as_the_protocol_names_them() {
        let s: PrivacySettings =
            serde_json::from_str(r#"{"presence":"nobody","group_adds":"contacts"}"#).unwrap();
        assert_eq!(s.presence, Audience::Nobody);
        assert_eq!(
            serde_json::to_string(&PrivacySettings::default()).unwrap(),
            r#"{"presence":"everyone","group_adds":"everyone"}"#
        );
        assert!(!PrivacySettings {
            group_adds: Audience::Nobody,
            ..Default::default()
        }
        .is_valid());
    }
}
