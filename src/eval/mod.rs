//! Measuring recognition: text metrics (CER/WER as `../shared/eval/ocr_eval.py` defines them),
//! labelled line sets in the `lines.jsonl` format, and confidence calibration.

pub mod calibration;
pub mod lines;
pub mod metrics;
