//! Avro single-object encoding of [`Record`]s with the schemas of `schemas/`.

use crate::records::{Command, Event, Record, HISTORY_FILES, SCHEMA_FILES};
use apache_avro::rabin::Rabin;
use apache_avro::{GenericSingleObjectReader, Schema};
use std::collections::HashMap;
use std::path::Path;

/// What can go wrong encoding or decoding a record.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("schema file {name} does not parse: {source}")]
    Schema {
        name: String,
        source: apache_avro::Error,
    },
    #[error("cannot read the schema folder {path}: {source}")]
    SchemaDir {
        path: String,
        source: std::io::Error,
    },
    #[error("record is not single-object encoded (it needs the C3 01 marker and a fingerprint)")]
    NotSingleObject,
    #[error("no schema has the fingerprint {0:016x}")]
    UnknownFingerprint(u64),
    #[error("the schema {0} has no record type in this build")]
    UnknownRecord(String),
    #[error("a {name} record is not a {expected}")]
    NotA {
        expected: &'static str,
        name: &'static str,
    },
    #[error("cannot encode a {name} record: {source}")]
    Encode {
        name: &'static str,
        source: apache_avro::Error,
    },
    #[error("cannot decode a {name} record: {source}")]
    Decode {
        name: String,
        source: apache_avro::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

struct Entry {
    name: String,
    schema: Schema,
    header: [u8; 10],
    reader: GenericSingleObjectReader,
}

/// Encoder and decoder for every record type, keyed by schema fingerprint.
pub struct Codec {
    by_fingerprint: HashMap<u64, Entry>,
    by_name: HashMap<String, u64>,
}

impl Codec {
    /// A codec over the schemas compiled into this build.
    pub fn new() -> Self {
        let files = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect()
        };
        Self::from_sources(files(SCHEMA_FILES), files(HISTORY_FILES))
            .expect("the compiled-in schemas parse")
    }

    /// A codec over the `.avsc` files of a folder, as an outside consumer
    /// holding only `schemas/` would build it: the current schemas, and
    /// the earlier ones of its `history/` folder to decode older records.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let current = Self::read_dir(dir)?;
        let history = dir.join("history");
        let earlier = if history.is_dir() {
            Self::read_dir(&history)?
        } else {
            Vec::new()
        };
        Self::from_sources(current, earlier)
    }

    /// The `.avsc` files of a folder, by file stem.
    fn read_dir(dir: &Path) -> Result<Vec<(String, String)>> {
        let io = |source| Error::SchemaDir {
            path: dir.display().to_string(),
            source,
        };
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "avsc") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                sources.push((name, std::fs::read_to_string(&path).map_err(io)?));
            }
        }
        Ok(sources)
    }

    /// A codec that writes with `current` and reads records of `current`
    /// and of `earlier` (schemas of the same names, from before fields were
    /// added).
    fn from_sources(
        current: Vec<(String, String)>,
        earlier: Vec<(String, String)>,
    ) -> Result<Self> {
        let mut by_fingerprint = HashMap::new();
        let mut by_name = HashMap::new();
        let tagged = current
            .into_iter()
            .map(|s| (s, true))
            .chain(earlier.into_iter().map(|s| (s, false)));
        for ((file, text), writes) in tagged {
            let schema = Schema::parse_str(&text).map_err(|source| Error::Schema {
                name: file.clone(),
                source,
            })?;
            let name = if let Schema::Record(r) = &schema {
                r.name.name().to_string()
            } else {
                file.clone()
            };
            let fp = schema.fingerprint::<Rabin>();
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&fp.bytes[..8]);
            let fingerprint = u64::from_le_bytes(bytes);
            let mut header = [0u8; 10];
            header[0] = 0xC3;
            header[1] = 0x01;
            header[2..].copy_from_slice(&bytes);
            let reader = GenericSingleObjectReader::builder()
                .schema(schema.clone())
                .build()
                .map_err(|source| Error::Schema {
                    name: file.clone(),
                    source,
                })?;
            if writes {
                by_name.insert(name.clone(), fingerprint);
            }
            by_fingerprint.insert(
                fingerprint,
                Entry {
                    name,
                    schema,
                    header,
                    reader,
                },
            );
        }
        Ok(Self {
            by_fingerprint,
            by_name,
        })
    }

    /// The record, single-object encoded.
    pub fn encode(&self, record: &Record) -> Result<Vec<u8>> {
        self.encode_with(record.name(), |schema, out| record.write_datum(schema, out))
    }

    /// A command, single-object encoded.
    pub fn encode_command(&self, command: &Command) -> Result<Vec<u8>> {
        self.encode_with(command.name(), |schema, out| {
            crate::records::write_command(command, schema, out)
        })
    }

    /// An event, single-object encoded.
    pub fn encode_event(&self, event: &Event) -> Result<Vec<u8>> {
        self.encode_with(event.name(), |schema, out| {
            crate::records::write_event(event, schema, out)
        })
    }

    fn encode_with(
        &self,
        name: &'static str,
        write: impl FnOnce(&Schema, &mut Vec<u8>) -> Result<usize, apache_avro::Error>,
    ) -> Result<Vec<u8>> {
        let entry = self
            .by_name
            .get(name)
            .and_then(|fp| self.by_fingerprint.get(fp))
            .ok_or_else(|| Error::UnknownRecord(name.to_string()))?;
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&entry.header);
        write(&entry.schema, &mut out).map_err(|source| Error::Encode { name, source })?;
        Ok(out)
    }

    /// Decodes a single-object encoded record into its Rust type.
    pub fn decode(&self, bytes: &[u8]) -> Result<Record> {
        let (entry, value) = self.decode_value(bytes)?;
        match Record::from_avro(&entry.name, &value) {
            Some(r) => r.map_err(|source| Error::Decode {
                name: entry.name.clone(),
                source,
            }),
            None => Err(Error::UnknownRecord(entry.name.clone())),
        }
    }

    /// Decodes a record of the commands topic.
    pub fn decode_command(&self, bytes: &[u8]) -> Result<Command> {
        match self.decode(bytes)? {
            Record::Command(c) => Ok(c),
            Record::Event(e) => Err(Error::NotA {
                expected: "command",
                name: e.name(),
            }),
        }
    }

    /// Decodes a record of an events topic.
    pub fn decode_event(&self, bytes: &[u8]) -> Result<Event> {
        match self.decode(bytes)? {
            Record::Event(e) => Ok(e),
            Record::Command(c) => Err(Error::NotA {
                expected: "event",
                name: c.name(),
            }),
        }
    }

    /// Decodes any record whose schema this codec holds into JSON, with its
    /// schema name: what `tail` and analytics consumers print.
    pub fn decode_json(&self, bytes: &[u8]) -> Result<(String, serde_json::Value)> {
        let (entry, value) = self.decode_value(bytes)?;
        let json = serde_json::Value::try_from(value).map_err(|source| Error::Decode {
            name: entry.name.clone(),
            source,
        })?;
        Ok((entry.name.clone(), json))
    }

    fn decode_value(&self, bytes: &[u8]) -> Result<(&Entry, apache_avro::types::Value)> {
        if bytes.len() < 10 || bytes[0] != 0xC3 || bytes[1] != 0x01 {
            return Err(Error::NotSingleObject);
        }
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&bytes[2..10]);
        let fingerprint = u64::from_le_bytes(fp);
        let entry = self
            .by_fingerprint
            .get(&fingerprint)
            .ok_or(Error::UnknownFingerprint(fingerprint))?;
        let mut reader = bytes;
        let value = entry
            .reader
            .read_value(&mut reader)
            .map_err(|source| Error::Decode {
                name: entry.name.clone(),
                source,
            })?;
        Ok((entry, value))
    }

    /// Names of the schemas this codec knows.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;

    fn samples() -> Vec<Record> {
        vec![
            SendMessage {
                conv: "g-1".into(),
                msg_id: "m".into(),
                sender: "alice".into(),
                sender_device: "phone".into(),
                client_msg_id: "c1".into(),
                body: "héllo".into(),
                attachments: vec!["a1".into()],
                ts: 1_700_000_000_000,
                reply_to: None,
            }
            .into(),
            CreateConversation {
                conv: "g-1".into(),
                kind: "group".into(),
                title: Some("Trip".into()),
                creator: "alice".into(),
                members: vec!["alice".into(), "bob".into()],
                ts: 5,
                refusing: vec![],
            }
            .into(),
            CreateConversation {
                conv: "d-1".into(),
                kind: "direct".into(),
                title: None,
                creator: "alice".into(),
                members: vec![],
                ts: 5,
                refusing: vec![],
            }
            .into(),
            MembershipApplied {
                conv: "g-1".into(),
                kind: "group".into(),
                title: None,
                actor: "alice".into(),
                last_seq: 7,
                created_at: 1,
                members: vec!["alice".into()],
                joined_after: vec![0],
                admins: vec!["alice".into()],
                removed: vec!["bob".into()],
                ts: 9,
            }
            .into(),
            SubmitReceipt {
                conv: "g".into(),
                user: "u".into(),
                device: "d".into(),
                kind: "read".into(),
                seq: 3,
                ts: 4,
            }
            .into(),
            EditMessage {
                conv: "g".into(),
                seq: 3,
                actor: "alice".into(),
                body: "second thoughts \u{1f914}".into(),
                ts: 7,
            }
            .into(),
            MessageEdited {
                conv: "g".into(),
                seq: 3,
                actor: "alice".into(),
                body: "second thoughts".into(),
                edit_version: 2,
                edited_ts: 7,
                recipients: vec!["alice".into(), "bob".into()],
                ts: 7,
            }
            .into(),
            React {
                conv: "g".into(),
                seq: 3,
                user: "bob".into(),
                emoji: "\u{1f44d}\u{1f3fd}".into(),
                on: true,
                ts: 8,
            }
            .into(),
            ReactionChanged {
                conv: "g".into(),
                seq: 3,
                user: "bob".into(),
                emoji: "\u{1f44d}".into(),
                on: false,
                recipients: vec!["alice".into()],
                ts: 8,
            }
            .into(),
            PushDeadLettered {
                conv: "g".into(),
                user: "u".into(),
                device: "d".into(),
                seq: 12,
                sender: "alice".into(),
                count: 3,
                attempts: 5,
                error: "HTTP 500".into(),
                ts: 6,
            }
            .into(),
        ]
    }

    #[test]
    fn records_round_trip() {
        let codec = Codec::new();
        for r in samples() {
            let bytes = codec.encode(&r).unwrap();
            assert_eq!(&bytes[..2], &[0xC3, 0x01]);
            assert_eq!(codec.decode(&bytes).unwrap(), r);
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Records written before `reply_to` was added (their bytes, as that
    /// release wrote them) still decode, here and for an outside consumer
    /// holding `schemas/`, with the new field at its default.
    #[test]
    fn records_of_an_earlier_schema_still_decode() {
        let send = unhex("c30134b9cea34eaba95c06672d31026d0a616c6963650a70686f6e65046331127631207265636f7264020461310080a0abfef962");
        let sequenced = unhex("c301b28a88ffb0f7fa5d06672d3108026d0a616c6963650a70686f6e65046331127631207265636f72640080a0abfef962040a616c69636506626f6200");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        for codec in [Codec::new(), Codec::from_dir(&dir).unwrap()] {
            let Record::Command(Command::SendMessage(c)) = codec.decode(&send).unwrap() else {
                panic!("a SendMessage");
            };
            assert_eq!((c.body.as_str(), c.reply_to), ("v1 record", None));
            let Record::Event(Event::MessageSequenced(e)) = codec.decode(&sequenced).unwrap()
            else {
                panic!("a MessageSequenced");
            };
            assert_eq!((e.seq, e.recipients.len(), e.reply_to), (4, 2, None));
        }
        // Written again, they take the current schemas.
        let mut again = SendMessage {
            conv: "g-1".into(),
            msg_id: "m".into(),
            sender: "alice".into(),
            sender_device: "phone".into(),
            client_msg_id: "c1".into(),
            body: "v1 record".into(),
            attachments: vec!["a1".into()],
            ts: 1_700_000_000_000,
            reply_to: None,
        };
        let codec = Codec::new();
        assert_ne!(codec.encode(&again.clone().into()).unwrap(), send);
        again.reply_to = Some(3);
        let r: Record = again.into();
        assert_eq!(codec.decode(&codec.encode(&r).unwrap()).unwrap(), r);
    }

    #[test]
    fn membership_commands_from_before_privacy_settings_decode_with_nobody_refusing() {
        let change =
            unhex("c301eacf999bbae9d86706672d310a616c696365020a6361726f6c000080a0abfef962");
        let create = unhex("c301e6579da4fe8437a006672d320a67726f7570020476310a616c696365040a616c69636506626f620080a0abfef962");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        for codec in [Codec::new(), Codec::from_dir(&dir).unwrap()] {
            let Record::Command(Command::ChangeMembers(c)) = codec.decode(&change).unwrap() else {
                panic!("a ChangeMembers");
            };
            assert_eq!((c.add.len(), c.refusing.len()), (1, 0));
            let Record::Command(Command::CreateConversation(c)) = codec.decode(&create).unwrap()
            else {
                panic!("a CreateConversation");
            };
            assert_eq!((c.members.len(), c.refusing.len()), (2, 0));
        }
        let now: Record = Command::from(ChangeMembers {
            conv: "g-1".into(),
            actor: "alice".into(),
            add: vec!["carol".into()],
            remove: vec![],
            ts: 1_700_000_000_000,
            refusing: vec!["carol".into()],
        })
        .into();
        assert_eq!(
            Codec::new()
                .decode(&Codec::new().encode(&now).unwrap())
                .unwrap(),
            now
        );
    }

    #[test]
    fn a_consumer_with_only_the_schema_files_decodes_records() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let outside = Codec::from_dir(&dir).unwrap();
        let bytes = Codec::new().encode(&samples()[0]).unwrap();
        let (name, json) = outside.decode_json(&bytes).unwrap();
        assert_eq!(name, "SendMessage");
        assert_eq!(json["body"], "héllo");
        assert_eq!(json["ts"], 1_700_000_000_000i64);
        assert_eq!(outside.schema_names().count(), SCHEMA_FILES.len());
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let codec = Codec::new();
        assert!(matches!(codec.decode(b"nope"), Err(Error::NotSingleObject)));
        let mut bytes = codec.encode(&samples()[0]).unwrap();
        bytes[5] ^= 0xff;
        assert!(matches!(
            codec.decode(&bytes),
            Err(Error::UnknownFingerprint(_))
        ));
        let mut bytes = codec.encode(&samples()[0]).unwrap();
        bytes.truncate(14);
        assert!(codec.decode(&bytes).is_err());
    }
}
