//! Recognition stage: normalised line images -> text with per-character probabilities.
//!
//! [`Recognizer`] is the narrow door the rest of the pipeline uses. Below it, a recogniser is a
//! network and a decoder: [`LineRecognizer`] plans forward passes, asks its [`LineNetwork`]
//! for per-frame posteriors and decodes them (CTC beam or greedy, lexicon, numeric context,
//! second looks). [`CrnnRecognizer`] is that over the burn CRNN ([`CrnnNetwork`]) on the CPU
//! (`flex`) or a GPU (`wgpu`); tests drive the same decoder with a fake network
//! ([`network::fake`]), and fake whole recognisers behind [`Recognizer`] where they only need
//! text. Lines are batched by width: sorted, then cut where the cost model of [`plan_batches`] says
//! (a fixed cost per forward pass against the padded pixels), under line and pixel limits, so
//! the CPU pads little and a GPU sees large batches.

pub mod alphabet;
pub mod batching;
pub mod crnn;
pub mod crnn_network;
pub mod ctc;
pub mod ctc_beam;
pub mod ctc_score;
pub mod fused_lstm;
pub mod host_lstm;
pub mod host_pool;
pub mod lexicon;
#[cfg(feature = "gpu")]
pub mod lstm_kernel;
#[cfg(test)]
mod lstm_lengths_tests;
pub mod model;
pub mod network;
#[cfg(test)]
mod network_tests;
pub mod numeric;
pub mod region;
pub mod stage_clock;
pub mod views;
pub mod warm_up;

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use burn::tensor::Device;

use crate::error::{OcrError, Result};
pub use crate::lines::{
    LINE_HEIGHT, LineImage, WIDTH_MULTIPLE, normalize_line, normalize_line_with_views,
    normalize_page_line,
};
use alphabet::Alphabet;
pub use batching::{BatchPolicy, CPU_PASS_COST_PIXELS, plan_batches, stack_lines};
use crnn::Crnn;
pub use crnn_network::CrnnNetwork;
pub use ctc::{LineText, RecognizedChar};
use model::ModelArtifact;
pub use network::{LineNetwork, Posteriors};

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

/// A recogniser made of a [`LineNetwork`] and the decoder over its posteriors: CTC prefix beam
/// search (or greedy decoding), the model's lexicon, numeric context, and optionally a second
/// look at unsure lines from their views.
pub struct LineRecognizer<N: LineNetwork> {
    network: N,
    alphabet: Alphabet,
    lexicon: Option<Arc<lexicon::Lexicon>>,
    second_look: bool,
    beam: bool,
    clock: Arc<stage_clock::StageClock>,
}

/// The shipped recogniser: the burn CRNN and the decoder.
pub type CrnnRecognizer = LineRecognizer<CrnnNetwork>;

impl CrnnRecognizer {
    /// Load `artifact` onto `device` (weights as trained, BatchNorm folded into the convs),
    /// with the artefact's lexicon, decoding by beam search.
    pub fn new(artifact: &ModelArtifact, device: Device, backend: &str) -> Result<Self> {
        let network = CrnnNetwork::new(artifact, device, backend)?;
        let recognizer = LineRecognizer::from_network(network, artifact.config.alphabet());
        Ok(match artifact.lexicon.as_deref() {
            Some(text) => recognizer.with_lexicon(lexicon::Lexicon::from_text(text)),
            None => recognizer,
        })
    }

    /// Wrap an in-memory network (used by training's validation); its BatchNorms are folded
    /// as in [`CrnnRecognizer::new`], so pass a copy that is not trained further. It decodes
    /// greedily without a lexicon (the raw model, comparable over a training run's log).
    pub fn from_model(model: Crnn, device: Device, alphabet: Alphabet, temperature: f32) -> Self {
        let network = CrnnNetwork::from_model(model, device, alphabet.num_classes(), temperature);
        LineRecognizer::from_network(network, alphabet).greedy()
    }

    /// Replace the batching policy (see [`CrnnNetwork::with_policy`]).
    pub fn with_policy(mut self, policy: BatchPolicy) -> Self {
        self.network = self.network.with_policy(policy);
        self
    }

    /// Time the backbone of every pass apart (see [`CrnnNetwork::with_split_forward`]).
    pub fn with_split_forward(mut self) -> Self {
        self.network = self.network.with_split_forward();
        self
    }
}

impl<N: LineNetwork> LineRecognizer<N> {
    /// Decode `network`'s posteriors over `alphabet` (which must have the network's classes)
    /// by beam search, without a lexicon.
    pub fn from_network(network: N, alphabet: Alphabet) -> Self {
        LineRecognizer {
            network,
            alphabet,
            lexicon: None,
            second_look: false,
            beam: true,
            clock: Arc::default(),
        }
    }

