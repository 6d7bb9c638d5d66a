//! `ferrocr doctor`: what the GPU path sees and whether it agrees with the CPU.
//!
//! Reports the wgpu adapters, the device choices (kernels and model) and why, the device
//! limits, the cache directories, the model, and a self-test: every WGSL kernel and the CRNN on
//! the built-in sample page, compared with the CPU path and timed. Exit code 1 when a
//! self-test mismatches (a machine without a GPU passes: the CPU path is the reference).

use std::process::ExitCode;
#[cfg(feature = "gpu")]
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;
use clap::Args;
use serde::Serialize;

use super::ModelArgs;
use crate::compute::cache::{CacheSetup, configure_caches};
use crate::compute::device::{
    AdapterReport, DevicePreference, select_device, software_adapter_allowed,
};
#[cfg(feature = "gpu")]
use crate::compute::gpu::{GpuContext, GpuPreprocessor};
use crate::lines::normalize_line;
use crate::recognize::model::ModelArtifact;
use crate::recognize::warm_up::{WarmUp, warm_up};
#[cfg(feature = "gpu")]
use crate::selftest::check_kernels;
use crate::selftest::{KernelCheck, ModelCheck, SAMPLE_PAGE, check_model, line_boxes};

/// Arguments of `ferrocr doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Skip the self-test (adapters, choices and model only).
    #[arg(long)]
    pub no_self_test: bool,
    /// Copies of the sample page in the kernel self-test batch (kernel times are for the whole
    /// batch, measured on a second, warm run).
    #[arg(long, default_value_t = 1)]
    pub pages: usize,
    /// Also run the model warm-up (all warm-up widths at batch 64) on the chosen device.
    #[arg(long)]
    pub warm_up: bool,
    /// Model and device.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Device facts of the kernels' wgpu device.
#[derive(Debug, Serialize)]
struct KernelDevice {
    adapter: Option<String>,
    device_type: Option<String>,
    reason: String,
    max_buffer_size: Option<u64>,
    max_storage_buffer_binding_size: Option<u64>,
    max_compute_workgroups_per_dimension: Option<u32>,
    max_compute_invocations_per_workgroup: Option<u32>,
}

