//! The `siglens` binary end to end on the fixture model: the JSON contract, per-file
//! errors with a non-zero exit, and quantize → info → classify on the GGUF.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn model() -> String {
    fixtures().join("models/tiny48").display().to_string()
}

fn image(name: &str) -> String {
    fixtures().join("images").join(name).display().to_string()
}

fn siglens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_siglens"))
        .args(args)
        .output()
        .expect("runs")
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("reference/tiny48.json")).unwrap())
        .unwrap()
}

#[test]
fn classify_json_contract_with_a_bad_file_in_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not an image \"really\".jpg");
    std::fs::write(&bad, "this is text, not a JPEG").unwrap();
    let r = reference();
    let labels: Vec<String> = r["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().into())
        .collect();
    let m = model();
    let mut args = vec!["classify", "--model", m.as_str(), "--json"];
    for l in &labels {
        args.push("--label");
        args.push(l);
    }
    let (chelsea, coffee, bad_s) = (
        image("chelsea.png"),
        image("coffee.png"),
        bad.display().to_string(),
    );
    args.extend([chelsea.as_str(), bad_s.as_str(), coffee.as_str()]);
    let out = siglens(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed input makes the exit code non-zero"
    );
    let v = json_of(&out);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["image"], bad_s);
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap()
            .contains("cannot identify image file"),
        "{}",
        rows[1]
    );
    // Good rows: sorted high to low, and equal to transformers' sigmoid probabilities.
    let names: Vec<&str> = r["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (row, file) in [(&rows[0], "chelsea.png"), (&rows[2], "coffee.png")] {
        let scores = row["scores"].as_array().unwrap();
        assert_eq!(scores.len(), labels.len());
        let s: Vec<f64> = scores
            .iter()
            .map(|x| x["score"].as_f64().unwrap())
            .collect();
        assert!(s.windows(2).all(|w| w[0] >= w[1]), "sorted: {s:?}");
        let want = &r["probs"][names.iter().position(|n| *n == file).unwrap()];
        for sc in scores {
            let li = labels
                .iter()
                .position(|l| l == sc["label"].as_str().unwrap())
                .unwrap();
            let d = (sc["score"].as_f64().unwrap() - want[li].as_f64().unwrap()).abs();
            assert!(d < 1e-4, "{file} {}: {d}", labels[li]);
        }
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot identify image file"));
}

#[test]
fn embed_and_similarity_json() {
    let m = model();
    let img = image("astronaut.png");
    let out = siglens(&[
        "embed", "--model", &m, "--image", &img, "--text", "a cat", "--text", "", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["images"][0]["image"], img);
    for e in [
        &v["images"][0]["embedding"],
        &v["texts"][0]["embedding"],
        &v["texts"][1]["embedding"],
    ] {
        let e: Vec<f64> = e
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(e.len(), 64);
        let n: f64 = e.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "L2-normalised: {n}");
    }
    assert_eq!(v["texts"][1]["text"], "");

    let out = siglens(&[
        "similarity",
        "--model",
        &m,
        "--image",
        &img,
        "--image",
        &image("camera.png"),
        "--text",
        "a",
        "--text",
        "b",
        "--text",
        "c",
        "--json",
    ]);
    assert!(out.status.success());
    let v = json_of(&out);
    assert_eq!(v["texts"].as_array().unwrap().len(), 3);
    for (lr, pr) in v["logits"]
        .as_array()
        .unwrap()
        .iter()
        .zip(v["probs"].as_array().unwrap())
    {
        for (l, p) in lr.as_array().unwrap().iter().zip(pr.as_array().unwrap()) {
            let sig = 1.0 / (1.0 + (-l.as_f64().unwrap()).exp());
            assert!(
                (sig - p.as_f64().unwrap()).abs() < 1e-5,
                "probs are sigmoid(logits)"
            );
        }
    }
}

