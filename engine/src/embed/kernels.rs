//! The encoder's arithmetic on plain slices, all on the calling thread: matrix products by the
//! gemm crate, and the elementwise steps (erf GELU, softmax, layer norm) written as simple
//! loops the compiler vectorises, compiled for AVX-512 and AVX2 as well and picked at run time.
//!
//! One thread a pass, not candle's pool over both cores: with two passes side by side (see
//! `service`) no core waits at a barrier, and the elementwise work — a third of a pass under
//! candle's scalar `expf`/`erff` — runs 16 lanes wide.

use multiversion::multiversion;

/// Lanes of the accumulators in sums and maxima (one AVX-512 register of f32).
const LANES: usize = 16;

/// A matrix inside a slice: element (i, j) sits at `offset + i·row_stride + j·col_stride`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mat {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Mat {
    /// `rows × cols` elements, row after row `row_stride` apart, from `offset`.
    pub fn rows(offset: usize, rows: usize, cols: usize, row_stride: usize) -> Self {
        Self { offset, rows, cols, row_stride, col_stride: 1 }
    }

    /// The same elements read as the transposed matrix.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// One past the last element it reaches.
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        self.offset + (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`.
///
/// # Panics
/// When the shapes do not chain, a matrix reaches past its slice, or the destination's rows
/// overlap (`dst` must be rows of contiguous elements). These are the encoder's own layouts,
/// never a user's input.
#[allow(unsafe_code, reason = "gemm's raw-pointer API, bounds asserted first")]
pub(super) fn matmul(
    dst: &mut [f32],
    d: Mat,
    accumulate: bool,
    (lhs, a): (&[f32], Mat),
    (rhs, b): (&[f32], Mat),
) {
    assert!(a.cols == b.rows && d.rows == a.rows && d.cols == b.cols, "matmul shapes");
    assert!(d.end() <= dst.len() && a.end() <= lhs.len() && b.end() <= rhs.len(), "matmul bounds");
    assert!(d.col_stride == 1 && (d.rows <= 1 || d.row_stride >= d.cols), "matmul overlap");
    if d.rows == 0 || d.cols == 0 {
        return;
    }
    if a.cols == 0 {
        if !accumulate {
            for i in 0..d.rows {
                let start = d.offset + i * d.row_stride;
                dst[start..start + d.cols].fill(0.0);
            }
        }
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("stride fits isize");
    // SAFETY: every element gemm reads (lhs, rhs) or writes (dst) is inside its slice, by the
    // bounds asserted above; the destination's elements are distinct (rows of contiguous
    // elements at least a row apart), and `dst` is borrowed mutably, so it aliases neither
    // input. gemm reads `dst` only when `accumulate` (read_dst), where alpha = 1 keeps it.
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            a.cols,
            dst.as_mut_ptr().add(d.offset),
            1,
            stride(d.row_stride),
            accumulate,
            lhs.as_ptr().add(a.offset),
            stride(a.col_stride),
            stride(a.row_stride),
            rhs.as_ptr().add(b.offset),
            stride(b.col_stride),
            stride(b.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// e^x, relative error below 2e-7: e^x = 2^n · e^r with n = round(x / ln 2), |r| ≤ ln 2 / 2,
/// e^r by its Taylor polynomial to degree 7. Inputs below -87 give e^-87 (~1.6e-38) rather than
/// a subnormal or 0, which no caller can tell apart.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Adding 1.5·2^23 rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let exponent = shifted.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127);
    p * f32::from_bits(exponent << 23)
}

/// erf(x), absolute error below 5e-7: Abramowitz & Stegun 7.1.26 (1.5e-7) plus the rounding of
/// `1 - poly·e^(-x²)` in f32; odd by symmetry.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// GELU with the exact (erf) form BERT uses, in place.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(super) fn gelu(xs: &mut [f32]) {
    for x in xs {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0_f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest
}

#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a = a.max(*x);
        }
    }
    acc.iter().copied().fold(rest, f32::max)
}

/// Softmax of each `len`-long row of `xs`, in place.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(super) fn softmax_rows(xs: &mut [f32], len: usize) {
    for row in xs.chunks_exact_mut(len.max(1)) {
        let top = max(row);
        for x in row.iter_mut() {
            *x = exp(*x - top);
        }
        let scale = 1.0 / sum(row);
        for x in row.iter_mut() {
            *x *= scale;
        }
    }
}

/// Layer normalisation of each row of `xs` (rows as long as `weight`), in place.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma"))]
pub(super) fn layer_norm(xs: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let width = weight.len().max(1);
    for row in xs.chunks_exact_mut(width) {
        let mean = sum(row) / width as f32;
        for x in row.iter_mut() {
            *x -= mean;
        }
        let mut squares = [0.0_f32; LANES];
        let chunks = row.chunks_exact(LANES);
        let rest: f32 = chunks.remainder().iter().map(|x| x * x).sum();
        for chunk in chunks {
            for (s, x) in squares.iter_mut().zip(chunk) {
                *s += x * x;
            }
        }
        let variance = (squares.iter().sum::<f32>() + rest) / width as f32;
        let scale = 1.0 / (variance + eps).sqrt();
        for ((x, w), b) in row.iter_mut().zip(weight).zip(bias) {
            *x = *x * scale * w + b;
        }
    }
}

/// Each row of `dst` (rows as long as `bias`) set to `bias`, plus the same row of `residual`
/// when given: what a dense layer's product is then added to.
pub(super) fn fill_rows(dst: &mut [f32], bias: &[f32], residual: Option<&[f32]>) {
    let width = bias.len().max(1);
    match residual {
        Some(residual) => {
            for (row, res) in dst.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
                for ((d, b), r) in row.iter_mut().zip(bias).zip(res) {
                    *d = b + r;
                }
            }
        }
        None => {
            for row in dst.chunks_exact_mut(width) {
                row.copy_from_slice(bias);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_match_the_standard_library() {
        let mut worst_exp = 0.0_f64;
        let mut worst_erf = 0.0_f64;
        for i in -80_000..=20_000 {
            let x = i as f32 / 1000.0;
            let want = f64::from(x).exp();
            worst_exp = worst_exp.max((f64::from(exp(x)) - want).abs() / want);
        }
        for i in -6_000..=6_000 {
            let x = i as f32 / 1000.0;
            let want = libm::erf(f64::from(x));
            worst_erf = worst_erf.max((f64::from(erf(x)) - want).abs());
        }
        assert!(worst_exp < 3e-7, "exp relative error {worst_exp}");
        assert!(worst_erf < 5e-7, "erf absolute error {worst_erf}");
        assert!(exp(-200.0) < 1e-37 && exp(f32::NEG_INFINITY) < 1e-37);
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
    }

    #[test]
    fn softmax_and_layer_norm_are_what_their_formulas_say() {
        let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let want: Vec<f64> = {
            let top = row.iter().copied().fold(f32::MIN, f32::max);
            let e: Vec<f64> = row.iter().map(|x| f64::from(x - top).exp()).collect();
            let total: f64 = e.iter().sum();
            e.iter().map(|v| v / total).collect()
        };
        softmax_rows(&mut row, 37);
        for (g, w) in row.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-6, "{g} vs {w}");
        }
        let mut xs: Vec<f32> = (0..2 * 40).map(|i| i as f32 * 0.5 - 7.0).collect();
        let (weight, bias) = (vec![2.0; 40], vec![1.0; 40]);
        layer_norm(&mut xs, &weight, &bias, 1e-12);
        for row in xs.chunks(40) {
            let mean = row.iter().map(|x| (x - 1.0) / 2.0).sum::<f32>() / 40.0;
            let var = row.iter().map(|x| ((x - 1.0) / 2.0 - mean).powi(2)).sum::<f32>() / 40.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "mean {mean} var {var}");
        }
    }

    #[test]
    fn matmul_reads_strided_views_and_accumulates() {
        // lhs 2×3, rhs given as its 4×3 transpose (rhs is 3×4).
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs_t: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let mut dst = vec![1.0_f32; 2 * 5];
        let d = Mat::rows(1, 2, 4, 5);
        matmul(
            &mut dst,
            d,
            true,
            (&lhs, Mat::rows(0, 2, 3, 3)),
            (&rhs_t, Mat::rows(0, 4, 3, 3).t()),
        );
        for i in 0..2 {
            for j in 0..4 {
                let want: f32 =
                    1.0 + (0..3).map(|k| lhs[i * 3 + k] * rhs_t[j * 3 + k]).sum::<f32>();
                assert_eq!(dst[1 + i * 5 + j], want);
            }
        }
        assert_eq!(dst[0], 1.0, "outside the view stays");
    }

    #[test]
    #[should_panic(expected = "matmul bounds")]
    fn a_view_past_its_slice_is_refused() {
        let mut dst = vec![0.0_f32; 4];
        matmul(
            &mut dst,
            Mat::rows(0, 2, 2, 2),
            false,
            (&[0.0; 3], Mat::rows(0, 2, 2, 2)),
            (&[0.0; 4], Mat::rows(0, 2, 2, 2)),
        );
    }
}
