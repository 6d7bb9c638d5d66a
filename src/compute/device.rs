//! Device selection: `auto` picks a hardware GPU adapter (discrete, then integrated, then
//! virtual) and never a software one; `gpu` fails clearly when none exists; `cpu` uses burn's
//! pure-Rust `flex` backend. Software adapters (Mesa lavapipe/llvmpipe) are accepted only when
//! `FERROCR_ALLOW_SOFTWARE_ADAPTER=1` (parity tests). When `auto` finds no usable adapter, or
//! creating the device fails (including a panic inside the driver stack), it falls back to the
//! CPU with one warning line; results are the same, only slower. A build without the `gpu`
//! cargo feature has no GPU backend: `auto` is the CPU (no warning, no driver probed) and `gpu`
//! is an error.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::{OcrError, Result};

/// What the user asked for (`--device`, env `FERROCR_DEVICE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// A hardware GPU when there is one, else the CPU.
    #[default]
    Auto,
    /// The CPU backend.
    Cpu,
    /// A GPU; an error when none is usable.
    Gpu,
}

/// The device chosen, with the facts `doctor`, logs and metrics report.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    /// The burn device to place tensors on.
    pub device: Device,
    /// "cpu" or "gpu".
    pub backend: &'static str,
    /// Adapter or backend name, e.g. "NVIDIA H100 80GB HBM3" or "flex (CPU)".
    pub adapter: String,
    /// Why this device was chosen.
    pub reason: String,
}

/// One adapter wgpu sees, as `ferrocr doctor` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    /// Adapter name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// wgpu device type: DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu or Other.
    pub device_type: String,
    /// Graphics API (this build enables Vulkan only).
    pub backend: String,
    /// Driver name.
    pub driver: String,
    /// Driver version details.
    pub driver_info: String,
    /// Whether the selection policy accepts it (software adapters only with
    /// `FERROCR_ALLOW_SOFTWARE_ADAPTER=1`).
    pub acceptable: bool,
}

/// True when `FERROCR_ALLOW_SOFTWARE_ADAPTER=1` permits software GPU adapters.
pub fn software_adapter_allowed() -> bool {
    std::env::var("FERROCR_ALLOW_SOFTWARE_ADAPTER").is_ok_and(|v| v == "1" || v == "true")
}

fn cpu_device(reason: String) -> SelectedDevice {
    SelectedDevice {
        device: Device::flex(),
        backend: "cpu",
        adapter: "flex (CPU)".to_string(),
        reason,
    }
}

/// Why a CPU-only build never selects a GPU.
#[cfg(not(feature = "gpu"))]
const NO_GPU_BUILD: &str = "this build has no GPU support (built without the `gpu` feature)";

/// A CPU-only build has no adapters to try.
#[cfg(not(feature = "gpu"))]
fn try_gpu(_allow_software: bool) -> std::result::Result<SelectedDevice, String> {
    Err(NO_GPU_BUILD.to_string())
}

/// The GPU device this process opened, with whether it is a physical card: burn's wgpu
/// runtime initialises once per process (a second `init` fails with "Service already
/// initialized"), so every later selection reuses it.
#[cfg(feature = "gpu")]
static OPENED_GPU: std::sync::Mutex<Option<(SelectedDevice, bool)>> = std::sync::Mutex::new(None);

