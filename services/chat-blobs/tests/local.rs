//! The local engine: the blob conformance suite, the signed URLs, streamed
//! uploads and downloads.

use bytes::Bytes;
use chat_blobs::{Grant, LocalBlobs, Op, SignedQuery, UrlError, WriteError};
use chat_ports::{BlobStore, PortError};
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const BASE: &str = "https://chat.example/";
const NOW: i64 = 1_700_000_000_000;

fn open(dir: &Path) -> LocalBlobs {
    LocalBlobs::open(dir.join("blobs"), BASE, SECRET).expect("open")
}

/// The key and query of a URL the engine made, parsed as the gateway's
/// router and `Query` extractor would.
fn parse(url: &str) -> (String, SignedQuery) {
    let rest = url
        .strip_prefix("https://chat.example/v1/blobs/")
        .unwrap_or_else(|| panic!("unexpected URL layout: {url}"));
    let (key, query) = rest.split_once('?').expect("a query");
    (
        key.to_string(),
        serde_urlencoded::from_str(query).expect("query"),
    )
}

/// Every name in the blob directory.
fn listing(blobs: &LocalBlobs) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(blobs.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin {
    stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
}

async fn read_all(blobs: &LocalBlobs, key: &str) -> Option<(Vec<u8>, u64, String)> {
    let (mut file, len, content_type) = blobs.open_read(key).await.unwrap()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).await.unwrap();
    Some((bytes, len, content_type))
}

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    chat_blobs::conformance::run_all(&blobs).await;
    assert!(listing(&blobs).is_empty(), "left: {:?}", listing(&blobs));
}

#[test]
fn open_creates_the_directory_and_refuses_an_empty_secret() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    LocalBlobs::open(&nested, BASE, SECRET).unwrap();
    assert!(nested.is_dir());
    assert!(LocalBlobs::open(&nested, BASE, b"").is_err());
}

#[tokio::test]
async fn upload_urls_grant_their_put() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    let url = blobs
        .upload_url("att-1", "image/png; x=\"a&b\"", 5000, NOW + 60_000)
        .await
        .unwrap();
    assert!(
        url.starts_with("https://chat.example/v1/blobs/att-1?op=put&"),
        "{url}"
    );
    let (key, query) = parse(&url);
    assert_eq!(query.op, Op::Put);
    assert_eq!(
        blobs.verify(&key, &query, NOW),
        Ok(Grant::Put {
            max_size: 5000,
            content_type: "image/png; x=\"a&b\"".into()
        })
    );
    // Valid through its last millisecond, expired after.
    assert!(blobs.verify(&key, &query, NOW + 60_000).is_ok());
    assert_eq!(
        blobs.verify(&key, &query, NOW + 60_001),
        Err(UrlError::Expired)
    );
}

#[tokio::test]
async fn download_urls_grant_their_get() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    let url = blobs.download_url("att-1", NOW + 1000).await.unwrap();
    let (key, query) = parse(&url);
    assert_eq!(query.op, Op::Get);
    assert_eq!(blobs.verify(&key, &query, NOW), Ok(Grant::Get));
    assert_eq!(
        blobs.verify(&key, &query, NOW + 2000),
        Err(UrlError::Expired)
    );
}

