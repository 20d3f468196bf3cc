//! The rules, table-tested without a store.

use super::*;
use crate::commands::{
    ChangeMembers, CreateConversation, DeleteMessage, EditMessage, React, SendMessage,
    SubmitReceipt,
};
use crate::events::Event;
use crate::{ConversationKind, Member};

const LIMITS: Limits = Limits {
    group_cap: 3,
    edit_window_ms: 1000,
};

/// A group `g` of `members` (the first an admin) at `last_seq` 5.
fn group(members: &[&str]) -> ConversationState {
    ConversationState {
        id: "g".into(),
        kind: ConversationKind::Group,
        title: None,
        created_at: 1,
        last_seq: 5,
        last_activity: 1,
        members: members
            .iter()
            .enumerate()
            .map(|(i, u)| Member {
                user: (*u).into(),
                joined_after: 0,
                admin: i == 0,
            })
            .collect(),
        applied_offset: 0,
        changes: Default::default(),
    }
}

fn direct() -> ConversationState {
    ConversationState {
        kind: ConversationKind::Direct,
        members: group(&["alice", "bob"])
            .members
            .into_iter()
            .map(|m| Member { admin: false, ..m })
            .collect(),
        ..group(&[])
    }
}

fn send(sender: &str) -> Command {
    send_key(sender, "k1")
}

fn send_key(sender: &str, client_msg_id: &str) -> Command {
    SendMessage {
        conv: "g".into(),
        msg_id: "00000000-0000-0000-0000-000000000001".into(),
        sender: sender.into(),
        sender_device: "phone".into(),
        client_msg_id: client_msg_id.into(),
        body: "hi".into(),
        attachments: vec![],
        ts: 10,
        reply_to: None,
    }
    .into()
}

fn message(seq: u64, sender: &str, deleted: bool) -> Message {
    Message {
        conv: "g".into(),
        seq,
        msg_id: "00000000-0000-0000-0000-000000000002".into(),
        sender: sender.into(),
        sender_device: "phone".into(),
        client_msg_id: "k1".into(),
        body: if deleted { "" } else { "hi" }.into(),
        attachments: vec![],
        ts: 5,
        deleted,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}

fn change(actor: &str, add: &[&str], remove: &[&str]) -> Command {
    ChangeMembers {
        conv: "g".into(),
        actor: actor.into(),
        add: add.iter().map(|u| (*u).into()).collect(),
        remove: remove.iter().map(|u| (*u).into()).collect(),
        ts: 10,
        refusing: vec![],
    }
    .into()
}

fn create(kind: &str, creator: &str, members: &[&str], title: Option<&str>) -> Command {
    CreateConversation {
        conv: "g".into(),
        kind: kind.into(),
        title: title.map(String::from),
        creator: creator.into(),
        members: members.iter().map(|u| (*u).into()).collect(),
        ts: 10,
        refusing: vec![],
    }
    .into()
}

fn delete(actor: &str, seq: i64) -> Command {
    DeleteMessage {
        conv: "g".into(),
        seq,
        actor: actor.into(),
        ts: 10,
    }
    .into()
}

fn edit_at(actor: &str, seq: i64, body: &str, ts: i64) -> Command {
    EditMessage {
        conv: "g".into(),
        seq,
        actor: actor.into(),
        body: body.into(),
        ts,
    }
    .into()
}

fn edit(actor: &str, seq: i64, body: &str) -> Command {
    edit_at(actor, seq, body, 10)
}

fn react(user: &str, seq: i64, emoji: &str, on: bool) -> Command {
    React {
        conv: "g".into(),
        seq,
        user: user.into(),
        emoji: emoji.into(),
        on,
        ts: 10,
    }
    .into()
}

fn decide_on(
    command: &Command,
    state: Option<&ConversationState>,
    message: Option<&Message>,
) -> Result<Decision, Rejection> {
    decide(command, Facts { state, message }, &LIMITS)
}

fn member_names(d: &Decision) -> Vec<String> {
    let state = d.state.as_ref().expect("a new state");
    state.members.iter().map(|m| m.user.to_string()).collect()
}

/// A refusal case: name, command, state, message, the rejection.
type Row<'a> = (
    &'a str,
    Command,
    Option<&'a ConversationState>,
    Option<&'a Message>,
    Rejection,
);

