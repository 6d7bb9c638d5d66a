//! Compute backends: choosing the device (GPU through burn-wgpu, or the CPU) with fallback.

pub mod device;
