//! The IndexedDB model cache. A model is stored as fixed-size chunks plus a manifest that
//! is written last, with the file's sha256: an entry without a manifest is a partial write
//! and is never read; an entry whose bytes do not hash to the manifest's is discarded.

use std::future::{Future, IntoFuture};

use idb::{Database, DatabaseEvent, Factory, KeyRange, ObjectStoreParams, Query, TransactionMode};
use js_sys::Uint8Array;
use serde::{Deserialize, Serialize};
use siglens_protocol::{CachedModel, ErrorKind, WorkerError};
use wasm_bindgen::{JsCast, JsValue};

const DB_NAME: &str = "siglens-models";
const DB_VERSION: u32 = 1;
const MANIFESTS: &str = "manifests";
const CHUNKS: &str = "chunks";
/// Bytes per stored chunk: big enough for few transactions, small enough that reading
/// one adds little to peak memory.
pub const CHUNK_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub key: String,
    pub bytes: u64,
    pub chunks: u32,
    pub sha256: String,
    pub stored_at: f64,
    /// SHA-256 of each chunk (WebCrypto, see `digest.rs`): checked on every start instead of
    /// the whole-file hash. Empty where WebCrypto was unavailable when storing.
    #[serde(default)]
    pub chunk_sha256: Vec<String>,
    /// xxh3-64 of each chunk (16 hex digits), computed in wasm: what this version writes
    /// and checks at every start (entries with only `chunk_sha256` are still checked with
    /// those). Empty in older entries.
    #[serde(default)]
    pub chunk_xxh3: Vec<String>,
    /// Bytes per chunk (all but the last): [`CHUNK_BYTES`] when written by this version;
    /// read from here so that where a byte lies never depends on the reader's constant.
    #[serde(default = "default_chunk_bytes")]
    pub chunk_bytes: u64,
}

fn default_chunk_bytes() -> u64 {
    CHUNK_BYTES as u64
}

/// How a cached entry's bytes are checked when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkCheck {
    /// Each chunk's xxh3-64, in wasm (entries written by this version).
    Xxh3,
    /// Each chunk's SHA-256 through WebCrypto (earlier entries).
    Sha256,
    /// Only the whole file's SHA-256 (the oldest entries, or none stored per chunk): every
    /// byte must be read.
    WholeFile,
}

