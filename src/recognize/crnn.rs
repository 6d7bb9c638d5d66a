//! The CRNN recogniser network in burn: conv backbone -> BiLSTM -> linear -> per-frame classes.
//!
//! Input `[batch, 1, LINE_HEIGHT, width]` (paper 0, ink 1), output logits
//! `[batch, width / 4, classes]`. The backbone has
//! two 2x2 max-pools (height /4, width /4) and two 2x1 pools (height /4 again, width kept), so a
//! 32-pixel line becomes 2 rows x width/4 frames; the rows are folded into the features,
//! projected, read by one bidirectional LSTM layer (plus, when the config asks, residual
//! BiLSTM layers: see [`ResidualBiLstm`]) and classified per frame. Horizontal
//! downsampling of 4 keeps the recurrent part short (few sequential steps per line).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, BiLstm, BiLstmConfig, Initializer, Linear, LinearConfig,
    PaddingConfig2d,
};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::fused_lstm::FusedBiLstm;
use super::host_lstm::HostBiLstm;

use crate::lines::normalize::{LINE_HEIGHT, WIDTH_MULTIPLE};

/// Architecture hyper-parameters, stored in the model artefact's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrnnConfig {
    /// Output channels of the five conv blocks.
    pub channels: [usize; 5],
    /// Width of the projection between the backbone and the LSTM.
    pub proj_dim: usize,
    /// Hidden size of each LSTM direction.
    pub lstm_hidden: usize,
    /// Bidirectional LSTM layers: the first, then `lstm_layers - 1` residual ones
    /// ([`ResidualBiLstm`]). Artefacts written before this field existed have one.
    #[serde(default = "one_layer")]
    pub lstm_layers: usize,
    /// Output classes (alphabet + blank).
    pub num_classes: usize,
}

fn one_layer() -> usize {
    1
}

impl CrnnConfig {
    /// The default architecture for `num_classes` outputs.
    pub fn new(num_classes: usize) -> Self {
        CrnnConfig {
            channels: [16, 32, 64, 64, 96],
            proj_dim: 96,
            lstm_hidden: 128,
            lstm_layers: 1,
            num_classes,
        }
    }

    /// Build the network with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Crnn {
        let c = self.channels;
        let block = |cin: usize, cout: usize| ConvBlock {
            conv: Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(cout).init(device),
            folded: false,
        };
        let rows_out = LINE_HEIGHT / 16;
        Crnn {
            b1: block(1, c[0]),
            b2: block(c[0], c[1]),
            b3: block(c[1], c[2]),
            b4: block(c[2], c[3]),
            b5: block(c[3], c[4]),
            pool_2x2: MaxPool2dConfig::new([2, 2]).init(),
            pool_2x1: MaxPool2dConfig::new([2, 1]).init(),
            proj: LinearConfig::new(c[4] * rows_out, self.proj_dim).init(device),
            lstm: BiLstmConfig::new(self.proj_dim, self.lstm_hidden, true).init(device),
            deeper: (1..self.lstm_layers.max(1))
                .map(|_| ResidualBiLstm::init(self.lstm_hidden, device))
                .collect(),
            head: LinearConfig::new(2 * self.lstm_hidden, self.num_classes).init(device),
            host_pool: false,
            host_lstm: None,
            fused_lstm: None,
        }
    }

    /// Bytes of the largest activation of a forward pass (f32) per padded input pixel: the
    /// first conv block's output (`channels[0]` values per pixel) for the shipped sizes, else
    /// a later block's (at 1/4, 1/16, 1/32 of the pixels), the BiLSTMs' input projection (both
    /// directions' four gates, `8 * lstm_hidden` per frame of `LINE_HEIGHT x 4` pixels) or the
    /// head's logits.
    pub fn peak_bytes_per_input_pixel(&self) -> f64 {
        let c = self.channels.map(|v| v as f64);
        let frame_px = (LINE_HEIGHT * WIDTH_MULTIPLE) as f64;
        let per_px = [
            c[0],
            c[1] / 4.0,
            c[2] / 16.0,
            c[3] / 16.0,
            c[4] / 32.0,
            8.0 * self.lstm_hidden as f64 / frame_px,
            self.num_classes as f64 / frame_px,
        ];
        4.0 * per_px.into_iter().fold(0.0, f64::max)
    }

    /// Most padded input pixels one forward pass may take when no tensor may exceed
    /// `max_tensor_bytes` (a GPU's binding limit, [`crate::compute::device::max_tensor_bytes`]).
    pub fn max_pass_pixels(&self, max_tensor_bytes: u64) -> usize {
        (max_tensor_bytes as f64 / self.peak_bytes_per_input_pixel()).floor() as usize
    }

    /// Multiply-accumulate count x 2 (FLOPs) per output frame (= per 4 input columns).
    pub fn flops_per_frame(&self) -> u64 {
        let c = self.channels.map(|v| v as u64);
        let h = LINE_HEIGHT as u64;
        let w = WIDTH_MULTIPLE as u64; // input columns per frame
        let conv = |cin: u64, cout: u64, rows: u64, cols: u64| 2 * 9 * cin * cout * rows * cols;
        let backbone = conv(1, c[0], h, w)
            + conv(c[0], c[1], h / 2, w / 2)
            + conv(c[1], c[2], h / 4, w / 4)
            + conv(c[2], c[3], h / 4, w / 4)
            + conv(c[3], c[4], h / 8, w / 4);
        let (p, hd, k) = (
            self.proj_dim as u64,
            self.lstm_hidden as u64,
            self.num_classes as u64,
        );
        let proj = 2 * c[4] * (h / 16) * p;
        let lstm = 2 * 2 * 4 * (p + hd) * hd;
        let head = 2 * 2 * hd * k;
        let deeper = (self.lstm_layers.max(1) as u64 - 1)
            * (2 * 2 * 4 * (2 * hd + hd) * hd + 2 * (2 * hd) * (2 * hd));
        backbone + proj + lstm + deeper + head
    }
}

