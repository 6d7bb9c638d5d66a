//! The BiLSTM recurrence of inference as **one GPU kernel launch per layer** (CubeCL, compiled
//! to WGSL / SPIR-V by burn's wgpu runtime).
//!
//! [`super::fused_lstm`] already cut burn's ~100 launches per output column to a handful, but
//! still launches them for every time step: a 1,024-px line is 256 steps, each a few
//! microseconds of fixed cost on a GPU whatever the batch, and on lavapipe the recurrent half of
//! a pass took 90 % of its time (docs/BENCHMARKS.md). Here one workgroup ("cube") runs one
//! line in one direction through all of its steps, as burn's own CTC kernel runs its alpha
//! recursion: the hidden and cell state stay in workgroup memory, each thread computes gate
//! pre-activations (`input projection + h_prev · W_hidden` column `j`), a barrier, then the
//! state update of its hidden units, a barrier, next step. The input projections of every step
//! are one matrix product before the launch, as in [`super::fused_lstm`].
//!
//! Each line runs over its own length only: the reverse direction starts at the line's own last
//! column, and the output past a line's length is zero, exactly [`super::fused_lstm`]'s
//! contract. The same function as burn's `BiLstm::forward` up to float rounding (summation
//! order); checked against it on lavapipe in `tests/gpu_parity.rs`.
//!
//! Registered with burn through `#[backend_extension]` for the cubecl backend and its fusion
//! wrapper (the kernel runs when fusion flushes); other backends never call it
//! ([`super::crnn::Crnn::for_inference`] picks it on a GPU only).

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::{Int, Shape, Tensor as BurnTensor, TensorData};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use cubecl::prelude::*;

/// `[batch, time, 2 hidden]` from the gate inputs' `[batch, time, 8 hidden]`.
fn recurrence_shape(gates: &Shape) -> Shape {
    Shape::new([gates[0], gates[1], gates[2] / 4])
}

/// The recurrence as a backend operation (a burn backend extension).
#[backend_extension(Cube: cfg(feature = "gpu"), Fusion: cfg(feature = "gpu"))]
pub trait LstmRecurrenceOps: Backend {
    /// Both directions of one BiLSTM layer over `gates` (`[batch, time, 8 hidden]`: each step's
    /// input projection plus biases, forward direction's four gates then the reverse one's, in
    /// the order input, forget, output, cell), with `w_hidden` (`[2, hidden, 4 hidden]`,
    /// forward direction first) and each line's `lengths` (`[batch]`): `[batch, time, 2
    /// hidden]`, forward states then reverse ones, zero past each line's length.
    #[fusion(shape = recurrence_shape(gates), dtype = gates)]
    fn lstm_recurrence(
        gates: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        lengths: IntTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Threads per workgroup: one per gate column up to this many (they stride over the rest).
const MAX_THREADS: usize = 512;

impl LstmRecurrenceOps for CubeBackend {
    fn lstm_recurrence(
        gates: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        lengths: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        // The kernel indexes flat buffers: make every input contiguous (a no-op when it is).
        let gates = into_contiguous(gates);
        let w_hidden = into_contiguous(w_hidden);
        let lengths = into_contiguous(lengths);
        let [batch, steps, width] = gates.shape().dims::<3>();
        let hidden = width / 8;
        assert_eq!(width, 8 * hidden, "gate inputs of both directions");
        assert_eq!(w_hidden.shape().dims::<3>(), [2, hidden, 4 * hidden]);
        let client = gates.client.clone();
        let dtype = gates.dtype;
        let output = empty_device_dtype(
            client.clone(),
            gates.device.clone(),
            Shape::new([batch, steps, 2 * hidden]),
            dtype,
        );
        if batch == 0 || steps == 0 {
            return output;
        }
        let hw_max = client.properties().hardware.max_cube_dim.0 as usize;
        let threads = (4 * hidden).min(MAX_THREADS).min(hw_max).max(1);
        let int_dtype = lengths.dtype;
        lstm_recurrence_kernel::launch(
            &client,
            CubeCount::Static(batch as u32, 2, 1),
            CubeDim::new_1d(threads as u32),
            gates.into_tensor_arg(),
            w_hidden.into_tensor_arg(),
            lengths.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            hidden as u32,
            [
                burn::backend::cubecl::dtype_to_storage_type(dtype),
                burn::backend::cubecl::dtype_to_storage_type(int_dtype),
            ],
        );
        output
    }
}

/// `1 / (1 + e^-x)`.
#[cube]
fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + (F::new(0.0) - x).exp())
}