#[derive(Debug, Serialize)]
struct ModelInfo {
    name: String,
    parameters: usize,
    alphabet_size: usize,
    classes: usize,
    trained_steps: u64,
    backend: String,
    adapter: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Report {
    version: &'static str,
    software_adapters_allowed: bool,
    adapters: Vec<AdapterReport>,
    kernels: KernelDevice,
    model: ModelInfo,
    caches: CacheSetup,
    kernel_checks: Vec<KernelCheck>,
    kernel_error: Option<String>,
    model_check: Option<ModelCheck>,
    warm_up: Option<WarmUp>,
    pass: bool,
}

/// The adapters wgpu lists and the kernels' device, with the kernel runner when one opened.
#[cfg(feature = "gpu")]
fn probe_gpu(
    preference: DevicePreference,
) -> (Vec<AdapterReport>, KernelDevice, Option<GpuPreprocessor>) {
    use crate::compute::gpu::list_adapters;
    let adapters = list_adapters();
    let gpu = GpuContext::new(preference).and_then(|c| GpuPreprocessor::new(Arc::new(c)));
    let kernels = match &gpu {
        Ok(g) => {
            let c = g.context();
            KernelDevice {
                adapter: Some(c.info.name.clone()),
                device_type: Some(format!("{:?}", c.info.device_type)),
                reason: c.reason.clone(),
                max_buffer_size: Some(c.limits.max_buffer_size),
                max_storage_buffer_binding_size: Some(c.limits.max_storage_buffer_binding_size),
                max_compute_workgroups_per_dimension: Some(
                    c.limits.max_compute_workgroups_per_dimension,
                ),
                max_compute_invocations_per_workgroup: Some(
                    c.limits.max_compute_invocations_per_workgroup,
                ),
            }
        }
        Err(e) => KernelDevice {
            adapter: None,
            device_type: None,
            reason: format!("CPU kernels: {e}"),
            max_buffer_size: None,
            max_storage_buffer_binding_size: None,
            max_compute_workgroups_per_dimension: None,
            max_compute_invocations_per_workgroup: None,
        },
    };
    (adapters, kernels, gpu.ok())
}

/// A CPU-only build lists no adapters and runs the kernels' CPU twins.
#[cfg(not(feature = "gpu"))]
fn probe_gpu(_preference: DevicePreference) -> (Vec<AdapterReport>, KernelDevice, Option<()>) {
    let kernels = KernelDevice {
        adapter: None,
        device_type: None,
        reason: "CPU kernels: this build has no GPU support (built without the `gpu` feature)"
            .to_string(),
        max_buffer_size: None,
        max_storage_buffer_binding_size: None,
        max_compute_workgroups_per_dimension: None,
        max_compute_invocations_per_workgroup: None,
    };
    (Vec::new(), kernels, None)
}

/// Run `ferrocr doctor`.
pub fn run(a: DoctorArgs) -> anyhow::Result<ExitCode> {
    let caches = configure_caches().clone();
    let (adapters, kernels, gpu) = probe_gpu(a.model.device);
    #[cfg(not(feature = "gpu"))]
    let _ = gpu;

    let artifact = ModelArtifact::resolve(a.model.model.as_deref())?;
    let selected = select_device(a.model.device)?;
    let cfg = &artifact.config;
    let model = ModelInfo {
        name: cfg.name.clone(),
        parameters: cfg.architecture.init(&Device::flex()).num_params(),
        alphabet_size: cfg.alphabet().num_classes() - 1,
        classes: cfg.architecture.num_classes,
        trained_steps: cfg.trained_steps,
        backend: selected.backend.to_string(),
        adapter: selected.adapter.clone(),
        reason: selected.reason.clone(),
    };

    // A CPU-only build has no kernel checks to run.
    #[cfg_attr(not(feature = "gpu"), allow(unused_mut))]
    let (mut kernel_checks, mut kernel_error): (Vec<KernelCheck>, Option<String>) = (vec![], None);
    let (mut model_check, mut warm) = (None, None);
    if !a.no_self_test {
        let page = image::load_from_memory(SAMPLE_PAGE)?;
        #[cfg(feature = "gpu")]
        if let Some(g) = &gpu {
            let pages = vec![page.clone(); a.pages.max(1)];
            // The first run compiles the drivers' pipelines; the second is timed and reported.
            match check_kernels(g, &pages).and_then(|_| check_kernels(g, &pages)) {
                Ok(c) => kernel_checks = c,
                Err(e) => kernel_error = Some(e.to_string()),
            }
        }
        let cpu = a.model.crnn(&artifact, Device::flex(), "cpu")?;
        let (gray, boxes) = line_boxes(&page);
        let lines: Vec<_> = boxes.iter().map(|&b| normalize_line(&gray, b)).collect();
        let other = if selected.backend == "gpu" {
            a.model.crnn(&artifact, selected.device.clone(), "gpu")?
        } else {
            a.model.crnn(&artifact, Device::flex(), "cpu")?
        };
        model_check = Some(check_model(&cpu, &other, &lines)?);
        if a.warm_up {
            warm = Some(warm_up(&other)?);
        }
    }
    let pass = kernel_error.is_none()
        && kernel_checks.iter().all(|c| c.pass)
        && model_check.as_ref().is_none_or(|m| m.pass);
    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        software_adapters_allowed: software_adapter_allowed(),
        adapters,
        kernels,
        model,
        caches,
        kernel_checks,
        kernel_error,
        model_check,
        warm_up: warm,
        pass,
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report);
    }
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(r: &Report) {
    println!("ferrocr {}", r.version);
    println!(
        "adapters (Vulkan; software allowed: {}):",
        r.software_adapters_allowed
    );
    if r.adapters.is_empty() {
        println!("  none");
    }
    for a in &r.adapters {
        println!(
            "  {} [{} {}] driver {} {} -> {}",
            a.name,
            a.device_type,
            a.backend,
            a.driver,
            a.driver_info,
            if a.acceptable {
                "acceptable"
            } else {
                "refused"
            }
        );
    }
    let k = &r.kernels;
    println!("kernels: {}", k.reason);
    if let (Some(b), Some(s)) = (k.max_buffer_size, k.max_storage_buffer_binding_size) {
        println!(
            "  limits: max buffer {b} B, max storage binding {s} B, workgroups/dim {}, invocations/workgroup {}",
            k.max_compute_workgroups_per_dimension.unwrap_or(0),
            k.max_compute_invocations_per_workgroup.unwrap_or(0)
        );
    }
    let m = &r.model;
    println!(
        "model: '{}' ({} parameters, {} characters + blank, {} steps) on {} ({}): {}",
        m.name, m.parameters, m.alphabet_size, m.trained_steps, m.backend, m.adapter, m.reason
    );
    println!(
        "caches: {} (CubeCL autotune: {})",
        r.caches.dir.display(),
        r.caches.cubecl_root.display()
    );
    if let Some(w) = &r.caches.warning {
        println!("  warning: {w}");
    }
    if !r.kernel_checks.is_empty() {
        println!(
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10}  tolerance",
            "kernel", "values", "differ", "max diff", "cpu ms", "gpu ms"
        );
    }
    for c in &r.kernel_checks {
        println!(
            "{:<22} {:>10} {:>10} {:>10.4} {:>10.1} {:>10.1}  {} {}",
            c.kernel,
            c.values,
            c.mismatched,
            c.max_abs_diff,
            c.cpu_ms,
            c.gpu_ms,
            c.tolerance,
            if c.pass { "PASS" } else { "FAIL" }
        );
    }
    if let Some(e) = &r.kernel_error {
        println!("kernel self-test failed: {e}");
    }
    if let Some(m) = &r.model_check {
        println!(
            "model: {} lines, {} texts differ, max probability diff {:.2e}, cpu {:.0} ms, {} {:.0} ms: {}",
            m.lines,
            m.text_mismatches,
            m.max_prob_diff,
            m.cpu_ms,
            r.model.backend,
            m.gpu_ms,
            if m.pass { "PASS" } else { "FAIL" }
        );
    }
    if let Some(w) = &r.warm_up {
        println!("warm-up: {:.1} s {:?}", w.total_s, w.runs);
    }
    println!("{}", if r.pass { "OK" } else { "FAILED" });
}