/// A residual bidirectional LSTM layer: `x + out(bilstm(x))` over the `2 * hidden` features of
/// the layer below. `out` starts at zero, so adding such a layer to a trained network leaves
/// its function unchanged until training moves it: a trained model can be grown and trained on
/// rather than retrained from scratch.
#[derive(Module, Debug)]
pub struct ResidualBiLstm {
    lstm: BiLstm,
    out: Linear,
}

impl ResidualBiLstm {
    fn init(hidden: usize, device: &Device) -> Self {
        ResidualBiLstm {
            lstm: BiLstmConfig::new(2 * hidden, hidden, true).init(device),
            out: LinearConfig::new(2 * hidden, 2 * hidden)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }

    /// `x + out(y)`, with `y` this layer's BiLSTM over `x` (see [`Crnn::forward`]).
    fn residual(&self, x: Tensor<3>, y: Tensor<3>) -> Tensor<3> {
        x.add(self.out.forward(y))
    }
}

/// Conv 3x3 -> BatchNorm -> ReLU.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
    /// The BatchNorm's inference transform is folded into the conv's weights and bias (see
    /// [`Crnn::fold_batch_norms`]); `norm` is then skipped. Not part of the weights file.
    #[module(skip)]
    folded: bool,
}

impl ConvBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        relu(if self.folded { y } else { self.norm.forward(y) })
    }

    /// Fold the running statistics: `gamma (conv(x) - mean) / sqrt(var + eps) + beta` is
    /// `conv'(x)` with weights scaled per output channel by `s = gamma / sqrt(var + eps)` and
    /// bias `beta - mean s` (plus `s b` for a conv bias `b`).
    fn fold(self) -> Self {
        if self.folded {
            return self;
        }
        let scale = scale_of(&self.norm);
        let shift = self
            .norm
            .beta
            .val()
            .sub(self.norm.running_mean.value().mul(scale.clone()));
        let mut conv = self.conv;
        let weight = conv.weight.val();
        let out_channels = weight.dims()[0];
        let bias = match conv.bias.take() {
            Some(b) => b.val().mul(scale.clone()).add(shift),
            None => shift,
        };
        conv.weight = Param::from_tensor(weight.mul(scale.reshape([out_channels, 1, 1, 1])));
        conv.bias = Some(Param::from_tensor(bias));
        ConvBlock {
            conv,
            norm: self.norm,
            folded: true,
        }
    }
}

/// The per-channel scale of a BatchNorm in inference mode.
fn scale_of(norm: &BatchNorm) -> Tensor<1> {
    norm.gamma
        .val()
        .div(norm.running_var.value().add_scalar(norm.epsilon).sqrt())
}

