//! One handler per request type. Requests run as async tasks; long ones yield between
//! items so that a cancel (or another request) is seen promptly.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use siglens_engine::{export as files, scores, Siglip, TextOptions, Towers};
use siglens_protocol::{
    BenchTiming, ErrorKind, Event, ExportFormat, ExportKind, ItemResult, Output, Progress, Request,
    RequestId, TextSettings, WorkerError,
};

use crate::cache::{storage_estimate, ModelCache};
use crate::runtime::{
    cancel, check_cancelled, forget_cancel, post, precise_now_ms, wasm_memory_bytes, yield_now,
};

thread_local! {
    static MODEL: RefCell<Option<Rc<Siglip>>> = const { RefCell::new(None) };
}

/// Texts per forward pass of the text tower.
const TEXT_BATCH: usize = 8;
/// Largest k tried when suggesting one, and the seed that makes clusterings repeatable.
const MAX_SUGGESTED_K: usize = 10;
const CLUSTER_SEED: u64 = 0;

fn current_model() -> Result<Rc<Siglip>, WorkerError> {
    MODEL.with(|m| m.borrow().clone()).ok_or_else(|| {
        WorkerError::new(ErrorKind::NoModel, "no model is loaded yet: load one first")
    })
}

fn engine_err(kind: ErrorKind) -> impl Fn(siglens_engine::Error) -> WorkerError {
    move |e| WorkerError::new(kind, e.to_string())
}

pub fn dispatch(id: RequestId, request: Request, buffers: Vec<ArrayBuffer>) {
    if let Request::Cancel { target } = request {
        cancel(target);
        post(
            &Event::Done {
                id,
                output: Output::Cancelled,
            },
            Vec::new(),
        );
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let event = match handle(id, request, buffers).await {
            Ok(output) => Event::Done { id, output },
            Err(error) => Event::Failed { id, error },
        };
        forget_cancel(id);
        post(&event, Vec::new());
    });
}

