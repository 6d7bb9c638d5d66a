//! The burn CRNN as a [`LineNetwork`]: weights loaded from the model artefact onto a burn
//! device (`flex` on the CPU, `wgpu` on a GPU) and prepared for inference there
//! ([`Crnn::for_inference`]: host recurrence on the CPU, fused recurrence kernel on a GPU), one
//! forward pass per planned batch, posteriors softmaxed with the artefact's calibration
//! temperature.

use std::time::Instant;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::activation::softmax;
use burn::tensor::{Bytes, Device, Tensor, TensorData};

use super::batching::{BatchPolicy, stack_lines};
use super::crnn::Crnn;
use super::model::ModelArtifact;
use super::network::{LineNetwork, Posteriors};
use super::stage_clock::StageClock;
use crate::error::{OcrError, Result};
use crate::lines::{LINE_HEIGHT, LineImage};

/// The burn CRNN on one device (see the module docs).
pub struct CrnnNetwork {
    model: Crnn,
    device: Device,
    classes: usize,
    temperature: f32,
    name: String,
    backend: String,
    policy: BatchPolicy,
    /// Most padded pixels per forward pass the device itself allows (its largest tensor over
    /// the network's largest activation per pixel); `None` on the CPU.
    pub(super) device_max_pixels: Option<usize>,
    /// Sync the device between the backbone and the recurrent half of every pass to time each
    /// ([`Self::with_split_forward`]).
    split_forward: bool,
}

impl CrnnNetwork {
    /// Load `artifact` onto `device` (weights as trained, BatchNorm folded into the convs).
    pub fn new(artifact: &ModelArtifact, device: Device, backend: &str) -> Result<Self> {
        artifact.config.validate()?;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(artifact.weights.clone()))
            .map_err(|e| OcrError::Model(format!("cannot read weights: {e:?}")))?;
        let model = artifact
            .config
            .architecture
            .init(&device)
            .try_load_record(record)
            .map_err(|e| OcrError::Model(format!("weights do not fit the architecture: {e:?}")))?
            .for_inference(&device);
        let device_max_pixels = crate::compute::device::max_tensor_bytes(&device, backend)
            .map(|bytes| artifact.config.architecture.max_pass_pixels(bytes));
        Ok(CrnnNetwork {
            model,
            device,
            classes: artifact.config.architecture.num_classes,
            temperature: artifact.config.temperature,
            name: artifact.config.name.clone(),
            backend: backend.to_string(),
            policy: BatchPolicy::default(),
            device_max_pixels,
            split_forward: false,
        })
    }

    /// An in-memory network (training's validation), prepared for inference on `device`; pass
    /// a copy that is not trained further.
    pub fn from_model(model: Crnn, device: Device, classes: usize, temperature: f32) -> Self {
        CrnnNetwork {
            model: model.for_inference(&device),
            device,
            classes,
            temperature,
            name: "in-training".into(),
            backend: "training".into(),
            policy: BatchPolicy::default(),
            device_max_pixels: None,
            split_forward: false,
        }
    }

    /// Replace the batching policy. Its `max_pixels` is still held within what the device
    /// allows ([`LineNetwork::pass_policy`]).
    pub fn with_policy(mut self, policy: BatchPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Time the convolutional backbone of every forward pass apart from the recurrent half
    /// (reported as [`super::stage_clock::StageSeconds::backbone_s`]), by waiting for the
    /// device between them: names the half that limits a GPU's lines/s, at the cost of one
    /// sync per pass. For `eval-lines --split-forward`; results are unchanged.
    pub fn with_split_forward(mut self) -> Self {
        self.split_forward = true;
        self
    }

    /// The model's name (from its artefact).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl LineNetwork for CrnnNetwork {
    fn classes(&self) -> usize {
        self.classes
    }

    /// The configured policy, its `max_pixels` lowered to what the device allows, so that no
    /// activation outgrows the device's largest buffer (128 MiB on Mesa's lavapipe: about
    /// 2.1 M padded pixels for the shipped model).
    fn pass_policy(&self) -> BatchPolicy {
        match self.device_max_pixels {
            Some(cap) => BatchPolicy {
                max_pixels: self.policy.max_pixels.min(cap),
                ..self.policy
            },
            None => self.policy,
        }
    }

    /// The backend's failures (a device out of memory, a lost device) are
    /// [`OcrError::Backend`], named by their root cause.
    fn forward(&self, lines: &[&LineImage], clock: &StageClock) -> Result<Posteriors> {
        let (data, n, max_w) = stack_lines(lines.iter().copied());
        let x = Tensor::<4>::from_data(
            TensorData::new(data, [n, 1, LINE_HEIGHT, max_w]),
            &self.device,
        );
        let widths: Vec<usize> = lines.iter().map(|l| l.width).collect();
        let fail = |e: String| {
            OcrError::Backend(format!(
                "forward pass of {n} lines x {max_w} px on {} failed: {}",
                self.backend,
                root_cause(&e)
            ))
        };
        let logits = if self.split_forward {
            let started = Instant::now();
            let (features, lengths) = self.model.backbone(x, Some(&widths));
            // A device sync: every queued operation (fusion flushes) has run when it returns.
            // (Reading one value back may wait only for the kernels that value depends on.)
            self.device.sync().map_err(|e| fail(e.to_string()))?;
            clock.add_backbone(started.elapsed());
            self.model.sequence(features, lengths.as_deref())
        } else {
            self.model.forward_lines(x, &widths)
        };
        let [_, frames, _] = logits.dims();
        let probs = softmax(logits / self.temperature as f64, 2);
        let values = probs
            .try_into_data()
            .map_err(|e| fail(e.to_string()))?
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        Ok(Posteriors {
            values,
            frames,
            classes: self.classes,
        })
    }

    fn describe(&self) -> String {
        format!("CRNN model '{}' on {}", self.name, self.backend)
    }
}

/// The innermost cause of a backend error report: its last line that is neither blank nor
/// about backtraces (burn's execution errors nest causes and skip records over many lines).
fn root_cause(report: &str) -> &str {
    report
        .lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.contains("backtrace")
                && !l.starts_with("Asked at")
                && !l.starts_with("Caused by")
        })
        .unwrap_or(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_failures_are_reported_by_their_root_cause() {
        let report = "An error happened during execution\nCaused by:\n  Several failures at once\n\
                      Caused by:\n  can't allocate buffer of size: 253231104\nNo backtrace available\n\
                      Asked at:\nNo backtrace available\n";
        assert_eq!(
            root_cause(report),
            "can't allocate buffer of size: 253231104"
        );
        assert_eq!(root_cause("plain"), "plain");
    }
}
