//! Attachments (PROTOCOL.md, "Attachments") on the embedded default: signed
//! upload and download URLs served by the gateway, who may download, size
//! limits, thumbnails, and the lifecycle of the bytes.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Asks for an upload URL; returns (status, answer).
async fn ticket(user: &User, content_type: &str, size: usize) -> (u16, Value) {
    user.post(
        "/v1/attachments",
        json!({"content_type": content_type, "size": size}),
    )
    .await
}

/// Uploads `bytes` as a new attachment and returns its id.
async fn upload(user: &User, content_type: &str, bytes: &[u8]) -> String {
    let (status, t) = ticket(user, content_type, bytes.len()).await;
    assert_eq!(status, 200, "{t}");
    assert!(t["expires_at"].as_i64().unwrap() > chat_domain::time::now_ms());
    let r = user
        .http
        .put(t["upload_url"].as_str().unwrap())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    t["id"].as_str().unwrap().to_string()
}

async fn send_with(user: &User, conv: &str, key: &str, ids: &[&str]) -> (u16, Value) {
    user.post(
        "/v1/messages",
        json!({"conv": conv, "client_msg_id": key, "body": "look", "attachments": ids}),
    )
    .await
}

/// Follows the download redirect by hand: (status of the API answer, and
/// the bytes and content type behind the Location when it redirected).
async fn download(user: &User, path: &str) -> (u16, Option<(Vec<u8>, String)>) {
    let (status, location) = user.location(path).await;
    let Some(location) = location.filter(|_| status == 302) else {
        return (status, None);
    };
    let blob = reqwest::get(&location).await.unwrap();
    assert_eq!(blob.status(), 200, "{location}");
    let ct = blob.headers()["content-type"].to_str().unwrap().to_string();
    (status, Some((blob.bytes().await.unwrap().to_vec(), ct)))
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn members_download_what_a_message_carries_and_others_are_refused() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let carol = s.user("carol", "phone").await;
    let conv = alice.direct("bob").await;
    let bytes = b"%PDF-1.4 not really a pdf".to_vec();
    let id = upload(&alice, "application/pdf", &bytes).await;

    // Before it is sent only the uploader may read it.
    let (status, got) = download(&alice, &format!("/v1/attachments/{id}")).await;
    assert_eq!(status, 302);
    assert_eq!(got.unwrap().0, bytes);
    assert_eq!(
        download(&bob, &format!("/v1/attachments/{id}")).await.0,
        404
    );

    let mut bob_ws = s.connect("bob", "phone").await;
    bob_ws.handshake().await;
    let (status, ack) = send_with(&alice, &conv, "m1", &[&id]).await;
    assert_eq!(status, 200, "{ack}");
    let m = bob_ws.expect("message").await;
    assert_eq!(m["attachments"], json!([id]));

    let (status, got) = download(&bob, &format!("/v1/attachments/{id}")).await;
    assert_eq!(status, 302);
    let (got, ct) = got.unwrap();
    assert_eq!(got, bytes);
    assert_eq!(ct, "application/pdf");
    let (status, info) = bob.get(&format!("/v1/attachments/{id}/info")).await;
    assert_eq!(status, 200);
    assert_eq!(
        info,
        json!({"id": id, "content_type": "application/pdf", "size": bytes.len(),
               "uploaded": true, "thumbnail": false})
    );

    // A non-member is refused with the real id, a guessed id and a bad one,
    // and without a token.
    assert_eq!(
        download(&carol, &format!("/v1/attachments/{id}")).await.0,
        404
    );
    let guessed = format!("a-{}", "0".repeat(32));
    assert_eq!(
        download(&carol, &format!("/v1/attachments/{guessed}"))
            .await
            .0,
        404
    );
    assert_eq!(
        download(&carol, "/v1/attachments/..%2Fstore.redb").await.0,
        404
    );
    let (status, body) = carol.get(&format!("/v1/attachments/{id}/info")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = reqwest::get(format!("{}/v1/attachments/{id}", s.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_member_added_later_does_not_get_earlier_attachments() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let dave = s.user("dave", "phone").await;
    let conv = alice.group("Trip", &["bob"]).await;
    let early = upload(&alice, "image/png", &png(4, 4)).await;
    assert_eq!(send_with(&alice, &conv, "m1", &[&early]).await.0, 200);
    let (status, _) = alice
        .post(
            &format!("/v1/conversations/{conv}/members"),
            json!({"add": ["dave"]}),
        )
        .await;
    assert_eq!(status, 200);
    let late = upload(&alice, "image/png", &png(4, 4)).await;
    assert_eq!(send_with(&alice, &conv, "m2", &[&late]).await.0, 200);
    eventually(|| async {
        (download(&dave, &format!("/v1/attachments/{late}")).await.0 == 302).then_some(())
    })
    .await;
    assert_eq!(
        download(&dave, &format!("/v1/attachments/{early}")).await.0,
        404
    );
}

#[tokio::test]
async fn a_message_carries_only_uploaded_attachments_of_its_sender() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    let bobs = upload(&bob, "text/plain", b"bob's").await;
    let (status, pending) = ticket(&alice, "text/plain", 5).await;
    assert_eq!(status, 200);
    let pending = pending["id"].as_str().unwrap();
    let unknown = format!("a-{}", "f".repeat(32));
    for (ids, why) in [
        (vec![bobs.as_str()], "unknown attachment"),
        (vec![pending], "not uploaded"),
        (vec![unknown.as_str()], "unknown attachment"),
        (vec!["../../etc/passwd"], "unknown attachment"),
    ] {
        let (status, e) = send_with(&alice, &conv, "m", &ids).await;
        assert_eq!(status, 400, "{ids:?} {e}");
        assert_eq!(e["error"]["code"], "bad_request");
        assert!(e["error"]["message"].as_str().unwrap().contains(why), "{e}");
    }
    let mine = upload(&alice, "text/plain", b"mine").await;
    let (status, e) = send_with(&alice, &conv, "m", &[&mine, &mine]).await;
    assert_eq!(status, 400, "{e}");
    assert!(
        alice.history(&conv, "").await.is_empty(),
        "nothing refused was stored"
    );
    assert_eq!(send_with(&alice, &conv, "m", &[&mine]).await.0, 200);
}

#[tokio::test]
async fn sizes_are_enforced_and_urls_are_signed() {
    let s = Server::start_with(|c| c.gateway.attachments.max_bytes = 1000).await;
    let alice = s.user("alice", "phone").await;

    let (status, e) = ticket(&alice, "image/png", 1001).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let (status, e) = ticket(&alice, "not a type", 10).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );

    let (_, t) = ticket(&alice, "text/plain", 10).await;
    let url = t["upload_url"].as_str().unwrap();
    // More bytes than declared, with and without a Content-Length.
    let r = alice
        .http
        .put(url)
        .body(vec![b'x'; 11])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let chunks = futures::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 4])));
    let r = alice
        .http
        .put(url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");

    // A changed signature, size or key is refused.
    let tampered = url.replace("max=10", "max=1000");
    assert_ne!(tampered, url, "the URL carries its size: {url}");
    let r = alice.http.put(&tampered).body("x").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let (_, other) = ticket(&alice, "text/plain", 10).await;
    let other_id = other["id"].as_str().unwrap();
    let moved = url.replace(t["id"].as_str().unwrap(), other_id);
    let r = alice.http.put(&moved).body("x").send().await.unwrap();
    assert_eq!(r.status(), 403);

    // The exact size is taken, once.
    let r = alice
        .http
        .put(url)
        .body(vec![b'z'; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = alice
        .http
        .put(url)
        .body(vec![b'w'; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "uploaded bytes never change");
}

#[tokio::test]
async fn signed_urls_expire() {
    let s = Server::start_with(|c| c.gateway.attachments.url_ttl_secs = 1).await;
    let alice = s.user("alice", "phone").await;
    let (_, t) = ticket(&alice, "text/plain", 2).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = alice
        .http
        .put(t["upload_url"].as_str().unwrap())
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");

    let id = upload(&alice, "text/plain", b"hi").await;
    let location = alice
        .location(&format!("/v1/attachments/{id}"))
        .await
        .1
        .unwrap();
    assert_eq!(reqwest::get(&location).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(reqwest::get(&location).await.unwrap().status(), 403);
}

#[tokio::test]
async fn downloads_never_run_as_pages_of_the_server() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let id = upload(&alice, "text/html", b"<script>alert(1)</script>").await;
    let location = alice
        .location(&format!("/v1/attachments/{id}"))
        .await
        .1
        .unwrap();
    let blob = reqwest::get(&location).await.unwrap();
    let h = blob.headers();
    assert_eq!(h["content-disposition"], "attachment");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "sandbox");
}

#[tokio::test]
async fn images_get_a_thumbnail_beside_the_original() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    let original = png(1200, 600);
    let id = upload(&alice, "image/png", &original).await;
    let doc = upload(&alice, "text/plain", b"no preview for me").await;
    assert_eq!(send_with(&alice, &conv, "m1", &[&id, &doc]).await.0, 200);
    let thumb = eventually(|| async {
        match download(&bob, &format!("/v1/attachments/{id}/thumbnail")).await {
            (302, Some(got)) => Some(got),
            _ => None,
        }
    })
    .await;
    let img = image::load_from_memory(&thumb.0).unwrap();
    assert_eq!((img.width(), img.height()), (320, 160));
    assert!(thumb.0.len() < original.len());
    assert!(thumb.1.starts_with("image/"), "{}", thumb.1);
    let (_, info) = bob.get(&format!("/v1/attachments/{id}/info")).await;
    assert_eq!(info["thumbnail"], true);
    assert_eq!(
        download(&bob, &format!("/v1/attachments/{doc}/thumbnail"))
            .await
            .0,
        404
    );
}

/// The files of the local blob engine.
fn blob_files(s: &Server) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s._dir.path().join("blobs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn unsent_uploads_and_attachments_of_gone_messages_are_removed() {
    let s = Server::start_with(|c| {
        c.gateway.attachments.unsent_grace_secs = 2;
        c.retention.max_age_secs = 6;
        c.retention.sweep_interval_secs = 1;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let sent = upload(&alice, "image/png", &png(8, 8)).await;
    let deleted = upload(&alice, "text/plain", b"deleted soon").await;
    let unsent = upload(&alice, "text/plain", b"never sent").await;
    assert_eq!(send_with(&alice, &conv, "m1", &[&sent]).await.0, 200);
    assert_eq!(send_with(&alice, &conv, "m2", &[&deleted]).await.0, 200);
    eventually(|| async { (alice.history(&conv, "").await.len() == 2).then_some(()) }).await;
    let (status, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/2"))
        .await;
    assert_eq!(status, 204);
    let has = |names: &[String], id: &str| names.iter().any(|n| n.contains(id));
    // A send must name an upload within half the grace period.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, e) = send_with(&alice, &conv, "m3", &[&unsent]).await;
    assert_eq!(status, 400, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("too long ago"));

    // The unsent upload and the deleted message's attachment go after the
    // grace period; the sent one stays while its message does.
    eventually(|| async {
        let names = blob_files(&s);
        (!has(&names, &unsent) && !has(&names, &deleted)).then_some(())
    })
    .await;
    assert!(has(&blob_files(&s), &sent), "{:?}", blob_files(&s));
    assert_eq!(
        download(&alice, &format!("/v1/attachments/{unsent}"))
            .await
            .0,
        404
    );
    assert_eq!(
        download(&alice, &format!("/v1/attachments/{sent}")).await.0,
        302
    );

    // Retention removes the messages (m1 and m2's tombstone, whose ts may
    // fall in different sweeps), and then m1's attachment.
    eventually(|| async { (!has(&blob_files(&s), &sent)).then_some(()) }).await;
    eventually(|| async { alice.history(&conv, "").await.is_empty().then_some(()) }).await;
    assert_eq!(
        download(&alice, &format!("/v1/attachments/{sent}")).await.0,
        404
    );
}

#[tokio::test]
async fn attachments_travel_over_the_websocket_too() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let id = upload(&alice, "text/plain", b"ws").await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    ws.send(
        json!({"type": "send", "conv": conv, "client_msg_id": "w1", "body": "",
                   "attachments": [id]}),
    )
    .await;
    let sent = ws.expect("sent").await;
    assert_eq!(sent["client_msg_id"], "w1");
    ws.send(
        json!({"type": "send", "conv": conv, "client_msg_id": "w2", "body": "x",
                   "attachments": ["a-nope"]}),
    )
    .await;
    let e = ws.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("bad_request"), Some("w2"))
    );
}

/// Two uploads to one URL at once: the slow one began first and ends
/// after the fast one, after a message carries the attachment. It once
/// replaced the bytes the message's readers got; now the bytes the first
/// complete upload stored never change.
#[tokio::test]
async fn a_slow_overlapping_upload_never_replaces_sent_bytes() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.direct("bob").await;
    let (status, t) = ticket(&alice, "text/plain", 5).await;
    assert_eq!(status, 200, "{t}");
    let url = t["upload_url"].as_str().unwrap().to_string();
    let id = t["id"].as_str().unwrap().to_string();

    // The slow one: two bytes now, the rest when told.
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let first = futures::stream::once(async { Ok::<_, std::io::Error>(b"ev".to_vec()) });
    let rest = futures::stream::once(async move {
        let _ = wait.await;
        Ok::<_, std::io::Error>(b"il".to_vec())
    });
    let slow = {
        let (http, url) = (alice.http.clone(), url.clone());
        tokio::spawn(async move {
            http.put(&url)
                .header("content-length", "4")
                .body(reqwest::Body::wrap_stream(futures::StreamExt::chain(
                    first, rest,
                )))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = alice.http.put(&url).body("hello").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut bob_ws = s.connect("bob", "phone").await;
    bob_ws.handshake().await;
    let (status, ack) = send_with(&alice, &conv, "m1", &[&id]).await;
    assert_eq!(status, 200, "{ack}");
    // Bob may download once he has the message, as a client would.
    let m = bob_ws.expect("message").await;
    assert_eq!(m["attachments"], json!([id]));

    let _ = go.send(());
    let slow = slow.await.unwrap();
    assert_eq!(
        slow.ok(),
        Some(403),
        "the late upload was not refused as such"
    );
    let (status, got) = download(&bob, &format!("/v1/attachments/{id}")).await;
    assert_eq!(status, 302);
    assert_eq!(got.unwrap().0, b"hello");
}