/// The CRNN network (see the module docs).
#[derive(Module, Debug)]
pub struct Crnn {
    b1: ConvBlock,
    b2: ConvBlock,
    b3: ConvBlock,
    b4: ConvBlock,
    b5: ConvBlock,
    pool_2x2: MaxPool2d,
    pool_2x1: MaxPool2d,
    proj: Linear,
    lstm: BiLstm,
    /// Residual BiLSTM layers after the first (empty for a one-layer network).
    deeper: Vec<ResidualBiLstm>,
    head: Linear,
    /// Pool on the host ([`super::host_pool`]) instead of with burn's `MaxPool2d`: set for
    /// inference on the CPU by [`Crnn::for_inference`]. Not part of the weights file.
    #[module(skip)]
    host_pool: bool,
    /// The BiLSTM layers' recurrence on the host ([`super::host_lstm`]), first layer first:
    /// set for inference on the CPU by [`Crnn::for_inference`]. Not part of the weights file.
    #[module(skip)]
    host_lstm: Option<Arc<Vec<HostBiLstm>>>,
    /// The BiLSTM layers with fused gates ([`super::fused_lstm`]), first layer first: set for
    /// inference on a GPU by [`Crnn::for_inference`]. Not part of the weights file.
    #[module(skip)]
    fused_lstm: Option<Arc<Vec<FusedBiLstm>>>,
}

impl Crnn {
    /// For inference only: fold every BatchNorm into the convolution before it, which removes
    /// four element-wise passes over each conv block's output (the same function, up to float
    /// rounding). A folded network must not be trained further.
    pub fn fold_batch_norms(self) -> Self {
        Crnn {
            b1: self.b1.fold(),
            b2: self.b2.fold(),
            b3: self.b3.fold(),
            b4: self.b4.fold(),
            b5: self.b5.fold(),
            ..self
        }
    }

    /// Prepare a trained network for inference on `device`: BatchNorms folded
    /// ([`Crnn::fold_batch_norms`]); on the CPU backend pooling and the BiLSTMs' recurrence
    /// run on the host ([`super::host_lstm`]), elsewhere the BiLSTMs run with fused gates
    /// ([`super::fused_lstm`]), their recurrence as one GPU kernel per layer
    /// ([`super::lstm_kernel`], unless `FERROCR_LSTM_KERNEL=off`): the same function, faster. Either way
    /// [`Crnn::forward_lines`] then runs each line over its own width only. A prepared network
    /// must not be trained further.
    pub fn for_inference(self, device: &Device) -> Self {
        let cpu = *device == Device::flex();
        let layers: Vec<&BiLstm> = std::iter::once(&self.lstm)
            .chain(self.deeper.iter().map(|l| &l.lstm))
            .collect();
        let host_lstm = cpu.then(|| Arc::new(layers.iter().map(|l| HostBiLstm::new(l)).collect()));
        let fused_lstm = (!cpu).then(|| {
            let prepare = |l: &&BiLstm| {
                let fused = FusedBiLstm::new(l);
                #[cfg(feature = "gpu")]
                let fused = if super::lstm_kernel::enabled() {
                    fused.with_recurrence_kernel()
                } else {
                    fused
                };
                fused
            };
            Arc::new(layers.iter().map(prepare).collect())
        });
        Crnn {
            host_pool: cpu,
            host_lstm,
            fused_lstm,
            ..self.fold_batch_norms()
        }
    }

    /// BiLSTM layer `i` (0: the first, then the residual ones) over `x`, line `b` over its
    /// first `lengths[b]` steps where the network is prepared for inference and lengths are
    /// given (burn's own `BiLstm`, used in training, runs every line over every step).
    fn bilstm(&self, i: usize, x: Tensor<3>, lengths: Option<&[usize]>) -> Tensor<3> {
        let [batch, steps, _] = x.dims();
        let full = vec![steps; batch];
        let lengths = lengths.unwrap_or(&full);
        if let Some(host) = &self.host_lstm {
            return host[i].forward(x, lengths);
        }
        if let Some(fused) = &self.fused_lstm {
            return fused[i].forward(x, lengths);
        }
        let lstm = if i == 0 {
            &self.lstm
        } else {
            &self.deeper[i - 1].lstm
        };
        lstm.forward(x, None).0
    }

    /// Max pooling `2 x pool_w` (stride = window) of a conv block's output.
    fn pool(&self, x: Tensor<4>, pool_w: usize) -> Tensor<4> {
        match (self.host_pool, pool_w) {
            (true, _) => super::host_pool::max_pool_2xw(x, pool_w),
            (false, 2) => self.pool_2x2.forward(x),
            (false, _) => self.pool_2x1.forward(x),
        }
    }

