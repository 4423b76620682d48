//! Repository tasks. `cargo xtask bench` measures siglens against its peers in one run, on
//! one machine, on the same random-weight SigLIP 2 base model, and appends the figures to
//! BENCHMARKS.md (issue 5's benchmark):
//!
//! - browser (headless Chromium, the real app, engine worker): vision batch 1, a batch of
//!   32, 10 labels, warm start from IndexedDB, wasm memory after loading;
//! - native CLI, 2 threads: vision batch 1 and batch 8, 10 labels;
//! - peers from `../shared/peer-bench`: onnxruntime-web int8/fp32 (1 and 2 threads),
//!   onnxruntime native, PyTorch.
//!
//! Flags: `--quick` (3 runs instead of 10: a smoke run, not for BENCHMARKS.md),
//! `--skip-peers` (reuse the peers' last results), `--no-append` (print only).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

const ANCHORS: &str = "/tmp/anchors";
const MODEL_FILE: &str = "siglens-base-random-q8_0.gguf";
/// Back-to-back browser rounds (ours, then onnxruntime-web int8) after the full runs.
const ROUNDS: usize = 3;
/// The natural photos among the fixtures (`tests/fixtures/images/SOURCES.md`).
const FIDELITY_IMAGES: [&str; 6] = [
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "grace_hopper.jpg",
    "rocket.jpg",
];

struct Opts {
    quick: bool,
    skip_peers: bool,
    append: bool,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(&Opts {
            quick: args.iter().any(|a| a == "--quick"),
            skip_peers: args.iter().any(|a| a == "--skip-peers"),
            append: !args.iter().any(|a| a == "--no-append"),
        }),
        _ => bail!("usage: cargo xtask bench [--quick] [--skip-peers] [--no-append]"),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

/// Runs `cmd`, its stderr passed through; returns stdout.
fn run(cmd: &mut Command) -> Result<String> {
    eprintln!("xtask: {cmd:?}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last line of a command's stdout that parses as JSON.
fn last_json(stdout: &str) -> Result<Value> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .context("no JSON line in the output")
}

fn read_json(path: &Path) -> Result<Value> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&s)?)
}

