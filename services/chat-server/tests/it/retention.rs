use crate::harness::*;
use std::time::Duration;

/// Retention removes old messages from the store, the log and the search
/// index.
#[tokio::test]
async fn messages_older_than_the_retention_are_removed() {
    let s = Server::start_with(|c| {
        c.retention.max_age_secs = 2;
        c.retention.sweep_interval_secs = 1;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    alice.send(&conv, "old", "soon gone").await;
    eventually(|| async { (alice.history(&conv, "").await.len() == 1).then_some(()) }).await;
    // Indexed for search before it expires.
    let soon = "/v1/search?q=soon&limit=1";
    eventually(|| async {
        let (_, page) = alice.get(soon).await;
        (page["results"].as_array()?.len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    alice.send(&conv, "new", "fresh").await;
    let h = eventually(|| async {
        let h = alice.history(&conv, "").await;
        (h.len() == 1 && h[0]["client_msg_id"] == "new").then_some(h)
    })
    .await;
    // Seqs keep counting: the expired message's seq is not reused.
    assert_eq!(h[0]["seq"], 2);
    let mut ws = s.connect("bob", "phone").await;
    assert_eq!(seqs(&ws.handshake().await), vec![2]);
    // The sweep removed it from the search index too: the cursor counts
    // what the index found, before the read-back from the store.
    eventually(|| async {
        let (_, page) = alice.get(soon).await;
        page["next_cursor"].is_null().then_some(())
    })
    .await;
}
