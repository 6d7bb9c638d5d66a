//! Compute backends: choosing the device (GPU through burn-wgpu, or the CPU) with fallback,
//! the WGSL preprocessing kernels ([`gpu`]), and the persistent kernel caches ([`cache`]).

pub mod cache;
pub mod device;
pub mod gpu;