fn bench(o: &Opts) -> Result<()> {
    let root = root();
    let peer = root.join("../shared/peer-bench");
    let anchors = Path::new(ANCHORS);
    let model_dir = anchors.join("siglip2-base-random");
    let python = anchors.join("venv/bin/python");
    let runs = if o.quick { 3 } else { 10 };

    // 1. Peers' environment and the shared model (skipped where already there).
    run(Command::new("bash").arg(peer.join("setup.sh")))?;
    if !model_dir.join("model.safetensors").exists() {
        run(Command::new(&python)
            .arg("make_random_siglip2.py")
            .current_dir(&peer))?;
    }
    if !anchors.join("models/vision_int8_quint8.onnx").exists() {
        run(Command::new(&python)
            .arg("export_onnx.py")
            .current_dir(&peer))?;
    }
    // Any tokenizer will do for speed (64 tokens whatever the ids); the fixture's Gemma-style one.
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        if !model_dir.join(f).exists() {
            std::fs::copy(
                root.join("tests/fixtures/tokenizer").join(f),
                model_dir.join(f),
            )?;
        }
    }

    // 2. siglens: the CLI, the model as the app stores it (q8_0), the app.
    run(Command::new("cargo")
        .args(["build", "--release", "-p", "siglens-cli"])
        .current_dir(&root))?;
    let siglens = root.join("target/release/siglens");
    let ours = anchors.join("siglens");
    std::fs::create_dir_all(&ours)?;
    let gguf = ours.join(MODEL_FILE);
    // Always written again (~15 s): a file from an older build may be quantized differently
    // (e.g. before `weights::q8_0_runs`).
    run(Command::new(&siglens)
        .arg("quantize")
        .arg("--model")
        .arg(&model_dir)
        .args(["--dtype", "q8_0", "--out"])
        .arg(&gguf))?;
    run(Command::new("bash")
        .arg("scripts/setup.sh")
        .current_dir(&root))?;
    let path = format!(
        "{}:{}",
        root.join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(Command::new("trunk")
        .args(["build", "--release", "--offline", "--skip-version-check"])
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", "target/wasm")
        .current_dir(&root))?;

    // 3. Browser, through the app, then its peer at once: this VM's speed drifts by up to
    //    1.5x over minutes, so each pair is measured back to back.
    let browser = last_json(&run(Command::new("node")
        .arg("tools/bench-browser.mjs")
        .arg("dist")
        .arg(&ours)
        .arg(MODEL_FILE)
        .env("PATH", &path)
        .env("RUNS", runs.to_string())
        .env("WARM_RUNS", if o.quick { "2" } else { "5" })
        .env("B_RUNS", runs.to_string())
        .current_dir(&root))?)?;

    if !o.skip_peers {
        run(Command::new("bash").arg(peer.join("run.sh")).arg("web"))?;
    }

    // 3b. Back-to-back rounds of the two browser targets' measures alone, ours then the
    //     peer's int8 model, ~1.5 min a round: the full runs above are minutes apart, and
    //     the VM's speed phases have moved one ratio by 0.76x-0.88x between runs.
    let mut rounds = Vec::new();
    if !o.skip_peers {
        for r in 0..if o.quick { 1 } else { ROUNDS } {
            let ours = last_json(&run(Command::new("node")
                .arg("tools/bench-browser.mjs")
                .arg("dist")
                .arg(&ours)
                .arg(MODEL_FILE)
                .env("PATH", &path)
                .envs([("RUNS", "5"), ("WARM_RUNS", "1"), ("B_RUNS", "2")])
                .envs([("LABELS", "10"), ("ONE_ENGINE", "0")])
                .current_dir(&root))?)?;
            let out = anchors.join(format!("results/ort_web_round{r}.json"));
            run(Command::new("node")
                .args(["drive.mjs", "10"])
                .env("MODELS", "vision_int8_quint8.onnx")
                .env("OUT", &out)
                .current_dir(peer.join("ort_web")))?;
            rounds.push(json!({"ours": ours, "ort_web": read_json(&out)?}));
        }
    }

    // 4. Native, 2 threads, then the native peers.
    let native = |images: usize, batch: usize, texts: usize| -> Result<Value> {
        let out = run(Command::new(&siglens)
            .arg("bench")
            .arg("--model")
            .arg(&gguf)
            .args([
                "--images",
                &images.to_string(),
                "--batch-size",
                &batch.to_string(),
            ])
            .args([
                "--texts",
                &texts.to_string(),
                "--warmup",
                "2",
                "--runs",
                &runs.to_string(),
            ])
            .env("RAYON_NUM_THREADS", "2"))?;
        last_json(&out)
    };
    let native_b1 = native(1, 1, 0)?;
    let native_b8 = native(8, 8, 0)?;
    let native_text = native(0, 8, 10)?;

    if !o.skip_peers {
        run(Command::new("bash")
            .arg(peer.join("run.sh"))
            .args(["torch", "ort"]))?;
    }

    // 4b. Back-to-back rounds of the native batch-1 target alone, ours then onnxruntime's
    //     (~20 s a round): in the full run above the two are minutes apart, with PyTorch
    //     between them, and this VM's phases moved that ratio from 0.96x to 1.07x.
    let mut native_rounds = Vec::new();
    if !o.skip_peers {
        for r in 0..if o.quick { 1 } else { ROUNDS } {
            let ours = native(1, 1, 0)?;
            let out = anchors.join(format!("results/ort_cpu_round{r}.json"));
            run(Command::new(&python)
                .arg(peer.join("bench_ort.py"))
                .args(["--runs", "15", "--out"])
                .arg(&out))?;
            native_rounds.push(json!({"ours": ours, "ort": read_json(&out)?}));
        }
    }

    // 5. Fidelity on the same weights and images: siglens' q8_0 model (the browser's
    //    arithmetic) and onnxruntime's int8 models, each against PyTorch fp32.
    let images: Vec<PathBuf> = FIDELITY_IMAGES
        .iter()
        .map(|i| root.join("tests/fixtures/images").join(i))
        .collect();
    let embed_json = root.join("target/bench/fidelity-siglens-q8_0.json");
    std::fs::create_dir_all(embed_json.parent().expect("has a parent"))?;
    let mut embed = Command::new(&siglens);
    embed.arg("embed").arg("--model").arg(&gguf).arg("--json");
    for i in &images {
        embed.arg("--image").arg(i);
    }
    std::fs::write(&embed_json, run(embed.env("RAYON_NUM_THREADS", "2"))?)?;
    let fidelity = last_json(&run(Command::new(&python)
        .arg(root.join("tools/fidelity-vs-peer.py"))
        .arg("--model")
        .arg(&model_dir)
        .arg("--onnx-dir")
        .arg(anchors.join("models"))
        .arg(format!("--siglens=q8_0={}", embed_json.display()))
        .args(&images))?)?;
    let results = anchors.join("results");
    // With --skip-peers a peer never measured here is reported as n/a.
    let peer_result = |name: &str| -> Result<Value> {
        match read_json(&results.join(name)) {
            Err(e) if !o.skip_peers => Err(e),
            r => Ok(r.unwrap_or(Value::Null)),
        }
    };
    let torch = peer_result("torch_cpu.json")?;
    let ort = peer_result("ort_cpu.json")?;
    let web = peer_result("ort_web.json")?;

    let all = json!({
        "native": {"b1": native_b1, "b8": native_b8, "text": native_text},
        "browser": browser, "torch": torch, "ort": ort, "ort_web": web, "rounds": rounds,
        "native_rounds": native_rounds,
        "fidelity": fidelity,
    });
    let stamp = run(Command::new("date").args(["-u", "+%Y-%m-%dT%H%MZ"]))?;
    let raw = root.join(format!("target/bench/{}.json", stamp.trim()));
    std::fs::create_dir_all(raw.parent().expect("has a parent"))?;
    std::fs::write(&raw, serde_json::to_string_pretty(&all)?)?;

    let md = report(&all, o, &root, stamp.trim())?;
    println!("{md}");
    if o.append && !o.quick {
        let p = root.join("BENCHMARKS.md");
        let mut text = std::fs::read_to_string(&p)?;
        text.push('\n');
        text.push_str(&md);
        std::fs::write(&p, text)?;
        eprintln!(
            "xtask: appended to BENCHMARKS.md; raw figures in {}",
            raw.display()
        );
    }
    Ok(())
}

