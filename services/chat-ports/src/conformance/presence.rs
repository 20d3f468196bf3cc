//! The presence conformance suite: what gateways and watchers rely on,
//! generic over [`Presence`]. Every engine's tests run each check as a
//! test of its own, on a presence engine whose announcements go to `ch`
//! (or to channels `ch` hears), whose connections do not expire while a
//! check runs, and whose last-seen store is fresh for the check's users.
//! Each check names its users after `ns`, so checks can share one engine
//! or one broker and run in parallel.
//!
//! "Nothing else was announced" is observed with a marker: an event
//! published on the presence channel after the announcements, which must
//! be the next one received.

use crate::channels::presence_channel;
use crate::{Channels, Presence, RealtimeEvent, Subscription};
use chat_domain::{time::now_ms, PresenceStatus, UserId};
use std::time::Duration;

/// How long an expected announcement may take to arrive.
const WAIT: Duration = Duration::from_secs(5);
/// How far last-seen may be from the local clock around the disconnect
/// (an engine may read the clock of its broker).
const CLOCK_SLACK_MS: i64 = 5_000;

/// The status of each of `users`.
async fn status<S: AsRef<str>>(p: &dyn Presence, users: &[S]) -> Vec<PresenceStatus> {
    let users: Vec<UserId> = users.iter().map(|u| u.as_ref().into()).collect();
    let got = p.status(&users).await.unwrap();
    let named: Vec<&str> = got.iter().map(|s| s.user.as_str()).collect();
    assert_eq!(named, users, "one status per user asked, in order");
    got
}

/// Whether `user` is online.
async fn online(p: &dyn Presence, user: &str) -> bool {
    status(p, &[user]).await[0].online
}

/// The next announcement on `sub`; a lag, a close, a silence of [`WAIT`] or
/// another kind of event fails.
async fn announced(sub: &mut Subscription, user: &str) -> PresenceStatus {
    let got = tokio::time::timeout(WAIT, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("{user}: no announcement within {WAIT:?}"));
    match got.as_deref() {
        Ok(RealtimeEvent::Presence { status }) => {
            assert_eq!(status.user, user, "announced on another user's channel");
            status.clone()
        }
        other => panic!("{user}: expected a presence change, got {other:?}"),
    }
}

/// Publishes a marker on the presence channel of `user` and checks that it
/// is the next event of `sub`: nothing else was announced.
async fn nothing_else(ch: &dyn Channels, user: &str, sub: &mut Subscription) {
    let marker = RealtimeEvent::Typing {
        conv: format!("marker of {user}").into(),
        user: "marker".into(),
    };
    ch.publish(&presence_channel(user), marker.clone())
        .await
        .unwrap();
    let got = tokio::time::timeout(WAIT, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("{user}: the marker did not arrive within {WAIT:?}"));
    match got {
        Ok(event) => assert_eq!(*event, marker, "{user}: announced more than expected"),
        Err(e) => panic!("{user}: expected the marker, got {e:?}"),
    }
}

