//! The Redis channels and presence pass the channel and presence
//! conformance suites of `chat_ports::conformance`: one test per check,
//! each with a fresh prefix (and its turn, as every test here).
//! Announcements are heard through a second channel engine, as a watcher
//! on another gateway would.

use super::{setup, Ctx, MemLastSeen};
use chat_ports::conformance::{channels, presence};
use chat_ports::Channels;
use chat_redis::RedisPresence;
use std::sync::Arc;
use std::time::Duration;

/// Longer than any check: no connection expires while one runs.
const TTL: Duration = Duration::from_secs(60);

/// Presence with its own channel engine and a fresh last-seen store.
async fn presence_engine(ctx: &Ctx) -> RedisPresence {
    let channels: Arc<dyn Channels> = Arc::new(ctx.channels().await);
    let store = Arc::new(MemLastSeen::default());
    RedisPresence::connect(&ctx.url, &ctx.prefix, TTL, channels, store)
        .await
        .expect("connect presence")
}

#[tokio::test]
async fn channels_a_subscriber_gets_events_in_publish_order() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::a_subscriber_gets_events_in_publish_order(&ch, "order-").await;
}

#[tokio::test]
async fn channels_publish_all_keeps_each_channel_s_order() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::publish_all_keeps_each_channel_s_order(&ch, "all-").await;
}

#[tokio::test]
async fn channels_publish_many_reaches_every_named_channel() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::publish_many_reaches_every_named_channel(&ch, "many-").await;
}

#[tokio::test]
async fn channels_are_isolated() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::channels_are_isolated(&ch, "iso-").await;
}

#[tokio::test]
async fn channels_dropping_a_subscription_unsubscribes() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::dropping_a_subscription_unsubscribes(&ch, "drop-").await;
    assert!(ch.is_empty(), "no channel outlives its subscribers");
}

#[tokio::test]
async fn channels_every_subscriber_gets_every_event() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::every_subscriber_gets_every_event(&ch, "crowd-").await;
}

#[tokio::test]
async fn channels_every_event_survives_the_round_trip() {
    let Some(ctx) = setup().await else { return };
    let ch = ctx.channels().await;
    channels::every_event_survives_the_round_trip(&ch, "trip-").await;
}

#[tokio::test]
async fn presence_connected_users_are_online_with_their_devices() {
    let Some(ctx) = setup().await else { return };
    let p = presence_engine(&ctx).await;
    presence::connected_users_are_online_with_their_devices(&p, "devices-").await;
}

#[tokio::test]
async fn presence_offline_only_after_the_last_disconnect() {
    let Some(ctx) = setup().await else { return };
    let p = presence_engine(&ctx).await;
    presence::offline_only_after_the_last_disconnect(&p, "last-").await;
}

#[tokio::test]
async fn presence_status_keeps_the_order_asked_with_last_seen() {
    let Some(ctx) = setup().await else { return };
    let p = presence_engine(&ctx).await;
    presence::status_keeps_the_order_asked_with_last_seen(&p, "status-").await;
}

#[tokio::test]
async fn presence_changes_are_announced_in_order() {
    let Some(ctx) = setup().await else { return };
    let p = presence_engine(&ctx).await;
    let watcher = ctx.channels().await;
    presence::changes_are_announced_in_order(&p, &watcher, "announce-").await;
}

#[tokio::test]
async fn presence_unknown_disconnects_are_harmless() {
    let Some(ctx) = setup().await else { return };
    let p = presence_engine(&ctx).await;
    let watcher = ctx.channels().await;
    presence::unknown_disconnects_are_harmless(&p, &watcher, "unknown-").await;
}
