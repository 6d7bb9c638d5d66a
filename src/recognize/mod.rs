//! Recognition stage: normalised line images -> text with per-character probabilities.
//!
//! [`Recognizer`] is the narrow door the rest of the pipeline uses; [`CrnnRecognizer`] runs the
//! burn CRNN on the CPU (`flex`) or a GPU (`wgpu`), and tests use fakes behind the same trait.
//! Lines are batched by width: sorted, then cut where the cost model of [`plan_batches`] says
//! (a fixed cost per forward pass against the padded pixels), under line and pixel limits, so
//! the CPU pads little and a GPU sees large batches.

pub mod alphabet;
pub mod batching;
pub mod crnn;
pub mod ctc;
pub mod ctc_beam;
pub mod ctc_score;
pub mod fused_lstm;
pub mod host_lstm;
pub mod host_pool;
pub mod ink_box;
pub mod lexicon;
#[cfg(feature = "gpu")]
pub mod lstm_kernel;
#[cfg(test)]
mod lstm_lengths_tests;
pub mod model;
pub mod normalize;
pub mod numeric;
pub mod region;
pub mod skew;
pub mod stage_clock;
pub mod views;

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::activation::softmax;
use burn::tensor::{Bytes, Device, Tensor, TensorData};

use crate::error::{OcrError, Result};
use alphabet::Alphabet;
pub use batching::{BatchPolicy, CPU_PASS_COST_PIXELS, plan_batches, stack_lines};
use crnn::Crnn;
pub use ctc::{LineText, RecognizedChar};
use model::ModelArtifact;
pub use normalize::{
    LINE_HEIGHT, LineImage, WIDTH_MULTIPLE, normalize_line, normalize_line_with_views,
    normalize_page_line,
};

