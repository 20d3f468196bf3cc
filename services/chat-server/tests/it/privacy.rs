//! Privacy settings (an extension of PROTOCOL.md): who sees a user's
//! presence, who may add it to groups.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn set_privacy(user: &User, settings: Value) -> Value {
    let (status, now) = user.call(Method::PUT, "/v1/privacy", Some(settings)).await;
    assert_eq!(status, 200, "{now}");
    now
}

async fn presence_of(viewer: &User, user: &str) -> Value {
    let (status, p) = viewer.get(&format!("/v1/presence?users={user}")).await;
    assert_eq!(status, 200, "{p}");
    p["presence"][0].clone()
}

fn hidden(user: &str) -> Value {
    json!({"user": user, "online": false, "last_seen": null})
}

#[tokio::test]
async fn settings_are_read_changed_and_checked() {
    let s = Server::start().await;
    let pat = s.user("pat", "phone").await;
    let (status, now) = pat.get("/v1/privacy").await;
    assert_eq!(status, 200);
    assert_eq!(
        now,
        json!({"presence": "everyone", "group_adds": "everyone"})
    );
    let now = set_privacy(&pat, json!({"presence": "contacts"})).await;
    assert_eq!(
        now,
        json!({"presence": "contacts", "group_adds": "everyone"})
    );
    let now = set_privacy(&pat, json!({"group_adds": "contacts"})).await;
    assert_eq!(
        now,
        json!({"presence": "contacts", "group_adds": "contacts"})
    );
    for bad in [
        json!({"presence": "friends"}),
        json!({"group_adds": "nobody"}),
        json!({"presence": 3}),
        json!({"last_seen": "nobody"}),
    ] {
        let (status, e) = pat
            .call(Method::PUT, "/v1/privacy", Some(bad.clone()))
            .await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{bad}: {e}"
        );
    }
    let (_, now) = pat.get("/v1/privacy").await;
    assert_eq!(
        now,
        json!({"presence": "contacts", "group_adds": "contacts"}),
        "refusals change nothing"
    );
}

#[tokio::test]
async fn presence_kept_from_a_viewer_reads_as_never_seen_and_its_changes_send_nothing() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    set_privacy(&bob, json!({"presence": "nobody"})).await;
    let mut watcher = s.connect("alice", "phone").await;
    watcher.handshake().await;
    watcher
        .send(json!({"type": "subscribe_presence", "users": ["bob"]}))
        .await;
    assert_eq!(watcher.expect("presence").await, {
        let mut h = hidden("bob");
        h["type"] = json!("presence");
        h
    });

    let mut phone = s.connect("bob", "phone").await;
    phone.handshake().await;
    assert_eq!(
        presence_of(&bob, "bob").await["online"],
        true,
        "its own, always"
    );
    assert_eq!(presence_of(&alice, "bob").await, hidden("bob"));
    // Neither its coming nor its going reaches the watcher: not even when.
    watcher.quiet("presence", Duration::from_millis(500)).await;
    drop(phone);
    eventually(|| async { (presence_of(&bob, "bob").await["online"] == false).then_some(()) })
        .await;
    watcher.quiet("presence", Duration::from_millis(500)).await;
    assert_eq!(
        presence_of(&alice, "bob").await,
        hidden("bob"),
        "nor its last seen"
    );

    // Back to everyone: seen again.
    set_privacy(&bob, json!({"presence": "everyone"})).await;
    let seen = presence_of(&alice, "bob").await;
    assert!(seen["last_seen"].as_i64().is_some(), "{seen}");
}

#[tokio::test]
async fn contacts_see_presence_and_a_stranger_opening_a_chat_does_not_become_one() {
    let s = Server::start().await;
    let bob = s.user("bob", "phone").await;
    let carol = s.user("carol", "phone").await;
    let mallory = s.user("mallory", "phone").await;
    set_privacy(&bob, json!({"presence": "contacts"})).await;
    carol.group("book club", &["bob"]).await;
    let mut phone = s.connect("bob", "phone").await;
    phone.handshake().await;

    assert_eq!(
        presence_of(&carol, "bob").await["online"],
        true,
        "they share a group"
    );
    assert_eq!(presence_of(&mallory, "bob").await, hidden("bob"));
    // A direct conversation the stranger opened and wrote in: not yet.
    let chat = mallory.direct("bob").await;
    mallory.send(&chat, "m1", "hi, remember me?").await;
    assert_eq!(presence_of(&mallory, "bob").await, hidden("bob"));
    // Once bob answers (and the store has his answer), they are contacts.
    bob.send(&chat, "b1", "who is this?").await;
    eventually(|| async { (presence_of(&mallory, "bob").await["online"] == true).then_some(()) })
        .await;
}

#[tokio::test]
async fn only_those_a_user_lets_in_add_it_to_groups() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let carol = s.user("carol", "phone").await;
    let dave = s.user("dave", "phone").await;
    // Dave and carol share a group from before carol changed her setting.
    dave.group("old friends", &["carol"]).await;
    set_privacy(&carol, json!({"group_adds": "contacts"})).await;

    // A stranger can neither create a group with her nor add her to one.
    let (status, e) = alice
        .post(
            "/v1/conversations",
            json!({"kind": "group", "title": "spam", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{e}"
    );
    let g = alice.group("deals", &["bob"]).await;
    let add = |user: &'static str| json!({"add": [user]});
    let (status, e) = alice
        .post(&format!("/v1/conversations/{g}/members"), add("carol"))
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{e}"
    );
    let (_, state) = alice.get(&format!("/v1/conversations/{g}")).await;
    assert_eq!(state["members"].as_array().unwrap().len(), 2, "{state}");
    let (_, list) = carol.get("/v1/conversations").await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), 1, "{list}");

    // Opening a direct conversation does not make a contact...
    let chat = alice.direct("carol").await;
    alice.send(&chat, "a1", "please join").await;
    let (status, _) = alice
        .post(&format!("/v1/conversations/{g}/members"), add("carol"))
        .await;
    assert_eq!(status, 403);
    // ...her answer does (once the store has it).
    carol.send(&chat, "c1", "fine").await;
    eventually(|| async {
        let (status, _) = alice
            .post(&format!("/v1/conversations/{g}/members"), add("carol"))
            .await;
        (status == 200).then_some(())
    })
    .await;
    // A contact from a group adds her too, and everyone adds a user who
    // lets everyone in.
    dave.group("new friends", &["carol"]).await;
    alice.group("open", &["dave"]).await;
}
