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
//! A workgroup can carry several consecutive lines of the batch ([`lines_per_cube`]): every
//! step reads the whole hidden-state matrix (256 KiB per direction at the shipped size, too
//! large for a multiprocessor's L1, so from L2), and a group of lines shares each read, which
//! divides the L2 traffic of a large batch by the group size. The arithmetic per line and its
//! order are unchanged, so every group size gives the same floats.
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
    /// `lines_per_cube` (one of [`GROUPS`]) consecutive lines share a workgroup.
    #[fusion(shape = recurrence_shape(gates), dtype = gates)]
    fn lstm_recurrence(
        gates: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        lengths: IntTensor<Self>,
        lines_per_cube: u32,
    ) -> FloatTensor<Self>;
}

/// Threads per workgroup: one per gate column up to this many (they stride over the rest).
const MAX_THREADS: usize = 512;

impl LstmRecurrenceOps for CubeBackend {
    fn lstm_recurrence(
        gates: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        lengths: IntTensor<Self>,
        lines_per_cube: u32,
    ) -> FloatTensor<Self> {
        assert!(
            GROUPS.contains(&lines_per_cube),
            "lines per workgroup must be one of {GROUPS:?}"
        );
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
        // The group's state must fit the device's workgroup memory (16 KiB is WebGPU's floor).
        let shared_max = client.properties().hardware.max_shared_memory_size;
        let elem = dtype.size();
        let mut lines_per_cube = lines_per_cube;
        while lines_per_cube > 1 && 6 * lines_per_cube as usize * hidden * elem > shared_max {
            lines_per_cube /= 2;
        }
        let int_dtype = lengths.dtype;
        lstm_recurrence_kernel::launch(
            &client,
            CubeCount::Static(batch.div_ceil(lines_per_cube as usize) as u32, 2, 1),
            CubeDim::new_1d(threads as u32),
            gates.into_tensor_arg(),
            w_hidden.into_tensor_arg(),
            lengths.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            hidden as u32,
            lines_per_cube,
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

/// One workgroup per (group of `lines_per_cube` consecutive lines, direction): `CUBE_POS_X` is
/// the group, `CUBE_POS_Y` the direction (0 forward, 1 reverse). Workgroup memory holds, per
/// line of the group, `[hidden]`, then `[cell]`, then `[4 hidden gates]`. Every weight read
/// from `w_hidden` serves all the group's lines (the matrix is 256 KiB per direction at the
/// shipped size, read once per step: the group divides that traffic); each line steps over its
/// own length, the group over the longest.
#[cube(launch)]
fn lstm_recurrence_kernel<F: Float, I: Numeric>(
    gates: &Tensor<F>,      // [batch, time, 8 hidden]
    w_hidden: &Tensor<F>,   // [2, hidden, 4 hidden]
    lengths: &Tensor<I>,    // [batch]
    output: &mut Tensor<F>, // [batch, time, 2 hidden]
    #[comptime] hidden: u32,
    #[comptime] lines_per_cube: u32,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let group = lines_per_cube as usize;
    let first = CUBE_POS_X as usize * group;
    let dir = CUBE_POS_Y as usize;
    let threads = CUBE_DIM_X as usize;
    let unit = UNIT_POS_X as usize;
    let h = hidden as usize;
    let g4 = 4 * h;
    let batch = output.shape(0);
    let steps = output.shape(1);
    // Each line's length (0 for slots past the batch's end) and the group's longest.
    let mut lens = Array::<u32>::new(group);
    let mut longest = 0u32;
    #[unroll]
    for l in 0..group {
        let mut len = 0u32;
        if first + l < batch {
            len = u32::cast_from(lengths[first + l]);
            if len > steps as u32 {
                len = steps as u32;
            }
        }
        lens[l] = len;
        if len > longest {
            longest = len;
        }
    }
    let cells = group * h;
    let gate_base = 2 * cells;
    let mut state = Shared::new_slice(6 * group * h);
    let mut u = unit;
    while u < 2 * cells {
        state[u] = F::new(0.0);
        u += threads;
    }
    sync_cube();
    let w_base = dir * h * g4;
    for k in 0..longest as usize {
        // Gate pre-activations of every line: input projection + h_prev . W_hidden[:, j].
        let mut j = unit;
        while j < g4 {
            let mut acc = Array::<F>::new(group);
            #[unroll]
            for l in 0..group {
                let len = lens[l] as usize;
                let mut value = F::new(0.0);
                if k < len {
                    let mut t = k;
                    if dir == 1 {
                        t = len - 1 - k;
                    }
                    value = gates[((first + l) * steps + t) * 2 * g4 + dir * g4 + j];
                }
                acc[l] = value;
            }
            for i in 0..h {
                let w = w_hidden[w_base + i * g4 + j];
                #[unroll]
                for l in 0..group {
                    acc[l] += state[l * h + i] * w;
                }
            }
            #[unroll]
            for l in 0..group {
                state[gate_base + l * g4 + j] = acc[l];
            }
            j += threads;
        }
        sync_cube();
        // State update of each hidden unit of each line still running (every read of h_prev
        // happened before the barrier).
        let mut idx = unit;
        while idx < cells {
            let l = idx / h;
            let unit_h = idx % h;
            let len = lens[l] as usize;
            if k < len {
                let mut t = k;
                if dir == 1 {
                    t = len - 1 - k;
                }
                let g = gate_base + l * g4;
                let input = sigmoid::<F>(state[g + unit_h]);
                let forget = sigmoid::<F>(state[g + h + unit_h]);
                let out_gate = sigmoid::<F>(state[g + 2 * h + unit_h]);
                let candidate = state[g + 3 * h + unit_h].tanh();
                let cell = forget * state[cells + idx] + input * candidate;
                state[cells + idx] = cell;
                let hid = out_gate * cell.tanh();
                state[idx] = hid;
                output[((first + l) * steps + t) * 2 * h + dir * h + unit_h] = hid;
            }
            idx += threads;
        }
        sync_cube();
    }
    // Zero past each line's length.
    #[unroll]
    for l in 0..group {
        if first + l < batch {
            let len = lens[l] as usize;
            let pad = (steps - len) * h;
            let mut idx = unit;
            while idx < pad {
                let t = len + idx / h;
                output[((first + l) * steps + t) * 2 * h + dir * h + idx % h] = F::new(0.0);
                idx += threads;
            }
        }
    }
}

/// Lines per workgroup the recurrence kernel runs when the caller leaves it open:
/// `FERROCR_LSTM_LINES_PER_CUBE` (1, 2, 4 or 8; read once per process, for A/B timing on a GPU
/// host) when set, else [`default_lines_per_cube`] of the batch.
pub fn lines_per_cube(batch: usize) -> u32 {
    static OVERRIDE: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    let fixed = OVERRIDE.get_or_init(|| {
        std::env::var("FERROCR_LSTM_LINES_PER_CUBE")
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| GROUPS.contains(n))
    });
    fixed.unwrap_or_else(|| default_lines_per_cube(batch))
}

/// The group size by batch size: the group shares each weight read, but fewer, fuller
/// workgroups occupy fewer of the GPU's cores, so batches group lines only once there are
/// enough to fill a large GPU (an H100 has 132 multiprocessors, several workgroups each): 4
/// from 1,024 lines, 2 from 512, else 1.
pub fn default_lines_per_cube(batch: usize) -> u32 {
    match batch {
        1024.. => 4,
        512.. => 2,
        _ => 1,
    }
}

/// The group sizes the kernel is compiled for (each a separate shader).
pub const GROUPS: [u32; 4] = [1, 2, 4, 8];

/// Whether inference on a GPU runs the recurrence as this kernel: yes unless the environment
/// sets `FERROCR_LSTM_KERNEL` to `0`, `off` or `false` (then [`super::fused_lstm`]'s per-step
/// tensor operations run instead: the same function, for A/B timing on a GPU host).
pub fn enabled() -> bool {
    !matches!(
        std::env::var("FERROCR_LSTM_KERNEL").as_deref(),
        Ok("0" | "off" | "false")
    )
}

/// Run [`LstmRecurrenceOps::lstm_recurrence`] on burn tensors of a GPU device (see there),
/// `lines_per_cube` lines per workgroup (`None`: [`lines_per_cube`] of the batch).
pub fn recurrence(
    gates: BurnTensor<3>,
    w_hidden: BurnTensor<3>,
    lengths: &[usize],
    lines_per_cube: Option<u32>,
) -> BurnTensor<3> {
    let group = lines_per_cube.unwrap_or_else(|| self::lines_per_cube(lengths.len()));
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
        group,
    );
    BurnTensor::from_dispatch(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_group_lines_only_when_there_are_enough_to_fill_a_large_gpu() {
        let picked: Vec<u32> = [1, 64, 511, 512, 1023, 1024, 4096]
            .iter()
            .map(|&b| default_lines_per_cube(b))
            .collect();
        assert_eq!(picked, [1, 1, 1, 2, 2, 4, 4]);
        assert!(picked.iter().all(|n| GROUPS.contains(n)));
    }
}
