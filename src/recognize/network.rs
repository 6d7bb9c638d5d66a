//! The seam under the recogniser: a [`LineNetwork`] turns a batch of normalised line images
//! into per-frame class posteriors; everything after that (CTC decoding, beam search, lexicon,
//! numeric context, confidences, second looks) is the network-independent
//! [`super::LineRecognizer`]. The shipped implementation is the burn CRNN
//! ([`super::crnn_network::CrnnNetwork`], on the CPU with the host recurrence or on a GPU with
//! the fused kernel); tests put fakes here and still run the real decoding.

use super::batching::BatchPolicy;
use super::stage_clock::StageClock;
use crate::error::Result;
use crate::lines::{LineImage, WIDTH_MULTIPLE};

/// Class posteriors of one forward pass: `lines x frames x classes`, row-major, every line
/// padded to the same `frames` (those past a line's own width are to be ignored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Posteriors {
    /// The values, each line's `frames x classes` block after the other.
    pub values: Vec<f32>,
    /// Frames per line (of the widest line of the pass).
    pub frames: usize,
    /// Classes per frame (the alphabet's characters and the CTC blank, class 0).
    pub classes: usize,
}

impl Posteriors {
    /// The `frames x classes` posteriors of line `k` of the pass over its own `content_width`
    /// columns (one frame per [`WIDTH_MULTIPLE`] columns), at most the pass's frames.
    pub fn line(&self, k: usize, content_width: usize) -> &[f32] {
        let own = content_width.div_ceil(WIDTH_MULTIPLE).min(self.frames);
        let start = k * self.frames * self.classes;
        &self.values[start..start + own * self.classes]
    }

    /// Whether the values hold `lines` lines of `frames x classes`.
    pub fn holds(&self, lines: usize) -> bool {
        self.values.len() == lines * self.frames * self.classes
    }
}

/// Line images in, per-frame class posteriors out. Implementations must be usable from many
/// threads; one call is one forward pass (the caller plans passes with [`Self::pass_policy`]).
pub trait LineNetwork: Send + Sync {
    /// Output classes per frame (alphabet + blank).
    fn classes(&self) -> usize;

    /// How lines are to be grouped into passes on this network's device.
    fn pass_policy(&self) -> BatchPolicy;

    /// One forward pass over `lines` (padded to the widest): softmax posteriors, one block of
    /// `frames x classes` per line in input order. `clock` is where the network may time its
    /// parts (the caller times the pass as a whole).
    fn forward(&self, lines: &[&LineImage], clock: &StageClock) -> Result<Posteriors>;

    /// A one-line description (model name, device) for logs and `doctor`.
    fn describe(&self) -> String;
}

#[cfg(test)]
pub mod fake {
    //! A fake [`LineNetwork`] for tests: posteriors written by hand, one script per line width,
    //! so that decoding, lexicon and confidence are tested without a model.

    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::recognize::alphabet::Alphabet;

    /// Posteriors scripted per line: a line `content_width` columns wide reads the frames
    /// registered for that width ([`FakeNetwork::script`]); any other line reads blank.
    pub struct FakeNetwork {
        classes: usize,
        scripts: HashMap<usize, Vec<f32>>,
        policy: BatchPolicy,
        /// Forward passes run.
        pub passes: AtomicUsize,
    }

    impl FakeNetwork {
        /// A network over `alphabet`'s classes that reads nothing until scripted.
        pub fn new(alphabet: &Alphabet) -> Self {
            FakeNetwork {
                classes: alphabet.num_classes(),
                scripts: HashMap::new(),
                policy: BatchPolicy::default(),
                passes: AtomicUsize::new(0),
            }
        }

        /// Lines `width` columns wide read `frames`: `frames x classes` probabilities, row-major
        /// (e.g. from `ctc_score::posteriors`), one frame per [`WIDTH_MULTIPLE`] columns.
        pub fn script(mut self, width: usize, frames: Vec<f32>) -> Self {
            assert_eq!(frames.len(), width.div_ceil(WIDTH_MULTIPLE) * self.classes);
            self.scripts.insert(width, frames);
            self
        }

        /// Passes of at most `lines` lines.
        pub fn with_max_lines(mut self, lines: usize) -> Self {
            self.policy = BatchPolicy::fewest_passes(lines, usize::MAX);
            self
        }
    }

    impl LineNetwork for FakeNetwork {
        fn classes(&self) -> usize {
            self.classes
        }

        fn pass_policy(&self) -> BatchPolicy {
            self.policy
        }

        fn forward(&self, lines: &[&LineImage], _clock: &StageClock) -> Result<Posteriors> {
            self.passes.fetch_add(1, Ordering::Relaxed);
            let widest = lines.iter().map(|l| l.width).max().unwrap_or(0);
            let frames = widest.div_ceil(WIDTH_MULTIPLE);
            let mut values = vec![0.0; lines.len() * frames * self.classes];
            for (k, line) in lines.iter().enumerate() {
                let block = &mut values[k * frames * self.classes..(k + 1) * frames * self.classes];
                // Blank everywhere, then the script over the line's own frames.
                block
                    .chunks_exact_mut(self.classes)
                    .for_each(|f| f[0] = 1.0);
                if let Some(script) = self.scripts.get(&line.content_width) {
                    block[..script.len()].copy_from_slice(script);
                }
            }
            Ok(Posteriors {
                values,
                frames,
                classes: self.classes,
            })
        }

        fn describe(&self) -> String {
            "fake network".into()
        }
    }
}
