//! What a notification says: the JSON body the webhook receives, and the
//! preview rules.

use serde::Serialize;

/// Shown instead of a body when a message carries only attachments.
pub const ATTACHMENT_PREVIEW: &str = "📎 Attachment";

/// The latest message a pending notification announces; shared by every
/// device it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Latest {
    pub seq: u64,
    pub sender: String,
    pub body: String,
    pub has_attachments: bool,
}

impl Latest {
    /// The preview of the message: its body cut to `max_chars` characters
    /// (on a character boundary), a placeholder for an attachment without
    /// text, or nothing for a message with neither.
    pub fn preview(&self, max_chars: usize) -> Option<String> {
        let text = if self.body.is_empty() {
            if !self.has_attachments {
                return None;
            }
            ATTACHMENT_PREVIEW
        } else {
            self.body.as_str()
        };
        let cut = match text.char_indices().nth(max_chars) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        (!cut.is_empty()).then(|| cut.to_string())
    }
}

/// The JSON body of one webhook request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Notification<'a> {
    pub user: &'a str,
    pub device: &'a str,
    pub conv: &'a str,
    /// The latest message announced.
    pub seq: u64,
    /// Its sender.
    pub sender: &'a str,
    /// Messages of the conversation collapsed into this notification.
    pub count: u64,
    /// Absent when the user turned previews off or muted the conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(body: &str, has_attachments: bool) -> Latest {
        Latest {
            seq: 1,
            sender: "a".into(),
            body: body.into(),
            has_attachments,
        }
    }

    #[test]
    fn previews_are_cut_on_character_boundaries() {
        assert_eq!(latest("héllo wörld", false).preview(4).unwrap(), "héll");
        assert_eq!(latest("日本語です", true).preview(3).unwrap(), "日本語");
        assert_eq!(latest("short", false).preview(100).unwrap(), "short");
        assert_eq!(latest("x", false).preview(0), None);
    }

    #[test]
    fn attachments_without_text_get_a_placeholder() {
        assert_eq!(latest("", true).preview(100).unwrap(), ATTACHMENT_PREVIEW);
        assert_eq!(latest("", false).preview(100), None);
        assert_eq!(latest("caption", true).preview(100).unwrap(), "caption");
    }

    #[test]
    fn the_preview_field_is_left_out_when_absent() {
        let n = Notification {
            user: "u",
            device: "d",
            conv: "c",
            seq: 3,
            sender: "s",
            count: 2,
            preview: None,
        };
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"user":"u","device":"d","conv":"c","seq":3,"sender":"s","count":2})
        );
    }
}
