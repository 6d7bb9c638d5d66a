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
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::host_lstm::HostBiLstm;

use super::normalize::{LINE_HEIGHT, WIDTH_MULTIPLE};

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
        }
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
    /// ([`Crnn::fold_batch_norms`]) and, on the CPU backend, pooling done on the host (faster
    /// there, the same function). A prepared network must not be trained further.
    pub fn for_inference(self, device: &Device) -> Self {
        let cpu = *device == Device::flex();
        let host_lstm = cpu.then(|| {
            let layers = std::iter::once(&self.lstm).chain(self.deeper.iter().map(|l| &l.lstm));
            Arc::new(layers.map(HostBiLstm::new).collect())
        });
        Crnn {
            host_pool: cpu,
            host_lstm,
            ..self.fold_batch_norms()
        }
    }

    /// BiLSTM layer `i` (0: the first, then the residual ones) over `x`.
    fn bilstm(&self, i: usize, x: Tensor<3>) -> Tensor<3> {
        if let Some(host) = &self.host_lstm {
            return host[i].forward(x);
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
        let x = self.pool(self.b1.forward(x), 2);
        let x = self.pool(self.b2.forward(x), 2);
        let x = self.b3.forward(x);
        let x = self.pool(self.b4.forward(x), 1);
        let x = self.pool(self.b5.forward(x), 1);
        let [b, c, h, t] = x.dims();
        let x = x.reshape([b, c * h, t]).swap_dims(1, 2); // [b, t, c*h]
        let x = relu(self.proj.forward(x));
        let mut x = self.bilstm(0, x);
        for (i, layer) in self.deeper.iter().enumerate() {
            let y = self.bilstm(i + 1, x.clone());
            x = layer.residual(x, y);
        }
        self.head.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::RunningState;
    use burn::tensor::Distribution;

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