#[tokio::test]
async fn altered_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    let up = blobs
        .upload_url("att-1", "image/png", 5000, NOW + 60_000)
        .await
        .unwrap();
    let (key, put) = parse(&up);
    let down = blobs.download_url("att-1", NOW + 60_000).await.unwrap();
    let (_, get) = parse(&down);
    let bad = |q: &SignedQuery, k: &str| blobs.verify(k, q, NOW);

    // Another key.
    assert_eq!(bad(&put, "att-2"), Err(UrlError::BadSignature));
    assert_eq!(bad(&get, "att-2"), Err(UrlError::BadSignature));
    // A tampered signature: one digit changed, cut short, not hex.
    let mut q = put.clone();
    let flipped = if q.sig.starts_with('0') { "1" } else { "0" };
    q.sig.replace_range(0..1, flipped);
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    q.sig = put.sig[..10].to_string();
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    q.sig = "zz".repeat(32);
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    // A larger limit, another content type, a later expiry.
    let mut q = put.clone();
    q.max = Some(5001);
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    let mut q = put.clone();
    q.ct = Some("text/html".into());
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    let mut q = put.clone();
    q.exp += 1;
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    // The wrong operation: a download URL used to upload, and back.
    let mut q = get.clone();
    q.op = Op::Put;
    q.max = Some(5000);
    q.ct = Some("image/png".into());
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    let mut q = put.clone();
    q.op = Op::Get;
    q.max = None;
    q.ct = None;
    assert_eq!(bad(&q, &key), Err(UrlError::BadSignature));
    // Missing or extra parameters.
    let mut q = put.clone();
    q.max = None;
    assert!(matches!(bad(&q, &key), Err(UrlError::Malformed(_))));
    let mut q = get.clone();
    q.ct = Some("image/png".into());
    assert!(matches!(bad(&q, &key), Err(UrlError::Malformed(_))));
    // A key that could escape the directory.
    assert!(matches!(bad(&get, "../att-1"), Err(UrlError::Key(_))));
    // Another secret.
    let other = LocalBlobs::open(dir.path().join("other"), BASE, b"another secret").unwrap();
    assert_eq!(other.verify(&key, &put, NOW), Err(UrlError::BadSignature));
}

#[test]
fn the_query_rejects_unknown_operations() {
    let q: Result<SignedQuery, _> = serde_urlencoded::from_str("op=delete&exp=1&sig=00");
    assert!(q.is_err());
}

#[tokio::test]
async fn write_stream_stores_and_open_read_serves() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    let n = blobs
        .write_stream(
            "att-1",
            "image/png",
            11,
            chunks(&[b"hello", b" ", b"world"]),
        )
        .await
        .unwrap();
    assert_eq!(n, 11);
    assert_eq!(
        read_all(&blobs, "att-1").await,
        Some((b"hello world".to_vec(), 11, "image/png".into()))
    );
    assert_eq!(blobs.size("att-1").await.unwrap(), Some(11));
    assert_eq!(listing(&blobs), ["att-1"]);
    assert_eq!(read_all(&blobs, "absent").await, None);
    assert!(blobs.open_read("../etc").await.is_err());
}

#[tokio::test]
async fn too_large_uploads_stop_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    // The limit is passed in the second chunk; the third is never asked for.
    let third_taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = third_taken.clone();
    let body = chunks(&[b"12345", b"67890"]).chain(stream::once(async move {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(Bytes::from_static(b"x"))
    }));
    let err = blobs
        .write_stream("att-1", "text/plain", 8, Box::pin(body))
        .await
        .unwrap_err();
    assert!(matches!(err, WriteError::TooLarge { max_size: 8 }), "{err}");
    assert!(!third_taken.load(std::sync::atomic::Ordering::SeqCst));
    assert!(listing(&blobs).is_empty(), "left: {:?}", listing(&blobs));
    assert_eq!(blobs.size("att-1").await.unwrap(), None);

    // Exactly the limit is fine.
    blobs
        .write_stream("att-1", "text/plain", 10, chunks(&[b"12345", b"67890"]))
        .await
        .unwrap();
    assert_eq!(blobs.size("att-1").await.unwrap(), Some(10));
}

