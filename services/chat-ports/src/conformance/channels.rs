//! The channel conformance suite: what sessions and the fan-out rely on,
//! generic over [`Channels`]. Every engine's tests run each check as a test
//! of its own, on a healthy engine. Each check names its channels after
//! `ns`, so checks can share one engine or one broker and run in parallel.
//!
//! "Nothing else arrived" is observed with a marker: an event published on
//! the channel after the others, which must be the next one received.

use crate::channels::{conversation_channel, presence_channel, user_channel};
use crate::{Channels, RealtimeEvent, Subscription};
use chat_domain::{
    ConversationKind, ConversationState, Member, Message, PresenceStatus, ReceiptKind,
};
use std::time::Duration;

/// How long an expected event may take to arrive.
const WAIT: Duration = Duration::from_secs(5);

/// A small event told apart by `n`.
fn typing(n: usize) -> RealtimeEvent {
    RealtimeEvent::Typing {
        conv: format!("conv-{n}").into(),
        user: "typist".into(),
    }
}

/// The event published last on a channel to see that nothing else came.
fn marker(channel: &str) -> RealtimeEvent {
    RealtimeEvent::Typing {
        conv: format!("marker of {channel}").into(),
        user: "marker".into(),
    }
}

/// The next event of `sub`; a lag, a close or a silence of [`WAIT`] fails.
async fn next(sub: &mut Subscription, what: &str) -> RealtimeEvent {
    let got = tokio::time::timeout(WAIT, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: no event within {WAIT:?}"));
    match got {
        Ok(event) => (*event).clone(),
        Err(e) => panic!("{what}: expected an event, got {e:?}"),
    }
}

/// Receives `n` events from `sub`.
async fn next_n(sub: &mut Subscription, n: usize, what: &str) -> Vec<RealtimeEvent> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next(sub, what).await);
    }
    out
}

/// Publishes the marker of `channel`, then checks it is the next event of
/// every subscription in `subs` (all on `channel`).
async fn nothing_else(ch: &dyn Channels, channel: &str, subs: &mut [&mut Subscription]) {
    ch.publish(channel, marker(channel)).await.unwrap();
    for sub in subs.iter_mut() {
        let got = next(sub, channel).await;
        assert_eq!(got, marker(channel), "{channel}: an event nobody sent here");
    }
}

/// A subscriber gets every event published on its channel after
/// `subscribe` returned, once each, in publish order.
pub async fn a_subscriber_gets_events_in_publish_order(ch: &dyn Channels, ns: &str) {
    let channel = user_channel(&format!("{ns}order"));
    let mut sub = ch.subscribe(&channel).await.unwrap();
    let sent: Vec<RealtimeEvent> = (0..50).map(typing).collect();
    for event in &sent {
        ch.publish(&channel, event.clone()).await.unwrap();
    }
    assert_eq!(next_n(&mut sub, sent.len(), &channel).await, sent);
    nothing_else(ch, &channel, &mut [&mut sub]).await;
}

/// `publish_many` reaches every channel it names, in order with the single
/// publishes around it, and no channel it does not name; an empty list is
/// not an error.
pub async fn publish_many_reaches_every_named_channel(ch: &dyn Channels, ns: &str) {
    let named: Vec<String> = (0..5)
        .map(|i| user_channel(&format!("{ns}many{i}")))
        .collect();
    let unnamed = user_channel(&format!("{ns}many-not-named"));
    let mut subs = Vec::new();
    for channel in &named {
        subs.push(ch.subscribe(channel).await.unwrap());
    }
    let mut left_out = ch.subscribe(&unnamed).await.unwrap();
    // One named channel, among the others, has no subscriber: not an
    // error either.
    let mut targets = named.clone();
    targets.insert(2, user_channel(&format!("{ns}many-nobody")));

    for channel in &named {
        ch.publish(channel, typing(1)).await.unwrap();
    }
    ch.publish_many(&targets, typing(2)).await.unwrap();
    ch.publish_many(&[], typing(3)).await.unwrap();
    for channel in &named {
        ch.publish(channel, typing(4)).await.unwrap();
    }
    for (channel, sub) in named.iter().zip(&mut subs) {
        assert_eq!(
            next_n(sub, 3, channel).await,
            vec![typing(1), typing(2), typing(4)],
            "{channel}"
        );
        nothing_else(ch, channel, &mut [sub]).await;
    }
    nothing_else(ch, &unnamed, &mut [&mut left_out]).await;
}

