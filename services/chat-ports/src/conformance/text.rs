//! The text part of the store suite: the free text a client sets reaches
//! the store as it came. What the gateway keeps (any body; titles and
//! client_msg_ids without control characters) every engine must hold and
//! return exactly, or an acknowledged message would be lost; what the
//! gateway refuses (control characters in a title or a client_msg_id) an
//! engine may hold or refuse, but only for good (`PortError::Refused`,
//! which a processor sets aside), never as a failure retried for ever.

use super::{conv, msg};
use crate::{PortError, SequencedBatch, Stores};

/// Troublesome texts, by name; `true` for those with a control character.
fn texts() -> Vec<(&'static str, String, bool)> {
    let c0: String = (1u32..0x20).filter_map(char::from_u32).collect();
    let c1: String = (0x80u32..=0x9f).filter_map(char::from_u32).collect();
    vec![
        ("NUL", "a\u{0}b".into(), true),
        ("C0 controls", c0, true),
        ("DEL", "a\u{7f}".into(), true),
        ("C1 controls", c1, true),
        (
            "noncharacters",
            "\u{fdd0}\u{fffe}\u{ffff}\u{1fffe}\u{10ffff}".into(),
            false,
        ),
        (
            "format characters",
            "\u{200b}\u{202e}\u{feff}\u{2028}".into(),
            false,
        ),
        ("astral and combining", "\u{1f600}e\u{301}".into(), false),
        ("quotes and escapes", r#"'"\%_\u0000$$;--"#.into(), false),
        ("empty", String::new(), false),
    ]
}

pub async fn run_all(s: &Stores) {
    bodies_round_trip(s).await;
    titles_and_keys_round_trip_or_are_refused_for_good(s).await;
}

/// Applies one conversation with one message; `Ok(true)` when it was
/// stored, `Ok(false)` when the engine refused it for good (and stored
/// none of it), a panic on any other failure.
async fn apply_one(
    s: &Stores,
    id: &str,
    title: Option<String>,
    body: String,
    key: String,
    what: &str,
) -> bool {
    let mut state = conv(id, &["alice"], 1);
    state.title = title;
    let mut m = msg(id, 1, "alice", 1);
    m.body = body;
    m.client_msg_id = key.into();
    let batch = SequencedBatch {
        conversations: vec![state.clone()],
        messages: vec![m.clone()],
        joined: vec![("alice".into(), id.into())],
        ..Default::default()
    };
    match s.sequencer.apply(batch).await {
        Ok(()) => {
            let stored = s.conversations.conversation(id).await.unwrap();
            assert_eq!(stored, Some(state), "{what}: the conversation");
            let got = s.messages.message(id, 1).await.unwrap();
            assert_eq!(got.as_ref(), Some(&m), "{what}: the message");
            let page = s.messages.messages_after(id, 0, 10).await.unwrap();
            assert_eq!(page, [m.clone()], "{what}: history");
            let sent = s
                .messages
                .find_sent(id, "alice", &m.client_msg_id)
                .await
                .unwrap();
            assert_eq!(sent, Some(m), "{what}: the idempotency index");
            true
        }
        Err(PortError::Refused { .. }) => {
            assert_eq!(
                s.conversations.conversation(id).await.unwrap(),
                None,
                "{what}: refused, yet the conversation was stored"
            );
            assert_eq!(s.messages.message(id, 1).await.unwrap(), None, "{what}");
            false
        }
        Err(e) => panic!("{what}: a value is held or refused for good, not {e}"),
    }
}

/// Any body, the longest included, is held and returned exactly.
pub async fn bodies_round_trip(s: &Stores) {
    let mut bodies = texts();
    bodies.push(("64 KiB of NUL", "\u{0}".repeat(65_536), true));
    bodies.push((
        "64 KiB of 4-byte characters",
        "\u{1f600}".repeat(16_384),
        false,
    ));
    for (i, (name, body, _)) in bodies.into_iter().enumerate() {
        let what = format!("body {name}");
        let stored = apply_one(s, &format!("tb{i}"), None, body, "k".into(), &what).await;
        assert!(stored, "{what}: the gateway keeps every body");
    }
}

/// Titles and client_msg_ids: kept when without control characters (the
/// longest included); with them, kept or refused for good.
pub async fn titles_and_keys_round_trip_or_are_refused_for_good(s: &Stores) {
    let mut titles = texts();
    titles.push(("256 astral characters", "\u{1f600}".repeat(256), false));
    for (i, (name, title, control)) in titles.into_iter().enumerate() {
        let what = format!("title {name}");
        let id = format!("tt{i}");
        let stored = apply_one(s, &id, Some(title), "b".into(), "k".into(), &what).await;
        assert!(stored || control, "{what}: the gateway keeps it");
    }
    let mut keys = texts();
    keys.retain(|(_, k, _)| !k.is_empty());
    keys.push(("64 astral characters", "\u{1f600}".repeat(64), false));
    for (i, (name, key, control)) in keys.into_iter().enumerate() {
        let what = format!("client_msg_id {name}");
        let id = format!("tk{i}");
        let stored = apply_one(s, &id, None, "b".into(), key, &what).await;
        assert!(stored || control, "{what}: the gateway keeps it");
    }
}
