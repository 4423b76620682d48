//! The token table left in the file (the browser's cache): 256000 x 768 rows, of which a
//! text needs a few dozen. The caller reads the rows a batch needs (it knows where the file
//! is: [`TokenRows::in_file`], [`TokenRows::missing`]) and hands them over
//! ([`TokenRows::supply`]); the forward pass then looks them up here. Rows stay in their
//! stored form (816 bytes for a q8_0 row of 768) and are dequantized per batch, exactly as
//! a table held in memory would be.

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::quantized::{ggml_file, GgmlDType};
use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::weights::DeferredTensor;

/// Rows kept after use (a q8_0 base row is 816 bytes: 27 MB at most); past it the store
/// starts over rather than grow without bound over a long session (a caller may then
/// find rows it supplied gone: ask [`TokenRows::missing`] again right before the forward).
const MAX_KEPT_ROWS: usize = 32768;

/// Where the rows lie in the file: row `i` is `row_bytes` long at `offset + i * row_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsInFile {
    pub offset: u64,
    pub row_bytes: usize,
    pub rows: usize,
}

impl RowsInFile {
    /// `[start, end)` of row `id` in the file.
    pub fn range(&self, id: u32) -> (u64, u64) {
        let start = self.offset + u64::from(id) * self.row_bytes as u64;
        (start, start + self.row_bytes as u64)
    }
}

pub struct TokenRows {
    dtype: GgmlDType,
    hidden: usize,
    in_file: RowsInFile,
    rows: Mutex<HashMap<u32, Vec<u8>>>,
    max_kept: usize,
}

impl TokenRows {
    /// An error where the table is not `vocab x hidden` in whole blocks per row.
    pub fn new(t: &DeferredTensor, vocab: usize, hidden: usize) -> Result<Self> {
        let bs = t.dtype.block_size();
        if t.dims != [vocab, hidden] || !hidden.is_multiple_of(bs) {
            return Err(Error::Weights(format!(
                "the token table left in the file has shape {:?} ({:?}), expected [{vocab}, \
                 {hidden}] in whole blocks",
                t.dims, t.dtype
            )));
        }
        let row_bytes = hidden / bs * t.dtype.type_size();
        if row_bytes * vocab != t.len {
            return Err(Error::Weights(format!(
                "the token table left in the file is {} bytes, {vocab} rows of {row_bytes} \
                 make {}",
                t.len,
                row_bytes * vocab
            )));
        }
        Ok(Self {
            dtype: t.dtype,
            hidden,
            in_file: RowsInFile {
                offset: t.offset,
                row_bytes,
                rows: vocab,
            },
            rows: Mutex::new(HashMap::new()),
            max_kept: MAX_KEPT_ROWS,
        })
    }

