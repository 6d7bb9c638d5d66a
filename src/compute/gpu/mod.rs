//! The GPU path of the preprocessing: WGSL kernels (`shaders/*.wgsl`) run through wgpu,
//! batched over many pages per command submission.
//!
//! Entry point for the page-batching stage: [`GpuPreprocessor`] (open it once per process with
//! [`GpuPreprocessor::open`], share it behind an `Arc`, call its `*_pages` methods with all the
//! pages of a batch). Every kernel has a CPU twin in [`crate::preprocess`] or
//! [`crate::lines::normalize`] that defines the expected result, and [`GpuPreprocessor`]
//! implements [`crate::preprocess::PageKernels`] so the batched page pipeline runs on it; any error is an
//! [`crate::OcrError::Backend`] after which the caller runs the CPU twin, so a machine without a
//! usable GPU produces the same output, only slower.
//!
//! The adapter policy is that of [`crate::compute::device`]: hardware adapters (discrete, then
//! integrated, then virtual), software adapters such as Mesa's lavapipe only with
//! `FERROCR_ALLOW_SOFTWARE_ADAPTER=1`. This wgpu device is separate from burn's (the CRNN runs
//! on burn-wgpu, see [`crate::recognize::CrnnRecognizer`]): both open the same physical GPU.

//!
//! Built only with the `gpu` cargo feature (on by default). The checks that compare these
//! kernels and the GPU model with their CPU twins live in [`crate::selftest`].

#[cfg(feature = "gpu")]
mod batch;
#[cfg(feature = "gpu")]
mod context;
#[cfg(feature = "gpu")]
mod contrast;
#[cfg(feature = "gpu")]
mod kernels;
#[cfg(feature = "gpu")]
mod lines;
#[cfg(feature = "gpu")]
mod pool;
#[cfg(feature = "gpu")]
mod preprocessor;
#[cfg(feature = "gpu")]
pub mod shaders;

#[cfg(feature = "gpu")]
pub use context::{GpuContext, adapter_max_binding_bytes, list_adapters};
#[cfg(feature = "gpu")]
pub use pool::POOL_MAX_BYTES;
#[cfg(feature = "gpu")]
pub use preprocessor::{BATCH_BYTES, GpuPreprocessor};