    /// `[batch, 1, LINE_HEIGHT, width]` -> logits `[batch, width / 4, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        self.forward_widths(x, None)
    }

    /// [`Crnn::forward`] over a batch of lines padded to the widest, line `b` being
    /// `widths[b]` pixels wide: in a network prepared for inference the recurrent layers run
    /// each line over its own frames only, so padding does not change how a line reads (its
    /// logits past its own frames are zero-state outputs, to be ignored).
    pub fn forward_lines(&self, x: Tensor<4>, widths: &[usize]) -> Tensor<3> {
        self.forward_widths(x, Some(widths))
    }

    fn forward_widths(&self, x: Tensor<4>, widths: Option<&[usize]>) -> Tensor<3> {
        let (features, lengths) = self.backbone(x, widths);
        self.sequence(features, lengths.as_deref())
    }

    /// The convolutional half of [`Crnn::forward_lines`] (`widths: None` for
    /// [`Crnn::forward`]): `[batch, 1, LINE_HEIGHT, width]` -> features `[batch, width / 4,
    /// channels x rows]`, with each line's frame count when widths are given. Separate from
    /// [`Crnn::sequence`] so that a profiler can time the two halves.
    pub fn backbone(
        &self,
        x: Tensor<4>,
        widths: Option<&[usize]>,
    ) -> (Tensor<3>, Option<Vec<usize>>) {
        let width = x.dims()[3].max(1);
        // Zero every feature column past a line's own width before each convolution that
        // reads across columns, so that padding acts as the convolutions' zero padding would
        // for the line alone (paper is 0.0 in the input, so the first one needs none).
        let ragged = widths.filter(|ws| ws.iter().any(|&w| w < width));
        let device = x.device();
        // Masks at half and quarter width (pools halve the width twice), built once per pass.
        let masks = ragged.map(|ws| {
            let at = |d: usize| column_mask(ws, width, width / d, &device);
            (at(2), at(4))
        });
        let mask = |x: Tensor<4>, quarter: bool| match &masks {
            Some((half, q)) => x * if quarter { q.clone() } else { half.clone() },
            None => x,
        };
        let x = mask(self.pool(self.b1.forward(x), 2), false);
        let x = mask(self.pool(self.b2.forward(x), 2), true);
        let x = mask(self.b3.forward(x), true);
        let x = mask(self.pool(self.b4.forward(x), 1), true);
        let x = self.pool(self.b5.forward(x), 1);
        let [b, c, h, t] = x.dims();
        let x = x.reshape([b, c * h, t]).swap_dims(1, 2); // [b, t, c*h]
        // A line `w` pixels wide has the first `w * t / width` of the `t` frames.
        let lengths: Option<Vec<usize>> = widths.map(|ws| {
            ws.iter()
                .map(|&w| (w.min(width) * t).div_ceil(width))
                .collect()
        });
        (x, lengths)
    }

    /// The recurrent half: the backbone's features -> logits `[batch, frames, classes]`
    /// (projection, the BiLSTM layers, each line over its first `lengths[b]` frames when given,
    /// and the output layer).
    pub fn sequence(&self, x: Tensor<3>, lengths: Option<&[usize]>) -> Tensor<3> {
        let x = relu(self.proj.forward(x));
        let mut x = self.bilstm(0, x, lengths);
        for (i, layer) in self.deeper.iter().enumerate() {
            let y = self.bilstm(i + 1, x.clone(), lengths);
            x = layer.residual(x, y);
        }
        self.head.forward(x)
    }
}

