//! Getting a model into memory: from the IndexedDB cache when a verified copy is there
//! (no network at all), else downloaded and stored while it streams. Either way the GGUF
//! goes through [`GgufStream`] chunk by chunk, so the whole file is never held in memory.

use sha2::{Digest, Sha256};
use siglens_engine::weights::{Defer, GgufStream, ModelJson, SafetensorsToGguf};
use siglens_engine::{ComputePolicy, LoadOptions, ModelFiles, Siglip, StorageDType, Towers};
use siglens_protocol::{
    ErrorKind, Event, LoadPhases, ModelInfo, ModelSource, Phase, Progress, RequestId, WorkerError,
};

use crate::cache::{storage_estimate, xxh3_hex, ChunkCheck, Manifest, ModelCache, CHUNK_BYTES};
use crate::download::{Download, Piece};
use crate::runtime::{check_cancelled, now_ms, post, precise_now_ms, wasm_memory_bytes};
use crate::token_rows::CachedRows;

fn progress(id: RequestId, progress: Progress) {
    post(&Event::Progress { id, progress }, Vec::new());
}

fn notice(id: RequestId, message: String) {
    progress(id, Progress::Notice { message });
}

/// Byte progress at most every 100 ms (and always at the end).
struct Throttle(f64);

impl Throttle {
    fn due(&mut self) -> bool {
        let now = now_ms();
        if now - self.0 >= 100.0 {
            self.0 = now;
            return true;
        }
        false
    }
}

fn bad_model(url: &str, e: impl std::fmt::Display) -> WorkerError {
    WorkerError::new(ErrorKind::BadModel, format!("{url}: {e}"))
}

fn not_cached(why: String) -> WorkerError {
    WorkerError::new(
        ErrorKind::Storage,
        format!("{why}; an image worker only reads the cache"),
    )
}

/// `source` with its URLs made absolute against `base` (the page's URL).
fn resolved(source: &ModelSource, base: Option<&str>) -> Result<ModelSource, WorkerError> {
    let Some(base) = base else {
        return Ok(source.clone());
    };
    let abs = |u: &str| {
        web_sys::Url::new_with_base(u, base)
            .map(|u| u.href())
            .map_err(|_| WorkerError::new(ErrorKind::BadInput, format!("not a URL: {u:?}")))
    };
    Ok(match source {
        ModelSource::Gguf { url } => ModelSource::Gguf { url: abs(url)? },
        ModelSource::HuggingFace {
            endpoint,
            repo,
            revision,
            dtype,
        } => ModelSource::HuggingFace {
            endpoint: abs(endpoint)?,
            repo: repo.clone(),
            revision: revision.clone(),
            dtype: dtype.clone(),
        },
    })
}

/// A loaded model, with where its token table's rows are when it stayed in the cache.
pub struct Loaded {
    pub model: Siglip,
    pub info: ModelInfo,
    pub rows: Option<CachedRows>,
}

