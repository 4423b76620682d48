//! The token table stays in the IndexedDB cache (half of a base model: 209 MB of 400): a
//! warm start skips its chunks, and each text request reads the few rows it uses, 816 bytes
//! each, out of the stored Blobs. The skipped chunks are still checked against the
//! manifest's per-chunk hashes (xxh3, or SHA-256 in earlier entries): in the background
//! right after the start, and before any row of an unchecked chunk is used.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::{Rc, Weak};

use siglens_engine::tokenize::TokenBatch;
use siglens_engine::{RowsInFile, Siglip};
use siglens_protocol::{ErrorKind, WorkerError};

use crate::cache::{xxh3_hex, ChunkCheck, Manifest, ModelCache};
use crate::runtime::yield_now;

thread_local! {
    /// The rows of the loaded model's table, when it was left in the cache.
    static CURRENT: RefCell<Option<Rc<CachedRows>>> = const { RefCell::new(None) };
}

pub struct CachedRows {
    cache: ModelCache,
    manifest: Manifest,
    at: RowsInFile,
    /// Chunks skipped at load whose hash has not been checked yet.
    unchecked: RefCell<BTreeSet<u32>>,
    /// Set when a chunk fails its check: the entry has been deleted, texts fail.
    damaged: RefCell<Option<String>>,
}

/// Makes `rows` (or none) the current model's, and starts checking its skipped chunks.
pub fn install(rows: Option<CachedRows>) {
    let rows = rows.map(Rc::new);
    if let Some(r) = &rows {
        wasm_bindgen_futures::spawn_local(check_all(Rc::downgrade(r)));
    }
    CURRENT.with(|c| *c.borrow_mut() = rows);
}

/// Reads the rows `batch` needs that the model does not hold yet (nothing when the model
/// holds its whole table). Call it right before the (synchronous) forward pass: another request reading rows
/// meanwhile may make the model drop kept rows (`MAX_KEPT_ROWS`), hence the re-check.
pub async fn ensure(model: &Siglip, batch: &TokenBatch) -> Result<(), WorkerError> {
    for _ in 0..3 {
        let missing = model.missing_token_rows(batch);
        if missing.is_empty() {
            return Ok(());
        }
        let Some(rows) = CURRENT.with(|c| c.borrow().clone()) else {
            return Err(WorkerError::new(
                ErrorKind::Internal,
                "the model's token table is neither in memory nor in the cache",
            ));
        };
        let read = rows.read(&missing).await?;
        model
            .supply_token_rows(read)
            .map_err(|e| WorkerError::new(ErrorKind::Internal, e.to_string()))?;
    }
    Err(WorkerError::new(
        ErrorKind::Internal,
        "the token rows of this text kept being dropped while read (too many requests at once?)",
    ))
}

impl CachedRows {
    /// `skipped`: the chunks the load did not read (so did not check).
    pub fn new(cache: ModelCache, manifest: Manifest, at: RowsInFile, skipped: Vec<u32>) -> Self {
        Self {
            cache,
            manifest,
            at,
            unchecked: RefCell::new(skipped.into_iter().collect()),
            damaged: RefCell::new(None),
        }
    }

    fn damaged_error(&self) -> Option<WorkerError> {
        self.damaged.borrow().as_ref().map(|why| {
            WorkerError::new(
                ErrorKind::BadModel,
                format!(
                    "the cached copy of the model is damaged ({why}); it has been removed \
                     from the cache: load the model again to download a fresh copy"
                ),
            )
        })
    }

    /// Checks chunk `index` against the manifest's hash if that is still to be done.
    async fn check(&self, index: u32) -> Result<(), WorkerError> {
        if let Some(e) = self.damaged_error() {
            return Err(e);
        }
        if !self.unchecked.borrow().contains(&index) {
            return Ok(());
        }
        let check = self.manifest.check();
        let bytes = self.cache.start_chunk(&self.manifest.key, index)?.await?;
        let got = match (&bytes, check) {
            (Some(b), ChunkCheck::Xxh3) => Some(xxh3_hex(&b.to_vec())),
            (Some(b), _) => match crate::digest::start(b) {
                Some(d) => crate::digest::finish(d).await,
                None => None,
            },
            (None, _) => None,
        };
        let why = match (
            bytes,
            self.manifest.verify_chunk(check, index, got.as_deref()),
        ) {
            (Some(_), Ok(())) => {
                self.unchecked.borrow_mut().remove(&index);
                return Ok(());
            }
            (None, _) => format!("chunk {index} is missing or unreadable"),
            (Some(_), Err(why)) => why,
        };
        *self.damaged.borrow_mut() = Some(why);
        // Only this entry: the next load downloads it again.
        let _ = self.cache.delete(&self.manifest.key).await;
        Err(self.damaged_error().expect("just set"))
    }

    /// The stored bytes of rows `ids` (each id below the table's row count).
    async fn read(&self, ids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, WorkerError> {
        // Which part of which chunk each row is in (a row may straddle two chunks).
        let mut by_chunk: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
        let mut pieces: Vec<Vec<(u32, usize)>> = Vec::with_capacity(ids.len());
        let cb = self.manifest.chunk_bytes.max(1);
        for &id in ids {
            let (mut a, b) = self.at.range(id);
            let mut parts = Vec::with_capacity(1);
            while a < b {
                let chunk = (a / cb) as u32;
                let end = b.min((u64::from(chunk) + 1) * cb);
                let list = by_chunk.entry(chunk).or_default();
                parts.push((chunk, list.len()));
                list.push(((a % cb) as u32, (end - u64::from(chunk) * cb) as u32));
                a = end;
            }
            pieces.push(parts);
        }
        for &chunk in by_chunk.keys() {
            self.check(chunk).await?;
        }
        let mut reads = Vec::with_capacity(by_chunk.len());
        for (&chunk, ranges) in &by_chunk {
            reads.push((
                chunk,
                self.cache
                    .start_slices(&self.manifest.key, chunk, ranges.clone())?,
            ));
        }
        let mut got: BTreeMap<u32, Vec<js_sys::Uint8Array>> = BTreeMap::new();
        for (chunk, r) in reads {
            let slices = r.await?.ok_or_else(|| {
                WorkerError::new(
                    ErrorKind::BadModel,
                    format!(
                        "the cached model lost chunk {chunk} while in use (was the cache \
                         cleared?): load the model again"
                    ),
                )
            })?;
            got.insert(chunk, slices);
        }
        Ok(ids
            .iter()
            .zip(pieces)
            .map(|(&id, parts)| {
                let mut row = Vec::with_capacity(self.at.row_bytes);
                for (chunk, i) in parts {
                    row.extend(got[&chunk][i].to_vec());
                }
                (id, row)
            })
            .collect())
    }
}

/// Checks every skipped chunk, one at a time, until done, damaged, or the model replaced.
async fn check_all(rows: Weak<CachedRows>) {
    loop {
        yield_now().await;
        let Some(r) = rows.upgrade() else { return };
        let Some(next) = r.unchecked.borrow().first().copied() else {
            return;
        };
        if r.check(next).await.is_err() {
            return;
        }
    }
}