#[test]
fn quantize_info_and_classify_from_gguf() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny48-q8_0.gguf").display().to_string();
    let out = siglens(&[
        "quantize",
        "--model",
        &model(),
        "--dtype",
        "q8_0",
        "--out",
        &gguf,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = json_of(&siglens(&["info", "--model", &gguf, "--json"]));
    assert_eq!(info["embedding_dim"], 64);
    assert_eq!(info["text_attention_mask"], false);
    assert!(
        info["storage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["dtype"] == "q8_0"),
        "{info}"
    );
    let out = siglens(&[
        "classify",
        "--model",
        &gguf,
        "--label",
        "cat",
        "--label",
        "dog",
        "--json",
        &image("chelsea.png"),
    ]);
    assert!(out.status.success());
    assert_eq!(json_of(&out)[0]["scores"].as_array().unwrap().len(), 2);
    // On the int8 kernel the vision MLP's input takes 7 bits where rows allow, and the
    // bench says on how many; with --fine-activations on none.
    let bench = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--model",
            &gguf,
            "--images",
            "1",
            "--texts",
            "0",
            "--warmup",
            "0",
            "--runs",
            "1",
            "--int8-kernel",
        ];
        args.extend_from_slice(extra);
        let o = siglens(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        json_of(&o)
    };
    let share = bench(&[])["mlp_input_7bit_rows"].as_f64().unwrap();
    assert!(share > 0.5 && share <= 1.0, "{share}");
    assert!(bench(&["--fine-activations"])["mlp_input_7bit_rows"].is_null());
    // Bad arguments are errors with exit code 2, not panics.
    let out = siglens(&[
        "quantize",
        "--model",
        &model(),
        "--dtype",
        "q9",
        "--out",
        &gguf,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("q8_0"));
    let out = siglens(&[
        "classify",
        "--model",
        &model(),
        "--label",
        "  ",
        &image("chelsea.png"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("label is empty"));
}

/// The whole bad-input corpus in one `classify` run: every file gets its stated outcome in
/// its own row (names with spaces, quotes and unicode kept exactly), the exit code is 1.
#[test]
fn bad_input_corpus_each_file_alone() {
    let dir = fixtures().join("bad-inputs");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let cases = expected.as_object().unwrap();
    let paths: Vec<String> = cases
        .keys()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    let m = model();
    let mut args = vec![
        "classify",
        "--model",
        m.as_str(),
        "--label",
        "cat",
        "--json",
    ];
    args.extend(paths.iter().map(String::as_str));
    let out = siglens(&args);
    assert_eq!(out.status.code(), Some(1), "some inputs fail: exit 1");
    let rows = json_of(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), cases.len());
    for ((name, want), (row, path)) in cases.iter().zip(rows.iter().zip(&paths)) {
        assert_eq!(
            row["image"].as_str(),
            Some(path.as_str()),
            "{name}: rows in input order"
        );
        match want.get("error").and_then(Value::as_str) {
            Some(msg) => {
                let err = row["error"].as_str().unwrap_or_default();
                assert!(err.contains(msg), "{name}: {err:?} lacks {msg:?}");
            }
            None => assert!(row["scores"][0]["score"].is_f64(), "{name}: {row}"),
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("zero-byte.jpg") && stderr.contains("empty file"),
        "{stderr}"
    );
}

#[test]
fn bench_reports_throughput_on_the_cpu() {
    let m = model();
    let o = siglens(&[
        "bench",
        "--model",
        &m,
        "--images",
        "3",
        "--texts",
        "2",
        "--batch-size",
        "2",
        "--warmup",
        "0",
        "--runs",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = json_of(&o);
    assert_eq!(j["compute_dtype"], "f32");
    assert_eq!(j["batch_size"], 2);
    assert_eq!(j["images"]["n"], 3);
    assert!(j["images"]["per_s"].as_f64().unwrap() > 0.0);
    assert!(j["texts"]["per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn gpu_options_fail_clearly_where_they_cannot_apply() {
    let m = model();
    let img = image("chelsea.png");
    // Half precision is GPU-only.
    let o = siglens(&[
        "embed",
        "--model",
        &m,
        "--image",
        &img,
        "--compute-dtype",
        "bf16",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a GPU device"));
    // A device that is not a device.
    let o = siglens(&["embed", "--model", &m, "--image", &img, "--device", "gpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected cpu, cuda[:N]"));
    // `auto` always finds something (the CPU at worst) and gives the CPU's numbers there.
    let o = siglens(&[
        "embed", "--model", &m, "--image", &img, "--device", "auto", "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
