//! kill -9 right after acknowledgements: nothing acknowledged is lost.

use crate::harness::*;
use std::collections::HashMap;
use std::process::Child;

struct Process {
    child: Child,
    base: String,
}

fn spawn(data_dir: &std::path::Path) -> Process {
    let dir = data_dir.display().to_string();
    let (child, base) = spawn_chatctl(
        &["serve", "--data-dir", &dir],
        &[
            ("CHAT__GATEWAY__SEND_RATE_PER_SEC", "1000"),
            ("CHAT__GATEWAY__SEND_BURST", "1000"),
            ("RUST_LOG", "warn"),
        ],
    );
    Process { child, base }
}

fn server_at(base: &str) -> Server {
    Server {
        _node: None,
        base: base.to_string(),
        http: reqwest::Client::new(),
        _dir: tempfile::tempdir().unwrap(),
    }
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path());
    let s = server_at(&p.base);
    let owner = s.user("u0", "d").await;
    let conv = owner.group("crash", &["u1", "u2"]).await;

    // Three senders send as fast as acks come back; the server dies right
    // after the last ack, with later sends possibly in flight.
    let mut tasks = Vec::new();
    for u in ["u0", "u1", "u2"] {
        let mut ws = s.connect(u, "d").await;
        ws.handshake().await;
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..40 {
                let ack = ws.send_message(&conv, &format!("{u}-{i}"), "payload").await;
                assert_eq!(ack["type"], "sent", "{ack}");
                acked.push((
                    format!("{u}-{i}"),
                    ack["msg_id"].as_str().unwrap().to_string(),
                ));
            }
            acked
        }));
    }
    let mut acked: HashMap<String, String> = HashMap::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    kill_9(&mut p.child);

    let p2 = spawn(dir.path());
    let s2 = server_at(&p2.base);
    let owner = s2.user("u0", "d").await;
    let history = eventually(|| async {
        let h = owner.history(&conv, "limit=500").await;
        (h.len() >= acked.len()).then_some(h)
    })
    .await;
    assert_eq!(
        seqs(&history),
        (1..=history.len() as u64).collect::<Vec<_>>(),
        "dense seqs"
    );
    let stored: HashMap<String, String> = history
        .iter()
        .map(|m| {
            (
                m["client_msg_id"].as_str().unwrap().to_string(),
                m["msg_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (cmid, msg_id) in &acked {
        assert_eq!(
            stored.get(cmid),
            Some(msg_id),
            "acknowledged {cmid} survived"
        );
    }
    // An acknowledged send retried after the restart, through a new
    // connection, gets the first send's id and creates nothing.
    let (cmid, first_id) = acked.iter().next().unwrap();
    let sender = cmid.split('-').next().unwrap();
    let retry = s2
        .user(sender, "d")
        .await
        .send(&conv, cmid, "payload")
        .await;
    assert_eq!(retry["msg_id"].as_str(), Some(first_id.as_str()));
    // Every device is still served: a fresh device gets all of it, in order.
    let mut fresh = s2.connect("u2", "new-device").await;
    let backlog = fresh.handshake().await;
    assert_eq!(seqs(&backlog), seqs(&history));
    // And the conversation goes on from the next seq.
    let mut ws = s2.connect("u1", "d").await;
    ws.handshake().await;
    assert_eq!(
        ws.send_message(&conv, "after-restart", "x").await["type"],
        "sent"
    );
    let next = fresh.messages(&conv, 1).await;
    assert_eq!(next[0]["seq"].as_u64(), Some(history.len() as u64 + 1));
    let mut p2 = p2;
    kill_9(&mut p2.child);
}

/// SIGKILL: no shutdown path runs.
fn kill_9(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
}
