//! The BiLSTM's recurrence on the host, for CPU inference.
//!
//! burn 0.22's `Lstm` runs, per time step and direction, eight small matrix products (input and
//! hidden state through each gate's two `Linear`s), bias adds, and activations that the `flex`
//! CPU backend computes with scalar `libm` calls (`tanhf`, `expf`); on the CPU that made the
//! recurrent layer cost about as much as the whole conv backbone (docs/BENCHMARKS.md). Here the
//! same function runs with the gates' weights concatenated once, when the model is prepared:
//! the input projections of all time steps are one burn matrix product, then each step is one
//! `hidden x [hidden, 4 hidden]` product (the `gemm` crate, the kernel burn-flex itself uses)
//! and a fused, vectorisable pass of gate activations and state updates. Directions and groups
//! of lines run in parallel on the rayon pool. Only for inference on the CPU (no autodiff); the
//! module and its weights file are burn's own `BiLstm`, and the GPU and training keep burn's
//! forward. Tested against burn's `BiLstm::forward`.

use burn::nn::{BiLstm, Lstm};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

/// Lines whose recurrence one task runs (a group is one `gemm` per time step).
const LINES_PER_TASK: usize = 16;

/// One direction's weights, gates concatenated in the order input, forget, output, cell.
#[derive(Debug, Clone)]
struct Direction {
    /// `[d_input, 4 hidden]`, for the input projection of all steps at once.
    w_in: Tensor<2>,
    /// `4 hidden` biases (input and hidden transforms summed).
    bias: Vec<f32>,
    /// `[hidden, 4 hidden]` row-major.
    w_hidden: Vec<f32>,
}

/// A `BiLstm` prepared for [`HostBiLstm::forward`].
#[derive(Debug, Clone)]
pub struct HostBiLstm {
    hidden: usize,
    forward: Direction,
    reverse: Direction,
}

impl HostBiLstm {
    /// Take `bilstm`'s weights. The LSTM must have burn's defaults (sigmoid gates, tanh cell
    /// and hidden activations, a forget gate, no cell clipping), as [`super::crnn`] builds it.
    pub fn new(bilstm: &BiLstm) -> Self {
        HostBiLstm {
            hidden: bilstm.d_hidden,
            forward: direction(&bilstm.forward),
            reverse: direction(&bilstm.reverse),
        }
    }

    /// The BiLSTM over a batch-first `[batch, time, d_input]` input on the CPU, each line `b`
    /// only over its first `lengths[b]` steps, as if it ran alone: `[batch, time, 2 hidden]`,
    /// the forward direction's hidden states then the reverse one's, zero past each line's
    /// length. With every length `time` it is `bilstm.forward(x, None).0`. Padding then never
    /// reaches the reverse direction, so a line reads the same in any batch.
    pub fn forward(&self, x: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
        let [batch, steps, d_input] = x.dims();
        assert_eq!(lengths.len(), batch, "one length per line");
        let lengths: Vec<usize> = lengths.iter().map(|&l| l.min(steps)).collect();
        let device = x.device();
        let h = self.hidden;
        let flat = x.reshape([batch * steps, d_input]);
        let project = |d: &Direction| -> Vec<f32> {
            flat.clone()
                .matmul(d.w_in.clone())
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 projections")
        };
        let projected = [project(&self.forward), project(&self.reverse)];
        let mut out = vec![0f32; batch * steps * 2 * h];
        if batch > 0 && steps > 0 {
            // Each task: one direction of a group of lines, writing its own rows' half.
            let groups = batch.div_ceil(LINES_PER_TASK);
            let results: Vec<(usize, usize, Vec<f32>)> = (0..2 * groups)
                .into_par_iter()
                .map(|task| {
                    let (dir, group) = (task % 2, task / 2);
                    let lines = group * LINES_PER_TASK..((group + 1) * LINES_PER_TASK).min(batch);
                    let weights = if dir == 0 {
                        &self.forward
                    } else {
                        &self.reverse
                    };
                    let states = run_direction(
                        weights,
                        &projected[dir],
                        lines.clone(),
                        &lengths[lines.clone()],
                        steps,
                        h,
                        dir == 1,
                    );
                    (dir, lines.start, states)
                })
                .collect();
            for (dir, first, states) in results {
                for (k, line) in states.chunks_exact(steps * h).enumerate() {
                    for (t, state) in line.chunks_exact(h).enumerate() {
                        let at = ((first + k) * steps + t) * 2 * h + dir * h;
                        out[at..at + h].copy_from_slice(state);
                    }
                }
            }
        }
        Tensor::from_data(TensorData::new(out, [batch, steps, 2 * h]), &device)
    }
}

fn direction(lstm: &Lstm) -> Direction {
    let (w_in, bias, w_hidden) = super::fused_lstm::direction(lstm);
    let to_vec = |t: burn::tensor::TensorData| t.try_into_vec::<f32>().expect("f32 weights");
    Direction {
        w_in,
        bias: to_vec(bias.into_data()),
        w_hidden: to_vec(w_hidden.into_data()),
    }
}

