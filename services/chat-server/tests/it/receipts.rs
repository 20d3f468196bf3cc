use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn receipts_are_watermarks_and_drive_unread_counts() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let mut alice_ws = s.connect("alice", "phone").await;
    alice_ws.handshake().await;
    for i in 1..=3 {
        alice_ws.send_message(&conv, &format!("c{i}"), "x").await;
    }
    let unread = || async {
        let (_, l) = bob.get("/v1/conversations").await;
        l["conversations"][0]["unread"].as_u64()
    };
    eventually(|| async { (unread().await == Some(3)).then_some(()) }).await;
    let (_, l) = alice.get("/v1/conversations").await;
    assert_eq!(
        l["conversations"][0]["unread"], 0,
        "one's own messages are never unread"
    );

    let (st, _) = bob
        .post(
            "/v1/receipts",
            json!({"conv": conv, "seq": 2, "type": "read"}),
        )
        .await;
    assert_eq!(st, 204);
    let r = alice_ws.expect("receipt").await;
    assert_eq!(r["user"], "bob");
    assert_eq!(r["kind"], "read");
    assert_eq!(r["seq"], 2);
    eventually(|| async { (unread().await == Some(1)).then_some(()) }).await;

    // Lower or repeated values change nothing.
    bob.post(
        "/v1/receipts",
        json!({"conv": conv, "seq": 1, "type": "read"}),
    )
    .await;
    bob.post(
        "/v1/receipts",
        json!({"conv": conv, "seq": 3, "type": "delivered"}),
    )
    .await;
    let r = alice_ws.expect("receipt").await;
    assert_eq!(
        (r["kind"].as_str(), r["seq"].as_u64()),
        (Some("delivered"), Some(3))
    );
    let bob_row = alice.receipt_row(&conv, "bob").await.unwrap();
    assert_eq!(bob_row["read_seq"], 2);
    assert_eq!(bob_row["delivered_seq"], 3);
    assert_eq!(unread().await, Some(1));

    let (st, _) = bob
        .post(
            "/v1/receipts",
            json!({"conv": conv, "seq": 2, "type": "seen"}),
        )
        .await;
    assert_eq!(st, 400);
    let carol = s.user("carol", "phone").await;
    let (st, _) = carol
        .post(
            "/v1/receipts",
            json!({"conv": conv, "seq": 2, "type": "read"}),
        )
        .await;
    assert_eq!(st, 403);
}
