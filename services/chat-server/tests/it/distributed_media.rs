//! Attachments and push in the distributed deployment: gateways and
//! processors as separate processes on Kafka, PostgreSQL and Redis, with
//! attachment bytes in an S3-compatible store (`S3_ENDPOINT`; moto locally)
//! that clients reach through presigned URLs, and a real HTTP webhook.
//!
//! Built with the engines' features, as `cluster` is, and `s3`.
#![cfg(all(
    feature = "kafka",
    feature = "cassandra",
    feature = "postgres",
    feature = "redis",
    feature = "s3"
))]

use crate::cluster::{services, Cluster};
use crate::harness::*;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn s3_endpoint() -> Option<String> {
    match std::env::var("S3_ENDPOINT").ok().filter(|v| !v.is_empty()) {
        Some(e) => Some(e),
        None => {
            chat_ports::conformance::skip(
                "S3_ENDPOINT is not set (./infra/test.sh starts a local S3 server)",
            );
            None
        }
    }
}

/// A webhook that records what it gets; returns (its URL, what it got).
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = Router::new().route(
        "/push",
        post(move |Json(v): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_go_through_the_object_store_and_offline_devices_are_pushed() {
    let Some(s) = services() else { return };
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let bucket = std::env::var("S3_BUCKET").unwrap_or_else(|_| "chat-blobs-test".into());
    let (hook, pushed) = webhook().await;
    let mut c = Cluster::new(&s).await;
    let prefix = format!("it-{}", uuid::Uuid::new_v4().simple());
    for (k, v) in [
        ("CHAT__ENGINES__BLOBS", format!("s3://{bucket}/{prefix}")),
        ("CHAT__S3__ENDPOINT", endpoint.clone()),
        ("CHAT__S3__ALLOW_HTTP", "true".into()),
        ("CHAT__S3__ACCESS_KEY_ID", "test".into()),
        ("CHAT__S3__SECRET_ACCESS_KEY", "test".into()),
        ("CHAT__PUSH__WEBHOOK_URL", hook),
        ("CHAT__PUSH__COLLAPSE_WINDOW_MS", "300".into()),
    ] {
        c.env.push((k.into(), v));
    }
    c.start(&["processor", "--name", "all"]);
    let g1 = c.start(&["gateway"]);
    let g2 = c.start(&["gateway"]);
    let (gw1, gw2) = (c.gateway(g1), c.gateway(g2));
    let alice = gw1.user("alice", "phone").await;
    let bob = gw2.user("bob", "phone").await;
    let carol = gw2.user("carol", "phone").await;
    let conv = alice.direct("bob").await;

    // Bob's tablet connects once (so it is known) and goes away.
    let mut tablet = gw2.connect("bob", "tablet").await;
    tablet.handshake().await;
    drop(tablet);
    eventually(|| async {
        gw2.metrics()
            .await
            .contains("chat_connections 0\n")
            .then_some(())
    })
    .await;

    // Upload straight to the object store through the presigned URL.
    let bytes = png(640, 480);
    let (status, t) = alice
        .post(
            "/v1/attachments",
            json!({"content_type": "image/png", "size": bytes.len()}),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    let upload_url = t["upload_url"].as_str().unwrap();
    assert!(upload_url.starts_with(&endpoint), "{upload_url}");
    let r = reqwest::Client::new()
        .put(upload_url)
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let id = t["id"].as_str().unwrap();
    let (status, ack) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "m1", "body": "the view", "attachments": [id]}),
        )
        .await;
    assert_eq!(status, 200, "{ack}");
    // The upload URL is still good: a PUT to it after the send (a slow one
    // once replaced a sent attachment) changes nothing anyone downloads.
    let r = reqwest::Client::new()
        .put(upload_url)
        .header("content-type", "image/png")
        .body(png(32, 32))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // An upload whose size was confirmed, then replaced through its URL by
    // more bytes than declared: the send that would seal them is refused.
    let (status, t2) = alice
        .post(
            "/v1/attachments",
            json!({"content_type": "text/plain", "size": 10}),
        )
        .await;
    assert_eq!(status, 200, "{t2}");
    let (url2, id2) = (
        t2["upload_url"].as_str().unwrap(),
        t2["id"].as_str().unwrap(),
    );
    let put = |body: Vec<u8>| {
        reqwest::Client::new()
            .put(url2)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    assert!(put(b"tiny".to_vec()).await.unwrap().status().is_success());
    let (status, info) = alice.get(&format!("/v1/attachments/{id2}/info")).await;
    assert_eq!(status, 200, "{info}");
    assert!(put(vec![b'x'; 1000]).await.unwrap().status().is_success());
    let (status, refused) = alice
        .post(
            "/v1/messages",
            json!({"conv": conv, "client_msg_id": "m-big", "body": "", "attachments": [id2]}),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (413, &json!("too_large")),
        "{refused}"
    );

    // Bob downloads it through the other gateway, from the object store.
    let location = eventually(|| async {
        match bob.location(&format!("/v1/attachments/{id}")).await {
            (302, location) => location,
            _ => None,
        }
    })
    .await;
    assert!(location.starts_with(&endpoint), "{location}");
    let got = reqwest::get(&location)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), bytes);
    let (status, _) = carol.location(&format!("/v1/attachments/{id}")).await;
    assert_eq!(status, 404, "a non-member is refused");

    // The media processor, in its own process, made the thumbnail.
    let thumb = eventually(|| async {
        match bob
            .location(&format!("/v1/attachments/{id}/thumbnail"))
            .await
        {
            (302, location) => location,
            _ => None,
        }
    })
    .await;
    let thumb = reqwest::get(&thumb).await.unwrap().bytes().await.unwrap();
    let img = image::load_from_memory(&thumb).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));

    // The push processor notified bob's one known device, which is offline
    // (his phone only spoke HTTP, so it was never registered).
    let got = eventually(|| async {
        let got = pushed.lock().unwrap().clone();
        (!got.is_empty()).then_some(got)
    })
    .await;
    let devices: Vec<&str> = got.iter().map(|n| n["device"].as_str().unwrap()).collect();
    assert_eq!(devices, vec!["tablet"], "{got:?}");
    for n in &got {
        assert_eq!(
            (n["user"].as_str(), n["seq"].as_u64()),
            (Some("bob"), Some(1))
        );
        assert_eq!(n["preview"], "the view");
    }
}
