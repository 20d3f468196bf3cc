//! The blob conformance suite: one body per behaviour of
//! [`chat_ports::BlobStore`], run by every engine's tests against an empty
//! store (`run_all`). Checks panic with a message naming what failed.

use chat_ports::BlobStore;

/// Runs every check, in order, on one empty store.
pub async fn run_all(store: &dyn BlobStore) {
    absent_keys(store).await;
    put_get_size_delete(store).await;
    overwrite(store).await;
    empty_and_binary_blobs(store).await;
    keys_are_separate(store).await;
    invalid_keys_are_refused(store).await;
    urls_name_the_key(store).await;
}

/// Nothing stored: no size, no bytes, and deleting is fine.
pub async fn absent_keys(store: &dyn BlobStore) {
    assert_eq!(store.size("absent").await.unwrap(), None, "size of absent");
    assert_eq!(store.get("absent").await.unwrap(), None, "get of absent");
    store
        .delete("absent")
        .await
        .expect("delete of absent is ok");
}

/// A stored blob reads back whole; deleted, it is gone, and deleting again
/// is fine.
pub async fn put_get_size_delete(store: &dyn BlobStore) {
    store
        .put("blob-1", b"hello blob".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(store.size("blob-1").await.unwrap(), Some(10));
    assert_eq!(
        store.get("blob-1").await.unwrap().as_deref(),
        Some(&b"hello blob"[..])
    );
    store.delete("blob-1").await.unwrap();
    assert_eq!(
        store.size("blob-1").await.unwrap(),
        None,
        "size after delete"
    );
    assert_eq!(store.get("blob-1").await.unwrap(), None, "get after delete");
    store.delete("blob-1").await.expect("second delete is ok");
}

/// A second put replaces the bytes, shorter or longer.
pub async fn overwrite(store: &dyn BlobStore) {
    store
        .put("blob-2", b"first version".to_vec(), "text/plain")
        .await
        .unwrap();
    store
        .put("blob-2", b"second".to_vec(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(store.size("blob-2").await.unwrap(), Some(6));
    assert_eq!(
        store.get("blob-2").await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    let long = vec![7u8; 100_000];
    store
        .put("blob-2", long.clone(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(store.get("blob-2").await.unwrap(), Some(long));
    store.delete("blob-2").await.unwrap();
}

/// An empty blob exists with size 0; every byte value survives, across
/// buffer sizes.
pub async fn empty_and_binary_blobs(store: &dyn BlobStore) {
    store
        .put("empty", Vec::new(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(store.size("empty").await.unwrap(), Some(0), "empty size");
    assert_eq!(store.get("empty").await.unwrap(), Some(Vec::new()));
    store.delete("empty").await.unwrap();

    let binary: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put("binary.bin", binary.clone(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(store.size("binary.bin").await.unwrap(), Some(300_000));
    assert_eq!(store.get("binary.bin").await.unwrap(), Some(binary));
    store.delete("binary.bin").await.unwrap();
}

/// Keys that share a prefix are separate blobs.
pub async fn keys_are_separate(store: &dyn BlobStore) {
    store.put("k", b"1".to_vec(), "text/plain").await.unwrap();
    store
        .put("k.thumb", b"22".to_vec(), "image/jpeg")
        .await
        .unwrap();
    store
        .put("k-2", b"333".to_vec(), "text/plain")
        .await
        .unwrap();
    store.delete("k.thumb").await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(store.get("k.thumb").await.unwrap(), None);
    assert_eq!(store.size("k-2").await.unwrap(), Some(3));
    store.delete("k").await.unwrap();
    store.delete("k-2").await.unwrap();
}

/// Keys that could name something outside the store are refused by every
/// operation.
pub async fn invalid_keys_are_refused(store: &dyn BlobStore) {
    for key in ["", "../escape", "a/b", ".hidden", "a..b", "sp ace"] {
        assert!(
            store.put(key, b"x".to_vec(), "text/plain").await.is_err(),
            "put {key:?}"
        );
        assert!(store.get(key).await.is_err(), "get {key:?}");
        assert!(store.size(key).await.is_err(), "size {key:?}");
        assert!(store.delete(key).await.is_err(), "delete {key:?}");
        assert!(
            store
                .upload_url(key, "text/plain", 10, i64::MAX)
                .await
                .is_err(),
            "upload_url {key:?}"
        );
        assert!(
            store.download_url(key, i64::MAX).await.is_err(),
            "download_url {key:?}"
        );
    }
    assert!(
        store
            .put("ok-key", b"x".to_vec(), "bad\ntype")
            .await
            .is_err(),
        "a content type with a newline"
    );
}

/// Signed URLs differ by key and operation and name their key.
pub async fn urls_name_the_key(store: &dyn BlobStore) {
    let exp = now_ms() + 60_000;
    let up = store
        .upload_url("url-key", "image/png", 1000, exp)
        .await
        .unwrap();
    let down = store.download_url("url-key", exp).await.unwrap();
    let other = store.download_url("url-other", exp).await.unwrap();
    assert!(up.contains("url-key"), "{up}");
    assert!(down.contains("url-key"), "{down}");
    assert_ne!(up, down);
    assert_ne!(down, other);
}

#[allow(clippy::disallowed_methods)] // (below chat-domain's clock; the same wall clock)
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