/// Run one direction over `lines` of the batch, line `k` over its first `lengths[k]` steps
/// (the reverse direction from its own last step): returns their hidden states,
/// `[lines, steps, hidden]`, in time order, zero past each line's length.
fn run_direction(
    d: &Direction,
    projected: &[f32],
    lines: std::ops::Range<usize>,
    lengths: &[usize],
    steps: usize,
    h: usize,
    reverse: bool,
) -> Vec<f32> {
    let n = lines.len();
    let g4 = 4 * h;
    let mut states = vec![0f32; n * steps * h];
    let mut hidden = vec![0f32; n * h];
    let mut cell = vec![0f32; n * h];
    let mut gates = vec![0f32; n * g4];
    // The time of line `k`'s step `step`, while it has one.
    let time = |k: usize, step: usize| -> Option<usize> {
        let len = lengths[k];
        (step < len).then(|| if reverse { len - 1 - step } else { step })
    };
    for step in 0..lengths.iter().copied().max().unwrap_or(0) {
        for (k, row) in gates.chunks_exact_mut(g4).enumerate() {
            let Some(t) = time(k, step) else { continue };
            let src = &projected[((lines.start + k) * steps + t) * g4..][..g4];
            for ((o, &p), &b) in row.iter_mut().zip(src).zip(&d.bias) {
                *o = p + b;
            }
        }
        if step > 0 {
            // gates += hidden x w_hidden  ([n, h] x [h, 4h], all row-major)
            // SAFETY: the pointers and strides describe the three buffers above exactly
            // (gates n x 4h, hidden n x h, w_hidden h x 4h, row-major), which do not overlap.
            unsafe {
                gemm::gemm(
                    n,
                    g4,
                    h,
                    gates.as_mut_ptr(),
                    1,
                    g4 as isize,
                    true,
                    hidden.as_ptr(),
                    1,
                    h as isize,
                    d.w_hidden.as_ptr(),
                    1,
                    g4 as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
        for k in 0..n {
            let Some(t) = time(k, step) else { continue };
            let g = &gates[k * g4..(k + 1) * g4];
            let (gi, rest) = g.split_at(h);
            let (gf, rest) = rest.split_at(h);
            let (go, gc) = rest.split_at(h);
            let c = &mut cell[k * h..(k + 1) * h];
            let hs = &mut hidden[k * h..(k + 1) * h];
            for j in 0..h {
                let cj = sigmoid(gf[j]) * c[j] + sigmoid(gi[j]) * tanh(gc[j]);
                c[j] = cj;
                hs[j] = sigmoid(go[j]) * tanh(cj);
            }
            states[(k * steps + t) * h..][..h].copy_from_slice(hs);
        }
    }
    states
}

/// `e^x` for `f32`, branch-free so that loops over it vectorise: range reduction to
/// `x = n ln 2 + r`, `|r| <= ln 2 / 2`, a degree-6 polynomial for `e^r` (relative error about
/// 2e-7 over the whole range) and `2^n` put into the exponent bits. Inputs are clamped to
/// `[-87, 88]`, where `e^x` is a normal `f32`.
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the 1.5 x 2^23 trick (exact for |v| < 2^22): `f32::round` is a
    // `roundf` call on baseline x86-64, which kept this loop from vectorising and cost ~4 % of
    // a page's CPU time.
    const ROUND: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // ln 2 in two parts (Cody-Waite) so that `n ln 2` loses no bits for large `n`.
    let r = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The logistic function.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Hyperbolic tangent, `1 - 2 / (e^(2x) + 1)` (exact at the saturated ends).
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BiLstmConfig;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn fast_activations_match_libm() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.05;
            let (e, s, t) = (exp(x.min(80.0)), sigmoid(x), tanh(x));
            let want = x.min(80.0).exp();
            // Relative where e^x is a normal float, absolute (tiny) below the clamp.
            let tolerance = if x >= -87.0 { 1e-6 * want } else { 1e-37 };
            assert!((e - want).abs() <= tolerance, "exp({x}) {e} vs {want}");
            assert!((s - 1.0 / (1.0 + (-x).exp())).abs() <= 1e-6, "sigmoid({x})");
            assert!(
                (t - x.tanh()).abs() <= 1e-6,
                "tanh({x}) {t} vs {}",
                x.tanh()
            );
        }
        assert!(sigmoid(-1e4) < 1e-30);
        assert_eq!(tanh(1e4), 1.0);
        assert_eq!(tanh(-1e4), -1.0);
    }

    #[test]
    fn host_recurrence_computes_what_burns_bilstm_does() {
        let device = Device::flex();
        let bilstm = BiLstmConfig::new(12, 8, true).init(&device);
        let host = HostBiLstm::new(&bilstm);
        // More lines than one task takes, and a single step.
        for [b, t] in [[37, 9], [2, 1], [3, 23]] {
            let x = Tensor::<3>::random([b, t, 12], Distribution::Uniform(-2.0, 2.0), &device);
            let (expected, _) = bilstm.forward(x.clone(), None);
            let got = host.forward(x, &vec![t; b]);
            assert_eq!(got.dims(), expected.dims());
            let scale: f32 = expected.clone().abs().max().into_scalar();
            let diff: f32 = (got - expected).abs().max().into_scalar();
            assert!(scale > 1e-2, "outputs are not trivially zero: {scale}");
            assert!(diff <= 2e-6, "{b}x{t}: max difference {diff}");
        }
    }

    #[test]
    fn a_line_reads_the_same_in_a_padded_batch_as_alone() {
        let device = Device::flex();
        let bilstm = BiLstmConfig::new(12, 8, true).init(&device);
        let host = HostBiLstm::new(&bilstm);
        // More lines than one task takes, so groups mix lengths.
        let lengths: Vec<usize> = (0..21).map(|i| 1 + (i * 7) % 15).collect();
        super::super::lstm_lengths_tests::check_lengths(
            &device,
            12,
            &lengths,
            |x, l| host.forward(x, l),
            |x| bilstm.forward(x, None).0,
        );
    }
}