    pub fn in_file(&self) -> RowsInFile {
        self.in_file
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Vec<u8>>> {
        // A panic elsewhere cannot leave the map half-updated: take it as it is.
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The distinct ids among `ids` whose rows are not here yet (ids outside the table are
    /// left out: the forward pass reports them). Where keeping the absent ones too would
    /// pass [`MAX_KEPT_ROWS`], the kept rows are dropped first and every id is returned.
    pub fn missing(&self, ids: &[u32]) -> Vec<u32> {
        let mut kept = self.kept();
        let mut out: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| (id as usize) < self.in_file.rows)
            .collect();
        out.sort_unstable();
        out.dedup();
        let absent: Vec<u32> = out
            .iter()
            .copied()
            .filter(|id| !kept.contains_key(id))
            .collect();
        if !absent.is_empty() && kept.len() + absent.len() > self.max_kept {
            kept.clear();
            return out;
        }
        absent
    }

    /// Rows read from the file, as stored.
    pub fn supply(&self, rows: Vec<(u32, Vec<u8>)>) -> Result<()> {
        let mut kept = self.kept();
        for (id, bytes) in rows {
            if id as usize >= self.in_file.rows || bytes.len() != self.in_file.row_bytes {
                return Err(Error::Weights(format!(
                    "token row {id}: {} bytes given, rows are {} bytes and ids below {}",
                    bytes.len(),
                    self.in_file.row_bytes,
                    self.in_file.rows
                )));
            }
            kept.insert(id, bytes);
        }
        Ok(())
    }

    /// `(n, hidden)` f32 rows for `ids`, all of which must have been supplied.
    pub fn lookup(&self, ids: &[u32]) -> Result<Tensor> {
        let kept = self.kept();
        let mut raw = Vec::with_capacity(ids.len() * self.in_file.row_bytes);
        for id in ids {
            let row = kept.get(id).ok_or_else(|| {
                Error::Weights(format!(
                    "token row {id} was not read from the cached model before the text tower ran"
                ))
            })?;
            raw.extend_from_slice(row);
        }
        drop(kept);
        let q = ggml_file::qtensor_from_ggml(
            self.dtype,
            &raw,
            vec![ids.len(), self.hidden],
            &Device::Cpu,
        )?;
        Ok(q.dequantize(&Device::Cpu)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::QTensor;

    fn table(vocab: usize, hidden: usize) -> (Tensor, QTensor) {
        let v: Vec<f32> = (0..vocab * hidden)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let t = Tensor::from_vec(v, (vocab, hidden), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
        (t, q)
    }

    #[test]
    fn rows_read_from_the_file_equal_the_table_held_in_memory() {
        let (vocab, hidden) = (40, 64);
        let (_, q) = table(vocab, hidden);
        let file: Vec<u8> = [vec![7u8; 100], q.data().unwrap().to_vec()].concat();
        let rows = TokenRows::new(
            &DeferredTensor {
                dtype: GgmlDType::Q8_0,
                dims: vec![vocab, hidden],
                offset: 100,
                len: file.len() - 100,
            },
            vocab,
            hidden,
        )
        .unwrap();
        let ids = [3u32, 0, 3, 39, 17];
        assert_eq!(rows.missing(&ids), vec![0, 3, 17, 39]);
        // Out-of-range ids are left for the forward pass to report.
        assert_eq!(rows.missing(&[40, 1]), vec![1]);
        assert!(rows.lookup(&ids).is_err(), "rows not supplied yet");
        let read = |id: u32| {
            let (a, b) = rows.in_file().range(id);
            (id, file[a as usize..b as usize].to_vec())
        };
        rows.supply(rows.missing(&ids).into_iter().map(read).collect())
            .unwrap();
        assert!(rows.missing(&ids).is_empty());
        let got = rows.lookup(&ids).unwrap();
        let all = q.dequantize(&Device::Cpu).unwrap();
        let want = all
            .index_select(&Tensor::new(&ids, &Device::Cpu).unwrap(), 0)
            .unwrap();
        assert_eq!(
            got.to_vec2::<f32>().unwrap(),
            want.to_vec2::<f32>().unwrap()
        );
        // A row of the wrong length or id is refused.
        assert!(rows.supply(vec![(1, vec![0; 3])]).is_err());
        assert!(rows.supply(vec![(40, vec![0; 68])]).is_err());
    }

    #[test]
    fn kept_rows_start_over_past_the_limit_and_a_batch_always_gets_all_its_rows() {
        let (vocab, hidden) = (40, 64);
        let (_, q) = table(vocab, hidden);
        let file = q.data().unwrap().to_vec();
        let mut rows = TokenRows::new(
            &DeferredTensor {
                dtype: GgmlDType::Q8_0,
                dims: vec![vocab, hidden],
                offset: 0,
                len: file.len(),
            },
            vocab,
            hidden,
        )
        .unwrap();
        rows.max_kept = 5;
        let read = |rows: &TokenRows, ids: &[u32]| {
            let got = rows
                .missing(ids)
                .into_iter()
                .map(|id| {
                    let (a, b) = rows.in_file().range(id);
                    (id, file[a as usize..b as usize].to_vec())
                })
                .collect();
            rows.supply(got).unwrap();
        };
        read(&rows, &[1, 2, 3]);
        assert!(rows.missing(&[1, 2, 3]).is_empty());
        // 3 kept + 3 new > 5: the kept ones go first, so the new batch is whole.
        assert_eq!(rows.missing(&[4, 5, 6]), vec![4, 5, 6]);
        read(&rows, &[4, 5, 6]);
        assert!(rows.lookup(&[4, 5, 6]).is_ok());
        assert!(rows.lookup(&[1]).is_err(), "dropped");
        // One batch larger than the limit still gets every row it needs.
        let big = [0, 1, 2, 3, 7, 8, 9];
        read(&rows, &big);
        assert!(rows.missing(&big).is_empty(), "all kept: nothing dropped");
        assert!(rows.lookup(&big).is_ok());
    }

    #[test]
    fn a_table_of_the_wrong_shape_or_size_is_refused() {
        let t = DeferredTensor {
            dtype: GgmlDType::Q8_0,
            dims: vec![10, 64],
            offset: 0,
            len: 680,
        };
        assert!(TokenRows::new(&t, 10, 64).is_ok());
        assert!(TokenRows::new(&t, 11, 64).is_err());
        assert!(TokenRows::new(
            &DeferredTensor {
                len: 679,
                ..t.clone()
            },
            10,
            64
        )
        .is_err());
        let odd = DeferredTensor {
            dims: vec![10, 48],
            len: 10 * 48 / 32 * 34,
            ..t
        };
        assert!(
            TokenRows::new(&odd, 10, 48).is_err(),
            "48 is not whole q8_0 blocks"
        );
    }
}
