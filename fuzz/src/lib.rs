//! The fuzz targets, shared with `tests/fuzz.rs` (the CI run over the kept corpus).
#[path = "../../tests/fuzz/targets.rs"]
pub mod targets;
