//! The conversation and message model, as stored and as sent to clients.

use crate::ids::{ClientMsgId, ConversationId, DeviceId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// Direct (two users) or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Direct,
    Group,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(Self::Direct),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// One member of a conversation and where its membership starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: UserId,
    /// The conversation's last seq when the user joined: it receives
    /// messages from `joined_after + 1` on.
    pub joined_after: u64,
    pub admin: bool,
}

/// The stored state of a conversation, written only by the sequencer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationState {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub created_at: i64,
    /// Highest seq assigned so far (0 before the first message).
    pub last_seq: u64,
    /// Timestamp of the last activity (message or creation), for ordering lists.
    pub last_activity: i64,
    pub members: Vec<Member>,
    /// One past the log offset of the last command applied to this
    /// conversation; a gateway waits on it to read its own writes.
    pub applied_offset: u64,
    /// Changes to messages already sent (deletes), for devices that missed
    /// them in real time.
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub changes: Changes,
}

/// How many changes to sent messages a conversation has had, and the most
/// recent of them: a session that knows it has seen the first `n` sends the
/// ones after, when its real-time path may have lost some.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub count: u64,
    /// The last [`Changes::KEPT`], oldest first.
    pub recent: Vec<Change>,
}

/// One change: the `n`th of its conversation, to the message at `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub n: u64,
    pub seq: u64,
}

impl Changes {
    /// How many recent changes a conversation keeps.
    pub const KEPT: usize = 32;

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Records a change to the message at `seq`.
    pub fn record(&mut self, seq: u64) {
        self.count += 1;
        self.recent.push(Change { n: self.count, seq });
        if self.recent.len() > Self::KEPT {
            let extra = self.recent.len() - Self::KEPT;
            self.recent.drain(..extra);
        }
    }

    /// The seqs changed after the first `seen` changes, as far as kept.
    pub fn since(&self, seen: u64) -> impl Iterator<Item = u64> + '_ {
        self.recent
            .iter()
            .filter(move |c| c.n > seen)
            .map(|c| c.seq)
    }
}

impl ConversationState {
    /// The member entry of `user`, if it is a member.
    pub fn member(&self, user: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.user == user)
    }

    pub fn is_member(&self, user: &str) -> bool {
        self.member(user).is_some()
    }

    pub fn is_admin(&self, user: &str) -> bool {
        self.member(user).is_some_and(|m| m.admin)
    }

    /// The protocol's conversation object.
    pub fn to_view(&self) -> Conversation {
        Conversation {
            id: self.id.clone(),
            kind: self.kind,
            title: self.title.clone(),
            members: self.members.iter().map(|m| m.user.clone()).collect(),
            admins: self
                .members
                .iter()
                .filter(|m| m.admin)
                .map(|m| m.user.clone())
                .collect(),
            created_at: self.created_at,
            last_seq: self.last_seq,
        }
    }
}

/// The conversation object of PROTOCOL.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub members: Vec<UserId>,
    pub admins: Vec<UserId>,
    pub created_at: i64,
    pub last_seq: u64,
}

/// The message object of PROTOCOL.md; also the stored form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub conv: ConversationId,
    pub seq: u64,
    pub msg_id: MessageId,
    pub sender: UserId,
    pub sender_device: DeviceId,
    pub client_msg_id: ClientMsgId,
    pub body: String,
    pub attachments: Vec<String>,
    pub ts: i64,
    pub deleted: bool,
    /// 0 until edited, then 1, 2, … (PROTOCOL v1.1).
    #[serde(default)]
    pub edit_version: u64,
    /// The `ts` of the last edit.
    #[serde(default)]
    pub edited_ts: Option<i64>,
    /// The message of the same conversation this one answers (PROTOCOL
    /// v1.1). Stores keep its seq; what it shows of the answered message
    /// is read when the message is read ([`Reply::show`]).
    #[serde(default)]
    pub reply_to: Option<Reply>,
    /// Who reacted with what (PROTOCOL v1.1), most used first.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub count: u64,
    /// In the order they reacted.
    pub users: Vec<UserId>,
}

