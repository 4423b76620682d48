//! Inputs the fuzzers (fuzz/, `cargo +nightly fuzz run TARGET`) found to crash or to ask
//! for absurd allocations, replayed through the same code as their fuzz target. Each must
//! now end in a clear error. Add a found crasher to tests/fixtures/fuzz-regressions/TARGET/.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use siglens_engine::weights::{read_gguf, ComputePolicy, GgufStream};

fn cases(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/fuzz-regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("entry").path();
            (
                p.display().to_string(),
                std::fs::read(&p).expect("readable"),
            )
        })
        .collect();
    out.sort();
    out
}

/// The messages that say the file is damaged (no crash, no huge allocation).
fn damaged(msg: &str) -> bool {
    [
        "larger than any SigLIP model",
        "a damaged or foreign file",
        "truncated",
    ]
    .iter()
    .any(|m| msg.contains(m))
}

#[test]
fn gguf_crashers_are_clear_errors() {
    let found = cases("gguf");
    assert!(!found.is_empty());
    for (name, data) in found {
        // As the browser streams it (one piece; the fuzz target also splits) ...
        let mut stream = GgufStream::new(ComputePolicy::for_this_platform());
        let streamed = stream.push(&data).and_then(|_| stream.finish());
        let err = streamed.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(damaged(&err.to_string()), "{name}: {err}");
        // ... and as the CLI reads a file.
        let err = read_gguf(&mut std::io::Cursor::new(&data))
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted by read_gguf"));
        assert!(damaged(&err.to_string()), "{name}: {err}");
    }
}
