//! Training batches: synthetic lines -> normalised line images + CTC targets.
//!
//! Sample `i` of a run is `SynthGenerator::sample(i)`, so a run is reproducible from its seed and
//! resumes exactly where it stopped. Lines whose label cannot be aligned by CTC (too few frames
//! for the characters plus the blanks between repeated characters) are skipped.

use crate::recognize::alphabet::Alphabet;
use crate::recognize::{LINE_HEIGHT, LineImage, WIDTH_MULTIPLE, normalize_line};
use crate::train::synth::SynthGenerator;

/// One prepared training example.
#[derive(Debug, Clone)]
pub struct Example {
    /// The normalised line.
    pub line: LineImage,
    /// Class indices of the label (no blanks).
    pub target: Vec<usize>,
    /// The label text.
    pub text: String,
}

/// A batch ready for the model: stacked pixels and padded targets.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[n, 1, LINE_HEIGHT, width]` pixels.
    pub pixels: Vec<f32>,
    /// Lines in the batch.
    pub n: usize,
    /// Padded width.
    pub width: usize,
    /// `[n, max_target]` class indices, padded with 0.
    pub targets: Vec<i64>,
    /// Longest target.
    pub max_target: usize,
    /// Frames per line (unpadded).
    pub input_lengths: Vec<i64>,
    /// Target length per line.
    pub target_lengths: Vec<i64>,
}

/// Frames CTC needs for `target`: one per label plus one blank between equal neighbours.
pub fn frames_needed(target: &[usize]) -> usize {
    target.len() + target.windows(2).filter(|w| w[0] == w[1]).count()
}

/// Make the example for sample `index`, or `None` when it cannot be trained on.
pub fn make_example(
    generator: &SynthGenerator,
    alphabet: &Alphabet,
    index: u64,
) -> Option<Example> {
    let s = generator.sample(index);
    let text = alphabet.canonicalize(&s.text);
    if text.trim().is_empty() {
        return None;
    }
    let target = alphabet.encode(&text);
    let line = normalize_line(&s.image, s.line_box);
    let frames = line.content_width.div_ceil(WIDTH_MULTIPLE);
    if frames < frames_needed(&target) {
        return None;
    }
    Some(Example { line, target, text })
}

/// Stack examples into a [`Batch`].
pub fn collate(examples: &[Example]) -> Batch {
    let (pixels, n, width) = crate::recognize::stack_lines(examples.iter().map(|e| &e.line));
    let max_target = examples
        .iter()
        .map(|e| e.target.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut targets = vec![0i64; n * max_target];
    for (k, e) in examples.iter().enumerate() {
        for (j, &c) in e.target.iter().enumerate() {
            targets[k * max_target + j] = c as i64;
        }
    }
    debug_assert_eq!(pixels.len(), n * LINE_HEIGHT * width);
    Batch {
        pixels,
        n,
        width,
        targets,
        max_target,
        input_lengths: examples
            .iter()
            .map(|e| e.line.content_width.div_ceil(WIDTH_MULTIPLE) as i64)
            .collect(),
        target_lengths: examples.iter().map(|e| e.target.len() as i64).collect(),
    }
}

/// Examples for indices starting at `start` until `count` usable ones were made; returns them
/// and the next unused index. Generation runs in parallel on the rayon pool.
pub fn make_examples(
    generator: &SynthGenerator,
    alphabet: &Alphabet,
    start: u64,
    count: usize,
) -> (Vec<Example>, u64) {
    use rayon::prelude::*;
    let mut out = Vec::with_capacity(count);
    let mut next = start;
    while out.len() < count {
        let want = (count - out.len()) as u64;
        let chunk: Vec<Example> = (next..next + want)
            .into_par_iter()
            .filter_map(|i| make_example(generator, alphabet, i))
            .collect();
        next += want;
        out.extend(chunk);
    }
    out.truncate(count);
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_frame_requirement_counts_repeats() {
        assert_eq!(frames_needed(&[1, 2, 3]), 3);
        assert_eq!(frames_needed(&[5, 5, 5]), 5);
        assert_eq!(frames_needed(&[]), 0);
    }
}