/// `cache_only`: an extra image worker's load. It reads a verified cached copy or fails
/// (`Storage` when there is none, `BadModel` for a damaged copy); it never downloads and never deletes
/// the entry, so a damaged cache is found, discarded and fetched again by the main engine
/// alone, and a worker cannot race it.
pub async fn load(
    id: RequestId,
    source: &ModelSource,
    base: Option<&str>,
    towers: Towers,
    cache_only: bool,
) -> Result<Loaded, WorkerError> {
    let t0 = now_ms();
    // Keyed by the source as the user gave it, so a site moved to another path keeps its cache.
    let key = source.cache_key();
    let source = &resolved(source, base)?;
    let url = match source {
        ModelSource::Gguf { url } => url.clone(),
        ModelSource::HuggingFace {
            endpoint,
            repo,
            revision,
            ..
        } => ModelSource::hf_file_url(endpoint, repo, revision, "model.safetensors"),
    };
    let url = url.as_str();
    let cache = match ModelCache::open().await {
        Ok(c) => Some(c),
        Err(e) if cache_only => return Err(not_cached(format!("{e}"))),
        Err(e) => {
            notice(id, format!("{e}; the model will be kept in memory only"));
            None
        }
    };
    // Another tab loading the same model: wait for it, then read what it stored.
    let _lock = match &cache {
        Some(_) => {
            crate::model_lock::acquire(&key, || {
                notice(
                    id,
                    "another tab is loading this model; waiting for it, then reading its copy"
                        .into(),
                )
            })
            .await
        }
        None => None,
    };
    let mut phases = LoadPhases::default();
    let mut cached: Option<(ModelFiles, Manifest, Vec<u32>)> = None;
    // What stays in the cache: the whole text tower for an image worker, else the token
    // table (its rows are read as texts need them, see token_rows.rs).
    let defer = match towers {
        Towers::VisionOnly => Defer::TextTower,
        Towers::Both => Defer::TokenTable,
    };
    if let Some(c) = &cache {
        if let Some(m) = c.manifest(&key).await? {
            progress(
                id,
                Progress::Phase {
                    phase: Phase::ReadCache,
                },
            );
            match read_cached(id, c, &m, defer, &mut phases).await {
                Ok((files, skipped)) => cached = Some((files, m, skipped)),
                Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
                Err(e) if cache_only => {
                    return Err(bad_model(url, format!("the cached copy is damaged ({e})")))
                }
                Err(e) => {
                    notice(
                        id,
                        format!(
                            "the cached copy is damaged ({e}); discarding it and downloading again"
                        ),
                    );
                    c.delete(&key).await?;
                }
            }
        }
    }
    let from_cache = cached.is_some();
    if cache_only && !from_cache {
        return Err(not_cached("no cached copy of this model".into()));
    }
    let (files, file_bytes, network_requests, left_in_cache) = match cached {
        Some((files, m, skipped)) => {
            let bytes = m.bytes;
            (files, bytes, 0, Some((m, skipped)))
        }
        None => {
            let r = fetch_model(id, source, url, &key, cache.as_ref()).await;
            if r.is_err() {
                // Never leave a partial entry behind.
                if let Some(c) = &cache {
                    let _ = c.delete(&key).await;
                }
            }
            let (files, bytes, requests) = r?;
            (files, bytes, requests, None)
        }
    };
    progress(id, Progress::Phase { phase: Phase::Load });
    let options = LoadOptions {
        towers,
        // Built after the start (requests.rs) or at the first text: a Gemma-sized
        // tokenizer.json took 1.0-1.3 s here, and image workers never tokenize.
        lazy_tokenizer: true,
        ..LoadOptions::default()
    };
    if !from_cache {
        phases.read_ms = now_ms() - t0;
    }
    let t_build = precise_now_ms();
    let model = Siglip::load(files, options).map_err(|e| bad_model(url, e))?;
    phases.build_ms = precise_now_ms() - t_build;
    let info = ModelInfo {
        key,
        source: source.clone(),
        embed_dim: model.embedding_dim(),
        image_size: model.preprocess.height,
        file_bytes,
        from_cache,
        load_ms: now_ms() - t0,
        network_requests,
        model_bytes: model.stored_bytes as u64,
        wasm_memory_bytes: wasm_memory_bytes(),
        uses_attention_mask: model.uses_attention_mask(),
        phases,
        left_in_cache_bytes: left_in_cache.as_ref().map_or(0, |(m, skipped)| {
            skipped
                .iter()
                .map(|&i| {
                    let (a, b) = m.chunk_range(i);
                    b - a
                })
                .sum()
        }),
    };
    let rows = match (model.token_rows_in_file(), left_in_cache, cache) {
        (Some(at), Some((m, skipped)), Some(c)) => Some(CachedRows::new(c, m, at, skipped)),
        _ => None,
    };
    Ok(Loaded { model, info, rows })
}

/// What happens to downloaded bytes before they are parsed and stored: a GGUF is taken as
/// is, a safetensors checkpoint is quantized into our GGUF as it streams.
enum Transform {
    Identity,
    Quantize(Box<SafetensorsToGguf>),
}

impl Transform {
    fn apply(&mut self, bytes: Vec<u8>) -> siglens_engine::Result<Vec<u8>> {
        match self {
            Self::Identity => Ok(bytes),
            Self::Quantize(c) => c.push(&bytes),
        }
    }

    fn finish(self) -> siglens_engine::Result<()> {
        match self {
            Self::Identity => Ok(()),
            Self::Quantize(c) => c.finish(),
        }
    }
}

