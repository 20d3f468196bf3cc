//! The conversation state is a batch's commit point: a sequencer writes a
//! batch's message rows first, concurrently and in no order, and the state
//! last. Reads of messages above a seq stop at the committed state, so a
//! reader never sees the rows of a batch still being written, whose lower
//! seqs may not have landed yet (a gap a device would never be sent again:
//! found by the fault-injection harness, a device got 116 right after 113
//! while a sequencer resumed from SIGSTOP was writing 114 to 125).

use chat_domain::Message;
use chat_ports::{MessageStore, SequencedBatch, SequencerStore};
use support::{admin, conv, msg, store, with_keyspace};

mod support;

fn seqs(v: &[Message]) -> Vec<u64> {
    v.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn rows_of_a_batch_not_yet_committed_are_not_read() {
    with_keyspace(|options| async move {
        let keyspace = options.keyspace.clone();
        let store = store(&options).await;
        // Committed: 1 to 3, up to offset 10.
        store
            .apply(SequencedBatch {
                conversations: vec![conv("c", 3, 10)],
                messages: (1..=3)
                    .map(|s| msg("c", s, "alice", 1_000 + s as i64))
                    .collect(),
                ..Default::default()
            })
            .await
            .unwrap();
        // The next batch (4 to 6, up to offset 13) is being written: the
        // rows of 5 and 6 have landed, 4's and the state have not (the
        // writes run concurrently; its sequencer is paused or slow).
        let session = admin(&options.nodes).await;
        let stamp: i64 = 2 * 13 + 1;
        for seq in [5i64, 6] {
            session
                .query_unpaged(
                    format!(
                        "INSERT INTO {keyspace}.messages (conv, bucket, seq, msg_id, sender, \
                         sender_device, client_msg_id, body, attachments, ts, deleted) \
                         VALUES (?, 0, ?, ?, 'bob', 'd', ?, ?, [], ?, false) \
                         USING TIMESTAMP ?"
                    ),
                    (
                        "c",
                        seq,
                        format!("m{seq}"),
                        format!("c{seq}"),
                        format!("body {seq}"),
                        1_000 + seq,
                        stamp,
                    ),
                )
                .await
                .unwrap();
        }

        // A device whose watermark is 3 (or a repair above 3) gets nothing
        // yet, never 5 without 4; the backlog from 0 ends at the state.
        assert_eq!(
            seqs(&store.messages_after("c", 3, 10).await.unwrap()),
            Vec::<u64>::new(),
            "rows above the committed state are not read"
        );
        assert_eq!(
            seqs(&store.messages_after("c", 0, 10).await.unwrap()),
            vec![1, 2, 3]
        );
        // Nor counted as unread.
        assert_eq!(store.count_from_others("c", "alice", 0).await.unwrap(), 0);

        // The batch completes (its state is the commit point): all of it.
        store
            .apply(SequencedBatch {
                conversations: vec![conv("c", 6, 13)],
                messages: (4..=6)
                    .map(|s| msg("c", s, "bob", 1_000 + s as i64))
                    .collect(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            seqs(&store.messages_after("c", 3, 10).await.unwrap()),
            vec![4, 5, 6]
        );
        assert_eq!(store.count_from_others("c", "alice", 0).await.unwrap(), 3);
    })
    .await;
}