/// `[lines, 1, 1, columns]`: 1 over the first `w * columns / width` columns of a line `w`
/// pixels wide (of a batch `width` wide), 0 past them.
fn column_mask(widths: &[usize], width: usize, columns: usize, device: &Device) -> Tensor<4> {
    let mut mask = vec![0f32; widths.len() * columns];
    for (row, &w) in mask.chunks_exact_mut(columns).zip(widths) {
        let inside = (w.min(width) * columns).div_ceil(width);
        row[..inside].fill(1.0);
    }
    Tensor::from_data(TensorData::new(mask, [widths.len(), 1, 1, columns]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::RunningState;
    use burn::tensor::Distribution;

    #[test]
    fn the_largest_activation_bounds_the_pixels_of_a_pass() {
        let shipped = CrnnConfig::new(97);
        // The first conv block's 16 channels at full resolution, 4 bytes each.
        assert_eq!(shipped.peak_bytes_per_input_pixel(), 64.0);
        assert_eq!(shipped.max_pass_pixels(128 << 20), 2_097_152);
        // A wide recurrent part: the gate projection, 8 x 512 values per 32 x 4 pixels.
        let wide = CrnnConfig {
            lstm_hidden: 512,
            ..CrnnConfig::new(97)
        };
        assert_eq!(wide.peak_bytes_per_input_pixel(), 128.0);
        // The bound holds for the real first block's output.
        let device = Device::flex();
        let model = shipped.init(&device);
        let x = Tensor::<4>::zeros([2, 1, LINE_HEIGHT, 40], &device);
        let y = model.b1.forward(x);
        let bytes = 4 * y.dims().iter().product::<usize>();
        assert_eq!(bytes as f64, 2.0 * (LINE_HEIGHT * 40) as f64 * 64.0);
    }

    /// Give every BatchNorm non-trivial statistics, as training leaves them.
    fn with_statistics(block: ConvBlock, device: &Device) -> ConvBlock {
        let c = block.norm.gamma.dims()[0];
        let r = |lo: f64, hi: f64| Tensor::<1>::random([c], Distribution::Uniform(lo, hi), device);
        let mut norm = block.norm;
        norm.gamma = Param::from_tensor(r(0.5, 1.5));
        norm.beta = Param::from_tensor(r(-0.5, 0.5));
        norm.running_mean = RunningState::new(r(-0.3, 0.3));
        norm.running_var = RunningState::new(r(0.2, 2.0));
        ConvBlock { norm, ..block }
    }

    #[test]
    fn folding_batch_norms_keeps_the_function() {
        let device = Device::flex();
        let mut net = CrnnConfig::new(117).init(&device);
        net.b1 = with_statistics(net.b1, &device);
        net.b2 = with_statistics(net.b2, &device);
        net.b3 = with_statistics(net.b3, &device);
        net.b4 = with_statistics(net.b4, &device);
        net.b5 = with_statistics(net.b5, &device);
        let x = Tensor::<4>::random(
            [3, 1, LINE_HEIGHT, 64],
            Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let plain = net.forward(x.clone());
        let folded = net.fold_batch_norms().forward(x);
        let scale: f32 = plain.clone().abs().max().into_scalar();
        let diff: f32 = (plain - folded).abs().max().into_scalar();
        assert!(scale > 1e-3, "outputs are not trivially zero: {scale}");
        assert!(
            diff <= 1e-4 * scale.max(1.0),
            "max difference {diff} (scale {scale})"
        );
    }

    #[test]
    fn a_line_reads_the_same_in_a_padded_batch_as_alone() {
        use burn::tensor::s;
        let device = Device::flex();
        let mut config = CrnnConfig::new(20);
        config.lstm_layers = 2;
        let net = config.init(&device).for_inference(&device);
        let widths = [48usize, 16, 32, 48, 8];
        let lines: Vec<Tensor<4>> = widths
            .iter()
            .map(|&w| {
                Tensor::random(
                    [1, 1, LINE_HEIGHT, w],
                    Distribution::Uniform(0.0, 1.0),
                    &device,
                )
            })
            .collect();
        let padded: Vec<Tensor<4>> = lines
            .iter()
            .zip(widths)
            .map(|(l, w)| {
                Tensor::zeros([1, 1, LINE_HEIGHT, 48], &device)
                    .slice_assign(s![.., .., .., 0..w], l.clone())
            })
            .collect();
        let batch = net.forward_lines(Tensor::cat(padded, 0), &widths);
        for (k, (line, w)) in lines.into_iter().zip(widths).enumerate() {
            let alone = net.forward_lines(line, &[w]);
            let frames = w / 4;
            let got = batch.clone().slice(s![k..k + 1, 0..frames]);
            let scale: f32 = alone.clone().abs().max().into_scalar();
            let diff: f32 = (got - alone).abs().max().into_scalar();
            assert!(scale > 1e-3, "line {k}: logits are not trivially zero");
            assert!(diff <= 1e-5, "line {k} ({w} px): max difference {diff}");
        }
    }

    #[test]
    fn a_grown_network_computes_what_it_was_grown_from() {
        use burn::store::ModuleRecord;
        let device = Device::flex();
        let small = CrnnConfig::new(117).init(&device);
        let mut config = CrnnConfig::new(117);
        config.lstm_layers = 3;
        let bytes = small.clone().into_record().into_bytes().unwrap();
        let record = ModuleRecord::from_bytes(bytes).unwrap().allow_partial(true);
        let grown = config.init(&device).try_load_record(record).unwrap();
        assert!(grown.num_params() > small.num_params());
        assert!(config.flops_per_frame() > CrnnConfig::new(117).flops_per_frame());
        let x = Tensor::<4>::random(
            [2, 1, LINE_HEIGHT, 48],
            Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let diff: f32 = (small.forward(x.clone()) - grown.forward(x))
            .abs()
            .max()
            .into_scalar();
        assert!(diff <= 1e-6, "max difference {diff}");
    }
}
