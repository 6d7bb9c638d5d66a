//! The BiLSTM's recurrence for inference on a GPU, in few kernel launches per time step.
//!
//! burn 0.22's `Lstm` runs, per time step and direction, eight matrix products (input and
//! hidden state through each gate's two `Linear`s), bias adds, activations and a slice
//! assignment: with two directions and two layers about a hundred kernel launches per output
//! column, each a few microseconds of fixed GPU work whatever the batch. On the H200 that
//! recurrence, not the arithmetic, bounded the recogniser (docs/BENCHMARKS.md). Here the same
//! function runs with the weights concatenated once when the model is prepared: the input
//! projections of all steps and both directions are one matrix product, then each step is one
//! batched product of both directions' hidden states (`[2, batch, hidden] x [2, hidden,
//! 4 hidden]`) and element-wise gate updates, which burn's fusion merges.
//!
//! Each line runs over its own length only (as [`super::host_lstm`] does on the CPU): a mask
//! keeps a line's state at zero over the padding, so the reverse direction starts at the
//! line's own last column and a line reads the same in any batch. Tested against burn's
//! `BiLstm::forward` and on lavapipe against the CPU; for inference only (no autodiff).

use burn::nn::{BiLstm, GateController, Lstm};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData, s};

/// A `BiLstm` prepared for [`FusedBiLstm::forward`] on the device its weights live on.
#[derive(Debug, Clone)]
pub struct FusedBiLstm {
    hidden: usize,
    /// `[d_input, 8 hidden]`: the forward direction's four gates, then the reverse one's
    /// (each in the order input, forget, output, cell).
    w_in: Tensor<2>,
    /// `[1, 8 hidden]`: input and hidden biases summed, in `w_in`'s column order.
    bias: Tensor<2>,
    /// `[2, hidden, 4 hidden]`: the hidden-state weights, forward direction first.
    w_hidden: Tensor<3>,
    /// Run the recurrence as one GPU kernel per layer ([`super::lstm_kernel`]) instead of a
    /// few tensor operations per time step.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    kernel: bool,
    /// Lines per workgroup of the kernel; `None`: chosen per batch
    /// ([`super::lstm_kernel::lines_per_cube`]).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    lines_per_cube: Option<u32>,
}

impl FusedBiLstm {
    /// Take `bilstm`'s weights. The LSTM must have burn's defaults (sigmoid gates, tanh cell
    /// and hidden activations, a forget gate, no cell clipping), as [`super::crnn`] builds it.
    pub fn new(bilstm: &BiLstm) -> Self {
        let (fw, fb, fh) = direction(&bilstm.forward);
        let (rw, rb, rh) = direction(&bilstm.reverse);
        FusedBiLstm {
            hidden: bilstm.d_hidden,
            w_in: Tensor::cat(vec![fw, rw], 1),
            bias: Tensor::cat(vec![fb, rb], 0).unsqueeze_dim(0),
            w_hidden: Tensor::stack(vec![fh, rh], 0),
            kernel: false,
            lines_per_cube: None,
        }
    }

    /// Run the recurrence as one kernel launch per layer ([`super::lstm_kernel`]): the same
    /// function, without a launch per time step. Only for weights on a GPU (cubecl) device.
    #[cfg(feature = "gpu")]
    pub fn with_recurrence_kernel(mut self) -> Self {
        self.kernel = true;
        self
    }

    /// [`Self::with_recurrence_kernel`] with `n` lines per workgroup whatever the batch (one of
    /// [`super::lstm_kernel::GROUPS`]): for parity tests and benches of each group size.
    #[cfg(feature = "gpu")]
    pub fn with_lines_per_cube(mut self, n: u32) -> Self {
        self.kernel = true;
        self.lines_per_cube = Some(n);
        self
    }