    /// Correct readings with `lexicon` ([`lexicon::correct_line`]).
    pub fn with_lexicon(mut self, lexicon: lexicon::Lexicon) -> Self {
        self.lexicon = Some(Arc::new(lexicon));
        self
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

    /// The network under the decoder.
    pub fn network(&self) -> &N {
        &self.network
    }

    /// The policy passes are planned with ([`LineNetwork::pass_policy`]).
    pub fn pass_policy(&self) -> BatchPolicy {
        self.network.pass_policy()
    }

    /// Output classes of the model (alphabet + blank).
    pub fn num_classes(&self) -> usize {
        self.alphabet.num_classes()
    }

    /// Per-line class probabilities (softmax with the calibration temperature), one
    /// `frames x classes` row-major vector per line (`frames = content_width / 4`), in input
    /// order: what [`Recognizer::recognize`] decodes. Public so that backends can be compared
    /// (the GPU parity test and `ferrocr doctor`).
    pub fn line_probabilities(&self, lines: &[LineImage]) -> Result<Vec<Vec<f32>>> {
        let widths: Vec<usize> = lines.iter().map(|l| l.width).collect();
        let mut out = vec![Vec::new(); lines.len()];
        for batch in plan_batches(&widths, self.pass_policy()) {
            let refs: Vec<&LineImage> = batch.iter().map(|&i| &lines[i]).collect();
            let probs = self.pass(&refs)?;
            for (k, &i) in batch.iter().enumerate() {
                out[i] = probs.line(k, lines[i].content_width).to_vec();
            }
        }
        Ok(out)
    }

    /// Decode one line's `frames x classes` posteriors (as [`Self::line_probabilities`] gives
    /// them): CTC prefix beam search (or greedy, see [`Self::greedy`]), then the lexicon (when
    /// the recogniser has one) and numeric context.
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

    /// One forward pass, timed, its output checked against the alphabet and the lines.
    fn pass(&self, lines: &[&LineImage]) -> Result<Posteriors> {
        let started = Instant::now();
        let probs = self.network.forward(lines, &self.clock)?;
        let widths: Vec<usize> = lines.iter().map(|l| l.width).collect();
        self.clock.add_forward(started.elapsed(), &widths);
        let classes = self.alphabet.num_classes();
        if probs.classes != classes || !probs.holds(lines.len()) {
            return Err(OcrError::Backend(format!(
                "the network gave {} values of {} classes, expected {} lines x {} frames x {classes}",
                probs.values.len(),
                probs.classes,
                lines.len(),
                probs.frames,
            )));
        }
        Ok(probs)
    }

    /// One reading per line, in order: batched forward passes, then decoding.
    fn read(&self, lines: &[&LineImage]) -> Result<Vec<LineText>> {
        let widths: Vec<usize> = lines.iter().map(|l| l.width).collect();
        let mut out: Vec<LineText> = vec![LineText::default(); lines.len()];
        for batch in plan_batches(&widths, self.pass_policy()) {
            let refs: Vec<&LineImage> = batch.iter().map(|&i| lines[i]).collect();
            let probs = self.pass(&refs)?;
            // Lines decode independently: spread them over the rayon pool (a GPU batch of
            // thousands of lines would otherwise wait on one core).
            let started = Instant::now();
            let texts: Vec<LineText> = batch
                .par_iter()
                .enumerate()
                .map(|(k, &i)| self.decode_probabilities(probs.line(k, lines[i].content_width)))
                .collect();
            self.clock.add_decode(started.elapsed());
            for (&i, text) in batch.iter().zip(texts) {
                out[i] = text;
            }
        }
        Ok(out)
    }
}

impl<N: LineNetwork> Recognizer for LineRecognizer<N> {
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
        format!("{}{lex}", self.network.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_stay_within_what_the_device_allows() {
        let artifact = ModelArtifact::embedded().expect("model");
        let mut rec = CrnnRecognizer::new(&artifact, Device::flex(), "cpu").expect("model");
        assert_eq!(
            rec.network.device_max_pixels, None,
            "the CPU has no buffer bound"
        );
        let policy = BatchPolicy::fewest_passes(1024, 5000);
        rec = rec.with_policy(policy);
        assert_eq!(rec.pass_policy(), policy);
        rec.network.device_max_pixels = Some(1000);
        assert_eq!(rec.pass_policy().max_pixels, 1000);
        assert_eq!(rec.pass_policy().max_lines, 1024);
        rec.network.device_max_pixels = Some(9000);
        assert_eq!(rec.pass_policy(), policy);
    }

    /// An unbounded pixel budget makes the pass cost `usize::MAX`: the costs neither wrap (which
    /// made every line its own pass) nor saturate (which let one pass exceed `max_lines`).
    #[test]
    fn an_unbounded_budget_gives_one_pass() {
        let policy = BatchPolicy::fewest_passes(8, usize::MAX);
        assert_eq!(
            plan_batches(&[100; 8], policy),
            vec![(0..8).collect::<Vec<_>>()]
        );
        // ... and the line limit still cuts (the saturated costs used to tie, leaving one pass).
        let policy = BatchPolicy::fewest_passes(2, usize::MAX);
        let b = plan_batches(&[100; 5], policy);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b.iter().all(|p| p.len() <= 2), "{b:?}");
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
