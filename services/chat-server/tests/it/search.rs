//! Search (PROTOCOL v1.1): `GET /v1/search` over the messages the caller
//! can see, kept by the search processor from the log; folded case,
//! diacritics and text without spaces; edits, deletes and membership
//! windows; pages; and the protocol's errors.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Instant;

fn query(q: &str) -> String {
    let q: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/v1/search?q={q}")
}

async fn search(user: &User, path: &str) -> Value {
    let (st, page) = user.get(path).await;
    assert_eq!(st, 200, "{path}: {page}");
    page
}

fn found(page: &Value) -> Vec<(String, u64)> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["conv"].as_str().unwrap().to_string(),
                r["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The results of `path` once there are `n` of them (indexing is
/// asynchronous).
async fn search_until(user: &User, path: &str, n: usize) -> Value {
    eventually(|| async {
        let page = search(user, path).await;
        (page["results"].as_array().unwrap().len() == n).then_some(page)
    })
    .await
}

#[tokio::test]
async fn a_sent_message_is_found_by_its_words_folded() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let ack = alice
        .send(
            &conv,
            "m1",
            "The QUICK brown fox visits the Café in São Paulo",
        )
        .await;
    alice.send(&conv, "m2", "nothing to see here").await;
    let sent = Instant::now();
    let page = search_until(&bob, &query("quick fox"), 1).await;
    println!("searchable after {:?}", sent.elapsed());
    let r = &page["results"][0];
    assert_eq!(
        (&r["conv"], &r["seq"], &r["sender"], &r["ts"]),
        (&json!(conv), &json!(1), &json!("alice"), &ack["ts"])
    );
    assert_eq!(
        r["snippet"],
        "The QUICK brown fox visits the Café in São Paulo"
    );
    assert_eq!(page["next_cursor"], Value::Null);
    // Case and diacritics fold both ways; every word must be there.
    for q in ["CAFE", "café sao paulo", "Quick"] {
        assert_eq!(
            found(&search(&bob, &query(q)).await),
            [(conv.clone(), 1)],
            "{q}"
        );
    }
    assert!(found(&search(&bob, &query("quick cat")).await).is_empty());
    // Text without spaces.
    alice.send(&conv, "m3", "我们明天在北京见面").await;
    alice.send(&conv, "m4", "東京で会いましょう").await;
    search_until(&bob, &query("北京"), 1).await;
    assert_eq!(
        found(&search_until(&bob, &query("東京"), 1).await),
        [(conv.clone(), 4)]
    );
    // The search processor's lag is a metric.
    let metrics = s.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("record_age_seconds") && l.contains("group=\"search\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn search_sees_only_the_callers_conversations_and_windows() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let carol = s.user("carol", "phone").await;
    let dave = s.user("dave", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    alice.send(&conv, "m1", "the plan, before carol").await;
    let (st, _) = alice
        .post(
            &format!("/v1/conversations/{conv}/members"),
            json!({"add": ["carol"]}),
        )
        .await;
    assert_eq!(st, 200);
    alice.send(&conv, "m2", "the plan, with carol").await;
    let other = bob.direct("dave").await;
    bob.send(&other, "m1", "a plan of bob and dave").await;

    search_until(&bob, &query("plan"), 3).await;
    // Carol sees what was sent since she joined; Dave his own conversation.
    assert_eq!(
        found(&search_until(&carol, &query("plan"), 1).await),
        [(conv.clone(), 2)]
    );
    assert_eq!(
        found(&search_until(&dave, &query("plan"), 1).await),
        [(other.clone(), 1)]
    );
    // `conv` narrows to one conversation, of which the caller is a member.
    let narrowed = search(&bob, &format!("{}&conv={conv}", query("plan"))).await;
    assert_eq!(found(&narrowed).len(), 2);
    let (st, e) = dave.get(&format!("{}&conv={conv}", query("plan"))).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (403, &json!("not_member")),
        "{e}"
    );
}

#[tokio::test]
async fn edited_and_deleted_messages_are_found_by_what_they_are_now() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let bob = s.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    alice.send(&conv, "m1", "meet at noon").await;
    search_until(&bob, &query("noon"), 1).await;
    let (st, _) = alice
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/conversations/{conv}/messages/1"),
            Some(json!({"body": "meet at midnight"})),
        )
        .await;
    assert_eq!(st, 200);
    // At once: the old body no longer matches, whatever the index holds.
    assert!(found(&search(&bob, &query("noon")).await).is_empty());
    let page = search_until(&bob, &query("midnight"), 1).await;
    assert_eq!(page["results"][0]["snippet"], "meet at midnight");
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!(st, 204);
    assert!(found(&search(&bob, &query("midnight")).await).is_empty());
    assert!(found(&search(&bob, &query("meet")).await).is_empty());
    // The index itself catches up: the cursor counts what the index found
    // (before the read-back), so a page of one has no next page once the
    // edit replaced the old body and the delete removed the message.
    for q in ["noon", "meet"] {
        eventually(|| async {
            let page = search(&bob, &format!("{}&limit=1", query(q))).await;
            page["next_cursor"].is_null().then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn results_come_in_pages_with_a_cursor() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.group("g", &[]).await;
    for i in 1..=25 {
        alice
            .send(
                &conv,
                &format!("m{i}"),
                &format!("weekly report number {i}"),
            )
            .await;
    }
    // Every message indexed first: a page is an offset into the ranking,
    // which messages indexed between two pages shift.
    search_until(&alice, &format!("{}&limit=100", query("report")), 25).await;
    let first = search(&alice, &query("report")).await;
    assert_eq!(found(&first).len(), 20, "the default page is 20");
    assert!(first["next_cursor"].is_string());
    let mut seen = Vec::new();
    let mut path = format!("{}&limit=10", query("report"));
    let mut pages = 0;
    loop {
        let page = search(&alice, &path).await;
        seen.extend(found(&page).into_iter().map(|(_, seq)| seq));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{}&limit=10&cursor={c}", query("report")),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort_unstable();
    assert_eq!(seen, (1..=25).collect::<Vec<u64>>(), "every result once");
    // At most 100 a page.
    let all = search(&alice, &format!("{}&limit=1000", query("report"))).await;
    assert_eq!(found(&all).len(), 25);
}

#[tokio::test]
async fn bad_searches_are_refused_as_the_protocol_says() {
    let s = Server::start().await;
    let alice = s.user("alice", "phone").await;
    let long = "word ".repeat(200);
    for path in [
        "/v1/search".to_string(),
        "/v1/search?q=".to_string(),
        query("   "),
        query("?!,."),
        query(&long),
        format!("{}&limit=ten", query("x")),
        format!("{}&cursor=abc", query("x")),
        format!("{}&cursor=99999999", query("x")),
        format!("{}&conv=", query("x")),
    ] {
        let (st, e) = alice.get(&path).await;
        assert_eq!(
            (st, &e["error"]["code"]),
            (400, &json!("bad_request")),
            "{path}: {e}"
        );
    }
    let (st, e) = alice.get(&format!("{}&conv=g-nope", query("x"))).await;
    assert_eq!(
        (st, &e["error"]["code"]),
        (404, &json!("unknown_conversation")),
        "{e}"
    );
    let anonymous = reqwest::get(format!("{}{}", s.base, query("x")))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

/// A search costs an index query and up to 100 store reads: a user's
/// searches have an allowance (`rate_limited` with `retry_after_ms` past
/// it), and other users are not held back.
#[tokio::test]
async fn a_user_searching_in_a_flood_is_rate_limited() {
    let s = Server::start_with(|c| {
        c.gateway.client_limits.searches_every_ms = 60_000;
        c.gateway.client_limits.search_burst = 3;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let (mut answered, mut limited) = (0, 0);
    for _ in 0..10 {
        let (st, page) = alice.get(&query("anything")).await;
        match st {
            200 => answered += 1,
            429 => {
                assert_eq!(page["error"]["code"], "rate_limited", "{page}");
                assert!(page["error"]["retry_after_ms"].as_u64().unwrap() > 0);
                limited += 1;
            }
            other => panic!("{other} {page}"),
        }
    }
    assert_eq!((answered, limited), (3, 7));
    let bob = s.user("bob", "phone").await;
    search(&bob, &query("anything")).await;
}
