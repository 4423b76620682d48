//! PIL's `Image.resize` for 8-bit RGB, reproduced step for step (ImagingResample in
//! Pillow's Resample.c): separable filters whose support grows with the downscale factor
//! (the antialiasing), 22-bit fixed-point coefficients, horizontal pass first, and
//! rounding to u8 between passes. Matching this is what keeps pixel values within a
//! rounding step of `transformers`' SiglipImageProcessor.

use crate::config::ResampleFilter;

const PRECISION_BITS: u32 = 32 - 8 - 2;

struct Filter {
    support: f64,
    f: fn(f64) -> f64,
}

fn box_filter(x: f64) -> f64 {
    if (-0.5..0.5).contains(&x) {
        1.0
    } else {
        0.0
    }
}
fn bilinear_filter(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}
fn hamming_filter(x: f64) -> f64 {
    let x = x.abs();
    if x == 0.0 {
        1.0
    } else if x >= 1.0 {
        0.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x * (0.54 + 0.46 * x.cos())
    }
}
fn bicubic_filter(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}
fn lanczos_filter(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

fn filter_for(f: ResampleFilter) -> Filter {
    match f {
        ResampleFilter::Box => Filter {
            support: 0.5,
            f: box_filter,
        },
        ResampleFilter::Bilinear => Filter {
            support: 1.0,
            f: bilinear_filter,
        },
        ResampleFilter::Hamming => Filter {
            support: 1.0,
            f: hamming_filter,
        },
        ResampleFilter::Bicubic => Filter {
            support: 2.0,
            f: bicubic_filter,
        },
        ResampleFilter::Lanczos => Filter {
            support: 3.0,
            f: lanczos_filter,
        },
        ResampleFilter::Nearest => unreachable!("nearest has its own path"),
    }
}

/// Per output pixel: first source index, and fixed-point weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn precompute(in_size: usize, out_size: usize, filter: &Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's (int) cast truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = (filter.f)((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        for x in 0..ksize {
            let w = if x < n && ww != 0.0 { k[x] / ww } else { 0.0 };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            weights[xx * ksize + x] = if w < 0.0 {
                (fixed - 0.5) as i32
            } else {
                (fixed + 0.5) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Coeffs {
        ksize,
        bounds,
        weights,
    }
}

#[inline]
fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resizes packed RGB8 `src` (w x h) to (ow x oh) exactly as Pillow does.
pub fn resize_rgb8(
    src: &[u8],
    w: usize,
    h: usize,
    ow: usize,
    oh: usize,
    f: ResampleFilter,
) -> Vec<u8> {
    if f == ResampleFilter::Nearest {
        return resize_nearest(src, w, h, ow, oh);
    }
    if (w, h) == (ow, oh) {
        return src.to_vec();
    }
    let filter = filter_for(f);
    let horiz = precompute(w, ow, &filter);
    let vert = precompute(h, oh, &filter);
    let need_h = ow != w;
    let need_v = oh != h;

    // Horizontal pass over only the rows the vertical pass will read.
    let (mut buf, mut bw, mut bh, mut row0) = (src.to_vec(), w, h, 0usize);
    if need_h {
        let first = vert.bounds[0].0;
        let last = vert.bounds[oh - 1].0 + vert.bounds[oh - 1].1;
        let rows = last - first;
        let mut out = vec![0u8; ow * rows * 3];
        for y in 0..rows {
            let line = &src[(y + first) * w * 3..(y + first + 1) * w * 3];
            for (xx, &(xmin, n)) in horiz.bounds.iter().enumerate() {
                let k = &horiz.weights[xx * horiz.ksize..xx * horiz.ksize + n];
                for c in 0..3 {
                    let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                    for (x, &kx) in k.iter().enumerate() {
                        ss += i64::from(line[(xmin + x) * 3 + c]) * i64::from(kx);
                    }
                    out[(y * ow + xx) * 3 + c] = clip8(ss);
                }
            }
        }
        buf = out;
        bw = ow;
        bh = rows;
        row0 = first;
    }
    if need_v {
        let mut out = vec![0u8; ow * oh * 3];
        debug_assert_eq!(bw, ow);
        for (yy, &(ymin, n)) in vert.bounds.iter().enumerate() {
            let k = &vert.weights[yy * vert.ksize..yy * vert.ksize + n];
            let ymin = ymin - row0;
            for xx in 0..bw {
                for c in 0..3 {
                    let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                    for (y, &ky) in k.iter().enumerate() {
                        ss += i64::from(buf[((ymin + y) * bw + xx) * 3 + c]) * i64::from(ky);
                    }
                    out[(yy * bw + xx) * 3 + c] = clip8(ss);
                }
            }
        }
        return out;
    }
    debug_assert_eq!(bh, oh);
    buf
}

/// Pillow's nearest-neighbour resize (an affine transform sampling pixel centres).
fn resize_nearest(src: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<u8> {
    let mut out = vec![0u8; ow * oh * 3];
    let (sx, sy) = (w as f64 / ow as f64, h as f64 / oh as f64);
    for y in 0..oh {
        let ys = (((y as f64 + 0.5) * sy) as usize).min(h - 1);
        for x in 0..ow {
            let xs = (((x as f64 + 0.5) * sx) as usize).min(w - 1);
            out[(y * ow + x) * 3..(y * ow + x) * 3 + 3]
                .copy_from_slice(&src[(ys * w + xs) * 3..(ys * w + xs) * 3 + 3]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_constant_images_are_preserved() {
        let src: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(resize_rgb8(&src, 4, 3, 4, 3, ResampleFilter::Bilinear), src);
        let flat = vec![77u8; 37 * 11 * 3];
        for f in [
            ResampleFilter::Bilinear,
            ResampleFilter::Bicubic,
            ResampleFilter::Lanczos,
            ResampleFilter::Box,
        ] {
            let out = resize_rgb8(&flat, 37, 11, 8, 8, f);
            assert!(out.iter().all(|&v| v == 77), "{f:?}");
        }
    }

    #[test]
    fn downscale_by_two_with_bilinear_antialias_averages_neighbourhood() {
        // 4x1 -> 2x1: support widens to 2 source pixels each side (triangle over 4 taps).
        let src = [0u8, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255];
        let out = resize_rgb8(&src, 4, 1, 2, 1, ResampleFilter::Bilinear);
        // Pillow 11 gives [71, 209] (tent of half-width 2: weights 3/7,3/7,1/7 and 1/7,3/7,3/7).
        assert_eq!(out[0], 71);
        assert_eq!(out[3], 209);
    }
}