/// The back-to-back rounds: each browser target's ratio per round and their median (the
/// figure least moved by the VM's speed phases), with the full run's pair counted too.
fn rounds_table(a: &Value, batch: f64) -> String {
    let Some(rounds) = a["rounds"].as_array().filter(|r| !r.is_empty()) else {
        return String::new();
    };
    let int8 = "vision_int8_quint8.onnx";
    // (ours b1 ms, peer 1-thread ms, ours images/s, peer images/s at 2 threads) per pair.
    let pair = |ours: &Value, web: &Value| {
        (
            f(ours, &["vision_b1", "median_s"]).map(|s| s * 1e3),
            web_ms(web, int8, 1),
            f(ours, &["app_batch", "median_s"]).map(|s| batch / s),
            web_ms(web, int8, 2).map(|m| 1e3 / m),
        )
    };
    let pairs = with_rounds(pair(&a["browser"], &a["ort_web"]), rounds, |r| {
        pair(&r["ours"], &r["ort_web"])
    });
    let mut md = format!(
        "\nBack to back (each round: the app's speed test and {batch} images dropped, then \
         onnxruntime-web int8 at 1 and 2 threads, 10 runs each):\n\n\
         | pair | vision batch 1 (ms) | peer, 1 thread | ratio (<= 0.8x) | throughput (images/s) | peer, 2 threads | ratio (>= 1.25x) |\n\
         |---|---|---|---|---|---|---|\n"
    );
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let (mut b1, mut tp) = (Vec::new(), Vec::new());
    for (name, (ob, pb, ot, pt)) in &pairs {
        let (r1, r2) = (ratio(*ob, *pb), ratio(*ot, *pt));
        b1.extend(r1);
        tp.extend(r2);
        let x = |r: Option<f64>| r.map_or("n/a".into(), |r| format!("{r:.2}x"));
        md += &format!(
            "| {name} | {} | {} | {} | {} | {} | {} |\n",
            cell(*ob),
            cell(*pb),
            x(r1),
            cell(*ot),
            cell(*pt),
            x(r2)
        );
    }
    let (m1, m2) = (median_ratio(b1, true), median_ratio(tp, false));
    md += &format!(
        "| **median of the pairs** | | | {} | | | {} |\n",
        met(m1, |r| r <= 0.8),
        met(m2, |r| r >= 1.25)
    );
    md
}

