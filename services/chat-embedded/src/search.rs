//! The embedded search index on tantivy, in a folder of the data
//! directory. One writer (the search processor's) and any number of
//! readers (the gateway's searches) share one [`TantivyIndex`]; a batch of
//! changes is one commit, visible to searches when `apply` returns.
//!
//! Every message is one document keyed by `id` (`seq:conv`); a put deletes
//! the key and adds the document in the same commit, so an edit replaces
//! the body. The terms are the port's ([`chat_ports::search::index_terms`]),
//! joined by spaces and split again by tantivy's whitespace tokenizer.
//! Relevance is tantivy's BM25.

use chat_ports::search::{rank, SearchChange, SearchHit, SearchQuery};
use chat_ports::{PortError, Result, SearchIndex};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue, SortByString};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

/// The tokenizer of the terms field: the port made the terms.
const TERMS_TOKENIZER: &str = "chat_terms";
/// The writer's memory for documents not yet committed.
const WRITER_MEMORY: usize = 32 * 1024 * 1024;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    conv: Field,
    seq: Field,
    sender: Field,
    ts: Field,
    terms: Field,
}

/// The embedded search index; cheap to clone.
#[derive(Clone)]
pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    fields: Fields,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    reader: IndexReader,
}

impl std::fmt::Debug for TantivyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyIndex").finish_non_exhaustive()
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let terms = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TERMS_TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        conv: b.add_text_field("conv", STRING | STORED | FAST),
        seq: b.add_u64_field("seq", INDEXED | STORED | FAST),
        sender: b.add_text_field("sender", STORED),
        ts: b.add_i64_field("ts", INDEXED | STORED | FAST),
        terms: b.add_text_field("terms", terms),
    };
    (b.build(), fields)
}

fn failed(e: impl std::fmt::Display) -> PortError {
    PortError::storage("search index", e)
}

fn key(conv: &str, seq: u64) -> String {
    format!("{seq}:{conv}")
}

impl TantivyIndex {
    /// Opens the index in `dir`, or makes an empty one there.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(failed)?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(MmapDirectory::open(dir).map_err(failed)?, schema)
            .map_err(failed)?;
        index.tokenizers().register(
            TERMS_TOKENIZER,
            TextAnalyzer::builder(WhitespaceTokenizer::default()).build(),
        );
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(failed)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed)?;
        Ok(Self {
            inner: Arc::new(Inner {
                fields,
                writer: Mutex::new(writer),
                reader,
            }),
        })
    }

    /// Runs `f` with the writer on a blocking thread, commits, and makes
    /// the commit visible to searches.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut IndexWriter<TantivyDocument>, &Fields) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let out = match f(&mut writer, &inner.fields) {
                Ok(out) => out,
                Err(e) => {
                    // What was added is not committed.
                    writer.rollback().map_err(failed)?;
                    return Err(e);
                }
            };
            writer.commit().map_err(failed)?;
            inner.reader.reload().map_err(failed)?;
            Ok(out)
        })
        .await
        .map_err(failed)?
    }

    fn query(&self, q: &SearchQuery) -> Box<dyn Query> {
        let f = self.inner.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = q
            .terms
            .iter()
            .map(|t| -> (Occur, Box<dyn Query>) {
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.terms, t),
                        IndexRecordOption::WithFreqs,
                    )),
                )
            })
            .collect();
        // Where to look: whole conversations in one set, windows each.
        let whole: Vec<Term> = q
            .scopes
            .iter()
            .filter(|s| s.after == 0)
            .map(|s| Term::from_field_text(f.conv, &s.conv))
            .collect();
        let mut scopes: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Should,
            Box::new(TermSetQuery::new(whole)) as Box<dyn Query>,
        )];
        for s in q.scopes.iter().filter(|s| s.after > 0) {
            let window = BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.conv, &s.conv),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>,
                ),
                (
                    Occur::Must,
                    Box::new(RangeQuery::new(
                        Bound::Excluded(Term::from_field_u64(f.seq, s.after)),
                        Bound::Unbounded,
                    )),
                ),
            ]);
            scopes.push((Occur::Should, Box::new(window)));
        }
        // The scopes choose, the terms score.
        must.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(scopes)),
                0.0,
            )),
        ));
        Box::new(BooleanQuery::new(must))
    }
}

#[async_trait::async_trait]
impl SearchIndex for TantivyIndex {
    async fn apply(&self, changes: &[SearchChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let changes = changes.to_vec();
        self.write(move |writer, f| {
            for c in changes {
                let (conv, seq) = c.key();
                writer.delete_term(Term::from_field_text(f.id, &key(conv, seq)));
                if let SearchChange::Put(d) = c {
                    let mut doc = TantivyDocument::new();
                    doc.add_text(f.id, key(&d.conv, d.seq));
                    doc.add_text(f.conv, &d.conv);
                    doc.add_u64(f.seq, d.seq);
                    doc.add_text(f.sender, &d.sender);
                    doc.add_i64(f.ts, d.ts);
                    doc.add_text(f.terms, d.terms.join(" "));
                    writer.add_document(doc).map_err(failed)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn expire(&self, cutoff_ms: i64) -> Result<u64> {
        let f = self.inner.fields;
        let old = move || {
            RangeQuery::new(
                Bound::Unbounded,
                Bound::Excluded(Term::from_field_i64(f.ts, cutoff_ms)),
            )
        };
        let n = self
            .inner
            .reader
            .searcher()
            .search(&old(), &Count)
            .map_err(failed)? as u64;
        if n == 0 {
            return Ok(0);
        }
        self.write(move |writer, _| {
            writer.delete_query(Box::new(old())).map_err(failed)?;
            Ok(n)
        })
        .await
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        if q.terms.is_empty() || q.scopes.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let query = self.query(q);
        let (this, offset, limit) = (self.clone(), q.offset, q.limit);
        tokio::task::spawn_blocking(move || this.top(query.as_ref(), offset, limit))
            .await
            .map_err(failed)?
    }
}

impl TantivyIndex {
    fn top(&self, query: &dyn Query, offset: usize, limit: usize) -> Result<Vec<SearchHit>> {
        let searcher = self.inner.reader.searcher();
        // Score, then newest, then conversation and seq: the port's order.
        let order = TopDocs::with_limit(limit).and_offset(offset).order_by((
            (SortBySimilarityScore, Order::Desc),
            (
                (SortByStaticFastValue::<i64>::for_field("ts"), Order::Desc),
                (
                    (SortByString::for_field("conv"), Order::Asc),
                    (SortByStaticFastValue::<u64>::for_field("seq"), Order::Asc),
                ),
            ),
        ));
        let found = searcher.search(query, &order).map_err(failed)?;
        let mut hits = Vec::with_capacity(found.len());
        for ((score, _), address) in found {
            hits.push(self.hit(&searcher, address, score)?);
        }
        rank(&mut hits);
        Ok(hits)
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        score: f32,
    ) -> Result<SearchHit> {
        let f = self.inner.fields;
        let doc: TantivyDocument = searcher.doc(address).map_err(failed)?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Ok(SearchHit {
            conv: text(f.conv),
            seq: doc.get_first(f.seq).and_then(|v| v.as_u64()).unwrap_or(0),
            sender: text(f.sender),
            ts: doc.get_first(f.ts).and_then(|v| v.as_i64()).unwrap_or(0),
            score,
        })
    }
}