    /// The BiLSTM over a batch-first `[batch, time, d_input]` input, each line `b` only over
    /// its first `lengths[b]` steps, as if it ran alone: `[batch, time, 2 hidden]`, the forward
    /// direction's hidden states then the reverse one's, zero past each line's length. With
    /// every length `time` it is `bilstm.forward(x, None).0`.
    pub fn forward(&self, x: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
        let [batch, steps, d_input] = x.dims();
        assert_eq!(lengths.len(), batch, "one length per line");
        let device = x.device();
        let h = self.hidden;
        if batch == 0 || steps == 0 {
            return Tensor::zeros([batch, steps, 2 * h], &device);
        }
        // Gate inputs of every step: [time, 2, batch, 4h], the reverse direction time-flipped
        // so that step `k` of the loop reads row `k` for both directions.
        let projected = (x
            .reshape([batch * steps, d_input])
            .matmul(self.w_in.clone())
            + self.bias.clone())
        .reshape([batch, steps, 8 * h]);
        #[cfg(feature = "gpu")]
        if self.kernel {
            return super::lstm_kernel::recurrence(
                projected,
                self.w_hidden.clone(),
                lengths,
                self.lines_per_cube,
            );
        }
        let forward = projected.clone().slice(s![.., .., 0..4 * h]);
        let reverse = projected.slice(s![.., .., 4 * h..8 * h]).flip([1]);
        let gate_inputs: Tensor<4> =
            Tensor::stack(vec![forward.swap_dims(0, 1), reverse.swap_dims(0, 1)], 1);
        let masks = step_masks(lengths, steps, &device);
        let mut hidden = Tensor::<3>::zeros([2, batch, h], &device);
        let mut cell = Tensor::<3>::zeros([2, batch, h], &device);
        let mut states = Vec::with_capacity(steps);
        for step in 0..steps {
            let mut gates: Tensor<3> = gate_inputs.clone().slice(s![step]).squeeze_dim(0);
            if step > 0 {
                gates = gates + hidden.matmul(self.w_hidden.clone());
            }
            let input = sigmoid(gates.clone().slice(s![.., .., 0..h]));
            let forget = sigmoid(gates.clone().slice(s![.., .., h..2 * h]));
            let output = sigmoid(gates.clone().slice(s![.., .., 2 * h..3 * h]));
            let candidate = gates.slice(s![.., .., 3 * h..4 * h]).tanh();
            let mask: Tensor<3> = masks.clone().slice(s![step]).squeeze_dim(0);
            cell = (forget * cell + input * candidate) * mask.clone();
            hidden = output * cell.clone().tanh() * mask;
            states.push(hidden.clone());
        }
        // [time, 2, batch, h] -> each direction [batch, time, h], the reverse one flipped back.
        let states: Tensor<4> = Tensor::stack(states, 0);
        let forward: Tensor<3> = states.clone().slice(s![.., 0]).squeeze_dim(1);
        let reverse: Tensor<3> = states.slice(s![.., 1]).squeeze_dim(1).flip([0]);
        Tensor::cat(vec![forward.swap_dims(0, 1), reverse.swap_dims(0, 1)], 2)
    }
}

/// `[time, 2, batch, 1]`: 1 where loop step `k` of a direction is inside line `b` (forward:
/// time `k`; reverse: time `time - 1 - k`), 0 over its padding.
fn step_masks(lengths: &[usize], steps: usize, device: &burn::tensor::Device) -> Tensor<4> {
    let batch = lengths.len();
    let mut mask = vec![0f32; steps * 2 * batch];
    for k in 0..steps {
        for (b, &len) in lengths.iter().enumerate() {
            mask[(k * 2) * batch + b] = f32::from(u8::from(k < len));
            mask[(k * 2 + 1) * batch + b] = f32::from(u8::from(steps - 1 - k < len));
        }
    }
    Tensor::from_data(TensorData::new(mask, [steps, 2, batch, 1]), device)
}

/// One direction's weights: `[d_input, 4h]` input weights, `[4h]` summed biases and
/// `[h, 4h]` hidden weights, gates in the order input, forget, output, cell. Shared with
/// [`super::host_lstm`], which takes the same concatenation to the host.
pub(super) fn direction(lstm: &Lstm) -> (Tensor<2>, Tensor<1>, Tensor<2>) {
    assert!(
        lstm.clip.is_none() && !lstm.input_forget,
        "an LSTM with burn's default gates"
    );
    let forget = lstm
        .forget_gate
        .as_ref()
        .expect("an LSTM with a forget gate");
    let gates: [&GateController; 4] =
        [&lstm.input_gate, forget, &lstm.output_gate, &lstm.cell_gate];
    let w_in = Tensor::cat(
        gates
            .iter()
            .map(|g| g.input_transform.weight.val())
            .collect(),
        1,
    );
    let w_hidden = Tensor::cat(
        gates
            .iter()
            .map(|g| g.hidden_transform.weight.val())
            .collect(),
        1,
    );
    let device = w_in.device();
    let bias_of = |l: &burn::nn::Linear| -> Tensor<1> {
        l.bias
            .as_ref()
            .map_or_else(|| Tensor::zeros([lstm.d_hidden], &device), |b| b.val())
    };
    let bias = Tensor::cat(
        gates
            .iter()
            .map(|g| bias_of(&g.input_transform) + bias_of(&g.hidden_transform))
            .collect(),
        0,
    );
    (w_in, bias, w_hidden)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BiLstmConfig;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn fused_recurrence_computes_what_burns_bilstm_does() {
        let device = Device::flex();
        let bilstm = BiLstmConfig::new(12, 8, true).init(&device);
        let fused = FusedBiLstm::new(&bilstm);
        for [b, t] in [[5, 9], [2, 1], [3, 23]] {
            let x = Tensor::<3>::random([b, t, 12], Distribution::Uniform(-2.0, 2.0), &device);
            let (expected, _) = bilstm.forward(x.clone(), None);
            let got = fused.forward(x, &vec![t; b]);
            assert_eq!(got.dims(), expected.dims());
            let diff: f32 = (got - expected).abs().max().into_scalar();
            assert!(diff <= 2e-6, "{b}x{t}: max difference {diff}");
        }
    }

    #[test]
    fn a_line_reads_the_same_in_a_padded_batch_as_alone() {
        let device = Device::flex();
        let bilstm = BiLstmConfig::new(12, 8, true).init(&device);
        let fused = FusedBiLstm::new(&bilstm);
        let lengths: Vec<usize> = (0..9).map(|i| 1 + (i * 5) % 11).collect();
        super::super::lstm_lengths_tests::check_lengths(
            &device,
            12,
            &lengths,
            |x, l| fused.forward(x, l),
            |x| bilstm.forward(x, None).0,
        );
    }
}
