//! Compute backends: choosing the device (GPU through burn-wgpu, or the CPU) with fallback,
//! the WGSL preprocessing kernels ([`gpu`]), and the persistent kernel caches ([`cache`]).

pub mod cache;
pub mod device;
pub mod gpu;

use std::sync::Arc;

use crate::preprocess::PageKernels;
use device::SelectedDevice;

/// A CPU-only build preprocesses pages on the CPU.
#[cfg(not(feature = "gpu"))]
pub fn page_kernels(_selected: &SelectedDevice) -> Option<Arc<dyn PageKernels>> {
    None
}

/// On a GPU node, the WGSL page kernels (opened on the same adapter policy as the model); `None`
/// on the CPU backend or when they cannot start (logged; pages are then preprocessed on the CPU).
#[cfg(feature = "gpu")]
pub fn page_kernels(selected: &SelectedDevice) -> Option<Arc<dyn PageKernels>> {
    use device::DevicePreference;
    use gpu::GpuPreprocessor;
    if selected.backend != "gpu" {
        return None;
    }
    match GpuPreprocessor::open(DevicePreference::Gpu) {
        Ok(gpu) => {
            tracing::info!(adapter = %gpu.context().info.name, "page preprocessing on the GPU");
            Some(Arc::new(gpu))
        }
        Err(e) => {
            tracing::warn!(error = %e, "GPU page kernels unavailable; preprocessing on the CPU");
            None
        }
    }
}
