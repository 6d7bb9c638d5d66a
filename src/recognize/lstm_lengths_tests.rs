//! A shared check for the inference BiLSTMs ([`super::host_lstm`], [`super::fused_lstm`]):
//! a line in a padded batch reads as it does alone.

use burn::tensor::{Device, Distribution, Tensor, s};

/// Run `batched` over a random batch whose line `b` is `lengths[b]` steps long (padded to the
/// longest + 3), and check each line against `alone` (the reference BiLSTM over that line by
/// itself): equal over its length within 2e-6, and zero past it.
pub fn check_lengths(
    device: &Device,
    d_input: usize,
    lengths: &[usize],
    batched: impl Fn(Tensor<3>, &[usize]) -> Tensor<3>,
    alone: impl Fn(Tensor<3>) -> Tensor<3>,
) {
    let steps = lengths.iter().copied().max().unwrap_or(0) + 3;
    let b = lengths.len();
    let x = Tensor::<3>::random(
        [b, steps, d_input],
        Distribution::Uniform(-2.0, 2.0),
        device,
    );
    let got = batched(x.clone(), lengths);
    let [gb, gt, features] = got.dims();
    assert_eq!([gb, gt], [b, steps]);
    for (k, &len) in lengths.iter().enumerate() {
        let expected = alone(x.clone().slice(s![k..k + 1, 0..len]));
        let line = got.clone().slice(s![k..k + 1, 0..len]);
        let scale: f32 = expected.clone().abs().max().into_scalar();
        let diff: f32 = (line - expected).abs().max().into_scalar();
        assert!(scale > 1e-2, "line {k}: outputs are not trivially zero");
        assert!(
            diff <= 2e-6,
            "line {k} ({len} steps): max difference {diff}"
        );
        if len < steps {
            let past = got.clone().slice(s![k..k + 1, len..steps, 0..features]);
            let past: f32 = past.abs().max().into_scalar();
            assert_eq!(past, 0.0, "line {k}: states past its length");
        }
    }
}