/// The JSON files of a Hugging Face checkpoint, which go into the GGUF's metadata.
struct HfJson {
    config: String,
    preprocessor: Option<String>,
    tokenizer: String,
    tokenizer_config: Option<String>,
}

async fn fetch_text(id: RequestId, url: &str) -> Result<Option<String>, WorkerError> {
    let Some(mut dl) = Download::start_optional(url).await? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    let mut throttle = Throttle(0.0);
    while let Some(piece) = dl.next().await? {
        check_cancelled(id)?;
        match piece {
            Piece::Bytes(b) => bytes.extend_from_slice(&b),
            Piece::Restart => bytes.clear(),
        }
        if throttle.due() {
            progress(id, dl.progress(Phase::Download));
        }
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| bad_model(url, "not UTF-8 text"))
}

async fn fetch_model(
    id: RequestId,
    source: &ModelSource,
    url: &str,
    key: &str,
    cache: Option<&ModelCache>,
) -> Result<(ModelFiles, u64, u32), WorkerError> {
    let ModelSource::HuggingFace {
        endpoint,
        repo,
        revision,
        dtype,
    } = source
    else {
        return download(
            id,
            url,
            key,
            cache,
            &|| Transform::Identity,
            Phase::Download,
        )
        .await;
    };
    let dtype: StorageDType = dtype
        .parse()
        .map_err(|e: siglens_engine::Error| WorkerError::new(ErrorKind::BadInput, e.to_string()))?;
    let file = |f: &str| ModelSource::hf_file_url(endpoint, repo, revision, f);
    let required = |f: &str, v: Option<String>| {
        v.ok_or_else(|| {
            WorkerError::new(
                ErrorKind::Network,
                format!(
                    "{}: HTTP 404 Not Found (is {repo} a SigLIP checkpoint, and public?)",
                    file(f)
                ),
            )
        })
    };
    progress(
        id,
        Progress::Phase {
            phase: Phase::Download,
        },
    );
    let json = HfJson {
        config: required("config.json", fetch_text(id, &file("config.json")).await?)?,
        preprocessor: fetch_text(id, &file("preprocessor_config.json")).await?,
        tokenizer: required(
            "tokenizer.json",
            fetch_text(id, &file("tokenizer.json")).await?,
        )?,
        tokenizer_config: fetch_text(id, &file("tokenizer_config.json")).await?,
    };
    // 4 small files before the weights.
    let make = || {
        Transform::Quantize(Box::new(SafetensorsToGguf::new(
            ModelJson {
                config_json: &json.config,
                preprocessor_json: json.preprocessor.as_deref(),
                tokenizer_json: &json.tokenizer,
                tokenizer_config_json: json.tokenizer_config.as_deref(),
            },
            dtype,
        )))
    };
    let (files, bytes, requests) = download(id, url, key, cache, &make, Phase::Quantize).await?;
    Ok((files, bytes, requests + 4))
}

/// Reads a cached entry through the stream parser, checking its length and hashes: each
/// chunk's WebCrypto SHA-256 where the manifest has them (native speed, off this thread),
/// else the whole file's in wasm. Adds the time of each phase to `phases`.
/// Chunk reads kept in flight at start-up (8 MB each).
const READ_AHEAD: u32 = 4;

