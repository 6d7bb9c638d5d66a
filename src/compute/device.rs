//! Device selection: `auto` picks a hardware GPU adapter (discrete, then integrated, then
//! virtual) and never a software one; `gpu` fails clearly when none exists; `cpu` uses burn's
//! pure-Rust `flex` backend. Software adapters (Mesa lavapipe/llvmpipe) are accepted only when
//! `FERROCR_ALLOW_SOFTWARE_ADAPTER=1` (parity tests). When `auto` finds no usable adapter, or
//! creating the device fails (including a panic inside the driver stack), it falls back to the
//! CPU with one warning line; results are the same, only slower.

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::{Device, DeviceKind};
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

/// Try the wgpu adapters in order of preference; returns the first acceptable one.
fn try_gpu(allow_software: bool) -> std::result::Result<SelectedDevice, String> {
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
                if physical || allow_software {
                    return Ok(SelectedDevice {
                        device,
                        backend: "gpu",
                        adapter: name.clone(),
                        reason: format!("wgpu adapter {label}: {name}"),
                    });
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

/// Choose the device for `preference` (see the module docs).
pub fn select_device(preference: DevicePreference) -> Result<SelectedDevice> {
    match preference {
        DevicePreference::Cpu => Ok(cpu_device("--device cpu".to_string())),
        DevicePreference::Gpu => try_gpu(software_adapter_allowed()).map_err(|why| {
            OcrError::Backend(format!("--device gpu: no usable GPU adapter ({why})"))
        }),
        DevicePreference::Auto => match try_gpu(software_adapter_allowed()) {
            Ok(dev) => Ok(dev),
            Err(why) => {
                tracing::warn!("no usable GPU adapter, using the CPU backend ({why})");
                Ok(cpu_device(format!("auto: no usable GPU adapter ({why})")))
            }
        },
    }
}
