//! The S3 engine against a real S3-compatible server. The tests run when
//! `S3_ENDPOINT` is set (`infra/s3/start.sh` starts moto and prints it);
//! otherwise each prints why it is skipped. The bucket is `S3_BUCKET`
//! (default `chat-blobs-test`, which the script creates), the credentials
//! `S3_ACCESS_KEY_ID` / `S3_SECRET_ACCESS_KEY` (default `test`, which moto
//! accepts); each test uses a fresh random prefix. They need the `s3`
//! feature (on by default).
#![cfg(feature = "s3")]

use chat_blobs::{S3Blobs, S3Config};
use chat_ports::{BlobStore, Sealed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SKIP: &str = "S3_ENDPOINT is not set (infra/s3/start.sh starts a local S3-compatible server)";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The configuration of the test server with a fresh prefix, or `None`
/// (after saying so) when there is no server.
fn config() -> Option<S3Config> {
    let Some(endpoint) = std::env::var("S3_ENDPOINT").ok().filter(|v| !v.is_empty()) else {
        chat_ports::conformance::skip(SKIP);
        return None;
    };
    Some(S3Config {
        allow_http: endpoint.starts_with("http://"),
        endpoint: Some(endpoint),
        bucket: env_or("S3_BUCKET", "chat-blobs-test"),
        region: env_or("S3_REGION", "us-east-1"),
        access_key_id: env_or("S3_ACCESS_KEY_ID", "test"),
        secret_access_key: env_or("S3_SECRET_ACCESS_KEY", "test"),
        prefix: Some(format!("test-{}", uuid::Uuid::new_v4().simple())),
    })
}

#[allow(clippy::disallowed_methods)] // (chat-blobs sits below chat-domain's clock)
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn conformance() {
    let Some(config) = config() else { return };
    let store = S3Blobs::new(&config).expect("S3 engine");
    chat_blobs::conformance::run_all(&store).await;
}

#[tokio::test]
async fn presigned_round_trip() {
    let Some(config) = config() else { return };
    let store = S3Blobs::new(&config).expect("S3 engine");
    let http = reqwest::Client::new();
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();

    let up = store
        .upload_url("att-1", "image/png", 5000, now_ms() + 60_000)
        .await
        .unwrap();
    assert!(up.contains("X-Amz-Signature="), "{up}");
    let put = http
        .put(&up)
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    assert_eq!(store.size("att-1").await.unwrap(), Some(5000));

    let down = store
        .download_url("att-1", now_ms() + 60_000)
        .await
        .unwrap();
    let got = http.get(&down).send().await.unwrap();
    assert!(got.status().is_success(), "GET: {}", got.status());
    assert_eq!(
        got.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png"),
        "downloads answer with the uploaded content type"
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), &bytes[..]);
    assert_eq!(store.get("att-1").await.unwrap(), Some(bytes));
}

/// A presigned PUT does not limit the size: the server must check
/// `size()` after the upload, which reports what was really stored.
#[tokio::test]
async fn presigned_put_does_not_enforce_the_size() {
    let Some(config) = config() else { return };
    let store = S3Blobs::new(&config).expect("S3 engine");
    let up = store
        .upload_url("att-big", "text/plain", 10, now_ms() + 60_000)
        .await
        .unwrap();
    let put = reqwest::Client::new()
        .put(&up)
        .header("content-type", "text/plain")
        .body(vec![b'x'; 100])
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    assert_eq!(store.size("att-big").await.unwrap(), Some(100));
}

