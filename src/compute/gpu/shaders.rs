//! The WGSL sources (compiled into the binary with `include_str!`) and their compute pipelines,
//! created once per [`super::GpuPreprocessor`].

use crate::error::{OcrError, Result};

/// Colour -> gray (twin of `preprocess::to_gray`).
pub const GRAY_WGSL: &str = include_str!("../../../shaders/gray.wgsl");
/// Contrast normalisation, per-pixel parts (twin of `preprocess::normalize_contrast`).
pub const CONTRAST_WGSL: &str = include_str!("../../../shaders/contrast.wgsl");
/// Integral images (twin of `preprocess::integral_images`).
pub const INTEGRAL_WGSL: &str = include_str!("../../../shaders/integral.wgsl");
/// Sauvola binarisation (twin of `preprocess::sauvola`).
pub const SAUVOLA_WGSL: &str = include_str!("../../../shaders/sauvola.wgsl");
/// Bilinear skew rotation (twin of `preprocess::rotate_bilinear`).
pub const ROTATE_WGSL: &str = include_str!("../../../shaders/rotate.wgsl");
/// Line-crop resampling (twin of `lines::normalize::resample_line`).
pub const RESAMPLE_WGSL: &str = include_str!("../../../shaders/resample.wgsl");

/// Every shader with its file name and entry points, for validation and `doctor`.
pub const SHADERS: [(&str, &str, &[&str]); 6] = [
    ("gray.wgsl", GRAY_WGSL, &["main"]),
    (
        "contrast.wgsl",
        CONTRAST_WGSL,
        &["block_max", "apply_gain", "apply_lut"],
    ),
    ("integral.wgsl", INTEGRAL_WGSL, &["columns", "rows"]),
    ("sauvola.wgsl", SAUVOLA_WGSL, &["main"]),
    ("rotate.wgsl", ROTATE_WGSL, &["main"]),
    ("resample.wgsl", RESAMPLE_WGSL, &["main"]),
];

/// The compute pipelines, one per entry point.
pub(crate) struct Pipelines {
    pub gray: wgpu::ComputePipeline,
    pub block_max: wgpu::ComputePipeline,
    pub apply_gain: wgpu::ComputePipeline,
    pub apply_lut: wgpu::ComputePipeline,
    pub integral_columns: wgpu::ComputePipeline,
    pub integral_rows: wgpu::ComputePipeline,
    pub sauvola: wgpu::ComputePipeline,
    pub rotate: wgpu::ComputePipeline,
    pub resample: wgpu::ComputePipeline,
}

impl Pipelines {
    /// Compile every shader and create the pipelines; a compilation or validation error is a
    /// [`OcrError::Backend`].
    pub(crate) fn new(device: &wgpu::Device) -> Result<Self> {
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = |name: &str, src: &str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            })
        };
        let pipeline = |m: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: m,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let gray = module("gray", GRAY_WGSL);
        let contrast = module("contrast", CONTRAST_WGSL);
        let integral = module("integral", INTEGRAL_WGSL);
        let sauvola = module("sauvola", SAUVOLA_WGSL);
        let rotate = module("rotate", ROTATE_WGSL);
        let resample = module("resample", RESAMPLE_WGSL);
        let p = Pipelines {
            gray: pipeline(&gray, "main"),
            block_max: pipeline(&contrast, "block_max"),
            apply_gain: pipeline(&contrast, "apply_gain"),
            apply_lut: pipeline(&contrast, "apply_lut"),
            integral_columns: pipeline(&integral, "columns"),
            integral_rows: pipeline(&integral, "rows"),
            sauvola: pipeline(&sauvola, "main"),
            rotate: pipeline(&rotate, "main"),
            resample: pipeline(&resample, "main"),
        };
        match pollster::block_on(scope.pop()) {
            Some(e) => Err(OcrError::Backend(format!("shader compilation failed: {e}"))),
            None => Ok(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::naga;

    /// Every shader parses and validates with naga (no adapter needed), and declares the entry
    /// points the pipelines use.
    #[test]
    fn shaders_validate_with_naga() {
        for (name, src, entries) in SHADERS {
            let module = naga::front::wgsl::parse_str(src)
                .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::empty(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
            for entry in entries {
                assert!(
                    module.entry_points.iter().any(|e| e.name == *entry),
                    "{name}: no entry point {entry}"
                );
            }
        }
    }

    /// A broken shader is rejected (the validation above can fail).
    #[test]
    fn naga_rejects_a_type_error() {
        let src = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
        assert!(naga::front::wgsl::parse_str(src).is_err());
    }
}
