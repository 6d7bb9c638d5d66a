//! The wgpu device of the preprocessing kernels: adapter choice (the policy of
//! [`crate::compute::device`]), device creation, and error capture.
//!
//! wgpu reports validation errors, out-of-memory and device loss through callbacks and error
//! scopes, and panics by default on uncaptured errors; a server must never panic on a driver
//! problem, so every such report is turned into [`OcrError::Backend`] and the caller falls back
//! to the CPU implementations.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::compute::device::{AdapterReport, DevicePreference, software_adapter_allowed};
use crate::error::{OcrError, Result};

/// Preference rank of an adapter type (lower is better); `None` = refused by the policy.
fn rank(kind: wgpu::DeviceType, allow_software: bool) -> Option<u8> {
    match kind {
        wgpu::DeviceType::DiscreteGpu => Some(0),
        wgpu::DeviceType::IntegratedGpu => Some(1),
        wgpu::DeviceType::VirtualGpu => Some(2),
        wgpu::DeviceType::Cpu | wgpu::DeviceType::Other if allow_software => Some(3),
        _ => None,
    }
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN))
    }))
    .unwrap_or_default()
}

/// Every adapter wgpu finds (Vulkan), with whether the current policy would accept it.
pub fn list_adapters() -> Vec<AdapterReport> {
    let allow = software_adapter_allowed();
    enumerate(&instance())
        .iter()
        .map(|a| {
            let i = a.get_info();
            AdapterReport {
                name: i.name.clone(),
                device_type: format!("{:?}", i.device_type),
                backend: format!("{:?}", i.backend),
                driver: i.driver.clone(),
                driver_info: i.driver_info.clone(),
                acceptable: rank(i.device_type, allow).is_some(),
            }
        })
        .collect()
}

/// The largest buffer one binding may use on the Vulkan adapter named `name`
/// (`min(max_storage_buffer_binding_size, max_buffer_size)`, the bound burn-wgpu's allocator
/// puts on a single tensor), or `None` when no adapter has that name.
pub fn adapter_max_binding_bytes(name: &str) -> Option<u64> {
    enumerate(&instance())
        .iter()
        .find(|a| a.get_info().name == name)
        .map(|a| {
            let l = a.limits();
            l.max_storage_buffer_binding_size.min(l.max_buffer_size)
        })
}

/// A wgpu device and queue for the WGSL kernels, with the facts `doctor` reports.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    /// The chosen adapter.
    pub info: wgpu::AdapterInfo,
    /// The device's limits (the adapter's own limits are requested, not wgpu's defaults).
    pub limits: wgpu::Limits,
    /// Why this adapter was chosen.
    pub reason: String,
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info.name)
            .field("reason", &self.reason)
            .finish()
    }
}

impl GpuContext {
    /// Open the best adapter the policy allows: discrete, then integrated, then virtual GPUs;
    /// software adapters (lavapipe) only with `FERROCR_ALLOW_SOFTWARE_ADAPTER=1`.
    /// `DevicePreference::Cpu` and "no acceptable adapter" are errors: the caller runs the CPU
    /// implementations instead.
    pub fn new(preference: DevicePreference) -> Result<Self> {
        if preference == DevicePreference::Cpu {
            return Err(OcrError::Backend(
                "--device cpu: GPU kernels disabled".into(),
            ));
        }
        crate::compute::cache::configure_caches();
        let allow = software_adapter_allowed();
        let instance = instance();
        let mut adapters: Vec<(u8, wgpu::Adapter)> = enumerate(&instance)
            .into_iter()
            .filter_map(|a| rank(a.get_info().device_type, allow).map(|r| (r, a)))
            .collect();
        adapters.sort_by_key(|(r, _)| *r);
        let mut tried = Vec::new();
        for (_, adapter) in adapters {
            let info = adapter.get_info();
            match Self::open(&adapter) {
                Ok((device, queue)) => {
                    return Ok(Self::wrap(device, queue, info.clone(), adapter.limits(), {
                        format!(
                            "best acceptable Vulkan adapter: {} ({:?})",
                            info.name, info.device_type
                        )
                    }));
                }
                Err(e) => tried.push(format!("{}: {e}", info.name)),
            }
        }
        let why = if tried.is_empty() {
            if allow {
                "no Vulkan adapter found".to_string()
            } else {
                "no hardware Vulkan adapter found (software adapters need \
                 FERROCR_ALLOW_SOFTWARE_ADAPTER=1)"
                    .to_string()
            }
        } else {
            tried.join("; ")
        };
        Err(OcrError::Backend(format!(
            "no usable GPU for the kernels: {why}"
        )))
    }

    fn open(adapter: &wgpu::Adapter) -> std::result::Result<(wgpu::Device, wgpu::Queue), String> {
        let desc = wgpu::DeviceDescriptor {
            label: Some("ferrocr-kernels"),
            required_limits: adapter.limits(),
            ..Default::default()
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pollster::block_on(adapter.request_device(&desc))
        })) {
            Ok(Ok(dq)) => Ok(dq),
            Ok(Err(e)) => Err(format!("device creation failed: {e}")),
            Err(_) => Err("device creation panicked".into()),
        }
    }

    fn wrap(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        limits: wgpu::Limits,
        reason: String,
    ) -> Self {
        let lost = Arc::new(Mutex::new(None));
        let uncaptured = Arc::new(Mutex::new(None));
        let l = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *l.lock() = Some(format!("{reason:?}: {msg}"));
        });
        let u = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            u.lock().get_or_insert_with(|| e.to_string());
        }));
        GpuContext {
            device,
            queue,
            info,
            limits,
            reason,
            lost,
            uncaptured,
        }
    }

    /// `Err` when the device was lost or reported an error outside a batch; a lost device stays
    /// lost, so callers should drop this context and use the CPU.
    pub fn health(&self) -> Result<()> {
        if let Some(why) = self.lost.lock().clone() {
            return Err(OcrError::Backend(format!("GPU device lost ({why})")));
        }
        if let Some(why) = self.uncaptured.lock().take() {
            return Err(OcrError::Backend(format!("GPU error: {why}")));
        }
        Ok(())
    }

    /// Largest buffer one binding may use on this device.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Offset alignment of storage and uniform bindings.
    pub(crate) fn alignment(&self) -> u64 {
        (self.limits.min_storage_buffer_offset_alignment as u64)
            .max(self.limits.min_uniform_buffer_offset_alignment as u64)
            .max(256)
    }
}
