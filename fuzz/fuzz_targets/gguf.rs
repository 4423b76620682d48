//! GGUF bytes, as the browser streams them (in two pieces split at a fuzzed point) and as
//! the CLI reads a whole file: errors are fine, panics and runaway allocations are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use siglens_engine::weights::{read_gguf, ComputePolicy, GgufStream};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| (b as usize * data.len()) / 256);
    let mut stream = GgufStream::new(ComputePolicy::for_this_platform());
    if stream.push(&data[..split]).is_ok() && stream.push(&data[split..]).is_ok() {
        let _ = stream.finish();
    }
    let _ = read_gguf(&mut std::io::Cursor::new(data));
});