#[tokio::test]
async fn a_failed_overwrite_keeps_the_old_blob() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    blobs
        .put("att-1", b"old bytes".to_vec(), "text/plain")
        .await
        .unwrap();

    let err = blobs
        .write_stream("att-1", "image/png", 3, chunks(&[b"new", b"er"]))
        .await
        .unwrap_err();
    assert!(matches!(err, WriteError::TooLarge { .. }));

    let failing = stream::iter(vec![
        Ok(Bytes::from_static(b"new")),
        Err("connection reset"),
    ]);
    let err = blobs
        .write_stream("att-1", "image/png", 100, failing)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WriteError::Body(m) if m == "connection reset"),
        "{err}"
    );

    assert_eq!(
        read_all(&blobs, "att-1").await,
        Some((b"old bytes".to_vec(), 9, "text/plain".into()))
    );
    assert_eq!(listing(&blobs), ["att-1"]);

    // A complete overwrite replaces bytes and content type together.
    blobs
        .write_stream("att-1", "image/png", 100, chunks(&[b"new"]))
        .await
        .unwrap();
    assert_eq!(
        read_all(&blobs, "att-1").await,
        Some((b"new".to_vec(), 3, "image/png".into()))
    );
}

#[tokio::test]
async fn a_cancelled_upload_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    // The client sends a chunk and then stalls; the gateway gives up.
    let stalled = chunks(&[b"partial"]).chain(stream::pending());
    let upload = blobs.write_stream("att-1", "text/plain", 100, stalled);
    assert!(tokio::time::timeout(Duration::from_millis(200), upload)
        .await
        .is_err());
    assert!(listing(&blobs).is_empty(), "left: {:?}", listing(&blobs));
}

#[tokio::test]
async fn write_stream_checks_key_and_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    let err = blobs
        .write_stream("../x", "text/plain", 10, chunks(&[b"x"]))
        .await
        .unwrap_err();
    assert!(matches!(err, WriteError::Key(_)));
    let err = blobs
        .write_stream("x", "text/\r\nplain", 10, chunks(&[b"x"]))
        .await
        .unwrap_err();
    assert!(matches!(err, WriteError::ContentType(_)));
    assert!(listing(&blobs).is_empty());
}

#[tokio::test]
async fn a_foreign_file_is_corrupt_not_a_blob() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    std::fs::write(blobs.dir().join("stray"), b"not written by the engine").unwrap();
    assert!(matches!(
        blobs.get("stray").await,
        Err(PortError::Corrupt { .. })
    ));
}

#[test]
fn open_removes_stale_temp_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let old = std::fs::File::create(blobs.join("~old.part")).unwrap();
    let two_days = Duration::from_secs(2 * 24 * 3600);
    #[allow(clippy::disallowed_methods)] // (a file time, wall clock)
    old.set_modified(std::time::SystemTime::now() - two_days)
        .unwrap();
    drop(old);
    std::fs::write(blobs.join("~fresh.part"), b"in progress").unwrap();
    std::fs::write(blobs.join("old-blob"), b"a blob").unwrap();
    let blobs = LocalBlobs::open(&blobs, BASE, SECRET).unwrap();
    assert_eq!(listing(&blobs), ["old-blob", "~fresh.part"]);
}

#[tokio::test]
async fn an_upload_never_replaces_a_stored_blob_even_one_stored_while_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = open(dir.path());
    // The slow upload begins first and stalls after one chunk.
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let slow_body = chunks(&[b"ev"]).chain(
        stream::once(async move {
            let _ = wait.await;
            Ok::<_, Infallible>(Bytes::from_static(b"il"))
        })
        .boxed(),
    );
    let slow = blobs.upload_stream("att-1", "text/plain", 100, slow_body);
    let fast = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stored = blobs
            .upload_stream("att-1", "text/plain", 100, chunks(&[b"hello"]))
            .await;
        let _ = go.send(());
        stored
    };
    let (slow, fast) = tokio::join!(slow, fast);
    assert_eq!(fast.unwrap(), 5);
    assert!(matches!(slow, Err(WriteError::Exists)), "{slow:?}");
    assert_eq!(
        read_all(&blobs, "att-1").await,
        Some((b"hello".to_vec(), 5, "text/plain".into()))
    );
    assert_eq!(listing(&blobs), ["att-1"], "no temp file left");
}
