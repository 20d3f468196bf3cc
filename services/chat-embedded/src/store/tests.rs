use super::*;
use chat_ports::Stores;

#[tokio::test]
async fn the_embedded_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), FsyncPolicy::Always).unwrap();
    chat_ports::conformance::run_all(&Stores::from_engine(Arc::new(store))).await;
}