/// What the server does with expired and altered presigned URLs, and with
/// an upload of another content type than signed. AWS S3 refuses all three;
/// moto accepts them, so this prints what the server did rather than
/// asserting it (see the `s3` module docs).
#[tokio::test]
async fn expired_and_altered_urls() {
    let Some(config) = config() else { return };
    let store = S3Blobs::new(&config).expect("S3 engine");
    let http = reqwest::Client::new();
    store
        .put("att-1", b"bytes".to_vec(), "text/plain")
        .await
        .unwrap();
    let fresh = store
        .download_url("att-1", now_ms() + 60_000)
        .await
        .unwrap();
    let ok = http.get(&fresh).send().await.unwrap().status();
    assert!(ok.is_success(), "fresh GET: {ok}");

    let tampered = fresh.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    let tampered = http.get(&tampered).send().await.unwrap().status();
    let up = store
        .upload_url("att-2", "image/png", 100, now_ms() + 60_000)
        .await
        .unwrap();
    let other_type = http
        .put(&up)
        .header("content-type", "text/html")
        .body("<p>")
        .send()
        .await
        .unwrap()
        .status();
    let short = store.download_url("att-1", now_ms() + 1000).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = http.get(&short).send().await.unwrap().status();
    eprintln!(
        "S3 server: tampered signature -> {tampered}, expired URL -> {expired}, \
         PUT with another content type than signed -> {other_type}"
    );
}

/// Needs no server: a closed port fails every call within seconds (a few
/// quick retries), with an error rather than a hang.
#[tokio::test]
async fn an_unreachable_server_fails_quickly() {
    let store = S3Blobs::new(&S3Config {
        endpoint: Some("http://127.0.0.1:9".into()),
        bucket: "none".into(),
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        allow_http: true,
        prefix: None,
    })
    .unwrap();
    let started = std::time::Instant::now();
    assert!(store.size("k").await.is_err());
    assert!(store.put("k", b"x".to_vec(), "text/plain").await.is_err());
    // A download URL names the sealed copy when there is one, so signing
    // one asks the server first (an upload URL needs no request).
    assert!(store.download_url("k", now_ms() + 1000).await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(store
        .upload_url("k", "text/plain", 1, now_ms() + 1000)
        .await
        .is_ok());
}

#[test]
fn the_config_deserializes_with_defaults() {
    let config: S3Config = serde_json::from_str(
        r#"{"bucket":"b","access_key_id":"id","secret_access_key":"hunter2"}"#,
    )
    .unwrap();
    assert_eq!(config.region, "us-east-1");
    assert_eq!(config.endpoint, None);
    assert!(!config.allow_http);
    assert!(!format!("{config:?}").contains("hunter2"), "{config:?}");
    let store = S3Blobs::new(&config).unwrap();
    assert!(!format!("{store:?}").contains("hunter2"), "{store:?}");
}

/// A presigned upload URL stays valid for its whole life, and S3 takes
/// every PUT to it: a slow PUT once replaced the bytes of an attachment
/// already sent. Once sealed (as a send seals what it carries), what is
/// read of the key (its size, its bytes, its download URL) stays what was
/// stored at the seal, whatever is PUT to the upload URL afterwards;
/// sealing again changes nothing, and a delete removes both copies.
#[tokio::test]
async fn sealed_bytes_do_not_change_when_the_upload_url_is_used_again() {
    let Some(config) = config() else { return };
    let store = S3Blobs::new(&config).expect("S3 engine");
    let http = reqwest::Client::new();
    let up = store
        .upload_url("att-sealed", "text/plain", 100, now_ms() + 60_000)
        .await
        .unwrap();
    let put = |body: &'static [u8]| {
        http.put(&up)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    assert!(put(b"the original").await.unwrap().status().is_success());
    assert_eq!(store.seal("att-sealed").await.unwrap(), Sealed::Bytes(12));
    assert!(put(b"swapped!").await.unwrap().status().is_success());
    assert_eq!(store.seal("att-sealed").await.unwrap(), Sealed::Bytes(12));

    assert_eq!(store.size("att-sealed").await.unwrap(), Some(12));
    assert_eq!(
        store.get("att-sealed").await.unwrap().as_deref(),
        Some(&b"the original"[..])
    );
    let down = store
        .download_url("att-sealed", now_ms() + 60_000)
        .await
        .unwrap();
    let got = http.get(&down).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"the original");

    store.delete("att-sealed").await.unwrap();
    assert_eq!(store.size("att-sealed").await.unwrap(), None);
    assert_eq!(store.get("att-sealed").await.unwrap(), None);
    // Sealing what is absent is not an error (nothing to freeze).
    assert_eq!(store.seal("att-none").await.unwrap(), Sealed::Absent);
}