/// A chunk's xxh3-64 as the manifest stores it.
pub fn xxh3_hex(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

impl Manifest {
    pub fn check(&self) -> ChunkCheck {
        let n = self.chunks as usize;
        if self.chunk_xxh3.len() == n {
            ChunkCheck::Xxh3
        } else if self.chunk_sha256.len() == n {
            ChunkCheck::Sha256
        } else {
            ChunkCheck::WholeFile
        }
    }

    /// Whether `got`, chunk `index`'s hash of the kind `check` (None: it could not be
    /// computed), is the manifest's; the error says what differs. The load and the later
    /// check of skipped chunks (`token_rows.rs`) both decide through here.
    pub fn verify_chunk(
        &self,
        check: ChunkCheck,
        index: u32,
        got: Option<&str>,
    ) -> Result<(), String> {
        let (kind, list) = match check {
            ChunkCheck::Xxh3 => ("xxh3", &self.chunk_xxh3),
            ChunkCheck::Sha256 => ("sha256", &self.chunk_sha256),
            ChunkCheck::WholeFile => return Ok(()),
        };
        let want = list.get(index as usize).map(String::as_str);
        if got.is_some() && got == want {
            return Ok(());
        }
        Err(format!(
            "chunk {index} has {kind} {}, the manifest says {}",
            got.unwrap_or("(unavailable)"),
            want.unwrap_or("nothing")
        ))
    }

    /// `[start, end)` of chunk `index` in the file.
    pub fn chunk_range(&self, index: u32) -> (u64, u64) {
        let start = u64::from(index) * self.chunk_bytes;
        (start, (start + self.chunk_bytes).min(self.bytes))
    }
}

impl From<&Manifest> for CachedModel {
    fn from(m: &Manifest) -> Self {
        CachedModel {
            key: m.key.clone(),
            bytes: m.bytes,
            sha256: m.sha256.clone(),
            stored_at: m.stored_at,
        }
    }
}

fn storage_err(what: &str, e: impl std::fmt::Display) -> WorkerError {
    WorkerError::new(ErrorKind::Storage, format!("model cache: {what}: {e}"))
}

/// Chunk keys sort by model key, then index, so one key range covers a model.
fn chunk_key(key: &str, index: u32) -> JsValue {
    JsValue::from_str(&format!("{key}\u{0}{index:08}"))
}

pub struct ModelCache {
    db: Database,
}

impl ModelCache {
    pub async fn open() -> Result<Self, WorkerError> {
        let factory = Factory::new()
            .map_err(|e| storage_err("IndexedDB is not available (private browsing?)", e))?;
        let mut req = factory
            .open(DB_NAME, Some(DB_VERSION))
            .map_err(|e| storage_err("opening the database", e))?;
        req.on_upgrade_needed(|event| {
            let Ok(db) = event.database() else { return };
            for name in [MANIFESTS, CHUNKS] {
                if !db.store_names().iter().any(|n| n == name) {
                    let _ = db.create_object_store(name, ObjectStoreParams::new());
                }
            }
        });
        let db = req
            .await
            .map_err(|e| storage_err("opening the database", e))?;
        Ok(Self { db })
    }

    /// Issues the read of one value by key, in its own read-only transaction, now; the
    /// result is awaited later (the browser reads while this thread works).
    fn start_get(
        &self,
        store_name: &str,
        key: JsValue,
    ) -> Result<impl Future<Output = Result<Option<JsValue>, WorkerError>>, WorkerError> {
        let tx = self
            .db
            .transaction(&[store_name], TransactionMode::ReadOnly)
            .map_err(|e| storage_err("reading", e))?;
        let store = tx
            .object_store(store_name)
            .map_err(|e| storage_err("reading", e))?;
        let request = store
            .get(Query::Key(key))
            .map_err(|e| storage_err("reading", e))?
            .into_future();
        Ok(async move { request.await.map_err(|e| storage_err("reading", e)) })
    }

    pub async fn manifest(&self, key: &str) -> Result<Option<Manifest>, WorkerError> {
        // An unreadable manifest is treated as absent (and gets overwritten).
        Ok(self
            .start_get(MANIFESTS, JsValue::from_str(key))?
            .await?
            .and_then(|v| serde_wasm_bindgen::from_value(v).ok()))
    }

    /// Issues the read of one stored chunk now and returns its result (as the browser holds
    /// it: hash it there before copying it in) to await later, so the browser reads the
    /// next chunk while this thread parses the current one. Chunks are Blobs (read into
    /// memory here, also ahead); entries stored before were Uint8Arrays, still read.
    pub fn start_chunk(
        &self,
        key: &str,
        index: u32,
    ) -> Result<impl Future<Output = Result<Option<Uint8Array>, WorkerError>>, WorkerError> {
        let read = self.start_get(CHUNKS, chunk_key(key, index))?;
        // A promise runs without being polled, so the Blob's bytes are read ahead too.
        let reading = wasm_bindgen_futures::future_to_promise(async move {
            let value = read.await.map_err(|e| JsValue::from_str(&e.message))?;
            Ok(match value {
                Some(v) if v.is_instance_of::<web_sys::Blob>() => {
                    // A Blob whose file is gone reads as a missing chunk: the entry is
                    // damaged, so it is discarded and fetched again like one.
                    let blob: web_sys::Blob = v.unchecked_into();
                    match wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await {
                        Ok(buf) => Uint8Array::new(&buf).into(),
                        Err(_) => JsValue::NULL,
                    }
                }
                Some(v) if v.is_instance_of::<Uint8Array>() => v,
                _ => JsValue::NULL,
            })
        });
        Ok(async move {
            let v = wasm_bindgen_futures::JsFuture::from(reading)
                .await
                .map_err(|e| storage_err("reading", crate::download::js_msg(&e)))?;
            Ok(v.dyn_into::<Uint8Array>().ok())
        })
    }

    async fn put(
        &self,
        store_name: &str,
        key: JsValue,
        value: &JsValue,
    ) -> Result<(), WorkerError> {
        let tx = self
            .db
            .transaction(&[store_name], TransactionMode::ReadWrite)
            .map_err(|e| storage_err("writing", e))?;
        let store = tx
            .object_store(store_name)
            .map_err(|e| storage_err("writing", e))?;
        store
            .put(value, Some(&key))
            .map_err(|e| storage_err("writing", e))?;
        let done = tx
            .commit()
            .map_err(|e| storage_err("writing", e))?
            .await
            .map_err(|e| storage_err("writing (is the storage quota full?)", e))?;
        if !done.is_committed() {
            return Err(storage_err(
                "writing",
                "the browser aborted the write (storage full?)",
            ));
        }
        Ok(())
    }

    /// Issues the reads of byte ranges (`[start, end)` within the chunk) of one stored
    /// chunk now, all at once, for awaiting later: a Blob chunk's slices are read without
    /// reading the rest of it (a token row is 816 bytes of 8 MiB). `None`: the chunk is
    /// missing, unreadable or shorter than a range (a damaged entry).
    pub fn start_slices(
        &self,
        key: &str,
        index: u32,
        ranges: Vec<(u32, u32)>,
    ) -> Result<impl Future<Output = Result<Option<Vec<Uint8Array>>, WorkerError>>, WorkerError>
    {
        let read = self.start_get(CHUNKS, chunk_key(key, index))?;
        let reading = wasm_bindgen_futures::future_to_promise(async move {
            let value = read.await.map_err(|e| JsValue::from_str(&e.message))?;
            let end = ranges.iter().map(|r| r.1).max().unwrap_or(0);
            let out = js_sys::Array::new();
            match value {
                Some(v) if v.is_instance_of::<web_sys::Blob>() => {
                    let blob: web_sys::Blob = v.unchecked_into();
                    if blob.size() < f64::from(end) {
                        return Ok(JsValue::NULL);
                    }
                    let mut reads = Vec::with_capacity(ranges.len());
                    for &(a, b) in &ranges {
                        let part = blob.slice_with_f64_and_f64(f64::from(a), f64::from(b))?;
                        reads.push(wasm_bindgen_futures::JsFuture::from(part.array_buffer()));
                    }
                    for r in reads {
                        match r.await {
                            Ok(buf) => out.push(&Uint8Array::new(&buf)),
                            Err(_) => return Ok(JsValue::NULL),
                        };
                    }
                }
                Some(v) if v.is_instance_of::<Uint8Array>() => {
                    let arr: Uint8Array = v.unchecked_into();
                    if arr.length() < end {
                        return Ok(JsValue::NULL);
                    }
                    for &(a, b) in &ranges {
                        out.push(&arr.slice(a, b));
                    }
                }
                _ => return Ok(JsValue::NULL),
            }
            Ok(out.into())
        });
        Ok(async move {
            let v = wasm_bindgen_futures::JsFuture::from(reading)
                .await
                .map_err(|e| storage_err("reading", crate::download::js_msg(&e)))?;
            Ok(v.dyn_into::<js_sys::Array>()
                .ok()
                .map(|a| a.iter().map(|x| x.unchecked_into()).collect()))
        })
    }

    /// Stores one chunk; returns its xxh3 for the manifest.
    pub async fn put_chunk(
        &self,
        key: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<String, WorkerError> {
        let check = xxh3_hex(bytes);
        let arr = Uint8Array::from(bytes);
        // Stored as a Blob: Chromium reads Blob values back 2-2.5x faster than typed arrays
        // (400 MB: ~1.0 vs ~0.4 GB/s, BENCHMARKS.md), and start-up is mostly this read.
        let blob = web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(&arr))
            .map_err(|e| storage_err("writing", crate::download::js_msg(&e)))?;
        self.put(CHUNKS, chunk_key(key, index), &blob.into())
            .await?;
        Ok(check)
    }

    /// Written last: from here on the entry is complete.
    pub async fn put_manifest(&self, m: &Manifest) -> Result<(), WorkerError> {
        let v = serde_wasm_bindgen::to_value(m).map_err(|e| storage_err("writing", e))?;
        self.put(MANIFESTS, JsValue::from_str(&m.key), &v).await
    }

    /// Removes the manifest first (so a half-deleted entry reads as absent), then chunks.
    pub async fn delete(&self, key: &str) -> Result<(), WorkerError> {
        let tx = self
            .db
            .transaction(&[MANIFESTS, CHUNKS], TransactionMode::ReadWrite)
            .map_err(|e| storage_err("deleting", e))?;
        let manifests = tx
            .object_store(MANIFESTS)
            .map_err(|e| storage_err("deleting", e))?;
        manifests
            .delete(Query::Key(JsValue::from_str(key)))
            .map_err(|e| storage_err("deleting", e))?;
        let range = KeyRange::bound(
            &JsValue::from_str(&format!("{key}\u{0}")),
            &JsValue::from_str(&format!("{key}\u{1}")),
            None,
            None,
        )
        .map_err(|e| storage_err("deleting", e))?;
        let chunks = tx
            .object_store(CHUNKS)
            .map_err(|e| storage_err("deleting", e))?;
        chunks
            .delete(Query::KeyRange(range))
            .map_err(|e| storage_err("deleting", e))?;
        tx.commit()
            .map_err(|e| storage_err("deleting", e))?
            .await
            .map_err(|e| storage_err("deleting", e))?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<Manifest>, WorkerError> {
        let tx = self
            .db
            .transaction(&[MANIFESTS], TransactionMode::ReadOnly)
            .map_err(|e| storage_err("listing", e))?;
        let store = tx
            .object_store(MANIFESTS)
            .map_err(|e| storage_err("listing", e))?;
        let all = store
            .get_all(None, None)
            .map_err(|e| storage_err("listing", e))?
            .await
            .map_err(|e| storage_err("listing", e))?;
        Ok(all
            .into_iter()
            .filter_map(|v| serde_wasm_bindgen::from_value(v).ok())
            .collect())
    }
}

/// `(usage, quota)` in bytes, when the browser tells.
pub async fn storage_estimate() -> (Option<f64>, Option<f64>) {
    let nav = crate::runtime::scope().navigator();
    let Ok(p) = nav.storage().estimate() else {
        return (None, None);
    };
    match wasm_bindgen_futures::JsFuture::from(p).await {
        Ok(est) => {
            let get = |k: &str| {
                js_sys::Reflect::get(&est, &k.into())
                    .ok()
                    .and_then(|v| v.as_f64())
            };
            (get("usage"), get("quota"))
        }
        Err(_) => (None, None),
    }
}