/// The back-to-back native rounds: siglens' batch-1 latency against onnxruntime int8's
/// at 2 threads per round, the full run's pair too, and the median of the pairs.
fn native_rounds_table(a: &Value) -> String {
    let Some(rounds) = a["native_rounds"].as_array().filter(|r| !r.is_empty()) else {
        return String::new();
    };
    let pair = |ours: &Value, ort: &Value| {
        (
            f(ours, &["images", "median_s"]).map(|s| s * 1e3),
            ort_int8_ms(ort, 2),
        )
    };
    let pairs = with_rounds(pair(&a["native"]["b1"], &a["ort"]), rounds, |r| {
        pair(&r["ours"], &r["ort"])
    });
    let mut md = "\nNative back to back (each round: siglens batch 1 at 2 threads, 10 runs, then \
                  onnxruntime's models at 1 and 2 threads, 15 runs each):\n\n\
                  | pair | native vision batch 1 (ms) | onnxruntime int8 (quint8), 2 threads | ratio (<= 1x) |\n\
                  |---|---|---|---|\n"
        .to_string();
    let mut ratios = Vec::new();
    for (name, (ours, peer)) in &pairs {
        let r = ours.zip(*peer).map(|(a, b)| a / b);
        ratios.extend(r);
        let x = r.map_or("n/a".into(), |r| format!("{r:.2}x"));
        md += &format!("| {name} | {} | {} | {x} |\n", cell(*ours), cell(*peer));
    }
    md += &format!(
        "| **median of the pairs** | | | {} |\n",
        met(median_ratio(ratios, true), |r| r <= 1.0)
    );
    md
}

/// The full run's pair, then each back-to-back round's, named for a table's first column.
fn with_rounds<T>(full: T, rounds: &[Value], pair: impl Fn(&Value) -> T) -> Vec<(String, T)> {
    let mut pairs = vec![("full run".to_string(), full)];
    for (i, r) in rounds.iter().enumerate() {
        pairs.push((format!("round {}", i + 1), pair(r)));
    }
    pairs
}

/// onnxruntime's (native) median ms for its int8 (quint8) model at `threads`.
fn ort_int8_ms(ort: &Value, threads: u64) -> Option<f64> {
    let t = format!("threads_{threads}");
    f(
        ort,
        &["results", "vision_int8_quint8.onnx", &t, "median_ms"],
    )
}

/// The median of `v`; for an even count the middle value on the unfavourable side.
fn median_ratio(mut v: Vec<f64>, lower_is_better: bool) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let i = if lower_is_better {
        v.len() / 2
    } else {
        v.len().saturating_sub(1) / 2
    };
    v.get(i).copied()
}

fn met(m: Option<f64>, ok: fn(f64) -> bool) -> String {
    match m {
        Some(m) if ok(m) => format!("{m:.2}x, met"),
        Some(m) => format!("{m:.2}x, **not met**"),
        None => "n/a".into(),
    }
}

fn f(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_f64()
}

/// onnxruntime-web's median ms for `model` at `threads`.
fn web_ms(web: &Value, model: &str, threads: u64) -> Option<f64> {
    web["results"].as_array()?.iter().find_map(|r| {
        (r["model"] == model && r["threads"].as_u64() == Some(threads))
            .then(|| f(r, &["timing", "median_ms"]))
            .flatten()
    })
}

struct Line {
    what: &'static str,
    ours: Option<f64>,
    peer_name: &'static str,
    peer: Option<f64>,
    /// `Some((bar, lower_is_better))` on ours / peer.
    target: Option<(f64, bool)>,
}

fn cell(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.1}"))
}

