//! ferrocr: a GPU-accelerated, high-throughput document OCR engine and server.
//!
//! The pipeline is one module per stage, each callable alone, behind the [`engine::Engine`]
//! facade: [`decode`] -> [`preprocess`] -> [`layout`] -> [`recognize`] -> [`assemble`] ->
//! [`render`]. [`train`] holds the synthetic-data generator and training loop of the recogniser.

pub mod assemble;
pub mod batcher;
pub mod cli;
pub mod compute;
pub mod config;
pub mod decode;
pub mod document;
pub mod engine;
pub mod error;
pub mod eval;
pub mod geometry;
pub mod histogram;
pub mod jobs;
pub mod layout;
pub mod lines;
pub mod loadgen;
pub mod metrics;
pub mod options;
pub mod orient;
pub mod pipeline;
pub mod preprocess;
pub mod prerequisite;
pub mod recognize;
pub mod render;
pub mod selftest;
pub mod server;
pub mod text_layer;
pub mod train;
pub mod worker;

pub use document::Document;
pub use error::{ErrorKind, OcrError, Result};
pub use geometry::BBox;
