//! Work shared over the CPU threads: the rayon pool natively, one thread in wasm (the
//! browser's parallelism is whole workers, `src/web/pool.rs`). What runs is the same
//! arithmetic either way, so results do not depend on the thread count.

/// Calls `f(first_row, rows)` on contiguous chunks of `out` (rows of `n`), one chunk per
/// thread.
pub fn for_row_chunks(out: &mut [f32], n: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let rows = out.len() / n.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        let per = rows.div_ceil(rayon::current_num_threads().max(1)).max(1);
        if per < rows {
            out.par_chunks_mut(per * n)
                .enumerate()
                .for_each(|(i, c)| f(i * per, c));
            return;
        }
    }
    let _ = rows;
    f(0, out);
}

/// `(0..count).map(f)`, the items computed on the threads.
pub fn map<T: Send>(count: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().map(f).collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        (0..count).map(f).collect()
    }
}