/// Reads a cached model, leaving `defer` in the cache where the entry has per-chunk
/// hashes (an older whole-file hash needs every byte): chunks wholly inside what is left
/// there are not read. Returns the files and those chunks' indices.
async fn read_cached(
    id: RequestId,
    cache: &ModelCache,
    m: &Manifest,
    defer: Defer,
    phases: &mut LoadPhases,
) -> Result<(ModelFiles, Vec<u32>), WorkerError> {
    let corrupt = |what: String| WorkerError::new(ErrorKind::BadModel, what);
    let check = m.check();
    let mut stream = GgufStream::new(ComputePolicy::for_this_platform());
    if check != ChunkCheck::WholeFile {
        stream = stream.defer(defer);
    }
    let skippable = |stream: &GgufStream, index: u32| {
        let (a, b) = m.chunk_range(index);
        stream
            .deferred_ranges()
            .iter()
            .any(|&(x, y)| x <= a && b <= y)
    };
    let mut skipped = Vec::new();
    let mut hasher = Sha256::new();
    let mut throttle = Throttle(0.0);
    // The browser keeps READ_AHEAD chunk reads in flight while this thread hashes and
    // parses the current one; chunks known to be skipped are not read (None).
    let mut pending = std::collections::VecDeque::new();
    let mut issued = 0;
    for index in 0..m.chunks {
        check_cancelled(id)?;
        // Until the header is parsed, what lies after it (maybe deferred) is not known:
        // only the chunks it needs are read ahead (at least one, so the loop goes on).
        let header_ok = |issued: u32| {
            stream
                .header_bytes_needed()
                .is_none_or(|need| m.chunk_range(issued).0 < need)
        };
        while issued < m.chunks
            && pending.len() < READ_AHEAD as usize
            && (pending.is_empty() || header_ok(issued))
        {
            pending.push_back(match skippable(&stream, issued) {
                true => None,
                false => Some(cache.start_chunk(&m.key, issued)?),
            });
            issued += 1;
        }
        let t = precise_now_ms();
        let Some(reading) = pending.pop_front() else {
            break;
        };
        let Some(reading) = reading else {
            let (a, b) = m.chunk_range(index);
            stream
                .skip(b - a)
                .map_err(|e| corrupt(format!("cached bytes do not parse: {e}")))?;
            skipped.push(index);
            continue;
        };
        let arr = reading.await?.ok_or_else(|| {
            corrupt(format!(
                "chunk {index} of {} is missing or unreadable",
                m.chunks
            ))
        })?;
        phases.read_wait_ms += precise_now_ms() - t;
        let digest = match check {
            ChunkCheck::Sha256 => crate::digest::start(&arr),
            _ => None,
        };
        let chunk = arr.to_vec();
        drop(arr);
        let t1 = precise_now_ms();
        phases.read_ms += t1 - t;
        match check {
            ChunkCheck::Xxh3 => m
                .verify_chunk(check, index, Some(&xxh3_hex(&chunk)))
                .map_err(corrupt)?,
            // Stored where WebCrypto worked, read where it does not (an http origin).
            ChunkCheck::Sha256 if digest.is_none() => {
                return Err(corrupt(
                    "this page cannot check the cached copy (no WebCrypto)".into(),
                ));
            }
            ChunkCheck::Sha256 => {}
            ChunkCheck::WholeFile => hasher.update(&chunk),
        }
        let t2 = precise_now_ms();
        phases.verify_ms += t2 - t1;
        stream
            .push(&chunk)
            .map_err(|e| corrupt(format!("cached bytes do not parse: {e}")))?;
        drop(chunk);
        let t3 = precise_now_ms();
        phases.parse_ms += t3 - t2;
        if let Some(d) = digest {
            // Computed by the browser while this thread parsed.
            let got = crate::digest::finish(d).await;
            m.verify_chunk(check, index, got.as_deref())
                .map_err(corrupt)?;
            phases.verify_ms += precise_now_ms() - t3;
        }
        if throttle.due() || index + 1 == m.chunks {
            progress(
                id,
                Progress::Bytes {
                    phase: Phase::ReadCache,
                    url: m.key.clone(),
                    loaded: stream.bytes_in(),
                    total: Some(m.bytes),
                    bytes_per_sec: 0.0,
                },
            );
        }
    }
    if stream.bytes_in() != m.bytes {
        return Err(corrupt(format!(
            "{} bytes, the manifest says {}",
            stream.bytes_in(),
            m.bytes
        )));
    }
    if check == ChunkCheck::WholeFile {
        let t = precise_now_ms();
        let digest = format!("{:x}", hasher.finalize());
        phases.verify_ms += precise_now_ms() - t;
        if digest != m.sha256 {
            return Err(corrupt(format!(
                "sha256 {digest}, the manifest says {}",
                m.sha256
            )));
        }
    }
    let t = precise_now_ms();
    let files = stream
        .finish()
        .map_err(|e| corrupt(format!("cached bytes do not parse: {e}")))?;
    phases.parse_ms += precise_now_ms() - t;
    Ok((files, skipped))
}

