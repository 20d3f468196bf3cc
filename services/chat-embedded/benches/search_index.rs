//! What the embedded search index costs: a batch of the search processor
//! (one commit of 1, 64 or 512 messages: what decides how soon a message is
//! searchable), and a search over 50 000 messages in 200 conversations,
//! for a user in 20 of them or in all 200. Throughput is messages indexed
//! or searches.
//!
//! Run: `cargo bench -p chat-embedded --bench search_index`

use chat_embedded::TantivyIndex;
use chat_ports::search::{query_terms, SearchChange, SearchDoc, SearchQuery, SearchScope};
use chat_ports::SearchIndex;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const WORDS: &[&str] = &[
    "meet", "lunch", "tomorrow", "report", "deadline", "café", "weekend", "plan", "call", "train",
    "late", "photo", "birthday", "東京", "会議", "明天", "北京", "ok", "thanks", "see",
];

/// A body of 8 words picked by `i`.
fn body(i: u64) -> String {
    (0..8)
        .map(|k| WORDS[((i * 7 + k * 13) % WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn doc(i: u64) -> SearchChange {
    SearchChange::Put(SearchDoc::new(
        &format!("g-{}", i % 200),
        i / 200 + 1,
        "alice",
        i as i64,
        &body(i),
    ))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    let mut group = c.benchmark_group("search_index");
    group.measurement_time(Duration::from_secs(5));
    let mut next = 0u64;
    for batch in [1u64, 64, 512] {
        group.throughput(Throughput::Elements(batch));
        group.bench_function(format!("apply/{batch}"), |b| {
            b.to_async(&rt).iter(|| {
                let changes: Vec<_> = (next..next + batch).map(doc).collect();
                next += batch;
                let index = &index;
                async move { index.apply(&changes).await.unwrap() }
            })
        });
    }
    // 50 000 messages in all.
    rt.block_on(async {
        while next < 50_000 {
            let changes: Vec<_> = (next..next + 5_000).map(doc).collect();
            next += 5_000;
            index.apply(&changes).await.unwrap();
        }
    });
    group.throughput(Throughput::Elements(1));
    for conversations in [20u64, 200] {
        let query = SearchQuery {
            terms: query_terms("lunch tomorrow"),
            scopes: (0..conversations)
                .map(|c| SearchScope {
                    conv: format!("g-{c}"),
                    after: 0,
                })
                .collect(),
            offset: 0,
            limit: 20,
        };
        group.bench_function(format!("search/{conversations}_conversations"), |b| {
            b.to_async(&rt)
                .iter(|| async { index.search(&query).await.unwrap() })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
