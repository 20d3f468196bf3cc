//! One struct per schema in `schemas/`, field for field.

use serde::{Deserialize, Serialize};

/// `schemas/SendMessage.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub conv: String,
    pub msg_id: String,
    pub sender: String,
    pub sender_device: String,
    pub client_msg_id: String,
    pub body: String,
    pub attachments: Vec<String>,
    pub ts: i64,
}

/// `schemas/CreateConversation.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateConversation {
    pub conv: String,
    pub kind: String,
    pub title: Option<String>,
    pub creator: String,
    pub members: Vec<String>,
    pub ts: i64,
}

/// `schemas/ChangeMembers.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMembers {
    pub conv: String,
    pub actor: String,
    pub add: Vec<String>,
    pub remove: Vec<String>,
    pub ts: i64,
}

/// `schemas/DeleteMessage.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    pub conv: String,
    pub seq: i64,
    pub actor: String,
    pub ts: i64,
}

/// `schemas/SubmitReceipt.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitReceipt {
    pub conv: String,
    pub user: String,
    pub device: String,
    pub kind: String,
    pub seq: i64,
    pub ts: i64,
}

/// `schemas/MessageSequenced.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSequenced {
    pub conv: String,
    pub seq: i64,
    pub msg_id: String,
    pub sender: String,
    pub sender_device: String,
    pub client_msg_id: String,
    pub body: String,
    pub attachments: Vec<String>,
    pub ts: i64,
    pub recipients: Vec<String>,
}

/// `schemas/MembershipApplied.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipApplied {
    pub conv: String,
    pub kind: String,
    pub title: Option<String>,
    pub actor: String,
    pub last_seq: i64,
    pub created_at: i64,
    pub members: Vec<String>,
    pub joined_after: Vec<i64>,
    pub admins: Vec<String>,
    pub removed: Vec<String>,
    pub ts: i64,
}

/// `schemas/MessageDeleted.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeleted {
    pub conv: String,
    pub seq: i64,
    pub actor: String,
    pub recipients: Vec<String>,
    pub ts: i64,
}

/// `schemas/ReceiptAdvanced.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptAdvanced {
    pub conv: String,
    pub user: String,
    pub device: String,
    pub kind: String,
    pub seq: i64,
    pub ts: i64,
}

/// `schemas/CommandRejected.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRejected {
    pub conv: String,
    pub command: String,
    pub actor: String,
    pub reason: String,
    pub ts: i64,
}

/// `schemas/PushDeadLettered.avsc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDeadLettered {
    pub conv: String,
    pub user: String,
    pub device: String,
    pub seq: i64,
    pub sender: String,
    pub count: i64,
    pub attempts: i32,
    pub error: String,
    pub ts: i64,
}

macro_rules! records {
    ($($name:ident),* $(,)?) => {
        /// Any record of the log.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Record {
            $($name($name),)*
        }

        impl Record {
            /// The schema name (without namespace) of the record.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Record::$name(_) => stringify!($name),)*
                }
            }

            /// The conversation the record belongs to: its log key, except
            /// for [`PushDeadLettered`], which is keyed by its user.
            pub fn conv(&self) -> &str {
                match self {
                    $(Record::$name(r) => &r.conv,)*
                }
            }
        }

        $(impl From<$name> for Record {
            fn from(r: $name) -> Self {
                Record::$name(r)
            }
        })*

        impl Record {
            /// Builds the record named `name` from a decoded Avro value.
            pub(crate) fn from_avro(
                name: &str,
                value: &apache_avro::types::Value,
            ) -> Option<Result<Record, apache_avro::Error>> {
                match name {
                    $(stringify!($name) => Some(apache_avro::from_value::<$name>(value).map(Record::$name)),)*
                    _ => None,
                }
            }

            /// Writes the record's Avro datum (no header) with `schema`.
            pub(crate) fn write_datum(
                &self,
                schema: &apache_avro::Schema,
                out: &mut Vec<u8>,
            ) -> Result<usize, apache_avro::Error> {
                let names = apache_avro::schema::NamesRef::new();
                match self {
                    $(Record::$name(r) => apache_avro::write_avro_datum_ref(schema, &names, r, out),)*
                }
            }
        }

        /// The schema files compiled in, by record name.
        pub(crate) const SCHEMA_FILES: &[(&str, &str)] = &[
            $((stringify!($name), include_str!(concat!("../../../schemas/", stringify!($name), ".avsc"))),)*
        ];
    };
}

records!(
    SendMessage,
    CreateConversation,
    ChangeMembers,
    DeleteMessage,
    SubmitReceipt,
    MessageSequenced,
    MembershipApplied,
    MessageDeleted,
    ReceiptAdvanced,
    CommandRejected,
    PushDeadLettered,
);
