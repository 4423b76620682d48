//! Image bytes as dropped by a user: sniff, decode under the limits, resize and normalise.
#![no_main]
use libfuzzer_sys::fuzz_target;
use siglens_engine::config::PreprocessConfig;
use siglens_engine::preprocess::{preprocess_bytes, DecodeLimits};

fuzz_target!(|data: &[u8]| {
    let cfg = PreprocessConfig::siglip2(224);
    let _ = preprocess_bytes(data, &cfg, &DecodeLimits::default());
});