/// One workgroup per (line, direction): `CUBE_POS_X` is the line, `CUBE_POS_Y` the direction
/// (0 forward, 1 reverse). Workgroup memory holds `[hidden | cell | 4 hidden gates]`.
#[cube(launch)]
fn lstm_recurrence_kernel<F: Float, I: Numeric>(
    gates: &Tensor<F>,      // [batch, time, 8 hidden]
    w_hidden: &Tensor<F>,   // [2, hidden, 4 hidden]
    lengths: &Tensor<I>,    // [batch]
    output: &mut Tensor<F>, // [batch, time, 2 hidden]
    #[comptime] hidden: u32,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let line = CUBE_POS_X as usize;
    let dir = CUBE_POS_Y as usize;
    let threads = CUBE_DIM_X as usize;
    let unit = UNIT_POS_X as usize;
    let h = hidden as usize;
    let g4 = 4 * h;
    let steps = output.shape(1);
    let mut len = u32::cast_from(lengths[line]) as usize;
    if len > steps {
        len = steps;
    }
    let mut state = Shared::new_slice(6 * h);
    let mut u = unit;
    while u < 2 * h {
        state[u] = F::new(0.0);
        u += threads;
    }
    sync_cube();
    let w_base = dir * h * g4;
    for k in 0..len {
        let mut t = k;
        if dir == 1 {
            t = len - 1 - k;
        }
        let g_base = (line * steps + t) * 2 * g4 + dir * g4;
        // Gate pre-activations: input projection + h_prev . W_hidden[:, j].
        let mut j = unit;
        while j < g4 {
            let mut acc = gates[g_base + j];
            for i in 0..h {
                acc += state[i] * w_hidden[w_base + i * g4 + j];
            }
            state[2 * h + j] = acc;
            j += threads;
        }
        sync_cube();
        // State update of each hidden unit (every read of h_prev happened before the barrier).
        let out_base = (line * steps + t) * 2 * h + dir * h;
        let mut u = unit;
        while u < h {
            let input = sigmoid::<F>(state[2 * h + u]);
            let forget = sigmoid::<F>(state[3 * h + u]);
            let out_gate = sigmoid::<F>(state[4 * h + u]);
            let candidate = state[5 * h + u].tanh();
            let cell = forget * state[h + u] + input * candidate;
            state[h + u] = cell;
            let hid = out_gate * cell.tanh();
            state[u] = hid;
            output[out_base + u] = hid;
            u += threads;
        }
        sync_cube();
    }
    // Zero past the line's length.
    let pad = (steps - len) * h;
    let mut idx = unit;
    while idx < pad {
        let t = len + idx / h;
        output[(line * steps + t) * 2 * h + dir * h + idx % h] = F::new(0.0);
        idx += threads;
    }
}

/// Whether inference on a GPU runs the recurrence as this kernel: yes unless the environment
/// sets `FERROCR_LSTM_KERNEL` to `0`, `off` or `false` (then [`super::fused_lstm`]'s per-step
/// tensor operations run instead: the same function, for A/B timing on a GPU host).
pub fn enabled() -> bool {
    !matches!(
        std::env::var("FERROCR_LSTM_KERNEL").as_deref(),
        Ok("0" | "off" | "false")
    )
}

/// Run [`LstmRecurrenceOps::lstm_recurrence`] on burn tensors of a GPU device (see there).
pub fn recurrence(
    gates: BurnTensor<3>,
    w_hidden: BurnTensor<3>,
    lengths: &[usize],
) -> BurnTensor<3> {
    let device = gates.device();
    let lengths: Vec<i32> = lengths
        .iter()
        .map(|&l| i32::try_from(l).unwrap_or(i32::MAX))
        .collect();
    let n = lengths.len();
    let lengths = BurnTensor::<1, Int>::from_data(TensorData::new(lengths, [n]), &device);
    let out = <Dispatch as LstmRecurrenceOps>::lstm_recurrence(
        gates.into_dispatch(),
        w_hidden.into_dispatch(),
        lengths.into_dispatch(),
    );
    BurnTensor::from_dispatch(out)
}
