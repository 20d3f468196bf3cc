//! The distributed deployment: gateways and processors as separate OS
//! processes sharing Kafka, Cassandra and Redis.
//!
//! Built with the engines' features, as `cluster` is.
#![cfg(all(
    feature = "kafka",
    feature = "cassandra",
    feature = "postgres",
    feature = "redis"
))]

use crate::cluster::{services, Cluster};
use crate::harness::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_and_two_processors_serve_the_protocol() {
    let Some(s) = services() else { return };
    let mut c = Cluster::new(&s).await;
    c.start(&["processor", "--name", "all"]);
    c.start(&["processor", "--name", "all"]);
    let g1 = c.start(&["gateway"]);
    let g2 = c.start(&["gateway"]);
    let (gw1, gw2) = (c.gateway(g1), c.gateway(g2));

    // Outside the embedded mode dev login is off unless configured.
    let saved = c.env.clone();
    c.env.retain(|(k, _)| k != "CHAT__GATEWAY__DEV_LOGIN");
    let g3 = c.start(&["gateway"]);
    c.env = saved;
    let r = c
        .gateway(g3)
        .http
        .post(format!("{}/v1/dev/token", c.gateway(g3).base))
        .json(&json!({"user": "mallory", "device": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let alice = gw1.user("alice", "phone").await;
    let conv = alice.group("g", &["bob", "carol"]).await;
    let mut a = gw1.connect("alice", "phone").await;
    let mut b = gw2.connect("bob", "phone").await;
    a.handshake().await;
    b.handshake().await;

    // Messages cross gateways, in one order, the sender's device included.
    for i in 0..10 {
        let ack = a
            .send_message(&conv, &format!("a{i}"), &format!("hello {i}"))
            .await;
        assert_eq!(ack["type"], "sent", "{ack}");
    }
    assert_eq!(
        seqs(&b.messages(&conv, 10).await),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&a.messages(&conv, 10).await),
        (1..=10).collect::<Vec<_>>()
    );
    let ack = b.send_message(&conv, "b0", "from gw2").await;
    assert_eq!(ack["type"], "sent");
    assert_eq!(a.messages(&conv, 1).await[0]["seq"], 11);

    // Receipts and typing cross gateways.
    b.send(json!({"type": "read", "conv": conv, "seq": 11}))
        .await;
    let r = a
        .take(|f| f["type"] == "receipt" && f["user"] == "bob" && f["kind"] == "read")
        .await
        .unwrap();
    assert_eq!(r["seq"], 11);
    b.send(json!({"type": "typing", "conv": conv})).await;
    assert_eq!(a.expect("typing").await["user"], "bob");

    // Presence crosses gateways.
    a.send(json!({"type": "subscribe_presence", "users": ["carol"]}))
        .await;
    assert_eq!(a.expect("presence").await["online"], false);
    let carol = gw2.connect("carol", "phone").await;
    assert_eq!(a.expect("presence").await["online"], true);
    drop(carol);
    let off = a.expect("presence").await;
    assert_eq!(off["online"], false);
    assert!(off["last_seen"].as_i64().is_some());

    // An idempotent resend through the other gateway, after the first one
    // was killed and a new one started, returns the first id.
    let first = alice.history(&conv, "limit=1&after=0").await[0].clone();
    drop(a);
    c.kill(g1);
    let g4 = c.start(&["gateway"]);
    let gw1 = c.gateway(g4);
    let alice = gw1.user("alice", "phone").await;
    let mut a = gw1.connect("alice", "phone").await;
    a.handshake().await;
    let again = gw2
        .user("alice", "laptop")
        .await
        .send(&conv, "a0", "hello 0")
        .await;
    assert_eq!(again["msg_id"], first["msg_id"]);

    // A membership change is ordered with the messages everywhere.
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/members/bob"))
        .await;
    assert_eq!(st, 200);
    a.send_message(&conv, "after-bob", "bob is gone").await;
    let mut carol = gw2.connect("carol", "phone").await;
    // Sequenced before carol connected, it comes in her sync; after, live.
    let synced = carol.handshake().await;
    if !synced.iter().any(|f| f["client_msg_id"] == "after-bob") {
        carol
            .take(|f| f["type"] == "message" && f["client_msg_id"] == "after-bob")
            .await
            .expect("carol gets the message sent after bob left");
    }
    // Bob got his own message 11 before he left, and nothing after.
    assert_eq!(b.messages(&conv, 1).await[0]["seq"], 11);
    b.quiet("message", Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_killed_mid_stream_loses_nothing() {
    let Some(s) = services() else { return };
    let mut c = Cluster::new(&s).await;
    let p1 = c.start(&["processor", "--name", "all"]);
    c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let gw = c.gateway(g);
    let alice = gw.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut bob = gw.connect("bob", "phone").await;
    bob.handshake().await;
    for i in 0..60 {
        if i == 20 {
            c.kill(p1);
        }
        alice.send(&conv, &format!("m{i}"), "x").await;
    }
    let got = bob.messages(&conv, 60).await;
    assert_eq!(seqs(&got), (1..=60).collect::<Vec<_>>(), "in order, no gap");
    let ids: HashSet<_> = got
        .iter()
        .map(|m| m["client_msg_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 60, "no duplicate");
    let h = alice.history(&conv, "limit=500").await;
    assert_eq!(seqs(&h), (1..=60).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_the_same_history_and_tail_decodes_the_topics() {
    let Some(s) = services() else { return };
    let mut c = Cluster::new(&s).await;
    c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let gw = c.gateway(g);
    let alice = gw.user("alice", "phone").await;
    let bob = gw.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    let direct = alice.direct("carol").await;
    for i in 0..5 {
        alice
            .send(&conv, &format!("a{i}"), &format!("group {i}"))
            .await;
        bob.send(&conv, &format!("b{i}"), &format!("reply {i}"))
            .await;
        alice.send(&direct, &format!("d{i}"), "direct").await;
    }
    alice
        .post(
            &format!("/v1/conversations/{conv}/members"),
            json!({"add": ["dave"]}),
        )
        .await;
    alice.send(&conv, "after-dave", "hi dave").await;
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!(st, 204);
    bob.post(
        "/v1/receipts",
        json!({"conv": conv, "seq": 4, "type": "read"}),
    )
    .await;
    eventually(|| async {
        let h = alice.history(&conv, "limit=500").await;
        let (_, r) = alice
            .get(&format!("/v1/conversations/{conv}/receipts"))
            .await;
        let bob_read = r["members"]
            .as_array()?
            .iter()
            .any(|m| m["user"] == "bob" && m["read_seq"] == 4);
        (h.len() == 11 && bob_read).then_some(())
    })
    .await;
    let snapshot = |user: crate::harness::User| {
        let (conv, direct) = (conv.clone(), direct.clone());
        async move {
            let (_, c1) = user.get(&format!("/v1/conversations/{conv}")).await;
            let (_, r1) = user
                .get(&format!("/v1/conversations/{conv}/receipts"))
                .await;
            let h1 = user.history(&conv, "limit=500").await;
            let h2 = user.history(&direct, "limit=500").await;
            json!({"conv": c1, "receipts": r1, "group": h1, "direct": h2})
        }
    };
    let before = snapshot(alice.clone()).await;

    // Replay into an empty database, then read it through a gateway on it.
    let rebuilt = s.fresh_store().await;
    c.stores.push(rebuilt.clone());
    let report = c.run(
        &["replay", "--stall-ms", "3000"],
        &[("CHAT__ENGINES__STORE", &rebuilt)],
    );
    assert!(report.contains("sequencer_records"), "{report}");
    let mut replayed = Cluster::new(&s).await;
    replayed.env = c.env.clone();
    replayed.env.retain(|(k, _)| k != "CHAT__ENGINES__STORE");
    replayed.env.push(("CHAT__ENGINES__STORE".into(), rebuilt));
    let g2 = replayed.start(&["gateway"]);
    let alice2 = replayed.gateway(g2).user("alice", "phone").await;
    let after = snapshot(alice2).await;
    assert_eq!(
        before, after,
        "the rebuilt store answers exactly as the live one"
    );

    // tail decodes the topic with the schema files alone.
    let schemas = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas");
    let out = c.run(
        &["tail", "--topic", "chat.commands", "--schemas", schemas],
        &[],
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sends: Vec<_> = lines
        .iter()
        .filter(|l| l["schema"] == "SendMessage")
        .collect();
    assert_eq!(sends.len(), 16);
    assert!(sends.iter().any(|l| l["record"]["body"] == "hi dave"));
    assert!(lines.iter().all(|l| l.get("error").is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_in_order_through_a_redis_restart() {
    let Some(s) = services() else { return };
    let Some(mut redis) = crate::cluster::OwnRedis::start() else {
        return;
    };
    let mut c = Cluster::new(&s).await;
    c.env.retain(|(k, _)| k != "CHAT__ENGINES__REALTIME");
    c.env.push(("CHAT__ENGINES__REALTIME".into(), redis.url()));
    c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let gw = c.gateway(g);
    let alice = gw.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut bob = gw.connect("bob", "phone").await;
    bob.handshake().await;
    for i in 0..10 {
        alice.send(&conv, &format!("m{i}"), "before").await;
    }
    assert_eq!(
        seqs(&bob.messages(&conv, 10).await),
        (1..=10).collect::<Vec<_>>()
    );

    // Redis dies: sends still succeed (they need only Kafka and the store).
    redis.kill();
    for i in 10..20 {
        alice.send(&conv, &format!("m{i}"), "during").await;
    }
    redis.restart().unwrap();
    for i in 20..30 {
        alice.send(&conv, &format!("m{i}"), "after").await;
    }
    // Bob's session repairs from the store once Redis is back, then goes
    // on live: everything, in order, no gap.
    let got = bob.messages(&conv, 20).await;
    let got: Vec<u64> = seqs(&got);
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(unique, (11..=30).collect::<Vec<_>>(), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_no_acknowledged_message() {
    let Some(s) = services() else { return };
    let Some(mut broker) = crate::cluster::OwnBroker::start() else {
        return;
    };
    let mut c = Cluster::new(&s).await;
    c.use_broker(&broker);
    c.env
        .push(("CHAT__KAFKA__PRODUCE_TIMEOUT_MS".into(), "3000".into()));
    c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let gw = c.gateway(g);
    let alice = gw.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut acked = Vec::new();
    for i in 0..10 {
        alice.send(&conv, &format!("before{i}"), "x").await;
        acked.push(format!("before{i}"));
    }

    // The broker dies: sends are refused with `overloaded` or wait; none is
    // acknowledged without being durable.
    broker.kill();
    let mut outage = Vec::new();
    for i in 0..3 {
        let (st, body) = alice
            .post(
                "/v1/messages",
                json!({"conv": conv, "client_msg_id": format!("during{i}"), "body": "x"}),
            )
            .await;
        match st {
            200 => acked.push(format!("during{i}")),
            503 => assert_eq!(body["error"]["code"], "overloaded"),
            other => panic!("unexpected {other} {body}"),
        }
        outage.push(st);
    }
    broker.restart().unwrap();
    for i in 0..10 {
        let id = format!("after{i}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (st, _) = alice
                .post(
                    "/v1/messages",
                    json!({"conv": conv, "client_msg_id": id, "body": "x"}),
                )
                .await;
            if st == 200 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "sends still refused 30 s after the broker came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        acked.push(id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let h = loop {
        let h = alice.history(&conv, "limit=500").await;
        let have: HashSet<String> = h
            .iter()
            .map(|m| m["client_msg_id"].as_str().unwrap().to_string())
            .collect();
        if acked.iter().all(|a| have.contains(a)) {
            break h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "acknowledged messages missing: have {have:?}, acked {acked:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("sends during the broker outage answered {outage:?}");
    assert_eq!(
        seqs(&h),
        (1..=h.len() as u64).collect::<Vec<_>>(),
        "dense: {outage:?}"
    );
}

/// DESIGN invariant 9: the log starts again from offset 0 (the broker lost
/// its data; the same as topics deleted and created again) while the store
/// holds positions from the old one. New sends are sequenced after the old
/// messages, not taken for replays of commands already applied and
/// dropped; on Cassandra they are not written below the old rows either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_a_log_that_started_again_are_not_taken_for_replays() {
    let Some(s) = services() else { return };
    let Some(mut broker) = crate::cluster::OwnBroker::start() else {
        return;
    };
    let mut c = Cluster::new(&s).await;
    c.use_broker(&broker);
    let p = c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let alice = c.gateway(g).user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    for i in 0..10 {
        alice.send(&conv, &format!("old{i}"), "x").await;
    }
    eventually(|| async { (alice.history(&conv, "limit=500").await.len() == 10).then_some(()) })
        .await;

    c.kill(g);
    c.kill(p);
    broker.kill_and_lose_data();
    broker.restart().unwrap();
    c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let alice = c.gateway(g).user("alice", "phone").await;
    for i in 0..5 {
        alice.send(&conv, &format!("new{i}"), "x").await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let h = loop {
        let h = alice.history(&conv, "limit=500").await;
        if h.len() >= 15 {
            break h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sends after the log started again are missing: {:?}",
            h.iter()
                .map(|m| m["client_msg_id"].clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let keys: Vec<String> = h
        .iter()
        .map(|m| m["client_msg_id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..10)
        .map(|i| format!("old{i}"))
        .chain((0..5).map(|i| format!("new{i}")))
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(seqs(&h), (1..=15).collect::<Vec<_>>());
}

/// On Cassandra a batch writes its message rows concurrently, in no order,
/// and the conversation's state last: the commit point. A device that
/// connects while a batch is half written (its sequencer paused, SIGSTOP in
/// the fault harness) gets its backlog up to the committed state, never a
/// later row without an earlier one (it would never be sent the earlier
/// one on that connection: live traffic below its position is dropped), and
/// the batch live once it is committed. Found by the fault-injection
/// harness (seed 7002: a device got seq 116 right after 113).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_read_while_a_batch_is_half_written_has_no_gap() {
    let Some(s) = services() else { return };
    // PostgreSQL writes a batch in one transaction.
    let crate::cluster::StoreService::Cassandra(nodes) = s.store.clone() else {
        return;
    };
    let mut c = Cluster::new(&s).await;
    let p = c.start(&["processor", "--name", "all"]);
    let g = c.start(&["gateway"]);
    let gw = c.gateway(g);
    let alice = gw.user("alice", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    for i in 1..=3 {
        alice.send(&conv, &format!("a{i}"), "x").await;
    }
    eventually(|| async { (alice.history(&conv, "after=0").await.len() == 3).then_some(()) }).await;

    // The sequencer stops in the middle of the next batch (4 to 6): the
    // rows of 5 and 6 have landed, 4's and the state have not.
    c.kill(p);
    let keyspace = c.stores[0].rsplit('/').next().unwrap().to_string();
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(nodes.split(','))
        .build()
        .await
        .unwrap();
    for seq in [5i64, 6] {
        session
            .query_unpaged(
                format!(
                    "INSERT INTO {keyspace}.messages (conv, bucket, seq, msg_id, sender, \
                     sender_device, client_msg_id, body, attachments, ts, deleted) \
                     VALUES (?, 0, ?, ?, 'alice', 'phone', ?, 'x', [], 1, false) \
                     USING TIMESTAMP 1"
                ),
                (
                    conv.as_str(),
                    seq,
                    format!("early-{seq}"),
                    format!("early-{seq}"),
                ),
            )
            .await
            .unwrap();
    }
    let mut bob = gw.connect("bob", "phone").await;
    assert_eq!(
        seqs(&bob.handshake().await),
        vec![1, 2, 3],
        "the backlog ends at the committed state, with no gap"
    );

    // The batch is written again, whole, and committed: it arrives live.
    c.start(&["processor", "--name", "all"]);
    for i in 4..=6 {
        alice.send(&conv, &format!("a{i}"), "x").await;
    }
    assert_eq!(seqs(&bob.messages(&conv, 3).await), vec![4, 5, 6]);
}

/// Search in a fleet: gateways and processors in separate processes, the
/// index on PostgreSQL full-text search (the store's own PostgreSQL when
/// the store is one, else a database of its own beside Cassandra).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_searches_through_its_postgres_index() {
    let Some(s) = services() else { return };
    let Some(postgres) = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty()) else {
        chat_ports::conformance::skip(
            "DATABASE_URL is not set: a fleet's search index is on PostgreSQL \
             (./infra/test.sh starts a local one)",
        );
        return;
    };
    let mut c = Cluster::new(&s).await;
    if matches!(s.store, crate::cluster::StoreService::Cassandra(_)) {
        let name = format!("chat_search_{}", uuid::Uuid::new_v4().simple());
        let url = crate::cluster::fresh_database(&postgres, &name).await;
        c.env.push(("CHAT__ENGINES__SEARCH".into(), url));
    }
    c.start(&["processor", "--name", "all"]);
    let g1 = c.start(&["gateway"]);
    let g2 = c.start(&["gateway"]);
    let (gw1, gw2) = (c.gateway(g1), c.gateway(g2));
    let alice = gw1.user("alice", "phone").await;
    let bob = gw2.user("bob", "phone").await;
    let conv = alice.group("g", &["bob"]).await;
    alice.send(&conv, "m1", "Rendez-vous au CAFÉ à midi").await;
    alice.send(&conv, "m2", "東京で会いましょう").await;
    let found = |q: &'static str| {
        let bob = &bob;
        async move {
            let (st, page) = bob.get(&format!("/v1/search?q={q}")).await;
            assert_eq!(st, 200, "{page}");
            page["results"].as_array().unwrap().clone()
        }
    };
    let hits = eventually(|| async { Some(found("cafe").await).filter(|h| h.len() == 1) }).await;
    assert_eq!(hits[0]["seq"], 1);
    assert_eq!(hits[0]["snippet"], "Rendez-vous au CAFÉ à midi");
    eventually(|| async { Some(found("%E6%9D%B1%E4%BA%AC").await).filter(|h| h.len() == 1) }).await;
    let (st, _) = alice
        .delete(&format!("/v1/conversations/{conv}/messages/1"))
        .await;
    assert_eq!(st, 204);
    assert!(found("cafe").await.is_empty());

    // `replay --search` rebuilds store and index, and a gateway on them
    // finds what the live one finds.
    let rebuilt = s.fresh_store().await;
    c.stores.push(rebuilt.clone());
    let name = format!("chat_search_{}", uuid::Uuid::new_v4().simple());
    let index = match &s.store {
        crate::cluster::StoreService::Cassandra(_) => {
            crate::cluster::fresh_database(&postgres, &name).await
        }
        crate::cluster::StoreService::Postgres(_) => rebuilt.clone(),
    };
    let report = c.run(
        &["replay", "--stall-ms", "3000", "--search"],
        &[
            ("CHAT__ENGINES__STORE", &rebuilt),
            ("CHAT__ENGINES__SEARCH", &index),
        ],
    );
    assert!(report.contains("search_records"), "{report}");
    let mut replayed = Cluster::new(&s).await;
    replayed.env = c.env.clone();
    replayed
        .env
        .retain(|(k, _)| k != "CHAT__ENGINES__STORE" && k != "CHAT__ENGINES__SEARCH");
    replayed.env.push(("CHAT__ENGINES__STORE".into(), rebuilt));
    replayed.env.push(("CHAT__ENGINES__SEARCH".into(), index));
    let g3 = replayed.start(&["gateway"]);
    let bob = replayed.gateway(g3).user("bob", "phone").await;
    let (_, page) = bob.get("/v1/search?q=%E6%9D%B1%E4%BA%AC").await;
    assert_eq!(page["results"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["results"][0]["seq"], 2);
    let (_, page) = bob.get("/v1/search?q=cafe&limit=1").await;
    assert_eq!(page["results"], json!([]), "the delete replayed too");
    assert_eq!(page["next_cursor"], json!(null), "in the index too");
}
