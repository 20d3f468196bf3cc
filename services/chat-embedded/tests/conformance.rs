//! The in-process channels and presence pass the channel and presence
//! conformance suites of `chat_ports::conformance`: one test per check,
//! each on fresh engines.

use chat_embedded::{EmbeddedStore, FsyncPolicy, InProcessChannels, InProcessPresence};
use chat_ports::conformance::{channels, presence};
use std::sync::Arc;
use tempfile::TempDir;

/// Presence announcing on fresh in-process channels, with last-seen in a
/// fresh store under the returned folder.
fn presence_engine() -> (InProcessPresence, Arc<InProcessChannels>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Never).unwrap();
    let channels = Arc::new(InProcessChannels::new());
    let presence = InProcessPresence::new(channels.clone(), Arc::new(store));
    (presence, channels, dir)
}

#[tokio::test]
async fn channels_a_subscriber_gets_events_in_publish_order() {
    let ch = InProcessChannels::new();
    channels::a_subscriber_gets_events_in_publish_order(&ch, "order-").await;
}

#[tokio::test]
async fn channels_publish_all_keeps_each_channel_s_order() {
    let ch = InProcessChannels::new();
    channels::publish_all_keeps_each_channel_s_order(&ch, "all-").await;
}

#[tokio::test]
async fn channels_publish_many_reaches_every_named_channel() {
    let ch = InProcessChannels::new();
    channels::publish_many_reaches_every_named_channel(&ch, "many-").await;
}

#[tokio::test]
async fn channels_are_isolated() {
    let ch = InProcessChannels::new();
    channels::channels_are_isolated(&ch, "iso-").await;
}

#[tokio::test]
async fn channels_dropping_a_subscription_unsubscribes() {
    let ch = InProcessChannels::new();
    channels::dropping_a_subscription_unsubscribes(&ch, "drop-").await;
    assert!(ch.is_empty(), "no channel outlives its subscribers");
}

#[tokio::test]
async fn channels_every_subscriber_gets_every_event() {
    let ch = InProcessChannels::new();
    channels::every_subscriber_gets_every_event(&ch, "crowd-").await;
}

#[tokio::test]
async fn channels_every_event_survives_the_round_trip() {
    let ch = InProcessChannels::new();
    channels::every_event_survives_the_round_trip(&ch, "trip-").await;
}

#[tokio::test]
async fn presence_connected_users_are_online_with_their_devices() {
    let (p, _, _dir) = presence_engine();
    presence::connected_users_are_online_with_their_devices(&p, "devices-").await;
}

#[tokio::test]
async fn presence_offline_only_after_the_last_disconnect() {
    let (p, _, _dir) = presence_engine();
    presence::offline_only_after_the_last_disconnect(&p, "last-").await;
}

#[tokio::test]
async fn presence_status_keeps_the_order_asked_with_last_seen() {
    let (p, _, _dir) = presence_engine();
    presence::status_keeps_the_order_asked_with_last_seen(&p, "status-").await;
}

#[tokio::test]
async fn presence_changes_are_announced_in_order() {
    let (p, ch, _dir) = presence_engine();
    presence::changes_are_announced_in_order(&p, ch.as_ref(), "announce-").await;
}

#[tokio::test]
async fn presence_unknown_disconnects_are_harmless() {
    let (p, ch, _dir) = presence_engine();
    presence::unknown_disconnects_are_harmless(&p, ch.as_ref(), "unknown-").await;
}
