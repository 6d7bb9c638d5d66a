//! Max pooling over host memory, for CPU inference.
//!
//! burn's `MaxPool2d` on the `flex` CPU backend was measured to take about as long as the
//! convolution it follows (a 2x1 pool of a `16 x 16 x 32 x 256` batch: 17–28 ms, against 5–6 ms
//! here), so the CPU recogniser pools the conv blocks' outputs itself: each tensor is taken
//! out of burn without a copy (a uniquely owned contiguous `flex` tensor hands over its buffer),
//! pooled plane by plane on the rayon pool and handed back. Same function as `MaxPool2d` with
//! kernel = stride and no padding (tested against it); only for inference on the CPU, never
//! on a GPU (a read-back) or under autodiff (no gradient).

use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

/// Max pooling with a `2 x pool_w` window and the same stride (`pool_w` 1 or 2) of an NCHW
/// tensor on a CPU device; odd trailing rows or columns are dropped, as burn's pool does.
pub fn max_pool_2xw(x: Tensor<4>, pool_w: usize) -> Tensor<4> {
    assert!(pool_w == 1 || pool_w == 2, "pool width {pool_w}");
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let (ho, wo) = (h / 2, w / pool_w);
    let data = x.into_data();
    let src: &[f32] = data.as_slice().expect("an f32 tensor");
    let mut out = vec![0f32; b * c * ho * wo];
    if ho > 0 && wo > 0 {
        out.par_chunks_mut(ho * wo)
            .zip(src.par_chunks(h * w))
            .for_each(|(plane_out, plane)| pool_plane(plane, w, pool_w, plane_out, wo));
    }
    Tensor::from_data(TensorData::new(out, [b, c, ho, wo]), &device)
}

/// Pool one `h x w` plane into `out` (`h / 2` rows of `wo` columns).
fn pool_plane(plane: &[f32], w: usize, pool_w: usize, out: &mut [f32], wo: usize) {
    for (y, row_out) in out.chunks_exact_mut(wo).enumerate() {
        let r0 = &plane[2 * y * w..(2 * y + 1) * w];
        let r1 = &plane[(2 * y + 1) * w..(2 * y + 2) * w];
        if pool_w == 1 {
            for ((o, &a), &b) in row_out.iter_mut().zip(r0).zip(r1) {
                *o = a.max(b);
            }
        } else {
            for (x, o) in row_out.iter_mut().enumerate() {
                *o = r0[2 * x]
                    .max(r0[2 * x + 1])
                    .max(r1[2 * x].max(r1[2 * x + 1]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn host_pooling_equals_burns_max_pool() {
        let device = Device::flex();
        for [h, w] in [[32, 64], [8, 33], [5, 7]] {
            let x = Tensor::<4>::random([3, 4, h, w], Distribution::Uniform(-1.0, 1.0), &device);
            for pool_w in [1, 2] {
                let burn_pool = MaxPool2dConfig::new([2, pool_w]).init();
                let expected = burn_pool.forward(x.clone());
                let got = max_pool_2xw(x.clone(), pool_w);
                assert_eq!(got.dims(), expected.dims(), "{h}x{w} pool {pool_w}");
                let diff: f32 = (got - expected).abs().max().into_scalar();
                assert_eq!(diff, 0.0, "{h}x{w} pool {pool_w}");
            }
        }
    }
}
