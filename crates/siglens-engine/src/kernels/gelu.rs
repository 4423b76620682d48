//! GELU with the tanh approximation (`gelu_pytorch_tanh`, SigLIP's MLP activation) on CPU
//! f32 tensors. Candle's version calls `tanhf` per element, which in wasm is a software
//! libm routine: 27% of the base vision tower's time once the matmuls were fast
//! (BENCHMARKS.md). Here `0.5 x (1 + tanh(u)) = x / (1 + e^(-2u))` with the branch-free
//! [`super::exp`], a loop LLVM vectorizes for simd128. Results stay within 3e-6 (relative) of the exact formula in f64 (tested).

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::exp::exp;

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// `gelu_pytorch_tanh(x)`.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// In place, over a slice (the loop the vectorizer sees; inlined, so it takes the target
/// features of its caller, e.g. `int8::epilogue_rows` on AVX-512).
#[inline(always)]
pub fn gelu_tanh_slice(xs: &mut [f32]) {
    for x in xs {
        *x = gelu_tanh(*x);
    }
}

struct GeluTanh;

impl CustomOp1 for GeluTanh {
    fn name(&self) -> &'static str {
        "siglens-gelu-tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = s else {
            candle_core::bail!("siglens gelu: f32 only")
        };
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("siglens gelu: contiguous input only")
        };
        let mut out = data[start..end].to_vec();
        gelu_tanh_slice(&mut out);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `x.gelu()`, on our loop where it applies (CPU, f32), else Candle's.
pub fn gelu_tanh_tensor(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        x.contiguous()?.apply_op1_no_bwd(&GeluTanh)
    } else {
        x.gelu()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(x: f64) -> f64 {
        0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
    }

    #[test]
    fn within_a_few_ulps_of_the_exact_formula() {
        let mut worst = 0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // [-20, 20]
            let want = exact(x as f64);
            let got = gelu_tanh(x) as f64;
            // Relative where the value is not tiny, absolute near zero.
            let err = (got - want).abs() / want.abs().max(1e-3);
            worst = worst.max(err);
        }
        // f32 evaluation of u itself (like Candle's) already costs ~1e-6 where |u| is large.
        assert!(worst < 3e-6, "worst relative error {worst:e}");
    }

    #[test]
    fn saturates_and_keeps_specials() {
        assert_eq!(gelu_tanh(100.0), 100.0);
        assert!(gelu_tanh(-100.0).abs() < 1e-30);
        assert_eq!(gelu_tanh(0.0), 0.0);
        assert!(gelu_tanh(f32::NAN).is_nan());
        assert_eq!(gelu_tanh(1e30), 1e30);
    }

    #[test]
    fn tensor_op_equals_the_scalar_and_candle() {
        let v: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.013).collect();
        let t = Tensor::from_vec(v.clone(), (10, 100), &candle_core::Device::Cpu).unwrap();
        // A strided view goes through `contiguous` first.
        let got = gelu_tanh_tensor(&t.t().unwrap()).unwrap().t().unwrap();
        let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
        let candle: Vec<f32> = t.gelu().unwrap().flatten_all().unwrap().to_vec1().unwrap();
        for ((g, c), x) in got.iter().zip(&candle).zip(&v) {
            assert_eq!(*g, gelu_tanh(*x));
            assert!(
                (g - c).abs() <= 1e-6 * c.abs().max(1.0),
                "{x}: {g} vs candle {c}"
            );
        }
    }
}
