use super::*;
use chat_ports::Stores;

#[tokio::test]
async fn the_embedded_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Always).unwrap();
    chat_ports::conformance::run_all(&Stores::from_engine(Arc::new(store))).await;
}

#[tokio::test]
async fn records_written_lazily_survive_a_clean_close() {
    use chat_ports::{DeviceStore, LastSeenStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let store = EmbeddedStore::open(&path, FsyncPolicy::Always).unwrap();
        store.set_last_seen("alice", 42).await.unwrap();
        store.register_device("alice", "phone", 7).await.unwrap();
        // Visible at once, though not fsynced yet.
        assert_eq!(store.last_seen("alice").await.unwrap(), Some(42));
    }
    let store = EmbeddedStore::open(&path, FsyncPolicy::Always).unwrap();
    assert_eq!(store.last_seen("alice").await.unwrap(), Some(42));
    assert_eq!(store.devices("alice").await.unwrap(), vec!["phone"]);
}
