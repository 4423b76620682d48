//! A branch-free e^x for f32 (Cody-Waite range reduction and a degree-6 polynomial, about
//! 1 ulp): plain arithmetic and bit casts, so loops over slices vectorize for simd128,
//! where `expf` / `tanhf` are software libm calls. Used by [`super::gelu`] and
//! [`super::softmax`].

const LOG2_E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_145_75; // ln 2 split so n * LN2_HI is exact for |n| < 2^8
const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (|t| < 2^22).
const ROUND: f32 = 12_582_912.0;

/// e^y: clamped above at e^87 (finite), exactly 0 below -87 (so a masked -inf logit gets
/// no weight), NaN for NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let y = x.clamp(-87.0, 87.0);
    let shifted = y * LOG2_E + ROUND;
    let n = shifted - ROUND;
    // The integer n sits in the low mantissa bits of `shifted`.
    let ni = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = (y - n * LN2_HI) - n * LN2_LO; // |r| <= ln2 / 2
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let v = p * f32::from_bits(((ni + 127) << 23) as u32);
    if x < -87.0 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::exp;

    #[test]
    fn close_to_std_over_the_whole_range() {
        let mut worst = 0f64;
        for i in -870_000..=870_000 {
            let x = i as f32 * 1e-4;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 4e-7, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(1000.0).is_finite());
        assert!(exp(f32::NAN).is_nan());
    }
}