/// A connected user is online, and `online_devices` lists the devices of
/// its connections once each, ascending; other users are not affected.
pub async fn connected_users_are_online_with_their_devices(p: &dyn Presence, ns: &str) {
    let user = format!("{ns}dana");
    let other = format!("{ns}dora");
    assert!(p.online_devices(&user).await.unwrap().is_empty());
    assert!(!online(p, &user).await);

    p.connected(&user, "phone", 1).await.unwrap();
    assert!(online(p, &user).await, "online after one connection");
    assert_eq!(p.online_devices(&user).await.unwrap(), vec!["phone"]);
    p.connected(&user, "tablet", 2).await.unwrap();
    p.connected(&user, "laptop", 3).await.unwrap();
    p.connected(&user, "phone", 4).await.unwrap();
    p.connected(&other, "watch", 5).await.unwrap();
    assert_eq!(
        p.online_devices(&user).await.unwrap(),
        vec!["laptop", "phone", "tablet"]
    );
    assert_eq!(p.online_devices(&other).await.unwrap(), vec!["watch"]);
    assert!(p
        .online_devices(&format!("{ns}nobody"))
        .await
        .unwrap()
        .is_empty());
    let seen = status(p, &[&user, &other]).await;
    assert!(seen[0].online && seen[1].online, "{seen:?}");
    // Every connection counts, two of one device too.
    let live = |of_user, of_device| crate::LiveConnections { of_user, of_device };
    assert_eq!(
        p.live_connections(&user, "phone").await.unwrap(),
        live(4, 2)
    );
    assert_eq!(
        p.live_connections(&user, "tablet").await.unwrap(),
        live(4, 1)
    );
    assert_eq!(
        p.live_connections(&user, "watch").await.unwrap(),
        live(4, 0)
    );
    assert_eq!(
        p.live_connections(&other, "watch").await.unwrap(),
        live(1, 1)
    );
    assert_eq!(
        p.live_connections(&format!("{ns}nobody"), "phone")
            .await
            .unwrap(),
        live(0, 0)
    );

    // A heartbeat of a live connection changes nothing that is seen.
    p.heartbeat(&user, 3).await.unwrap();
    assert!(online(p, &user).await);
    assert_eq!(
        p.online_devices(&user).await.unwrap(),
        vec!["laptop", "phone", "tablet"]
    );
}

/// A user goes offline only when its last connection closes; a device
/// stays listed while any of its connections lives.
pub async fn offline_only_after_the_last_disconnect(p: &dyn Presence, ns: &str) {
    let user = format!("{ns}ezra");
    p.connected(&user, "phone", 1).await.unwrap();
    p.connected(&user, "phone", 2).await.unwrap();
    p.connected(&user, "laptop", 3).await.unwrap();

    p.disconnected(&user, 1).await.unwrap();
    assert!(online(p, &user).await, "two connections remain");
    assert_eq!(
        p.online_devices(&user).await.unwrap(),
        vec!["laptop", "phone"]
    );
    p.disconnected(&user, 3).await.unwrap();
    assert!(online(p, &user).await, "one connection remains");
    assert_eq!(p.online_devices(&user).await.unwrap(), vec!["phone"]);
    p.disconnected(&user, 2).await.unwrap();
    assert!(!online(p, &user).await, "offline after the last disconnect");
    assert!(p.online_devices(&user).await.unwrap().is_empty());

    // A user who connects again is online again.
    p.connected(&user, "laptop", 4).await.unwrap();
    assert!(online(p, &user).await);
    assert_eq!(p.online_devices(&user).await.unwrap(), vec!["laptop"]);
    p.disconnected(&user, 4).await.unwrap();
    assert!(!online(p, &user).await);
}

/// Going offline sets last-seen to the time of the last disconnect;
/// `status` answers each user asked, in the order asked (repeats
/// included): offline users with their last-seen, users never seen
/// offline with none, and nothing for an empty list.
pub async fn status_keeps_the_order_asked_with_last_seen(p: &dyn Presence, ns: &str) {
    let gone = format!("{ns}fay");
    let here = format!("{ns}finn");
    let unknown = format!("{ns}flo");
    let unknown_too = format!("{ns}fred");
    assert!(p.status(&[]).await.unwrap().is_empty());

    p.connected(&gone, "phone", 1).await.unwrap();
    p.connected(&here, "phone", 2).await.unwrap();
    let before = now_ms();
    p.disconnected(&gone, 1).await.unwrap();
    let after = now_ms();

    let asked = [&unknown, &gone, &here, &unknown_too, &gone];
    let seen = status(p, &asked).await;
    let ts = seen[1]
        .last_seen
        .expect("last-seen of a user who went offline");
    assert!(
        (before - CLOCK_SLACK_MS..=after + CLOCK_SLACK_MS).contains(&ts),
        "last-seen {ts} is not the time of the disconnect ({before}..={after})"
    );
    let expected = |user: &str, online, last_seen| PresenceStatus {
        user: user.into(),
        online,
        last_seen,
    };
    assert_eq!(seen[0], expected(&unknown, false, None));
    assert_eq!(seen[1], expected(&gone, false, Some(ts)));
    assert!(seen[2].online, "{:?}", seen[2]);
    assert_eq!(seen[3], expected(&unknown_too, false, None));
    assert_eq!(seen[4], expected(&gone, false, Some(ts)));
}