async fn handle(
    id: RequestId,
    request: Request,
    buffers: Vec<ArrayBuffer>,
) -> Result<Output, WorkerError> {
    match request {
        Request::LoadModel {
            source,
            base,
            vision_only,
            cache_only,
        } => {
            // Free the old model first: two base models may not fit in wasm32's 4 GiB.
            MODEL.with(|m| m.borrow_mut().take());
            crate::token_rows::install(None);
            let towers = if vision_only {
                Towers::VisionOnly
            } else {
                Towers::Both
            };
            let loaded =
                crate::loader::load(id, &source, base.as_deref(), towers, cache_only).await?;
            let model = Rc::new(loaded.model);
            MODEL.with(|m| *m.borrow_mut() = Some(model.clone()));
            crate::token_rows::install(loaded.rows);
            if !vision_only {
                // Ready now; the tokenizer is built once this reply is out (an error shows
                // at the first text, as it would then anyway).
                let weak = Rc::downgrade(&model);
                wasm_bindgen_futures::spawn_local(async move {
                    yield_now().await;
                    if let Some(m) = weak.upgrade() {
                        let _ = m.tokenizer();
                    }
                });
            }
            Ok(Output::Loaded { info: loaded.info })
        }
        Request::EmbedImages { names } => embed_images(id, names, buffers).await,
        Request::EmbedTexts { texts, settings } => {
            let embeddings = embed_texts(id, &texts, &settings).await?;
            Ok(Output::Texts { embeddings })
        }
        Request::Classify {
            image_embeddings,
            labels,
            settings,
        } => {
            let model = current_model()?;
            check_dims(&model, &image_embeddings)?;
            if labels.is_empty() {
                return Err(WorkerError::new(ErrorKind::BadInput, "no labels given"));
            }
            let texts = embed_texts(id, &labels, &settings).await?;
            let probs = model.similarity(&image_embeddings, &texts).probs;
            Ok(Output::Scores { labels, probs })
        }
        Request::Similarity {
            image_embeddings,
            text_embeddings,
        } => {
            let model = current_model()?;
            check_dims(&model, &image_embeddings)?;
            check_dims(&model, &text_embeddings)?;
            let s = model.similarity(&image_embeddings, &text_embeddings);
            Ok(Output::Similarity {
                logits: s.logits,
                probs: s.probs,
            })
        }
        Request::Cosine { queries, items } => {
            let model = current_model()?;
            check_dims(&model, &queries)?;
            check_dims(&model, &items)?;
            let values = queries
                .iter()
                .map(|q| items.iter().map(|i| scores::cosine(q, i)).collect())
                .collect();
            Ok(Output::Cosine { values })
        }
        Request::Cluster { embeddings, k } => {
            let model = current_model()?;
            check_dims(&model, &embeddings)?;
            if embeddings.len() < 2 {
                return Err(WorkerError::new(
                    ErrorKind::BadInput,
                    "clustering needs at least 2 embedded images",
                ));
            }
            yield_now().await;
            let (suggested_k, silhouette_by_k) =
                siglens_analysis::suggest_k(&embeddings, MAX_SUGGESTED_K, CLUSTER_SEED);
            check_cancelled(id)?;
            let k = k.unwrap_or(suggested_k).clamp(1, embeddings.len());
            let labels = siglens_analysis::kmeans(&embeddings, k, 10, CLUSTER_SEED).labels;
            Ok(Output::Clusters {
                k,
                labels,
                suggested_k,
                silhouette_by_k,
            })
        }
        Request::Bench {
            image_batches,
            texts,
            warmup,
            runs,
        } => {
            let model = current_model()?;
            // Inputs a user can type: keep one run within minutes even on a phone.
            if image_batches.len() > 4
                || image_batches.iter().any(|&b| b > 64)
                || texts > 64
                || warmup + runs > 50
            {
                return Err(WorkerError::new(
                    ErrorKind::BadInput,
                    "speed test: at most 4 batch sizes of up to 64 images, 64 labels and 50 runs",
                ));
            }
            let labels = siglens_engine::bench::bench_texts(texts);
            let tokens = model
                .tokenize(&labels)
                .map_err(engine_err(ErrorKind::BadInput))?;
            crate::token_rows::ensure(&model, &tokens).await?;
            let spec = siglens_engine::bench::BenchSpec {
                image_batches,
                texts,
                warmup,
                runs,
            };
            let report = siglens_engine::bench::run(&model, &spec, &|| precise_now_ms() / 1e3)
                .map_err(engine_err(ErrorKind::Internal))?;
            let wire = |t: siglens_engine::bench::Timing| BenchTiming {
                n: t.n,
                median_s: t.median_s,
                min_s: t.min_s,
                per_s: t.per_s,
            };
            Ok(Output::Bench {
                images: report.images.into_iter().map(wire).collect(),
                texts: report.texts.map(wire),
                runs: report.runs,
                wasm_memory_bytes: wasm_memory_bytes(),
            })
        }
        Request::Map { embeddings } => {
            let model = current_model()?;
            check_dims(&model, &embeddings)?;
            yield_now().await;
            let coords = siglens_analysis::umap_2d(
                &embeddings,
                &siglens_analysis::UmapParams {
                    seed: CLUSTER_SEED,
                    ..Default::default()
                },
            );
            Ok(Output::Map { coords })
        }
        Request::Export {
            format,
            kind,
            names,
            embeddings,
        } => export(format, kind, names, embeddings),
        Request::ListCache => {
            let cache = ModelCache::open().await?;
            let models = cache.list().await?.iter().map(Into::into).collect();
            let (usage, quota) = storage_estimate().await;
            Ok(Output::Cache {
                models,
                usage,
                quota,
            })
        }
        Request::DeleteCache { key } => {
            ModelCache::open().await?.delete(&key).await?;
            Ok(Output::Deleted)
        }
        Request::Cancel { .. } => unreachable!("handled in dispatch"),
    }
}

