//! Why a command is refused, and the protocol's error code for it: the one
//! place a rule's verdict becomes a client-visible error.

use crate::{DomainError, ErrorCode};

/// A typed refusal of a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no such conversation")]
    UnknownConversation,
    #[error("you are not a member of this conversation")]
    NotMember,
    #[error("unknown conversation kind {0:?}")]
    UnknownKind(String),
    #[error("a direct conversation has exactly one other member")]
    DirectNeedsOneOther,
    #[error("title is over {max} characters")]
    TitleTooLong { max: usize },
    #[error("title must not contain control characters")]
    TitleHasControl,
    #[error("client_msg_id must be 1 to 64 characters, none of them a control character")]
    BadClientMsgId,
    #[error("direct conversations have fixed members")]
    NotAGroup,
    #[error("add names no user")]
    NothingToChange,
    #[error("only admins add members")]
    OnlyAdminsAdd,
    #[error("only admins remove others")]
    OnlyAdminsRemove,
    #[error("no such member")]
    NoSuchMember,
    #[error("a group has at most {cap} members")]
    GroupFull { cap: usize },
    #[error("no such message")]
    NoSuchMessage,
    #[error("only its sender deletes or edits a message")]
    NotSender,
    #[error("an edit has a body; delete the message instead")]
    EmptyEdit,
    #[error("not editable: {0}")]
    NotEditable(&'static str),
    #[error("an emoji is 1 to 32 bytes, with no whitespace or control character")]
    BadEmoji,
    #[error("at most {max} reactions per user on a message")]
    TooManyReactions { max: usize },
    #[error("{user} does not accept being added to groups by you")]
    RefusesGroupAdds { user: crate::ids::UserId },
    /// Not a rule's: the store refused the command's values for good, and
    /// the command was set aside on the dead-letter topic.
    #[error("the store cannot hold this: {0}")]
    Unstorable(String),
}

impl Rejection {
    /// The protocol's error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::UnknownConversation => ErrorCode::UnknownConversation,
            Rejection::NotMember => ErrorCode::NotMember,
            Rejection::UnknownKind(_)
            | Rejection::DirectNeedsOneOther
            | Rejection::TitleTooLong { .. }
            | Rejection::TitleHasControl
            | Rejection::BadClientMsgId
            | Rejection::NotAGroup
            | Rejection::NothingToChange
            | Rejection::EmptyEdit
            | Rejection::BadEmoji
            | Rejection::TooManyReactions { .. }
            | Rejection::Unstorable(_) => ErrorCode::BadRequest,
            Rejection::OnlyAdminsAdd
            | Rejection::OnlyAdminsRemove
            | Rejection::NotSender
            | Rejection::RefusesGroupAdds { .. } => ErrorCode::Forbidden,
            Rejection::NoSuchMember | Rejection::NoSuchMessage => ErrorCode::NotFound,
            Rejection::GroupFull { .. } => ErrorCode::GroupFull,
            Rejection::NotEditable(_) => ErrorCode::NotEditable,
        }
    }
}

impl From<Rejection> for DomainError {
    fn from(r: Rejection) -> Self {
        DomainError::new(r.code(), r.to_string())
    }
}