/// The presence channel of a user carries its changes as
/// [`RealtimeEvent::Presence`], once per change and in order: online with
/// the first connection, offline (with the last-seen `status` then
/// reports) with the last disconnect, and again when it comes back. Other
/// users' channels hear nothing of it.
pub async fn changes_are_announced_in_order(p: &dyn Presence, ch: &dyn Channels, ns: &str) {
    let user = format!("{ns}gus");
    let bystander = format!("{ns}gwen");
    let mut changes = ch.subscribe(&presence_channel(&user)).await.unwrap();
    let mut quiet = ch.subscribe(&presence_channel(&bystander)).await.unwrap();

    p.connected(&user, "phone", 1).await.unwrap();
    p.connected(&user, "laptop", 2).await.unwrap();
    p.disconnected(&user, 1).await.unwrap();
    p.disconnected(&user, 2).await.unwrap();
    let first = announced(&mut changes, &user).await;
    assert!(first.online, "online first: {first:?}");
    let second = announced(&mut changes, &user).await;
    assert!(!second.online, "then offline: {second:?}");
    let last_seen = status(p, &[&user]).await[0].last_seen;
    assert!(last_seen.is_some(), "last-seen once offline");
    assert_eq!(second.last_seen, last_seen, "offline carries its last-seen");
    nothing_else(ch, &user, &mut changes).await;

    p.connected(&user, "tablet", 3).await.unwrap();
    assert!(announced(&mut changes, &user).await.online, "back online");
    p.disconnected(&user, 3).await.unwrap();
    assert!(
        !announced(&mut changes, &user).await.online,
        "offline again"
    );
    nothing_else(ch, &user, &mut changes).await;
    nothing_else(ch, &bystander, &mut quiet).await;
}

/// Disconnecting a connection presence does not know (never connected,
/// already closed, or another user's) is not an error and changes nothing:
/// no announcement, no last-seen, online users stay online.
pub async fn unknown_disconnects_are_harmless(p: &dyn Presence, ch: &dyn Channels, ns: &str) {
    let user = format!("{ns}hal");
    let stranger = format!("{ns}hugo");
    let mut changes = ch.subscribe(&presence_channel(&user)).await.unwrap();
    let mut stranger_changes = ch.subscribe(&presence_channel(&stranger)).await.unwrap();

    p.disconnected(&stranger, 7).await.unwrap();
    assert_eq!(
        status(p, &[&stranger]).await[0],
        PresenceStatus {
            user: stranger.as_str().into(),
            online: false,
            last_seen: None,
        },
        "a stranger's disconnect writes no last-seen"
    );

    p.connected(&user, "phone", 1).await.unwrap();
    assert!(announced(&mut changes, &user).await.online);
    p.disconnected(&user, 99).await.unwrap();
    p.disconnected(&stranger, 1).await.unwrap();
    assert!(online(p, &user).await, "still connected");
    assert_eq!(p.online_devices(&user).await.unwrap(), vec!["phone"]);
    nothing_else(ch, &user, &mut changes).await;

    p.disconnected(&user, 1).await.unwrap();
    let offline = announced(&mut changes, &user).await;
    assert!(!offline.online, "{offline:?}");
    // Later, so that a rewritten last-seen would differ.
    tokio::time::sleep(Duration::from_millis(20)).await;
    p.disconnected(&user, 1).await.unwrap();
    assert_eq!(
        status(p, &[&user]).await[0].last_seen,
        offline.last_seen,
        "a second disconnect leaves last-seen alone"
    );
    nothing_else(ch, &user, &mut changes).await;
    nothing_else(ch, &stranger, &mut stranger_changes).await;
}