/// `publish_all` delivers each event to its channels, each channel's
/// events in the order given, interleaved with other channels' as a
/// fan-out batch is; an empty list is not an error.
pub async fn publish_all_keeps_each_channel_s_order(ch: &dyn Channels, ns: &str) {
    let a = user_channel(&format!("{ns}all-a"));
    let b = user_channel(&format!("{ns}all-b"));
    let mut sub_a = ch.subscribe(&a).await.unwrap();
    let mut sub_b = ch.subscribe(&b).await.unwrap();
    let mut events = Vec::new();
    // 60 events per channel: under a subscription's buffer (128).
    for i in 0..90 {
        let to = match i % 3 {
            0 => vec![a.clone()],
            1 => vec![b.clone()],
            _ => vec![a.clone(), b.clone()],
        };
        events.push((to, typing(i)));
    }
    ch.publish_all(Vec::new()).await.unwrap();
    ch.publish_all(events).await.unwrap();
    let on_a: Vec<RealtimeEvent> = (0..90).filter(|i| i % 3 != 1).map(typing).collect();
    let on_b: Vec<RealtimeEvent> = (0..90).filter(|i| i % 3 != 0).map(typing).collect();
    assert_eq!(next_n(&mut sub_a, on_a.len(), &a).await, on_a);
    assert_eq!(next_n(&mut sub_b, on_b.len(), &b).await, on_b);
    nothing_else(ch, &a, &mut [&mut sub_a]).await;
    nothing_else(ch, &b, &mut [&mut sub_b]).await;
}

/// Events stay on their channel, including channels whose names share a
/// prefix and the user, conversation and presence channels of one name.
pub async fn channels_are_isolated(ch: &dyn Channels, ns: &str) {
    let user = format!("{ns}iso");
    let channels = vec![
        user_channel(&user),
        user_channel(&format!("{user}x")),
        user_channel(&user[..user.len() - 1]),
        presence_channel(&user),
        conversation_channel(&user),
    ];
    let mut subs = Vec::new();
    for channel in &channels {
        subs.push(ch.subscribe(channel).await.unwrap());
    }
    for round in 0..3 {
        for (i, channel) in channels.iter().enumerate() {
            ch.publish(channel, typing(10 * i + round)).await.unwrap();
        }
    }
    for (i, (channel, sub)) in channels.iter().zip(&mut subs).enumerate() {
        let own: Vec<RealtimeEvent> = (0..3).map(|round| typing(10 * i + round)).collect();
        assert_eq!(next_n(sub, 3, channel).await, own, "{channel}");
        nothing_else(ch, channel, &mut [sub]).await;
    }
}

/// Dropping a subscription unsubscribes it alone: the channel's other
/// subscribers still get its events; publishing with no subscriber left is
/// not an error; and a later subscription gets what is published after it.
pub async fn dropping_a_subscription_unsubscribes(ch: &dyn Channels, ns: &str) {
    let channel = user_channel(&format!("{ns}drop"));
    let first = ch.subscribe(&channel).await.unwrap();
    let mut second = ch.subscribe(&channel).await.unwrap();
    drop(first);
    ch.publish(&channel, typing(1)).await.unwrap();
    assert_eq!(next(&mut second, &channel).await, typing(1));
    nothing_else(ch, &channel, &mut [&mut second]).await;

    drop(second);
    ch.publish(&channel, typing(2)).await.unwrap();
    ch.publish(&user_channel(&format!("{ns}drop-never")), typing(3))
        .await
        .unwrap();

    for round in 0..3 {
        let mut again = ch.subscribe(&channel).await.unwrap();
        ch.publish(&channel, typing(100 + round)).await.unwrap();
        // The event published with no subscriber may still be on its way
        // and arrive first: only what is published after `subscribe` is
        // promised.
        let mut got = next(&mut again, &channel).await;
        if round == 0 && got == typing(2) {
            got = next(&mut again, &channel).await;
        }
        assert_eq!(got, typing(100 + round), "{channel}");
        nothing_else(ch, &channel, &mut [&mut again]).await;
    }
}

/// Several subscribers of one channel each get every event, in order.
pub async fn every_subscriber_gets_every_event(ch: &dyn Channels, ns: &str) {
    let channel = conversation_channel(&format!("{ns}crowd"));
    let mut subs = Vec::new();
    for _ in 0..4 {
        subs.push(ch.subscribe(&channel).await.unwrap());
    }
    let sent: Vec<RealtimeEvent> = (0..20).map(typing).collect();
    for event in &sent {
        ch.publish(&channel, event.clone()).await.unwrap();
    }
    for (i, sub) in subs.iter_mut().enumerate() {
        let what = format!("{channel}, subscriber {i}");
        assert_eq!(next_n(sub, sent.len(), &what).await, sent);
    }
    let mut all: Vec<&mut Subscription> = subs.iter_mut().collect();
    nothing_else(ch, &channel, &mut all).await;
}

/// Every variant of [`RealtimeEvent`] comes back equal to what was
/// published (engines that cross a process serialize it).
pub async fn every_event_survives_the_round_trip(ch: &dyn Channels, ns: &str) {
    let channel = user_channel(&format!("{ns}round-trip"));
    let mut sub = ch.subscribe(&channel).await.unwrap();
    let sent = every_variant();
    for event in &sent {
        ch.publish(&channel, event.clone()).await.unwrap();
    }
    for event in &sent {
        assert_eq!(&next(&mut sub, &channel).await, event);
    }
    ch.publish_many(std::slice::from_ref(&channel), sent[0].clone())
        .await
        .unwrap();
    assert_eq!(next(&mut sub, &channel).await, sent[0]);
    nothing_else(ch, &channel, &mut [&mut sub]).await;
}