/// Try the wgpu adapters in order of preference; returns the first acceptable one (the one
/// already opened, when this process has one).
#[cfg(feature = "gpu")]
fn try_gpu(allow_software: bool) -> std::result::Result<SelectedDevice, String> {
    use burn::tensor::DeviceKind;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    // Held while adapters are tried, so that two threads never initialise the runtime twice.
    let mut opened = OPENED_GPU
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((device, physical)) = opened.as_ref() {
        return if *physical || allow_software {
            Ok(device.clone())
        } else {
            Err(format!("{} is a software adapter", device.adapter))
        };
    }
    // Persistent autotune/shader caches must be pointed at before the first device exists.
    crate::compute::cache::configure_caches();
    let mut kinds = vec![
        DeviceKind::DiscreteGpu(0),
        DeviceKind::IntegratedGpu(0),
        DeviceKind::VirtualGpu(0),
    ];
    if allow_software {
        kinds.push(DeviceKind::Cpu);
    }
    let mut tried = Vec::new();
    for kind in kinds {
        let label = format!("{kind:?}");
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            let device = Device::wgpu_options().device_kind(kind.clone()).init();
            device.map(|d| {
                let identity = d.identity();
                (d, identity)
            })
        }));
        match attempt {
            Ok(Ok((device, identity))) => {
                let (name, physical) = match identity {
                    Some(id) => (id.name, id.physical.is_some()),
                    None => (label.clone(), false),
                };
                let selected = SelectedDevice {
                    device,
                    backend: "gpu",
                    adapter: name.clone(),
                    reason: format!("wgpu adapter {label}: {name}"),
                };
                *opened = Some((selected.clone(), physical));
                if physical || allow_software {
                    return Ok(selected);
                }
                tried.push(format!("{label}: {name} is a software adapter"));
            }
            Ok(Err(e)) => {
                // wgpu's message lists every adapter in debug form; keep the first clause.
                let msg = e.to_string();
                let short = msg.split(", adapters").next().unwrap_or(&msg);
                let short = short.rsplit(": ").next().unwrap_or(short);
                tried.push(format!("{label}: {short}"));
            }
            Err(_) => tried.push(format!("{label}: adapter initialisation panicked")),
        }
    }
    Err(tried.join("; "))
}

/// The bound wgpu's downlevel defaults put on one binding (128 MiB): what a GPU device is
/// assumed to allow when its adapter cannot be found again to ask.
pub const DEFAULT_MAX_TENSOR_BYTES: u64 = 128 << 20;

/// The largest single tensor, in bytes, `device` can hold: on a GPU the adapter's binding
/// limit (one tensor is one storage buffer), `None` on the CPU (no such bound). Batching uses
/// it to keep every forward pass's largest activation within the device
/// (see `CrnnConfig::max_pass_pixels`).
pub fn max_tensor_bytes(device: &Device, backend: &str) -> Option<u64> {
    if backend != "gpu" {
        return None;
    }
    #[cfg(feature = "gpu")]
    {
        let name = device.identity().map(|id| id.name);
        if let Some(bytes) = name
            .as_deref()
            .and_then(crate::compute::gpu::adapter_max_binding_bytes)
        {
            return Some(bytes);
        }
        tracing::warn!(
            "cannot read the buffer limit of GPU adapter {name:?}; assuming {} MiB per tensor",
            DEFAULT_MAX_TENSOR_BYTES >> 20
        );
    }
    #[cfg(not(feature = "gpu"))]
    let _ = device;
    Some(DEFAULT_MAX_TENSOR_BYTES)
}

/// Choose the device for `preference` (see the module docs).
pub fn select_device(preference: DevicePreference) -> Result<SelectedDevice> {
    match preference {
        DevicePreference::Cpu => Ok(cpu_device("--device cpu".to_string())),
        DevicePreference::Gpu => try_gpu(software_adapter_allowed()).map_err(|why| {
            OcrError::Backend(format!("--device gpu: no usable GPU adapter ({why})"))
        }),
        #[cfg(not(feature = "gpu"))]
        DevicePreference::Auto => Ok(cpu_device(format!("auto: {NO_GPU_BUILD}"))),
        #[cfg(feature = "gpu")]
        DevicePreference::Auto => match try_gpu(software_adapter_allowed()) {
            Ok(dev) => Ok(dev),
            Err(why) => {
                // Expected on a machine without a GPU: information, not a warning.
                tracing::info!("no usable GPU adapter, using the CPU backend ({why})");
                Ok(cpu_device(format!("auto: no usable GPU adapter ({why})")))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available() {
        let d = select_device(DevicePreference::Cpu).unwrap();
        assert_eq!(d.backend, "cpu");
    }

    /// A CPU-only build: `auto` is the CPU with the reason stated, `gpu` a clear error.
    #[cfg(not(feature = "gpu"))]
    #[test]
    fn cpu_only_build_never_selects_a_gpu() {
        let d = select_device(DevicePreference::Auto).unwrap();
        assert_eq!(d.backend, "cpu");
        assert!(
            d.reason.contains("without the `gpu` feature"),
            "{}",
            d.reason
        );
        let e = select_device(DevicePreference::Gpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no GPU support"), "{e}");
    }
}