/// Downloads `url`, parsing as it streams and, when `cache` is given and has room, storing
/// it chunk by chunk with the manifest written last. Returns the files, the byte count and
/// the number of HTTP requests made.
async fn download(
    id: RequestId,
    url: &str,
    key: &str,
    cache: Option<&ModelCache>,
    make_transform: &dyn Fn() -> Transform,
    phase: Phase,
) -> Result<(ModelFiles, u64, u32), WorkerError> {
    progress(id, Progress::Phase { phase });
    let mut dl = Download::start(url).await?;
    let mut store = cache;
    if let (Some(c), Some(total)) = (store, dl.total) {
        if let (Some(usage), Some(quota)) = storage_estimate().await {
            let free = (quota - usage).max(0.0);
            // Headroom: IndexedDB stores values with some overhead.
            if (total as f64) * 1.05 > free {
                notice(
                    id,
                    format!(
                        "not enough browser storage to keep this model ({:.0} MB needed, {:.0} MB \
                         free): it is loaded for this session only and will be downloaded again \
                         next time",
                        total as f64 / 1e6,
                        free / 1e6
                    ),
                );
                store = None;
            }
        }
        if store.is_some() {
            // Leftovers of an earlier interrupted write.
            c.delete(key).await?;
        }
    }
    let mut transform = make_transform();
    let mut stream = GgufStream::new(ComputePolicy::for_this_platform());
    let mut hasher = Sha256::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut next_chunk: u32 = 0;
    let mut chunk_digests: Vec<String> = Vec::new();
    let mut throttle = Throttle(0.0);
    loop {
        check_cancelled(id)?;
        let piece = dl.next().await?;
        match piece {
            None => break,
            Some(Piece::Restart) => {
                notice(
                    id,
                    format!("{url}: the server cannot resume; downloading again from the start"),
                );
                transform = make_transform();
                stream = GgufStream::new(ComputePolicy::for_this_platform());
                hasher = Sha256::new();
                pending.clear();
                next_chunk = 0;
                chunk_digests.clear();
                if let Some(c) = store {
                    c.delete(key).await?;
                }
            }
            Some(Piece::Bytes(bytes)) => {
                let bytes = transform.apply(bytes).map_err(|e| bad_model(url, e))?;
                stream.push(&bytes).map_err(|e| bad_model(url, e))?;
                hasher.update(&bytes);
                if let Some(c) = store {
                    pending.extend_from_slice(&bytes);
                    while pending.len() >= CHUNK_BYTES {
                        let rest = pending.split_off(CHUNK_BYTES);
                        match c.put_chunk(key, next_chunk, &pending).await {
                            Ok(d) => chunk_digests.push(d),
                            Err(e) => {
                                store = None;
                                let _ = c.delete(key).await;
                                notice(
                                    id,
                                    format!("{e}; the model is loaded for this session only"),
                                );
                            }
                        }
                        pending = rest;
                        next_chunk += 1;
                    }
                    if store.is_none() {
                        pending = Vec::new();
                    }
                }
            }
        }
        if throttle.due() {
            progress(id, dl.progress(phase));
        }
    }
    progress(id, dl.progress(phase));
    transform.finish().map_err(|e| bad_model(url, e))?;
    let bytes = stream.bytes_in();
    let files = stream.finish().map_err(|e| bad_model(url, e))?;
    if let Some(c) = store {
        progress(
            id,
            Progress::Phase {
                phase: Phase::Store,
            },
        );
        let mut stored = Ok(());
        if !pending.is_empty() {
            stored = c
                .put_chunk(key, next_chunk, &pending)
                .await
                .map(|d| chunk_digests.push(d));
            next_chunk += 1;
        }
        if stored.is_ok() {
            stored = c
                .put_manifest(&Manifest {
                    key: key.to_string(),
                    bytes,
                    chunks: next_chunk,
                    sha256: format!("{:x}", hasher.finalize()),
                    stored_at: js_sys::Date::now(),
                    chunk_sha256: Vec::new(),
                    chunk_xxh3: chunk_digests,
                    chunk_bytes: CHUNK_BYTES as u64,
                })
                .await;
        }
        if let Err(e) = stored {
            let _ = c.delete(key).await;
            notice(
                id,
                format!("{e}; the model is loaded for this session only"),
            );
        }
    }
    Ok((files, bytes, dl.requests))
}