/// Reads normalised text lines. Implementations must be usable from many threads.
pub trait Recognizer: Send + Sync {
    /// Recognise each line; the output has one entry per input line, in order.
    fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>>;
    /// A one-line description (model name, backend) for logs and `doctor`.
    fn describe(&self) -> String;
    /// Whether it reads the views lines carry ([`views`]): callers draw them only then.
    fn reads_views(&self) -> bool {
        false
    }
    /// Time spent so far per recognition stage, where the implementation keeps count.
    fn stage_seconds(&self) -> Option<stage_clock::StageSeconds> {
        None
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

/// The burn CRNN behind the [`Recognizer`] trait.
pub struct CrnnRecognizer {
    model: Crnn,
    device: Device,
    alphabet: Alphabet,
    temperature: f32,
    name: String,
    backend: String,
    policy: BatchPolicy,
    /// Most padded pixels per forward pass the device itself allows (its largest tensor over
    /// the network's largest activation per pixel); `None` on the CPU.
    device_max_pixels: Option<usize>,
    lexicon: Option<Arc<lexicon::Lexicon>>,
    second_look: bool,
    beam: bool,
    /// Sync the device between the backbone and the recurrent half of every pass to time each
    /// ([`Self::with_split_forward`]).
    split_forward: bool,
    clock: Arc<stage_clock::StageClock>,
}

impl CrnnRecognizer {
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
        Ok(CrnnRecognizer {
            model,
            device,
            alphabet: artifact.config.alphabet(),
            temperature: artifact.config.temperature,
            name: artifact.config.name.clone(),
            backend: backend.to_string(),
            policy: BatchPolicy::default(),
            device_max_pixels,
            lexicon: artifact
                .lexicon
                .as_deref()
                .map(|t| Arc::new(lexicon::Lexicon::from_text(t))),
            second_look: false,
            beam: true,
            split_forward: false,
            clock: Arc::default(),
        })
    }

    /// Wrap an in-memory network (used by training's validation); its BatchNorms are folded
    /// as in [`CrnnRecognizer::new`], so pass a copy that is not trained further. It decodes
    /// greedily without a lexicon (the raw model, comparable over a training run's log).
    pub fn from_model(model: Crnn, device: Device, alphabet: Alphabet, temperature: f32) -> Self {
        CrnnRecognizer {
            model: model.for_inference(&device),
            device,
            alphabet,
            temperature,
            name: "in-training".into(),
            backend: "training".into(),
            policy: BatchPolicy::default(),
            device_max_pixels: None,
            lexicon: None,
            second_look: false,
            beam: false,
            split_forward: false,
            clock: Arc::default(),
        }
    }

    /// Decode without the model's lexicon (raw model output, for measuring the model alone).
    pub fn without_lexicon(mut self) -> Self {
        self.lexicon = None;
        self
    }

    /// Decode greedily (best class per frame) instead of by prefix beam search ([`ctc_beam`]).
    pub fn greedy(mut self) -> Self {
        self.beam = false;
        self
    }

    /// Give lines it is unsure of a second look, from the views they carry ([`views`]).
    pub fn with_second_look(mut self) -> Self {
        self.second_look = true;
        self
    }

    /// Time the convolutional backbone of every forward pass apart from the recurrent half
    /// (reported as [`stage_clock::StageSeconds::backbone_s`]), by waiting for the device
    /// between them: names the half that limits a GPU's lines/s, at the cost of one sync per
    /// pass. For `eval-lines --split-forward`; results are unchanged.
    pub fn with_split_forward(mut self) -> Self {
        self.split_forward = true;
        self
    }

    /// Replace the batching policy. Its `max_pixels` is still held within what the device
    /// allows ([`Self::pass_policy`]).
    pub fn with_policy(mut self, policy: BatchPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy passes are planned with: the configured one, its `max_pixels` lowered to
    /// what the device allows, so that no activation outgrows the device's largest buffer
    /// (128 MiB on Mesa's lavapipe: about 2.1 M padded pixels for the shipped model).
    pub fn pass_policy(&self) -> BatchPolicy {
        match self.device_max_pixels {
            Some(cap) => BatchPolicy {
                max_pixels: self.policy.max_pixels.min(cap),
                ..self.policy
            },
            None => self.policy,
        }
    }

    /// Per-line class probabilities (softmax with the calibration temperature), one
    /// `frames x classes` row-major vector per line (`frames = content_width / 4`), in input
    /// order: what [`Recognizer::recognize`] decodes. Public so that backends can be compared
    /// (the GPU parity test and `ferrocr doctor`).
    pub fn line_probabilities(&self, lines: &[LineImage]) -> Result<Vec<Vec<f32>>> {
        let widths: Vec<usize> = lines.iter().map(|l| l.width).collect();
        let classes = self.alphabet.num_classes();
        let mut out = vec![Vec::new(); lines.len()];
        for batch in plan_batches(&widths, self.pass_policy()) {
            let refs: Vec<&LineImage> = batch.iter().map(|&i| &lines[i]).collect();
            let (probs, t) = self.forward_batch(&refs)?;
            if probs.len() != refs.len() * t * classes {
                return Err(OcrError::Backend("model output has the wrong size".into()));
            }
            for (k, &i) in batch.iter().enumerate() {
                let frames = (lines[i].content_width.div_ceil(WIDTH_MULTIPLE)).min(t);
                out[i] = probs[k * t * classes..(k * t + frames) * classes].to_vec();
            }
        }
        Ok(out)
    }

    /// Decode one line's `frames x classes` posteriors (as [`Self::line_probabilities`] gives
    /// them): CTC prefix beam search (or greedy, see [`Self::greedy`]), then the lexicon (when
    /// the model has one) and numeric context.
    pub fn decode_probabilities(&self, probs: &[f32]) -> LineText {
        let classes = self.alphabet.num_classes();
        let frames = probs.len() / classes;
        let mut text = if self.beam {
            ctc_beam::decode(probs, frames, classes, &self.alphabet)
        } else {
            ctc::greedy_decode(probs, frames, classes, &self.alphabet)
        };
        if let Some(lex) = &self.lexicon {
            lexicon::correct_line(&mut text, probs, classes, &self.alphabet, lex);
        }
        numeric::fix_numeric_context(&mut text);
        text
    }

    /// Output classes of the model (alphabet + blank).
    pub fn num_classes(&self) -> usize {
        self.alphabet.num_classes()
    }

    /// Per-frame class probabilities of one batch: returns (probs, frames per line padded), or
    /// the backend's failure (a device out of memory, a lost device) as [`OcrError::Backend`].
    fn forward_batch(&self, lines: &[&LineImage]) -> Result<(Vec<f32>, usize)> {
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
            self.clock.add_backbone(started.elapsed());
            self.model.sequence(features, lengths.as_deref())
        } else {
            self.model.forward_lines(x, &widths)
        };
        let [_, t, _] = logits.dims();
        let probs = softmax(logits / self.temperature as f64, 2);
        let v = probs
            .try_into_data()
            .map_err(|e| fail(e.to_string()))?
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        Ok((v, t))
    }
}

impl CrnnRecognizer {
    /// One reading per line, in order: batched forward passes, then decoding.
    fn read(&self, lines: &[&LineImage]) -> Result<Vec<LineText>> {
        let widths: Vec<usize> = lines.iter().map(|l| l.width).collect();
        let classes = self.alphabet.num_classes();
        let mut out: Vec<LineText> = vec![LineText::default(); lines.len()];
        for batch in plan_batches(&widths, self.pass_policy()) {
            let refs: Vec<&LineImage> = batch.iter().map(|&i| lines[i]).collect();
            let started = Instant::now();
            let (probs, t) = self.forward_batch(&refs)?;
            let batch_widths: Vec<usize> = refs.iter().map(|l| l.width).collect();
            self.clock.add_forward(started.elapsed(), &batch_widths);
            if probs.len() != refs.len() * t * classes {
                return Err(OcrError::Backend(format!(
                    "model output has {} values, expected {}",
                    probs.len(),
                    refs.len() * t * classes
                )));
            }
            // Lines decode independently: spread them over the rayon pool (a GPU batch of
            // thousands of lines would otherwise wait on one core).
            let started = Instant::now();
            let texts: Vec<LineText> = batch
                .par_iter()
                .enumerate()
                .map(|(k, &i)| {
                    let frames = (lines[i].content_width.div_ceil(WIDTH_MULTIPLE)).min(t);
                    self.decode_probabilities(&probs[k * t * classes..(k * t + frames) * classes])
                })
                .collect();
            self.clock.add_decode(started.elapsed());
            for (&i, text) in batch.iter().zip(texts) {
                out[i] = text;
            }
        }
        Ok(out)
    }
}

impl Recognizer for CrnnRecognizer {
    /// Reads every line, then gives the lines it is unsure of that carry views a second look
    /// ([`views`]): all their views in one more batched call, keeping the best reading.
    fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>> {
        let mut out = self.read(&lines.iter().collect::<Vec<_>>())?;
        if !self.second_look {
            return Ok(out);
        }
        let unsure: Vec<usize> = (0..lines.len())
            .filter(|&i| !lines[i].views.is_empty() && views::wants_second_look(&out[i]))
            .collect();
        if unsure.is_empty() {
            return Ok(out);
        }
        let others: Vec<&LineImage> = unsure.iter().flat_map(|&i| &lines[i].views).collect();
        let mut texts = self.read(&others)?.into_iter();
        for &i in &unsure {
            let mut best = views::reading_score(&out[i]);
            for view in &lines[i].views {
                let text = texts.next().unwrap_or_default();
                let score = views::reading_score(&text);
                if score > best {
                    best = score;
                    out[i] = views::into_line_frames(text, view, &lines[i]);
                }
            }
        }
        Ok(out)
    }