#[test]
fn refusals_follow_the_rules() {
    let g = group(&["alice", "bob"]);
    let full = group(&["alice", "bob", "carol"]);
    let d = direct();
    let deleted = message(3, "alice", true);
    let bobs = message(3, "bob", false);
    let mine = message(3, "alice", false);
    let photo = Message {
        body: String::new(),
        attachments: vec!["a1".into()],
        ..message(3, "alice", false)
    };
    let mut late = group(&["alice", "bob"]);
    late.members[1].joined_after = 3;
    let mut crowded = message(3, "alice", false);
    for i in 0..crate::MAX_REACTIONS_PER_USER {
        crowded.react(&"alice".into(), &format!("e{i}"), true);
    }
    let table: Vec<Row<'_>> = vec![
        (
            "send to nothing",
            send("alice"),
            None,
            None,
            Rejection::UnknownConversation,
        ),
        (
            "send by a stranger",
            send("mallory"),
            Some(&g),
            None,
            Rejection::NotMember,
        ),
        (
            "create of an unknown kind",
            create("channel", "alice", &["bob"], None),
            None,
            None,
            Rejection::UnknownKind("channel".into()),
        ),
        (
            "direct with two others",
            create("direct", "alice", &["bob", "carol"], None),
            None,
            None,
            Rejection::DirectNeedsOneOther,
        ),
        (
            "group over the cap",
            create("group", "alice", &["bob", "carol", "dan"], None),
            None,
            None,
            Rejection::GroupFull { cap: 3 },
        ),
        (
            "title too long",
            create("group", "alice", &[], Some(&"t".repeat(257))),
            None,
            None,
            Rejection::TitleTooLong { max: 256 },
        ),
        (
            "a title with NUL",
            create("group", "alice", &[], Some("a\0b")),
            None,
            None,
            Rejection::TitleHasControl,
        ),
        (
            "a client_msg_id with NUL",
            send_key("alice", "k\0"),
            Some(&g),
            None,
            Rejection::BadClientMsgId,
        ),
        (
            "add to a direct pair",
            change("alice", &["carol"], &[]),
            Some(&d),
            None,
            Rejection::NotAGroup,
        ),
        (
            "add by a non-admin",
            change("bob", &["carol"], &[]),
            Some(&g),
            None,
            Rejection::OnlyAdminsAdd,
        ),
        (
            "remove by a non-admin",
            change("bob", &[], &["alice"]),
            Some(&g),
            None,
            Rejection::OnlyAdminsRemove,
        ),
        (
            "change by a stranger",
            change("mallory", &[], &["mallory"]),
            Some(&g),
            None,
            Rejection::NotMember,
        ),
        (
            "change of nothing",
            change("alice", &[], &[]),
            Some(&g),
            None,
            Rejection::NothingToChange,
        ),
        (
            "remove a non-member",
            change("alice", &[], &["carol"]),
            Some(&g),
            None,
            Rejection::NoSuchMember,
        ),
        (
            "add past the cap",
            change("alice", &["carol", "dan"], &[]),
            Some(&g),
            None,
            Rejection::GroupFull { cap: 3 },
        ),
        (
            "add to a full group",
            change("alice", &["dan"], &[]),
            Some(&full),
            None,
            Rejection::GroupFull { cap: 3 },
        ),
        (
            "delete of nothing",
            delete("alice", 9),
            Some(&g),
            None,
            Rejection::NoSuchMessage,
        ),
        (
            "delete of another's message",
            delete("alice", 3),
            Some(&g),
            Some(&bobs),
            Rejection::NotSender,
        ),
        (
            "delete in nothing",
            delete("alice", 3),
            None,
            Some(&deleted),
            Rejection::UnknownConversation,
        ),
        (
            "edit of nothing",
            edit("alice", 9, "new"),
            Some(&g),
            None,
            Rejection::NoSuchMessage,
        ),
        (
            "edit of another's message",
            edit("alice", 3, "new"),
            Some(&g),
            Some(&bobs),
            Rejection::NotSender,
        ),
        (
            "edit of a deleted message",
            edit("alice", 3, "new"),
            Some(&g),
            Some(&deleted),
            Rejection::NotEditable("the message is deleted"),
        ),
        (
            "edit of a message without text",
            edit("alice", 3, "new"),
            Some(&g),
            Some(&photo),
            Rejection::NotEditable("the message has no text"),
        ),
        (
            "edit past the window",
            edit_at("alice", 3, "new", 5 + 1001),
            Some(&g),
            Some(&mine),
            Rejection::NotEditable("the edit window has passed"),
        ),
        (
            "edit to nothing",
            edit("alice", 3, ""),
            Some(&g),
            Some(&mine),
            Rejection::EmptyEdit,
        ),
        (
            "edit in nothing",
            edit("alice", 3, "new"),
            None,
            Some(&mine),
            Rejection::UnknownConversation,
        ),
        (
            "a reaction by a stranger",
            react("mallory", 3, "+1", true),
            Some(&g),
            Some(&mine),
            Rejection::NotMember,
        ),
        (
            "a reaction with whitespace",
            react("bob", 3, "a b", true),
            Some(&g),
            Some(&mine),
            Rejection::BadEmoji,
        ),
        (
            "a reaction over 32 bytes",
            react("bob", 3, &"x".repeat(33), true),
            Some(&g),
            Some(&mine),
            Rejection::BadEmoji,
        ),
        (
            "a reaction to a deleted message",
            react("bob", 3, "+1", true),
            Some(&g),
            Some(&deleted),
            Rejection::NoSuchMessage,
        ),
        (
            "a reaction to nothing",
            react("bob", 9, "+1", true),
            Some(&g),
            None,
            Rejection::NoSuchMessage,
        ),
        (
            "a reaction to a message from before one joined",
            react("bob", 3, "+1", true),
            Some(&late),
            Some(&mine),
            Rejection::NoSuchMessage,
        ),
        (
            "one reaction too many",
            react("alice", 3, "one-more", true),
            Some(&g),
            Some(&crowded),
            Rejection::TooManyReactions {
                max: crate::MAX_REACTIONS_PER_USER,
            },
        ),
        (
            "empty add by a non-admin",
            change("bob", &[], &[]),
            Some(&g),
            None,
            Rejection::OnlyAdminsAdd,
        ),
        (
            "receipt by a stranger",
            SubmitReceipt {
                conv: "g".into(),
                user: "mallory".into(),
                device: "d".into(),
                kind: "read".into(),
                seq: 1,
                ts: 1,
            }
            .into(),
            Some(&g),
            None,
            Rejection::NotMember,
        ),
    ];
    for (name, command, state, message, want) in table {
        assert_eq!(decide_on(&command, state, message), Err(want), "{name}");
    }
}