/// The reactions one user may have on one message: each is one more entry
/// in a row every member reads with the message.
pub const MAX_REACTIONS_PER_USER: usize = 20;

/// Whether `emoji` may name a reaction: 1–32 bytes of UTF-8 (it is a
/// `String`), none of them whitespace or a control character.
pub fn valid_emoji(emoji: &str) -> bool {
    (1..=32).contains(&emoji.len()) && !emoji.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What a reply shows of the message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reply {
    pub seq: u64,
    pub sender: UserId,
    /// The first [`Reply::PREVIEW_CHARS`] characters of its body now;
    /// empty once it is deleted.
    pub preview: String,
    pub deleted: bool,
}

impl Reply {
    /// Characters of the answered body a reply shows.
    pub const PREVIEW_CHARS: usize = 100;

    /// A reply to `seq`, before it is shown (as stores return it).
    pub fn to(seq: u64) -> Self {
        Self {
            seq,
            sender: UserId::from(""),
            preview: String::new(),
            deleted: false,
        }
    }

    /// Fills in the answered message as it is now; `None` (gone with
    /// retention) shows as deleted.
    pub fn show(&mut self, answered: Option<&Message>) {
        match answered {
            Some(m) if !m.deleted => {
                self.sender = m.sender.clone();
                self.preview = m.body.chars().take(Self::PREVIEW_CHARS).collect();
                self.deleted = false;
            }
            Some(m) => {
                self.sender = m.sender.clone();
                self.preview.clear();
                self.deleted = true;
            }
            None => {
                self.preview.clear();
                self.deleted = true;
            }
        }
    }
}

impl Message {
    /// Deletion for everyone: the message keeps its seq, loses its content.
    pub fn tombstone(&mut self) {
        self.deleted = true;
        self.body.clear();
        self.attachments.clear();
        self.reactions.clear();
    }

    /// Whether `user` reacted with `emoji`.
    pub fn has_reaction(&self, user: &str, emoji: &str) -> bool {
        self.reactions
            .iter()
            .any(|r| r.emoji == emoji && r.users.iter().any(|u| u == user))
    }

    /// How many emojis `user` reacted with.
    pub fn reactions_of(&self, user: &str) -> usize {
        self.reactions
            .iter()
            .filter(|r| r.users.iter().any(|u| u == user))
            .count()
    }

    /// Adds (`on`) or removes `user`'s reaction with `emoji`; the most used
    /// emoji first, ties in byte order. Returns whether anything changed.
    pub fn react(&mut self, user: &UserId, emoji: &str, on: bool) -> bool {
        if self.has_reaction(user, emoji) == on {
            return false;
        }
        if on {
            match self.reactions.iter_mut().find(|r| r.emoji == emoji) {
                Some(r) => r.users.push(user.clone()),
                None => self.reactions.push(Reaction {
                    emoji: emoji.to_owned(),
                    count: 0,
                    users: vec![user.clone()],
                }),
            }
        } else {
            for r in &mut self.reactions {
                if r.emoji == emoji {
                    r.users.retain(|u| u != user);
                }
            }
            self.reactions.retain(|r| !r.users.is_empty());
        }
        for r in &mut self.reactions {
            r.count = r.users.len() as u64;
        }
        self.reactions
            .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.emoji.cmp(&b.emoji)));
        true
    }

    /// Replaces the body, one edit version up.
    pub fn edit(&mut self, body: &str, ts: i64) {
        self.body = body.to_owned();
        self.edit_version += 1;
        self.edited_ts = Some(ts);
    }
}

/// Delivered or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Delivered,
    Read,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// A member's watermarks in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberReceipts {
    pub user: UserId,
    pub delivered_seq: u64,
    pub read_seq: u64,
}

/// Presence of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresenceStatus {
    pub user: UserId,
    pub online: bool,
    pub last_seen: Option<i64>,
}