    fn reads_views(&self) -> bool {
        self.second_look
    }

    fn stage_seconds(&self) -> Option<stage_clock::StageSeconds> {
        Some(self.clock.seconds())
    }

    fn describe(&self) -> String {
        let lex = match &self.lexicon {
            Some(l) => format!(", lexicon of {} words", l.len()),
            None => String::new(),
        };
        format!("CRNN model '{}' on {}{lex}", self.name, self.backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_stay_within_what_the_device_allows() {
        let artifact = ModelArtifact::embedded().expect("model");
        let mut rec = CrnnRecognizer::new(&artifact, Device::flex(), "cpu").expect("model");
        assert_eq!(rec.device_max_pixels, None, "the CPU has no buffer bound");
        let policy = BatchPolicy::fewest_passes(1024, 5000);
        rec = rec.with_policy(policy);
        assert_eq!(rec.pass_policy(), policy);
        rec.device_max_pixels = Some(1000);
        assert_eq!(rec.pass_policy().max_pixels, 1000);
        assert_eq!(rec.pass_policy().max_lines, 1024);
        rec.device_max_pixels = Some(9000);
        assert_eq!(rec.pass_policy(), policy);
    }

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

    /// An unbounded pixel budget makes the pass cost `usize::MAX`: the costs saturate rather
    /// than wrap (which made every line its own pass).
    #[test]
    fn an_unbounded_budget_gives_one_pass() {
        let policy = BatchPolicy::fewest_passes(8, usize::MAX);
        assert_eq!(
            plan_batches(&[100; 8], policy),
            vec![(0..8).collect::<Vec<_>>()]
        );
    }

    #[test]
    fn batches_are_sorted_and_bounded() {
        let widths = [400, 40, 800, 40, 120, 1600];
        // Passes cost nothing: every line alone is cheapest (no padding).
        let free = BatchPolicy {
            max_lines: 2,
            max_pixels: LINE_HEIGHT * 1000,
            pass_cost_pixels: 0,
        };
        let b = plan_batches(&widths, free);
        assert_eq!(
            b,
            vec![vec![1], vec![3], vec![4], vec![0], vec![2], vec![5]]
        );
        assert!(plan_batches(&[], free).is_empty());
        // Costly passes: as few as the limits allow (2 lines, 1000 px padded).
        let costly = BatchPolicy::fewest_passes(2, LINE_HEIGHT * 1000);
        let b = plan_batches(&widths, costly);
        assert_eq!(b, vec![vec![1, 3], vec![4, 0], vec![2], vec![5]]);
    }

    #[test]
    fn the_planner_trades_passes_against_padding() {
        // Ten narrow lines and two wide ones: one pass would pad the narrow lines to 1000 px.
        let mut widths = vec![100usize; 10];
        widths.extend([1000, 1000]);
        let policy = BatchPolicy {
            max_lines: 64,
            max_pixels: LINE_HEIGHT * 512 * 64,
            pass_cost_pixels: LINE_HEIGHT * 400,
        };
        let b = plan_batches(&widths, policy);
        assert_eq!(b, vec![(0..10).collect::<Vec<_>>(), vec![10, 11]]);
        // Every line is planned exactly once, whatever the widths.
        let widths: Vec<usize> = (0..300).map(|i| 8 + (i * 37 % 1500)).collect();
        let b = plan_batches(&widths, BatchPolicy::default());
        let mut seen: Vec<usize> = b.concat();
        seen.sort();
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        assert!(b.iter().all(|x| x.len() <= 64));
    }

    #[test]
    fn unsure_lines_are_read_again_from_their_views() {
        let artifact = ModelArtifact::embedded().expect("the shipped model is embedded");
        let rec = CrnnRecognizer::new(&artifact, Device::flex(), "cpu")
            .expect("model")
            .with_second_look();
        assert!(rec.reads_views());
        let page = image::load_from_memory(include_bytes!("../../tests/data/sample-letter.png"))
            .expect("sample page")
            .to_luma8();
        let line = normalize_line_with_views(&page, crate::BBox::new(125, 98, 500, 162));
        assert_eq!(line.views.len(), views::SECOND_LOOK_VIEWS);
        let plain = LineImage {
            views: Vec::new(),
            ..line.clone()
        };
        let first = rec.recognize(std::slice::from_ref(&plain)).expect("read");
        assert_eq!(first[0].text, "ferrocr sample letter");
        // A sure reading is kept even when its views hold nothing.
        let mut blank_views = line.clone();
        blank_views
            .views
            .iter_mut()
            .for_each(|v| v.pixels.fill(0.0));
        assert_eq!(rec.recognize(&[blank_views]).expect("read"), first);
        // Nothing readable in the line itself: its views are read, in the line's frames.
        let mut blank = line.clone();
        blank.pixels.fill(0.0);
        let again = rec.recognize(&[blank]).expect("read").remove(0);
        assert_eq!(again.text, "ferrocr sample letter");
        // Without the second look, the views are ignored.
        let once = CrnnRecognizer::new(&artifact, Device::flex(), "cpu").expect("model");
        assert!(!once.reads_views());
        let mut blank = line.clone();
        blank.pixels.fill(0.0);
        assert_eq!(once.recognize(&[blank]).expect("read")[0].text, "");
        let frames = line.content_width.div_ceil(WIDTH_MULTIPLE);
        assert_eq!(again.frames, frames);
        assert!(
            again
                .chars
                .iter()
                .all(|c| c.first_frame <= c.last_frame && c.last_frame < frames)
        );
        assert!(
            again
                .chars
                .windows(2)
                .all(|w| w[0].first_frame <= w[1].first_frame)
        );
    }
}
