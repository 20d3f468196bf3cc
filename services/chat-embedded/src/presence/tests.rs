//! Tests of in-process presence: which devices are online, and what is
//! announced on the presence channel.

use super::*;
use crate::{EmbeddedStore, FsyncPolicy, InProcessChannels};
use chat_ports::Subscription;

/// Presence over in-process channels and a store in `dir`.
fn presence(dir: &tempfile::TempDir) -> (InProcessPresence, Arc<InProcessChannels>) {
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Never).unwrap();
    let channels = Arc::new(InProcessChannels::new());
    let presence = InProcessPresence::new(channels.clone(), Arc::new(store));
    (presence, channels)
}

/// The presence events on `sub` up to a marker published after them, so
/// that "nothing more" is observable.
#[allow(clippy::wildcard_enum_match_arm)] // (anything else fails the test)
async fn announced(channels: &InProcessChannels, user: &str, sub: &mut Subscription) -> Vec<bool> {
    channels
        .publish(&presence_channel(user), RealtimeEvent::Resync)
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        match sub.recv().await.unwrap().as_ref() {
            RealtimeEvent::Presence { status } => out.push(status.online),
            RealtimeEvent::Resync => return out,
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[tokio::test]
async fn online_devices_lists_each_connected_device_once_ascending() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = presence(&dir);
    assert!(p.online_devices("alice").await.unwrap().is_empty());
    p.connected("alice", "phone", 1).await.unwrap();
    p.connected("alice", "phone", 2).await.unwrap();
    p.connected("alice", "laptop", 3).await.unwrap();
    p.connected("bob", "tablet", 4).await.unwrap();
    assert_eq!(
        p.online_devices("alice").await.unwrap(),
        vec!["laptop", "phone"]
    );
    assert_eq!(p.online_devices("bob").await.unwrap(), vec!["tablet"]);
    assert!(p.online_devices("carol").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_device_stays_online_while_any_of_its_connections_lives() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = presence(&dir);
    p.connected("alice", "phone", 1).await.unwrap();
    p.connected("alice", "phone", 2).await.unwrap();
    p.connected("alice", "laptop", 3).await.unwrap();

    p.disconnected("alice", 1).await.unwrap();
    assert_eq!(
        p.online_devices("alice").await.unwrap(),
        vec!["laptop", "phone"]
    );
    p.disconnected("alice", 2).await.unwrap();
    assert_eq!(p.online_devices("alice").await.unwrap(), vec!["laptop"]);
    // An unknown or already closed connection changes nothing.
    p.disconnected("alice", 2).await.unwrap();
    p.disconnected("alice", 99).await.unwrap();
    assert_eq!(p.online_devices("alice").await.unwrap(), vec!["laptop"]);

    p.disconnected("alice", 3).await.unwrap();
    assert!(p.online_devices("alice").await.unwrap().is_empty());
    let status = p.status(&["alice".into()]).await.unwrap();
    assert!(!status[0].online && status[0].last_seen.is_some());
}

#[tokio::test]
async fn a_device_that_reconnects_is_online_again() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = presence(&dir);
    p.connected("alice", "phone", 1).await.unwrap();
    p.disconnected("alice", 1).await.unwrap();
    p.connected("alice", "phone", 2).await.unwrap();
    assert_eq!(p.online_devices("alice").await.unwrap(), vec!["phone"]);
    let status = p.status(&["alice".into()]).await.unwrap();
    assert!(status[0].online);
}

#[tokio::test]
async fn online_and_offline_are_announced_once_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let (p, channels) = presence(&dir);
    let mut sub = channels
        .subscribe(&presence_channel("alice"))
        .await
        .unwrap();
    p.connected("alice", "phone", 1).await.unwrap();
    p.connected("alice", "phone", 2).await.unwrap();
    p.connected("alice", "laptop", 3).await.unwrap();
    assert_eq!(announced(&channels, "alice", &mut sub).await, vec![true]);
    p.disconnected("alice", 1).await.unwrap();
    p.disconnected("alice", 3).await.unwrap();
    assert!(announced(&channels, "alice", &mut sub).await.is_empty());
    p.disconnected("alice", 2).await.unwrap();
    assert_eq!(announced(&channels, "alice", &mut sub).await, vec![false]);
}
