//! Fixture access shared by the engine's integration tests (fixtures: tools/make_fixtures.py).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use siglens_engine::{LoadOptions, Siglip};

mod compare;
pub use compare::{max_abs_diff, min_cosine};

pub const MODELS: [&str; 2] = ["tiny48", "deep32"];

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn model_dir(name: &str) -> PathBuf {
    fixtures().join("models").join(name)
}

pub fn load(name: &str, opts: LoadOptions) -> Siglip {
    Siglip::load_path(&model_dir(name), opts).expect("fixture model loads")
}

pub struct Reference {
    pub json: Value,
    pub pixels: Vec<f32>,
}

impl Reference {
    pub fn load(name: &str) -> Self {
        let dir = fixtures().join("reference");
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let raw = std::fs::read(dir.join(format!("{name}.pixels.f32"))).unwrap();
        let pixels = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Self { json, pixels }
    }

    pub fn strs(&self, key: &str) -> Vec<String> {
        self.json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    pub fn mat_f32(&self, key: &str) -> Vec<Vec<f32>> {
        self.json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    }

    pub fn mat_u32(&self, key: &str) -> Vec<Vec<u32>> {
        self.json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u32)
                    .collect()
            })
            .collect()
    }

    pub fn image_size(&self) -> usize {
        self.json["pixel_shape"][2].as_u64().unwrap() as usize
    }

    /// Reference pixel values of image `i`.
    pub fn pixels_of(&self, i: usize) -> &[f32] {
        let s = self.image_size();
        &self.pixels[i * 3 * s * s..(i + 1) * 3 * s * s]
    }

    pub fn image_path(&self, i: usize) -> PathBuf {
        fixtures()
            .join("images")
            .join(self.json["images"][i].as_str().unwrap())
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    siglens_engine::scores::cosine(a, b)
}