#[test]
fn a_send_takes_the_next_seq_and_a_repeat_takes_none() {
    let g = group(&["alice", "bob"]);
    let d = decide_on(&send("alice"), Some(&g), None).unwrap();
    let m = d.message.expect("a new message");
    assert_eq!(m.seq, 6);
    assert_eq!(d.state.unwrap().last_seq, 6);
    assert!(
        matches!(&d.events[..], [Event::MessageSequenced(e)] if e.seq == 6 && e.recipients.len() == 2)
    );

    let first = message(4, "alice", false);
    let again = decide_on(&send("alice"), Some(&g), Some(&first)).unwrap();
    assert_eq!(again.message, None);
    assert_eq!(again.state, None, "the state already counts the first send");
    assert!(matches!(&again.events[..], [Event::MessageSequenced(e)] if e.seq == 4));

    // A retry whose sender left since: its message exists, it is
    // announced again rather than refused.
    let left = group(&["bob"]);
    let retried = decide_on(&send("alice"), Some(&left), Some(&first)).unwrap();
    assert!(matches!(&retried.events[..], [Event::MessageSequenced(e)] if e.seq == 4));

    let ahead = message(9, "alice", false);
    let stale = decide_on(&send("alice"), Some(&g), Some(&ahead)).unwrap();
    assert_eq!(
        stale.state.unwrap().last_seq,
        9,
        "a stale view never hands seq 9 out again"
    );
}

