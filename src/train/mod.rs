//! Training the recogniser: synthetic lines generated in Rust at train time ([`synth`]),
//! batched for CTC ([`data`]), the training loop with validation ([`trainer`]) and resumable
//! checkpoints ([`checkpoint`]), and weight averaging of checkpoints ([`average`]).

pub mod average;
pub mod checkpoint;
pub mod data;
pub mod synth;
pub mod trainer;