fn report(a: &Value, o: &Opts, root: &Path, stamp: &str) -> Result<String> {
    let b = &a["browser"];
    let ms = |v: Option<f64>| v.map(|s| s * 1e3);
    let batch = f(b, &["app_batch", "n"]).unwrap_or(32.0);
    let web_int8 = "vision_int8_quint8.onnx";
    let per_s = |ms: Option<f64>| ms.map(|m| 1e3 / m);
    let lines = [
        Line {
            what: "browser vision, batch 1, 1 core (ms)",
            ours: ms(f(b, &["vision_b1", "median_s"])),
            peer_name: "onnxruntime-web int8, 1 thread",
            peer: web_ms(&a["ort_web"], web_int8, 1),
            target: Some((0.8, true)),
        },
        Line {
            what: "browser throughput, 32 images dropped on the app, all cores (images/s; decode included)",
            ours: f(b, &["app_batch", "median_s"]).map(|s| batch / s),
            peer_name: "onnxruntime-web int8, 2 threads (1 / batch-1 latency; no decode)",
            peer: per_s(web_ms(&a["ort_web"], web_int8, 2)),
            target: Some((1.25, false)),
        },
        Line {
            what: "browser throughput, batch of 32 in one engine, 1 core (images/s)",
            ours: f(b, &["vision_batch_one_engine", "median_s"]).map(|s| batch / s),
            peer_name: "onnxruntime-web int8, 1 thread (1 / batch-1 latency)",
            peer: per_s(web_ms(&a["ort_web"], web_int8, 1)),
            target: None,
        },
        Line {
            what: "native vision, batch 1, 2 threads (ms)",
            ours: ms(f(&a["native"]["b1"], &["images", "median_s"])),
            peer_name: "onnxruntime int8 (quint8), 2 threads",
            peer: ort_int8_ms(&a["ort"], 2),
            target: Some((1.0, true)),
        },
        Line {
            what: "native vision, batch 8, 2 threads (ms per image)",
            ours: ms(f(&a["native"]["b8"], &["images", "median_s"])).map(|m| m / 8.0),
            peer_name: "PyTorch fp32, batch 8, 2 threads",
            peer: f(
                &a["torch"],
                &["model", "threads_2", "image_b8", "per_image_median_ms"],
            ),
            target: None,
        },
        Line {
            what: "browser text, 10 labels, 1 core (ms per label)",
            ours: ms(f(b, &["text", "median_s"])).map(|m| m / 10.0),
            peer_name: "PyTorch fp32, 10 x 64 tokens, 1 thread",
            peer: f(
                &a["torch"],
                &["model", "threads_1", "text_n10_len64", "per_seq_median_ms"],
            ),
            target: Some((1.0, true)),
        },
        Line {
            what: "native text, 10 labels, 2 threads (ms per label)",
            ours: ms(f(&a["native"]["text"], &["texts", "median_s"])).map(|m| m / 10.0),
            peer_name: "PyTorch fp32, 10 x 64 tokens, 2 threads",
            peer: f(
                &a["torch"],
                &["model", "threads_2", "text_n10_len64", "per_seq_median_ms"],
            ),
            target: Some((1.0, true)),
        },
    ];
    let commit = run(Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root))?;
    let dirty = !run(Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root))?
    .trim()
    .is_empty();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut md = format!(
        "### `cargo xtask bench`, {stamp}, commit {}{}\n\n\
         Machine: {cores} cores \"{cpu}\", {}; SigLIP 2 base architecture, random weights \
         (seed 0, `../shared/peer-bench`), siglens on `{MODEL_FILE}` (q8_0 storage). \
         Medians of {} runs after warm-up; peers measured in the same run.{}\n\n\
         | measure | siglens | peer | peer figure | siglens / peer | target | met |\n\
         |---|---|---|---|---|---|---|\n",
        commit.trim(),
        if dirty {
            " (+ uncommitted changes)"
        } else {
            ""
        },
        a["browser"]["chromium"]
            .as_str()
            .map_or("Chromium".into(), |v| format!("headless Chromium {v}")),
        if o.quick { 3 } else { 10 },
        if o.skip_peers {
            " (Peers: previous results reused, --skip-peers.)"
        } else {
            ""
        },
    );
    for l in &lines {
        let ratio = l.ours.zip(l.peer).map(|(a, b)| a / b);
        let (target, met) = match (l.target, ratio) {
            (Some((bar, lower)), Some(r)) => (
                format!("{} {bar}x", if lower { "<=" } else { ">=" }),
                if (lower && r <= bar) || (!lower && r >= bar) {
                    "yes"
                } else {
                    "**no**"
                }
                .to_string(),
            ),
            (Some((bar, lower)), None) => (
                format!("{} {bar}x", if lower { "<=" } else { ">=" }),
                "n/a".into(),
            ),
            (None, _) => ("-".into(), "-".into()),
        };
        md += &format!(
            "| {} | {} | {} | {} | {} | {target} | {met} |\n",
            l.what,
            cell(l.ours),
            l.peer_name,
            cell(l.peer),
            ratio.map_or("n/a".into(), |r| format!("{r:.2}x")),
        );
    }
    let warm = f(b, &["warm_start_ms"]);
    let weights = f(b, &["weights_bytes"]);
    let peak = f(b, &["cold", "wasm_bytes"]);
    md += &format!(
        "| warm start from IndexedDB to ready (ms) | {} | - | - | - | <= 1000 ms | {} |\n",
        cell(warm),
        warm.map_or("n/a", |w| if w <= 1000.0 { "yes" } else { "**no**" }),
    );
    let x = peak.zip(weights).map(|(p, w)| p / w);
    md += &format!(
        "| peak wasm memory while loading / resident weights | {} ({} MB / {} MB) | - | - | - | <= 1.3x | {} |\n",
        x.map_or("n/a".into(), |x| format!("{x:.2}x")),
        cell(peak.map(|p| p / 1e6)),
        cell(weights.map(|w| w / 1e6)),
        x.map_or("n/a", |x| if x <= 1.3 { "yes" } else { "**no**" }),
    );
    let fid = &a["fidelity"];
    let cos = |key: &str| match (f(fid, &[key, "min"]), f(fid, &[key, "mean"])) {
        (Some(lo), Some(mean)) => format!("{lo:.6} / {mean:.6}"),
        _ => "n/a".into(),
    };
    md += &format!(
        "| image embedding cosine vs PyTorch fp32, same weights, {} fixture images (min / mean) | {} | onnxruntime int8 (quint8) | {} | - | - | - |\n",
        fid["images"].as_u64().unwrap_or(0),
        cos("siglens q8_0"),
        cos("onnxruntime vision_int8_quint8.onnx"),
    );
    let ctx = [
        (
            "onnxruntime-web fp32, 1 thread (ms)",
            web_ms(&a["ort_web"], "vision_fp32.onnx", 1),
        ),
        (
            "onnxruntime-web fp32, 2 threads (ms)",
            web_ms(&a["ort_web"], "vision_fp32.onnx", 2),
        ),
        (
            "onnxruntime-web int8, 2 threads (ms)",
            web_ms(&a["ort_web"], web_int8, 2),
        ),
        (
            "PyTorch fp32 batch 1, 2 threads (ms)",
            f(
                &a["torch"],
                &["model", "threads_2", "image_b1", "median_ms"],
            ),
        ),
        ("siglens browser cold load (ms)", f(b, &["cold", "ms"])),
        (
            "warm start: wasm memory after it (MB)",
            f(b, &["wasm_bytes_after_warm"]).map(|v| v / 1e6),
        ),
        (
            "token table left in IndexedDB, rows read on use (MB)",
            f(b, &["warm_left_in_cache_bytes"]).map(|v| v / 1e6),
        ),
        (
            "warm start: reading IndexedDB (ms)",
            f(b, &["warm_phases_ms", "read"]),
        ),
        (
            "of which waiting for the browser (ms)",
            f(b, &["warm_phases_ms", "read_wait"]),
        ),
        ("checking hashes (ms)", f(b, &["warm_phases_ms", "verify"])),
        (
            "parsing + preparing tensors (ms)",
            f(b, &["warm_phases_ms", "parse"]),
        ),
        (
            "building the model (ms)",
            f(b, &["warm_phases_ms", "build"]),
        ),
    ];
    md += &rounds_table(a, batch);
    md += &native_rounds_table(a);
    md += "\nFor context, same run: ";
    md += &ctx
        .iter()
        .map(|(k, v)| format!("{k} {}", cell(*v)))
        .collect::<Vec<_>>()
        .join("; ");
    md += ".\n";
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_rounds_give_each_pair_and_the_median_ratio() {
        let ours = |s: f64| json!({"images": {"median_s": s}});
        let ort = |ms: f64| json!({"results": {"vision_int8_quint8.onnx": {"threads_2": {"median_ms": ms}}}});
        let a = json!({
            "native": {"b1": ours(0.069)}, "ort": ort(60.0),
            "native_rounds": [
                {"ours": ours(0.060), "ort": ort(70.0)},
                {"ours": ours(0.070), "ort": ort(76.0)},
                {"ours": ours(0.070), "ort": ort(75.0)},
            ],
        });
        let md = native_rounds_table(&a);
        assert!(md.contains("| full run | 69.0 | 60.0 | 1.15x |"), "{md}");
        assert!(md.contains("| round 1 | 60.0 | 70.0 | 0.86x |"), "{md}");
        // Ratios 0.857, 0.921, 0.933, 1.15: the even count takes the upper middle.
        assert!(
            md.contains("| **median of the pairs** | | | 0.93x, met |"),
            "{md}"
        );
        assert_eq!(native_rounds_table(&json!({"native_rounds": []})), "");
    }
}