/// The name of a variant. Matched without a catch-all: a new variant does
/// not compile until it has a name here, and then [`every_variant`] fails
/// until it has a sample.
fn variant(event: &RealtimeEvent) -> &'static str {
    match event {
        RealtimeEvent::Message { .. } => "message",
        RealtimeEvent::Deleted { .. } => "deleted",
        RealtimeEvent::Edited { .. } => "edited",
        RealtimeEvent::Reaction { .. } => "reaction",
        RealtimeEvent::Receipt { .. } => "receipt",
        RealtimeEvent::Conversation { .. } => "conversation",
        RealtimeEvent::SendRejected { .. } => "send_rejected",
        RealtimeEvent::Typing { .. } => "typing",
        RealtimeEvent::Presence { .. } => "presence",
        RealtimeEvent::Resync => "resync",
    }
}

const VARIANTS: [&str; 10] = [
    "message",
    "deleted",
    "edited",
    "reaction",
    "receipt",
    "conversation",
    "send_rejected",
    "typing",
    "presence",
    "resync",
];

/// A sample of each variant, with the optional and edge values of their
/// fields (empty and full lists, `None` and `Some`, extreme numbers,
/// text that needs escaping).
fn every_variant() -> Vec<RealtimeEvent> {
    let message = Message {
        conv: "c-1".into(),
        seq: u64::MAX,
        msg_id: "m-1".into(),
        sender: "alice".into(),
        sender_device: "phone".into(),
        client_msg_id: "client-1".into(),
        body: "h\u{e9}llo \"quoted\"\n\t\\ \u{1f600} {\"t\":\"resync\"}".into(),
        attachments: vec!["att-1".into(), "att-2".into()],
        ts: 1_700_000_000_123,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    };
    let edited = Message {
        edit_version: 3,
        edited_ts: Some(1_700_000_000_999),
        ..message.clone()
    };
    let tombstone = Message {
        body: String::new(),
        attachments: vec![],
        deleted: true,
        seq: 2,
        ts: -1,
        ..message.clone()
    };
    let state = |kind, title: Option<&str>| ConversationState {
        id: "c-1".into(),
        kind,
        title: title.map(str::to_string),
        created_at: 1_600_000_000_000,
        last_seq: 7,
        last_activity: i64::MAX,
        members: vec![
            Member {
                user: "alice".into(),
                joined_after: 0,
                admin: true,
            },
            Member {
                user: "bob".into(),
                joined_after: 5,
                admin: false,
            },
        ],
        applied_offset: u64::MAX,
        changes: Default::default(),
    };
    let events = vec![
        RealtimeEvent::Message {
            message: message.clone(),
            recipients: vec![],
        },
        RealtimeEvent::Message {
            message: edited,
            recipients: vec!["bob".into()],
        },
        RealtimeEvent::Message {
            message: tombstone,
            recipients: vec!["alice".into(), "bob".into()],
        },
        RealtimeEvent::Deleted {
            conv: "c-1".into(),
            seq: 3,
        },
        RealtimeEvent::Reaction {
            conv: "c-1".into(),
            seq: 1,
            user: "bob".into(),
            emoji: "\u{1f44d}\u{1f3fd}".into(),
            on: false,
        },
        RealtimeEvent::Edited {
            conv: "c-1".into(),
            seq: u64::MAX,
            body: "\u{1f600} \"edited\"\n{\"t\":\"resync\"}".into(),
            edit_version: u64::MAX,
            edited_ts: i64::MIN,
        },
        RealtimeEvent::Receipt {
            conv: "c-1".into(),
            user: "bob".into(),
            kind: ReceiptKind::Delivered,
            seq: 4,
        },
        RealtimeEvent::Receipt {
            conv: "c-1".into(),
            user: "bob".into(),
            kind: ReceiptKind::Read,
            seq: 0,
        },
        RealtimeEvent::Conversation {
            state: state(ConversationKind::Group, Some("the \"team\"")),
        },
        RealtimeEvent::Conversation {
            state: state(ConversationKind::Direct, None),
        },
        RealtimeEvent::SendRejected {
            conv: "c-1".into(),
            device: "phone".into(),
            client_msg_id: "client-1".into(),
            code: chat_domain::ErrorCode::NotMember,
            reason: "you are not a member of this conversation".into(),
        },
        RealtimeEvent::Typing {
            conv: "c-1".into(),
            user: "alice".into(),
        },
        RealtimeEvent::Presence {
            status: PresenceStatus {
                user: "bob".into(),
                online: true,
                last_seen: None,
            },
        },
        RealtimeEvent::Presence {
            status: PresenceStatus {
                user: "bob".into(),
                online: false,
                last_seen: Some(i64::MIN),
            },
        },
        // Engines send it rather than anyone publishing it, but a channel
        // carries it like any other event.
        RealtimeEvent::Resync,
    ];
    for name in VARIANTS {
        assert!(
            events.iter().any(|e| variant(e) == name),
            "the suite has no sample of {name}"
        );
    }
    events
}
