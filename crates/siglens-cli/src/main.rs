//! `siglens`: zero-shot classification, embeddings, similarity and quantization with
//! SigLIP 2, natively. The JSON printed with `--json` is a stable contract (README.md).

mod bench;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use siglens_engine::{
    ComputeDType, ComputePolicy, DeviceSpec, LoadOptions, Siglip, StorageDType, TextMask,
    TextOptions, DEFAULT_TEMPLATE,
};

#[derive(Parser)]
#[command(
    name = "siglens",
    version,
    about = "SigLIP 2 image understanding on your own machine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Score images against candidate labels (sigmoid per label, sorted high to low).
    Classify {
        #[command(flatten)]
        model: ModelArgs,
        /// A candidate label (repeat for more).
        #[arg(long = "label", required = true)]
        labels: Vec<String>,
        /// Prompt template; `{}` is replaced by the label.
        #[arg(long, default_value = DEFAULT_TEMPLATE)]
        template: String,
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// L2-normalised image and/or text embeddings.
    Embed {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long = "image")]
        images: Vec<PathBuf>,
        #[arg(long = "text")]
        texts: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Image x text logits and sigmoid probabilities (raw texts, no template).
    Similarity {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long = "image", required = true)]
        images: Vec<PathBuf>,
        #[arg(long = "text", required = true)]
        texts: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write a single-file GGUF (weights + config + preprocessor + tokenizer).
    Quantize {
        /// Hugging Face style directory (or an existing siglens .gguf).
        #[arg(long)]
        model: PathBuf,
        /// Storage dtype: f32, f16, q8_0, q4_0 or q4k.
        #[arg(long)]
        dtype: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Time embedding on random inputs: median of --runs after --warmup, per second.
    Bench {
        #[command(flatten)]
        model: ModelArgs,
        /// Images per timed run (in batches of --batch-size; 0 skips images).
        #[arg(long, default_value_t = 256)]
        images: usize,
        /// Texts per timed run (0 skips texts).
        #[arg(long, default_value_t = 0)]
        texts: usize,
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Describe a model: architecture, storage, tokenizer settings.
    Info {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MaskArg {
    /// Do what transformers does for this checkpoint (tokenizer_config.json).
    Auto,
    Always,
    Never,
}

#[derive(Args)]
struct ModelArgs {
    /// Hugging Face style directory or a .gguf made by `siglens quantize`.
    #[arg(long)]
    model: PathBuf,
    /// Keep the text as typed (SigLIP 2 was trained on lower-cased text).
    #[arg(long)]
    no_lowercase: bool,
    /// Whether the text tower receives the attention mask.
    #[arg(long, value_enum, default_value = "auto")]
    text_mask: MaskArg,
    /// Images per forward pass (on a GPU, 64-256 keeps it busy).
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// cpu, cuda[:N], metal[:N] or auto (the first GPU this build supports, else the CPU).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// f32, or bf16 / f16 on a GPU (faster, less exact: see BENCHMARKS.md).
    #[arg(long, default_value = "f32")]
    compute_dtype: String,
    /// Compute q8_0 weights on Candle's quantized matmul (~2x faster vision natively, but it
    /// also quantizes activations: cosine vs f32 can fall to ~0.998; see BENCHMARKS.md).
    #[arg(long)]
    fast_q8: bool,
    /// Compute q8_0 / q4_0 weights on siglens's own int8 kernel, as the browser does. The
    /// default where it is faster (CPUs with AVX-512 VNNI); this forces it elsewhere (AVX2,
    /// or a portable loop), e.g. to reproduce the web app's numbers.
    #[arg(long, conflicts_with = "f32_matmul")]
    int8_kernel: bool,
    /// Dequantize q8_0 / q4_0 weights to f32 at load (Candle's f32 matmul): the reference
    /// math, where the int8 kernel would be the default.
    #[arg(long)]
    f32_matmul: bool,
    /// Run the encoder as separate Candle tensor ops even where the fused CPU layers apply
    /// (to measure or check one against the other).
    #[arg(long)]
    tensor_layers: bool,
    /// Quantize every int8-kernel input to 14 bits, the vision MLP's too (by default 7 bits
    /// on its rows without outliers; to measure or check one against the other).
    #[arg(long)]
    fine_activations: bool,
}

impl ModelArgs {
    fn load(&self) -> Result<Siglip> {
        let spec: DeviceSpec = self.device.parse()?;
        let device = spec
            .open()
            .with_context(|| format!("opening device {spec}"))?;
        let opts = LoadOptions {
            device,
            compute_dtype: self.compute_dtype.parse::<ComputeDType>()?,
            text_mask: match self.text_mask {
                MaskArg::Auto => TextMask::Auto,
                MaskArg::Always => TextMask::Always,
                MaskArg::Never => TextMask::Never,
            },
            batch_size: self.batch_size.max(1),
            policy: ComputePolicy {
                quantized_q8_0: self.fast_q8,
                int8_kernel: self.int8_kernel
                    || (!self.f32_matmul && ComputePolicy::for_this_platform().int8_kernel),
                fused_layers: !self.tensor_layers,
                coarse_mlp_input: !self.fine_activations,
                ..ComputePolicy::for_this_platform()
            },
            ..Default::default()
        };
        Siglip::load_path(&self.model, opts)
            .with_context(|| format!("loading model {}", self.model.display()))
    }

    fn text_options(&self, template: Option<&str>) -> TextOptions {
        TextOptions {
            lowercase: !self.no_lowercase,
            template: template.unwrap_or(DEFAULT_TEMPLATE).to_string(),
        }
    }
}

/// Per-image embedding results, in input order; unreadable or undecodable files are errors
/// in their own slot. Progress goes to stderr when it is a terminal.
fn embed_files(m: &Siglip, paths: &[PathBuf]) -> Vec<Result<Vec<f32>, String>> {
    let progress = std::io::stderr().is_terminal() && paths.len() > 1;
    let mut out = Vec::with_capacity(paths.len());
    for (done, chunk) in paths.chunks(m.options.batch_size.max(1)).enumerate() {
        let mut bytes: Vec<Result<Vec<u8>, String>> = Vec::new();
        for p in chunk {
            bytes.push(std::fs::read(p).map_err(|e| format!("cannot read file: {e}")));
        }
        let readable: Vec<&[u8]> = bytes
            .iter()
            .filter_map(|b| b.as_ref().ok().map(Vec::as_slice))
            .collect();
        let mut embedded = m.embed_images(&readable).into_iter();
        for b in &bytes {
            out.push(match b {
                Err(e) => Err(e.clone()),
                Ok(_) => embedded
                    .next()
                    .expect("one result per readable file")
                    .map_err(|e| e.to_string()),
            });
        }
        if progress {
            eprint!(
                "\rembedded {}/{} images",
                (done * m.options.batch_size + chunk.len()).min(paths.len()),
                paths.len()
            );
        }
    }
    if progress {
        eprintln!();
    }
    out
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn run(cli: Cli) -> Result<bool> {
    match cli.cmd {
        Cmd::Classify {
            model,
            labels,
            template,
            json,
            images,
        } => {
            let m = model.load()?;
            let opts = model.text_options(Some(&template));
            let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
            let txt = m.embed_labels(&label_refs, &opts)?;
            let mut all_ok = true;
            let mut rows = Vec::new();
            for (path, emb) in images.iter().zip(embed_files(&m, &images)) {
                match emb {
                    Ok(e) => {
                        let scores = m.rank_labels(&e, &label_refs, &txt);
                        if !json {
                            println!("{}", path_str(path));
                            for s in &scores {
                                println!("  {:>7.4}  {}", s.score, s.label);
                            }
                        }
                        let scores: Vec<Value> = scores
                            .iter()
                            .map(|s| json!({"label": s.label, "score": s.score}))
                            .collect();
                        rows.push(json!({"image": path_str(path), "scores": scores}));
                    }
                    Err(e) => {
                        all_ok = false;
                        eprintln!("error: {}: {e}", path_str(path));
                        rows.push(json!({"image": path_str(path), "error": e}));
                    }
                }
            }
            if json {
                println!("{}", Value::Array(rows));
            }
            Ok(all_ok)
        }
        Cmd::Embed {
            model,
            images,
            texts,
            json,
        } => {
            if images.is_empty() && texts.is_empty() {
                bail!("nothing to embed: give --image and/or --text");
            }
            let m = model.load()?;
            let opts = model.text_options(None);
            let mut all_ok = true;
            let mut img_rows = Vec::new();
            for (path, emb) in images.iter().zip(embed_files(&m, &images)) {
                match emb {
                    Ok(e) => img_rows.push(json!({"image": path_str(path), "embedding": e})),
                    Err(e) => {
                        all_ok = false;
                        eprintln!("error: {}: {e}", path_str(path));
                        img_rows.push(json!({"image": path_str(path), "error": e}));
                    }
                }
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let txt = if refs.is_empty() {
                Vec::new()
            } else {
                m.embed_texts(&refs, &opts)?
            };
            let txt_rows: Vec<Value> = texts
                .iter()
                .zip(&txt)
                .map(|(t, e)| json!({"text": t, "embedding": e}))
                .collect();
            if json {
                println!("{}", json!({"images": img_rows, "texts": txt_rows}));
            } else {
                for r in img_rows.iter().chain(&txt_rows) {
                    let name = r
                        .get("image")
                        .or_else(|| r.get("text"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    match r.get("embedding").and_then(Value::as_array) {
                        Some(e) => {
                            let head: Vec<String> = e
                                .iter()
                                .take(8)
                                .map(|v| format!("{:+.4}", v.as_f64().unwrap_or(0.0)))
                                .collect();
                            println!("{name}: [{} ...] ({} dims)", head.join(", "), e.len());
                        }
                        None => println!("{name}: error"),
                    }
                }
            }
            Ok(all_ok)
        }
        Cmd::Similarity {
            model,
            images,
            texts,
            json,
        } => {
            let m = model.load()?;
            let opts = model.text_options(None);
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let txt = m.embed_texts(&refs, &opts)?;
            let embs = embed_files(&m, &images);
            let ok: Vec<Vec<f32>> = embs
                .iter()
                .filter_map(|e| e.as_ref().ok().cloned())
                .collect();
            let sim = m.similarity(&ok, &txt);
            let (mut logits, mut probs) = (sim.logits.into_iter(), sim.probs.into_iter());
            let mut all_ok = true;
            let mut img_rows = Vec::new();
            let (mut lrows, mut prows) = (Vec::new(), Vec::new());
            for (path, e) in images.iter().zip(&embs) {
                match e {
                    Ok(_) => {
                        img_rows.push(json!(path_str(path)));
                        lrows.push(json!(logits.next()));
                        prows.push(json!(probs.next()));
                    }
                    Err(err) => {
                        all_ok = false;
                        eprintln!("error: {}: {err}", path_str(path));
                        img_rows.push(json!({"image": path_str(path), "error": err}));
                        lrows.push(Value::Null);
                        prows.push(Value::Null);
                    }
                }
            }
            if json {
                println!(
                    "{}",
                    json!({"images": img_rows, "texts": texts, "logits": lrows, "probs": prows})
                );
            } else {
                println!("rows = images, columns = texts (sigmoid probability)");
                for (i, p) in img_rows.iter().zip(&prows) {
                    let cells: Vec<String> = p
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .map(|v| format!("{:.4}", v.as_f64().unwrap_or(0.0)))
                                .collect()
                        })
                        .unwrap_or_else(|| vec!["error".into()]);
                    println!("{}  {}", cells.join("  "), i.as_str().unwrap_or("(failed)"));
                }
            }
            Ok(all_ok)
        }
        Cmd::Quantize { model, dtype, out } => {
            let dtype: StorageDType = dtype.parse()?;
            let files = siglens_engine::weights::load_model_path(&model)
                .with_context(|| format!("loading model {}", model.display()))?;
            // Validate before writing: the GGUF must be loadable.
            siglens_engine::config::SiglipConfig::from_json(&files.config_json)?;
            let tmp = out.with_extension("gguf.partial");
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let mut w = std::io::BufWriter::new(f);
            siglens_engine::weights::write_gguf(&mut w, &files, dtype)?;
            drop(w);
            std::fs::rename(&tmp, &out)?;
            let size = std::fs::metadata(&out)?.len();
            eprintln!("wrote {} ({} bytes, {})", out.display(), size, dtype.name());
            Ok(true)
        }
        Cmd::Bench {
            model,
            images,
            texts,
            warmup,
            runs,
        } => {
            let m = model.load()?;
            println!("{}", bench::run(&m, images, texts, warmup, runs)?);
            Ok(true)
        }
        Cmd::Info { model, json } => {
            let files = siglens_engine::weights::load_model_path(&model)
                .with_context(|| format!("loading model {}", model.display()))?;
            let dtypes: Vec<Value> = files
                .weights
                .dtype_summary()
                .into_iter()
                .map(|(d, n, b)| json!({"dtype": d, "tensors": n, "bytes": b}))
                .collect();
            let stored = files.weights.size_in_bytes();
            let m = Siglip::load(files, LoadOptions::default())?;
            let c = &m.config;
            let info = json!({
                "model": path_str(&model),
                "model_type": c.model_type,
                "image_size": c.vision_config.image_size,
                "patch_size": c.vision_config.patch_size,
                "embedding_dim": m.embedding_dim(),
                "vision_layers": c.vision_config.num_hidden_layers,
                "text_layers": c.text_config.num_hidden_layers,
                "vocab_size": c.text_config.vocab_size,
                "text_length": m.tokenizer()?.len(),
                "pad_id": m.tokenizer()?.pad_id(),
                "text_attention_mask": m.uses_attention_mask(),
                "resample": format!("{:?}", m.preprocess.resample).to_lowercase(),
                "stored_bytes": stored,
                "storage": dtypes,
            });
            if json {
                println!("{info}");
            } else {
                println!("{}", serde_json::to_string_pretty(&info)?);
            }
            Ok(true)
        }
    }
}

/// mimalloc keeps freed pages for reuse: with the system allocator every forward's large
/// tensors were fresh mappings, and their page faults were ~8% of a batch's time (`perf`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
