//! What the Cassandra tests share: a fresh keyspace per test on the node
//! `CASSANDRA_NODES` names, dropped at the end. Without `CASSANDRA_NODES`
//! a test says it is skipped, except under CI (`CI=true`), where it fails.

#![allow(dead_code)]

use chat_cassandra::{CassandraOptions, CassandraStore};
use chat_domain::{ConversationKind, ConversationState, Member, Message};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use std::future::Future;

/// The nodes, or `None` after saying the test is skipped.
pub fn nodes() -> Option<Vec<String>> {
    let nodes = std::env::var("CASSANDRA_NODES")
        .ok()
        .filter(|v| !v.is_empty());
    match nodes {
        Some(n) => Some(n.split(',').map(str::to_string).collect()),
        None => {
            chat_ports::conformance::skip(
                "CASSANDRA_NODES is not set (./infra/test.sh starts a local Cassandra)",
            );
            None
        }
    }
}

/// A session on the nodes, with no keyspace.
pub async fn admin(nodes: &[String]) -> Session {
    SessionBuilder::new()
        .known_nodes(nodes)
        .build()
        .await
        .expect("CASSANDRA_NODES accepts connections")
}

/// Options for a keyspace of its own on `nodes`.
pub fn options(nodes: &[String], keyspace: &str) -> CassandraOptions {
    CassandraOptions {
        nodes: nodes.to_vec(),
        keyspace: keyspace.to_string(),
        ..CassandraOptions::default()
    }
}

/// Runs `body` with the options of a fresh keyspace, then drops the
/// keyspace (also when `body` panics, whose panic then goes on).
pub async fn with_keyspace<F, Fut>(body: F)
where
    F: FnOnce(CassandraOptions) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(nodes) = nodes() else {
        return;
    };
    let keyspace = format!("t_{}", uuid::Uuid::new_v4().simple());
    let outcome = tokio::spawn(body(options(&nodes, &keyspace))).await;
    if let Err(e) = admin(&nodes)
        .await
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ())
        .await
    {
        eprintln!("could not drop the test keyspace {keyspace}: {e}");
    }
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("the test task failed: {e}");
    }
}

/// A store on a fresh keyspace of `options`.
pub async fn store(options: &CassandraOptions) -> CassandraStore {
    CassandraStore::connect(options).await.expect("connect")
}

/// A group of alice (admin) and bob.
pub fn conv(id: &str, last_seq: u64, applied_offset: u64) -> ConversationState {
    ConversationState {
        id: id.into(),
        kind: ConversationKind::Group,
        title: Some("t".into()),
        created_at: 1,
        last_seq,
        last_activity: 1,
        members: vec![
            Member {
                user: "alice".into(),
                joined_after: 0,
                admin: true,
            },
            Member {
                user: "bob".into(),
                joined_after: 0,
                admin: false,
            },
        ],
        applied_offset,
        changes: Default::default(),
    }
}

/// Message `seq` of `conv`, its body "body {seq}".
pub fn msg(conv: &str, seq: u64, sender: &str, ts: i64) -> Message {
    Message {
        conv: conv.into(),
        seq,
        msg_id: format!("m{seq}").into(),
        sender: sender.into(),
        sender_device: "d".into(),
        client_msg_id: format!("c{seq}").into(),
        body: format!("body {seq}"),
        attachments: vec![],
        ts,
        deleted: false,
        edit_version: 0,
        edited_ts: None,
        reply_to: None,
        reactions: vec![],
    }
}
