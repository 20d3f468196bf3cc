//! The log's records: the commands and events of `chat_domain`, one struct
//! per schema in `schemas/`, and [`Record`], either of them, which is what
//! the codec reads and writes.

pub use chat_domain::commands::{
    ChangeMembers, Command, CreateConversation, DeleteMessage, EditMessage, React, SendMessage,
    SubmitReceipt,
};
pub use chat_domain::events::{
    CommandRejected, DeadLettered, Event, MembershipApplied, MessageDeleted, MessageEdited,
    MessageSequenced, PushDeadLettered, ReactionChanged, ReceiptAdvanced, SendRejected,
};

/// Any record of the log: a command or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Command(Command),
    Event(Event),
}

impl Record {
    /// The schema name (without namespace) of the record.
    pub fn name(&self) -> &'static str {
        match self {
            Record::Command(c) => c.name(),
            Record::Event(e) => e.name(),
        }
    }

    /// The record's log key: its conversation, except for
    /// [`PushDeadLettered`], keyed by its user, and [`DeadLettered`], by the
    /// key of the record it sets aside.
    pub fn key(&self) -> &str {
        match self {
            Record::Command(c) => c.conv(),
            Record::Event(e) => e.key(),
        }
    }
}

impl From<Command> for Record {
    fn from(c: Command) -> Self {
        Record::Command(c)
    }
}

impl From<Event> for Record {
    fn from(e: Event) -> Self {
        Record::Event(e)
    }
}

macro_rules! records {
    (commands: [$($command:ident),* $(,)?], events: [$($event:ident),* $(,)?] $(,)?) => {
        $(impl From<$command> for Record {
            fn from(r: $command) -> Self {
                Record::Command(Command::$command(r))
            }
        })*
        $(impl From<$event> for Record {
            fn from(r: $event) -> Self {
                Record::Event(Event::$event(r))
            }
        })*

        impl Record {
            /// Builds the record named `name` from a decoded Avro value.
            pub(crate) fn from_avro(
                name: &str,
                value: &apache_avro::types::Value,
            ) -> Option<Result<Record, apache_avro::Error>> {
                match name {
                    $(stringify!($command) => Some(apache_avro::from_value::<$command>(value).map(Record::from)),)*
                    $(stringify!($event) => Some(apache_avro::from_value::<$event>(value).map(Record::from)),)*
                    _ => None,
                }
            }

            /// Writes the record's Avro datum (no header) with `schema`.
            pub(crate) fn write_datum(
                &self,
                schema: &apache_avro::Schema,
                out: &mut Vec<u8>,
            ) -> Result<usize, apache_avro::Error> {
                match self {
                    Record::Command(c) => write_command(c, schema, out),
                    Record::Event(e) => write_event(e, schema, out),
                }
            }
        }

        /// Writes a command's Avro datum (no header) with `schema`.
        pub(crate) fn write_command(
            command: &Command,
            schema: &apache_avro::Schema,
            out: &mut Vec<u8>,
        ) -> Result<usize, apache_avro::Error> {
            let names = apache_avro::schema::NamesRef::new();
            match command {
                $(Command::$command(r) => apache_avro::write_avro_datum_ref(schema, &names, r, out),)*
            }
        }

        /// Writes an event's Avro datum (no header) with `schema`.
        pub(crate) fn write_event(
            event: &Event,
            schema: &apache_avro::Schema,
            out: &mut Vec<u8>,
        ) -> Result<usize, apache_avro::Error> {
            let names = apache_avro::schema::NamesRef::new();
            match event {
                $(Event::$event(r) => apache_avro::write_avro_datum_ref(schema, &names, r, out),)*
            }
        }

        /// The schema files compiled in, by record name.
        pub(crate) const SCHEMA_FILES: &[(&str, &str)] = &[
            $((stringify!($command), include_str!(concat!("../../../schemas/", stringify!($command), ".avsc"))),)*
            $((stringify!($event), include_str!(concat!("../../../schemas/", stringify!($event), ".avsc"))),)*
        ];
    };
}

/// Earlier versions of the schemas, kept so that records written with
/// them decode (read with their own schema, the fields added since take
/// their defaults); never written. `schemas/history/<Name>.<n>.avsc`.
pub(crate) const HISTORY_FILES: &[(&str, &str)] = &[
    (
        "SendMessage.1",
        include_str!("../../../schemas/history/SendMessage.1.avsc"),
    ),
    (
        "MessageSequenced.1",
        include_str!("../../../schemas/history/MessageSequenced.1.avsc"),
    ),
    (
        "CreateConversation.1",
        include_str!("../../../schemas/history/CreateConversation.1.avsc"),
    ),
    (
        "ChangeMembers.1",
        include_str!("../../../schemas/history/ChangeMembers.1.avsc"),
    ),
];

records!(
    commands: [
        SendMessage,
        CreateConversation,
        ChangeMembers,
        DeleteMessage,
        EditMessage,
        React,
        SubmitReceipt,
    ],
    events: [
        MessageSequenced,
        MembershipApplied,
        MessageDeleted,
        MessageEdited,
        ReactionChanged,
        ReceiptAdvanced,
        CommandRejected,
        SendRejected,
        PushDeadLettered,
        DeadLettered,
    ],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_event_has_its_schema_file() {
        let names: Vec<&str> = SCHEMA_FILES.iter().map(|(n, _)| *n).collect();
        for n in Command::NAMES.iter().chain(Event::NAMES) {
            assert!(names.contains(n), "{n} has no schema compiled in");
        }
        assert_eq!(names.len(), Command::NAMES.len() + Event::NAMES.len());
    }
}