#[test]
fn recipients_are_the_members_at_the_seq() {
    let mut g = group(&["alice", "bob"]);
    g.members[1].joined_after = 6;
    let d = decide_on(&send("alice"), Some(&g), None).unwrap();
    let Event::MessageSequenced(e) = &d.events[0] else {
        panic!("a sequenced event");
    };
    assert_eq!(
        e.recipients,
        vec!["alice".into()] as Vec<crate::ids::UserId>
    );
}

#[test]
fn membership_changes_apply_between_messages() {
    let g = group(&["alice", "bob"]);
    let d = decide_on(&change("alice", &["carol", "carol"], &[]), Some(&g), None).unwrap();
    assert_eq!(member_names(&d), ["alice", "bob", "carol"]);
    assert_eq!(d.joined, vec!["carol".into()] as Vec<crate::ids::UserId>);
    let state = d.state.unwrap();
    assert_eq!(state.member("carol").unwrap().joined_after, 5);

    let leave = decide_on(&change("bob", &[], &["bob"]), Some(&g), None).unwrap();
    assert_eq!(member_names(&leave), ["alice"]);
    assert!(matches!(&leave.events[..], [Event::MembershipApplied(e)] if e.removed == ["bob"]));

    let last_admin = decide_on(&change("alice", &[], &["alice"]), Some(&g), None).unwrap();
    let state = last_admin.state.unwrap();
    assert!(
        state.is_admin("bob"),
        "the longest-standing member takes over"
    );
}