fn check_dims(model: &Siglip, embeddings: &[Vec<f32>]) -> Result<(), WorkerError> {
    let d = model.embedding_dim();
    match embeddings.iter().position(|e| e.len() != d) {
        Some(i) => Err(WorkerError::new(
            ErrorKind::BadInput,
            format!(
                "embedding {i} has {} dimensions, the loaded model's have {d} (made with another model?)",
                embeddings[i].len()
            ),
        )),
        None => Ok(()),
    }
}

/// One image at a time: each result is posted as soon as it exists (the UI keeps it even if
/// the worker dies later), and a cancel stops the batch at the next image.
async fn embed_images(
    id: RequestId,
    names: Vec<String>,
    buffers: Vec<ArrayBuffer>,
) -> Result<Output, WorkerError> {
    if names.len() != buffers.len() {
        return Err(WorkerError::new(
            ErrorKind::Protocol,
            format!("{} names for {} image buffers", names.len(), buffers.len()),
        ));
    }
    let model = current_model()?;
    let mut results = Vec::with_capacity(buffers.len());
    for (index, buffer) in buffers.into_iter().enumerate() {
        yield_now().await;
        check_cancelled(id)?;
        let bytes = Uint8Array::new(&buffer).to_vec();
        drop(buffer);
        let result = match model.embed_images(&[&bytes]).pop() {
            Some(Ok(embedding)) => ItemResult::Ok { embedding },
            Some(Err(e)) => ItemResult::Error {
                message: e.to_string(),
            },
            None => ItemResult::Error {
                message: "no result".into(),
            },
        };
        post(
            &Event::Progress {
                id,
                progress: Progress::Image {
                    index,
                    result: result.clone(),
                },
            },
            Vec::new(),
        );
        results.push(result);
    }
    Ok(Output::Images { results })
}

async fn embed_texts(
    id: RequestId,
    texts: &[String],
    settings: &TextSettings,
) -> Result<Vec<Vec<f32>>, WorkerError> {
    let model = current_model()?;
    let mut opts = TextOptions {
        lowercase: settings.lowercase,
        ..Default::default()
    };
    if let Some(t) = &settings.template {
        opts.template = t.clone();
    }
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(TEXT_BATCH) {
        yield_now().await;
        check_cancelled(id)?;
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let tokens = match settings.template {
            Some(_) => model.label_tokens(&refs, &opts),
            None => model.text_tokens(&refs, &opts),
        }
        .map_err(engine_err(ErrorKind::BadInput))?;
        crate::token_rows::ensure(&model, &tokens).await?;
        let embs = model
            .embed_tokens(&tokens)
            .map_err(engine_err(ErrorKind::BadInput))?;
        out.extend(embs);
    }
    Ok(out)
}

fn export(
    format: ExportFormat,
    kind: ExportKind,
    names: Vec<String>,
    embeddings: Vec<Vec<f32>>,
) -> Result<Output, WorkerError> {
    if names.len() != embeddings.len() {
        return Err(WorkerError::new(
            ErrorKind::Protocol,
            format!("{} names for {} embeddings", names.len(), embeddings.len()),
        ));
    }
    let (list_key, item_key, stem) = match kind {
        ExportKind::Images => ("images", "image", "siglens-image-embeddings"),
        ExportKind::Texts => ("texts", "text", "siglens-text-embeddings"),
    };
    let (ext, mime, bytes) = match format {
        ExportFormat::Json => {
            // The shape of the CLI's `embed --json` images or texts part.
            let rows: Vec<serde_json::Value> = names
                .iter()
                .zip(&embeddings)
                .map(|(n, e)| serde_json::json!({ item_key: n, "embedding": e }))
                .collect();
            let doc = serde_json::json!({ list_key: rows });
            ("json", "application/json", doc.to_string().into_bytes())
        }
        ExportFormat::Csv => (
            "csv",
            "text/csv",
            files::to_csv(&names, &embeddings).into_bytes(),
        ),
        ExportFormat::Npy => (
            "npy",
            "application/octet-stream",
            files::to_npy(&embeddings),
        ),
    };
    Ok(Output::File {
        filename: format!("{stem}.{ext}"),
        mime: mime.into(),
        bytes,
    })
}
