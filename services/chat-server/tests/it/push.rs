//! Push on the one-box server: a real HTTP webhook started by the test
//! receives the notifications for offline devices; a webhook that hangs
//! never holds up the messages themselves.

use crate::harness::*;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An HTTP server that records every notification, answering after `delay`.
#[derive(Clone)]
struct Webhook {
    got: Arc<Mutex<Vec<Value>>>,
    url: String,
}

impl Webhook {
    async fn start(delay: Duration) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route(
                "/push",
                post(
                    |State((got, delay)): State<(Arc<Mutex<Vec<Value>>>, Duration)>,
                     Json(v): Json<Value>| async move {
                        got.lock().unwrap().push(v);
                        tokio::time::sleep(delay).await;
                        "ok"
                    },
                ),
            )
            .with_state((got.clone(), delay));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { got, url }
    }

    fn got(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

async fn server(hook: &Webhook) -> Server {
    let url = hook.url.clone();
    Server::start_with(move |c| {
        c.push.webhook_url = Some(url);
        c.push.collapse_window_ms = 300;
        c.push.timeout_ms = 60_000;
    })
    .await
}

/// Bob has a phone that stays connected and a tablet that connected once
/// and left.
async fn bob_with_an_offline_tablet(s: &Server) -> Ws {
    let mut phone = s.connect("bob", "phone").await;
    phone.handshake().await;
    let mut tablet = s.connect("bob", "tablet").await;
    tablet.handshake().await;
    drop(tablet);
    // The tablet is offline once the server has closed its session.
    eventually(|| async {
        s.metrics()
            .await
            .contains("chat_connections 1\n")
            .then_some(())
    })
    .await;
    phone
}

#[tokio::test]
async fn an_offline_device_gets_one_push_per_burst_and_online_ones_none() {
    let hook = Webhook::start(Duration::ZERO).await;
    let s = server(&hook).await;
    let mut phone = bob_with_an_offline_tablet(&s).await;
    let alice = s.user("alice", "laptop").await;
    let conv = alice.direct("bob").await;
    for i in 0..4 {
        alice
            .send(&conv, &format!("m{i}"), &format!("hello {i}"))
            .await;
    }
    assert_eq!(seqs(&phone.messages(&conv, 4).await), vec![1, 2, 3, 4]);
    let pushed = eventually(|| async {
        let got = hook.got();
        (!got.is_empty()).then_some(got)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pushed = if hook.got().len() > pushed.len() {
        hook.got()
    } else {
        pushed
    };
    assert_eq!(
        pushed.len(),
        1,
        "one notification for the burst: {pushed:?}"
    );
    let n = &pushed[0];
    assert_eq!(n["user"], "bob");
    assert_eq!(n["device"], "tablet");
    assert_eq!(n["conv"], conv.as_str());
    assert_eq!(n["sender"], "alice");
    assert_eq!(n["seq"], 4);
    assert_eq!(n["count"], 4);
    assert_eq!(n["preview"], "hello 3");
}

#[tokio::test]
async fn muted_conversations_are_pushed_without_a_preview() {
    let hook = Webhook::start(Duration::ZERO).await;
    let s = server(&hook).await;
    let _phone = bob_with_an_offline_tablet(&s).await;
    let alice = s.user("alice", "laptop").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    let (status, _) = bob
        .call(
            reqwest::Method::PUT,
            &format!("/v1/conversations/{conv}/mute"),
            Some(serde_json::json!({"muted": true})),
        )
        .await;
    assert_eq!(status, 204);
    let (_, settings) = bob.get("/v1/push/settings").await;
    assert_eq!(
        settings,
        serde_json::json!({"previews": true, "muted": [conv]})
    );
    alice.send(&conv, "m1", "secret").await;
    let pushed = eventually(|| async {
        let got = hook.got();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(pushed[0]["device"], "tablet");
    assert!(pushed[0].get("preview").is_none(), "{}", pushed[0]);
}

#[tokio::test]
async fn a_webhook_that_hangs_never_holds_up_messages() {
    let hook = Webhook::start(Duration::from_secs(30)).await;
    let s = server(&hook).await;
    let mut phone = bob_with_an_offline_tablet(&s).await;
    let alice = s.user("alice", "laptop").await;
    let conv = alice.direct("bob").await;
    let started = Instant::now();
    for burst in 0..3 {
        for i in 0..10 {
            alice.send(&conv, &format!("b{burst}-{i}"), "hi").await;
        }
        // Each burst opens a new window, so the webhook gets a request that
        // hangs while the next burst is sent.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let got = phone.messages(&conv, 30).await;
    assert_eq!(seqs(&got), (1..=30).collect::<Vec<u64>>());
    assert!(!hook.got().is_empty(), "the webhook was called and hangs");
    // Sequential 30 s webhook calls on the message path would take minutes.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "messages took {:?}",
        started.elapsed()
    );
}