#[test]
fn creation_names_the_creator_admin_and_repeats_announce() {
    let d = decide_on(
        &create("group", "alice", &["bob", "alice"], Some("t")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(member_names(&d), ["alice", "bob"]);
    let state = d.state.unwrap();
    assert!(state.is_admin("alice") && !state.is_admin("bob"));
    assert_eq!(d.joined.len(), 2);

    let dm = decide_on(&create("direct", "alice", &["bob"], Some("t")), None, None).unwrap();
    let state = dm.state.unwrap();
    assert_eq!(state.title, None, "direct conversations have no title");
    assert!(!state.is_admin("alice"));

    let g = group(&["alice", "bob"]);
    let again = decide_on(&create("group", "bob", &[], None), Some(&g), None).unwrap();
    assert_eq!(again.state, None);
    assert!(matches!(&again.events[..], [Event::MembershipApplied(_)]));
}

#[test]
fn deletes_tombstone_and_announce_again() {
    let g = group(&["alice", "bob"]);
    let mine = message(3, "alice", false);
    let d = decide_on(&delete("alice", 3), Some(&g), Some(&mine)).unwrap();
    let m = d.message.unwrap();
    assert!(m.deleted && m.body.is_empty());
    assert!(matches!(&d.events[..], [Event::MessageDeleted(e)] if e.seq == 3));

    let gone = message(3, "alice", true);
    let again = decide_on(&delete("alice", 3), Some(&g), Some(&gone)).unwrap();
    assert_eq!(again.message.as_ref(), Some(&gone), "the same tombstone");
    assert!(matches!(&again.events[..], [Event::MessageDeleted(_)]));

    // Membership is the gateway's access check, not the delete's rule.
    let left = group(&["bob"]);
    assert!(decide_on(&delete("alice", 3), Some(&left), Some(&mine)).is_ok());
}

#[test]
fn a_first_delete_is_counted_among_the_conversations_changes() {
    let mut g = group(&["alice", "bob"]);
    for seq in 1..=40 {
        let mine = message(seq, "alice", false);
        g = decide_on(&delete("alice", seq as i64), Some(&g), Some(&mine))
            .unwrap()
            .state
            .expect("a first delete changes the state");
    }
    assert_eq!(g.changes.count, 40);
    assert_eq!(g.changes.recent.len(), crate::Changes::KEPT);
    assert_eq!(g.changes.since(37).collect::<Vec<_>>(), [38, 39, 40]);
    assert_eq!(g.changes.since(0).next(), Some(9), "the oldest kept");
    // Deleted again: announced, not counted.
    let gone = message(3, "alice", true);
    let again = decide_on(&delete("alice", 3), Some(&g), Some(&gone)).unwrap();
    assert!(again.state.is_none());
}

#[test]
fn a_reply_keeps_the_earlier_seq_it_answers() {
    let g = group(&["alice", "bob"]);
    let reply = |to: Option<i64>| -> Command {
        let Command::SendMessage(mut c) = send("alice") else {
            unreachable!()
        };
        c.reply_to = to;
        c.into()
    };
    let answered = |to| {
        decide_on(&reply(to), Some(&g), None)
            .unwrap()
            .message
            .unwrap()
            .reply_to
            .map(|r| r.seq)
    };
    assert_eq!(answered(Some(5)), Some(5));
    assert_eq!(answered(Some(1)), Some(1));
    assert_eq!(answered(None), None);
    // Not an earlier message (a record the gateway did not check): none.
    for bad in [0, 6, 7, -1] {
        assert_eq!(answered(Some(bad)), None, "{bad}");
    }
    let Event::MessageSequenced(e) = &decide_on(&reply(Some(4)), Some(&g), None).unwrap().events[0]
    else {
        panic!("a send's event");
    };
    assert_eq!(e.reply_to, Some(4));
}

#[test]
fn a_reply_shows_the_answered_message_as_it_is_now() {
    let mut r = crate::Reply::to(3);
    let mut long = message(3, "bob", false);
    long.body = "\u{e9}".repeat(150);
    r.show(Some(&long));
    assert_eq!(
        (r.sender.as_str(), r.preview.chars().count(), r.deleted),
        ("bob", 100, false),
        "100 characters, not bytes"
    );
    r.show(Some(&message(3, "bob", true)));
    assert_eq!((r.preview.as_str(), r.deleted), ("", true));
    let mut gone = crate::Reply::to(3);
    gone.show(None);
    assert!(
        gone.deleted && gone.preview.is_empty(),
        "gone with retention"
    );
}

#[test]
fn edits_replace_the_body_one_version_up_and_count_a_change() {
    let mut g = group(&["alice", "bob"]);
    g.members[1].joined_after = 3;
    let mine = message(3, "alice", false);
    let d = decide_on(
        &edit_at("alice", 3, "hello", 5 + 1000),
        Some(&g),
        Some(&mine),
    )
    .unwrap();
    let m = d.message.expect("the edited message");
    assert_eq!(
        (m.seq, m.body.as_str(), m.edit_version, m.edited_ts),
        (3, "hello", 1, Some(1005)),
        "the last ms of the window still edits"
    );
    let state = d.state.expect("an edit changes the state");
    assert_eq!(state.changes.since(0).collect::<Vec<_>>(), [3]);
    let [Event::MessageEdited(e)] = &d.events[..] else {
        panic!("an edit announces the new body: {:?}", d.events);
    };
    assert_eq!(
        (e.seq, e.body.as_str(), e.edit_version, e.edited_ts),
        (3, "hello", 1, 1005)
    );
    assert_eq!(e.recipients, ["alice"], "bob joined after the message");

    // Again, on the message as it left it: one version up.
    let again = decide_on(&edit("alice", 3, "hello again"), Some(&state), Some(&m)).unwrap();
    assert_eq!(again.message.unwrap().edit_version, 2);
    assert_eq!(again.state.unwrap().changes.count, 2);

    // The body it has: nothing changes, the message is announced again.
    let same = decide_on(&edit("alice", 3, "hello"), Some(&state), Some(&m)).unwrap();
    assert!(same.state.is_none() && same.message.is_none());
    assert!(matches!(&same.events[..], [Event::MessageEdited(e)] if e.edit_version == 1));
}

#[test]
fn reactions_are_one_per_user_and_emoji_most_used_first() {
    let g = group(&["alice", "bob", "carol"]);
    let mut m = message(3, "alice", false);
    fn apply(g: &ConversationState, m: &mut Message, c: Command) -> Vec<Event> {
        let d = decide_on(&c, Some(g), Some(m)).unwrap();
        assert!(d.state.is_none(), "a reaction leaves the state alone");
        if let Some(next) = d.message {
            *m = next;
        }
        d.events
    }
    let events = apply(&g, &mut m, react("bob", 3, "\u{1f389}", true));
    let [Event::ReactionChanged(e)] = &events[..] else {
        panic!("a reaction is announced: {events:?}");
    };
    assert_eq!(
        (e.user.as_str(), e.on, e.recipients.len()),
        ("bob", true, 3)
    );
    assert!(
        apply(&g, &mut m, react("bob", 3, "\u{1f389}", true)).is_empty(),
        "again: nothing"
    );
    apply(&g, &mut m, react("alice", 3, "\u{1f44d}", true));
    apply(&g, &mut m, react("carol", 3, "\u{1f44d}", true));
    let shown: Vec<(&str, u64, Vec<&str>)> = m
        .reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.count,
                r.users.iter().map(|u| u.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("\u{1f44d}", 2, vec!["alice", "carol"]),
            ("\u{1f389}", 1, vec!["bob"])
        ]
    );
    assert!(
        apply(&g, &mut m, react("carol", 3, "\u{1f389}", false)).is_empty(),
        "not hers"
    );
    assert!(
        matches!(&apply(&g, &mut m, react("bob", 3, "\u{1f389}", false))[..], [Event::ReactionChanged(e)] if !e.on)
    );
    assert_eq!(m.reactions.len(), 1, "an emoji nobody uses goes");
}

#[test]
fn a_refused_send_is_reported_to_its_device() {
    let Event::SendRejected(e) = rejected(&send("mallory"), &Rejection::NotMember) else {
        panic!("a send's refusal is a SendRejected");
    };
    assert_eq!(
        (
            e.code.as_str(),
            e.sender_device.as_str(),
            e.client_msg_id.as_str()
        ),
        ("not_member", "phone", "k1")
    );
    let Event::CommandRejected(e) = rejected(&delete("bob", 3), &Rejection::NotSender) else {
        panic!("other refusals are CommandRejected");
    };
    assert_eq!(
        (e.command.as_str(), e.actor.as_str()),
        ("DeleteMessage", "bob")
    );
}

#[test]
fn the_verdict_is_read_from_the_state_left() {
    let g = group(&["alice", "bob"]);
    let full = group(&["alice", "bob", "carol"]);
    assert_eq!(
        verdict(&change("alice", &["carol"], &[]), Some(&full), &LIMITS),
        Ok(())
    );
    let fuller = group(&["alice", "bob", "dan"]);
    assert_eq!(
        verdict(&change("alice", &["carol"], &[]), Some(&fuller), &LIMITS),
        Err(Rejection::GroupFull { cap: 3 })
    );
    let demoted = group(&["dan", "alice", "bob"]);
    assert_eq!(
        verdict(&change("alice", &[], &["bob"]), Some(&demoted), &LIMITS),
        Err(Rejection::OnlyAdminsRemove)
    );
    assert_eq!(
        verdict(
            &change("alice", &[], &["bob"]),
            Some(&group(&["alice"])),
            &LIMITS
        ),
        Ok(())
    );
    assert_eq!(
        verdict(&create("group", "alice", &[], None), Some(&g), &LIMITS),
        Ok(())
    );
}

#[test]
fn replays_rederive_what_was_published() {
    let g = group(&["alice", "bob"]);
    let first = message(4, "alice", false);
    let facts = Facts {
        state: Some(&g),
        message: Some(&first),
    };
    assert!(
        matches!(&replayed(&send("alice"), facts)[..], [Event::MessageSequenced(e)] if e.seq == 4)
    );
    assert!(
        replayed(&delete("alice", 4), facts).is_empty(),
        "not deleted: nothing to say"
    );
    let gone = message(4, "alice", true);
    let facts = Facts {
        state: Some(&g),
        message: Some(&gone),
    };
    assert!(matches!(
        &replayed(&delete("alice", 4), facts)[..],
        [Event::MessageDeleted(_)]
    ));
    assert!(
        replayed(&edit("alice", 4, "new"), facts).is_empty(),
        "deleted: no edit to announce"
    );
    let mut edited = message(4, "alice", false);
    edited.edit("latest", 9);
    let facts = Facts {
        state: Some(&g),
        message: Some(&edited),
    };
    assert!(matches!(
        &replayed(&edit("alice", 4, "older"), facts)[..],
        [Event::MessageEdited(e)] if e.body == "latest" && e.edit_version == 1
    ));
    assert!(replayed(&send("alice"), Facts::default()).is_empty());
    // A redelivered send with no message was refused: reported again.
    let stranger = Facts {
        state: Some(&g),
        message: None,
    };
    assert!(matches!(
        &replayed(&send("mallory"), stranger)[..],
        [Event::SendRejected(e)] if e.code == "not_member"
    ));
}

#[test]
fn receipts_only_move_forward() {
    use super::receipts::merge_receipt;
    use crate::ReceiptKind::{Delivered, Read};
    assert_eq!(merge_receipt((3, 1), Delivered, 2), ((3, 1), false));
    assert_eq!(merge_receipt((3, 1), Delivered, 5), ((5, 1), true));
    assert_eq!(
        merge_receipt((3, 1), Read, 4),
        ((4, 4), true),
        "read implies delivered"
    );
    assert_eq!(merge_receipt((3, 3), Read, 3), ((3, 3), false));
}

/// The command with `refusing` set, as a gateway records the users whose
/// privacy settings refuse the actor.
fn refused_by(command: Command, users: &[&str]) -> Command {
    let refusing: Vec<crate::ids::UserId> = users.iter().map(|u| (*u).into()).collect();
    match command {
        Command::ChangeMembers(c) => ChangeMembers { refusing, ..c }.into(),
        Command::CreateConversation(c) => CreateConversation { refusing, ..c }.into(),
        other @ (Command::SendMessage(_)
        | Command::DeleteMessage(_)
        | Command::EditMessage(_)
        | Command::React(_)
        | Command::SubmitReceipt(_)) => other,
    }
}

#[test]
fn nobody_joins_a_group_whose_settings_refuse_the_actor() {
    let g = group(&["alice", "bob"]);
    let add = refused_by(change("alice", &["carol"], &[]), &["carol"]);
    assert_eq!(
        decide_on(&add, Some(&g), None),
        Err(Rejection::RefusesGroupAdds {
            user: "carol".into()
        })
    );
    assert_eq!(
        Rejection::RefusesGroupAdds {
            user: "carol".into()
        }
        .code(),
        crate::ErrorCode::Forbidden
    );
    // The verdict on the state the sequencer left says the same.
    assert_eq!(
        verdict(&add, Some(&g), &LIMITS),
        Err(Rejection::RefusesGroupAdds {
            user: "carol".into()
        })
    );
    // A member already in is not added again, so its setting plays no part.
    let again = refused_by(change("alice", &["bob"], &[]), &["bob"]);
    assert!(decide_on(&again, Some(&g), None).is_ok());
    // Leaving is never refused.
    let leave = refused_by(change("bob", &[], &["bob"]), &["bob"]);
    assert!(decide_on(&leave, Some(&g), None).is_ok());

    let new_group = refused_by(
        create("group", "alice", &["bob", "carol"], None),
        &["carol"],
    );
    assert_eq!(
        decide_on(&new_group, None, None),
        Err(Rejection::RefusesGroupAdds {
            user: "carol".into()
        })
    );
    assert_eq!(
        verdict(&new_group, None, &LIMITS).map(|_| ()),
        decide_on(&new_group, None, None).map(|_| ())
    );
    // A direct conversation is not a group add.
    let direct = refused_by(create("direct", "alice", &["carol"], None), &["carol"]);
    assert!(decide_on(&direct, None, None).is_ok());
}
