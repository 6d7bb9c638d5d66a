//! GPU path vs CPU path: every WGSL kernel against its CPU twin, the CRNN on burn-wgpu against
//! burn's flex CPU backend, and the fallback to the CPU when no adapter is usable.
//!
//! On a machine without a Vulkan adapter the GPU tests print why they skip and pass; on CI,
//! Mesa's lavapipe is used with `FERROCR_ALLOW_SOFTWARE_ADAPTER=1` (and `XDG_RUNTIME_DIR=/tmp`).

use image::{DynamicImage, GrayImage, Luma};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

use ferrocr::compute::device::{DevicePreference, select_device, software_adapter_allowed};
use ferrocr::compute::gpu::{GpuContext, GpuPreprocessor, list_adapters};
use ferrocr::geometry::BBox;
use ferrocr::lines::normalize::normalize_line;
use ferrocr::preprocess::{
    CpuKernels, PreprocessOptions, integral_images, preprocess_batch, rotate_bilinear, sauvola,
};
use ferrocr::recognize::model::ModelArtifact;
use ferrocr::recognize::{CrnnRecognizer, Recognizer};
use ferrocr::selftest::{check_kernels, check_model, line_boxes};

fn sample(name: &str) -> DynamicImage {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    image::open(&path).expect("sample page")
}

fn gpu() -> Option<GpuPreprocessor> {
    match GpuPreprocessor::open(DevicePreference::Auto) {
        Ok(g) => {
            eprintln!("GPU kernels on {}", g.context().info.name);
            Some(g)
        }
        Err(e) => {
            assert!(
                !software_adapter_allowed(),
                "FERROCR_ALLOW_SOFTWARE_ADAPTER=1 but the kernels have no GPU: {e}"
            );
            eprintln!("SKIP: no usable GPU adapter for the kernels ({e})");
            None
        }
    }
}

/// The GPU burn-wgpu runs on, or `None` (the test prints why and skips) when there is none.
/// With `FERROCR_ALLOW_SOFTWARE_ADAPTER=1` (CI, on lavapipe) a GPU was asked for, so its
/// absence fails the test instead of passing it unseen.
fn burn_gpu() -> Option<ferrocr::compute::device::SelectedDevice> {
    let selected = select_device(DevicePreference::Auto).expect("auto never fails");
    if selected.backend == "gpu" {
        return Some(selected);
    }
    assert!(
        !software_adapter_allowed(),
        "FERROCR_ALLOW_SOFTWARE_ADAPTER=1 but burn-wgpu has no GPU: {}",
        selected.reason
    );
    eprintln!("SKIP: no usable GPU for burn-wgpu ({})", selected.reason);
    None
}

/// A small noisy page of odd size (exercises partial words, edges and clipped windows).
fn noisy_page(w: u32, h: u32, seed: u64) -> GrayImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut img = GrayImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let base = if (x / 9 + y / 7) % 3 == 0 { 50 } else { 205 };
        p[0] = (base + rng.random_range(0..40u32)) as u8;
    }
    img
}

/// `doc` in the middle of a flat white page three times its size (contrast's stretch then
/// reads the document's own area, on the host in the GPU twin).
fn on_a_white_canvas(doc: &GrayImage) -> GrayImage {
    let mut page = GrayImage::from_pixel(3 * doc.width(), 3 * doc.height(), image::Luma([255]));
    image::imageops::replace(&mut page, doc, doc.width() as i64, doc.height() as i64);
    page
}

#[test]
fn kernels_match_their_cpu_twins_on_the_sample_pages() {
    let Some(g) = gpu() else { return };
    let pages = [
        sample("sample-letter.png"),
        sample("sample-receipt.jpg"),
        DynamicImage::ImageLuma8(noisy_page(203, 157, 5)),
        DynamicImage::ImageLuma8(on_a_white_canvas(&noisy_page(203, 157, 6))),
    ];
    let checks = check_kernels(&g, &pages).expect("kernels run");
    for c in &checks {
        eprintln!(
            "{:<22} values {:>10} differ {:>8} max diff {:.3e} cpu {:>8.1} ms gpu {:>8.1} ms  ({}) {}",
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
    assert_eq!(checks.len(), 6);
    assert!(checks.iter().all(|c| c.pass), "{checks:#?}");
}

/// The batched page pipeline (what the server's page stage runs on a GPU node) gives the CPU
/// pipeline's pages: same orientation and skew decisions, binary pages equal except ≤ 0.1 % of
/// pixels (threshold ties and contrast's one-level FMA rounding), and the same text lines.
#[test]
fn batched_pipeline_on_the_gpu_matches_the_cpu_pipeline() {
    let Some(g) = gpu() else { return };
    let letter = sample("sample-letter.png");
    let skewed = DynamicImage::ImageLuma8(rotate_bilinear(&letter.to_luma8(), 2.5, 255));
    let pages = [letter, sample("sample-receipt.jpg"), skewed];
    let refs: Vec<&DynamicImage> = pages.iter().collect();
    let opts = PreprocessOptions::default();
    let cpu = preprocess_batch(&CpuKernels, &refs, &opts).expect("cpu");
    let gpu = preprocess_batch(&g, &refs, &opts).expect("gpu pipeline");
    assert_eq!(cpu.len(), 3);
    assert_eq!(gpu.len(), 3);
    for (i, ((c, _), (q, t))) in cpu.iter().zip(&gpu).enumerate() {
        assert_eq!(c.transform.rotation, q.transform.rotation, "page {i}");
        assert!(
            (c.transform.skew_degrees - q.transform.skew_degrees).abs() < 0.05,
            "page {i}: skew {} vs {}",
            c.transform.skew_degrees,
            q.transform.skew_degrees
        );
        assert_eq!(c.binary.dimensions(), q.binary.dimensions(), "page {i}");
        let differ = c
            .binary
            .as_raw()
            .iter()
            .zip(q.binary.as_raw())
            .filter(|(a, b)| a != b)
            .count();
        let frac = differ as f64 / c.binary.as_raw().len().max(1) as f64;
        let layout = ferrocr::layout::LayoutOptions::default();
        let lines = |p: &GrayImage| {
            ferrocr::layout::analyze(p, &layout)
                .blocks
                .iter()
                .map(|b| b.lines.len())
                .sum::<usize>()
        };
        eprintln!(
            "page {i}: skew {:.2}°, binary differs at {differ} px ({:.4} %), lines cpu {} gpu {}, gpu time {:?}",
            q.transform.skew_degrees,
            frac * 100.0,
            lines(&c.binary),
            lines(&q.binary),
            t.total()
        );
        assert!(frac <= 0.001, "page {i}: {differ} binary pixels differ");
        assert_eq!(lines(&c.binary), lines(&q.binary), "page {i}");
    }
}

#[test]
fn binarisation_matches_for_several_windows_and_tiny_pages() {
    let Some(g) = gpu() else { return };
    let pages = vec![
        noisy_page(83, 61, 21),
        noisy_page(1, 1, 1),
        noisy_page(5, 3, 2),
        noisy_page(300, 41, 3),
    ];
    for (win, k) in [(15u32, 0.2f32), (31, 0.34), (4, 0.5), (0, f32::NAN)] {
        let out = g.binarize_pages(&pages, win, k).expect("binarize");
        for (p, o) in pages.iter().zip(&out) {
            let cpu = sauvola(p, win, k);
            let differ = cpu.pixels().zip(o.pixels()).filter(|(a, b)| a != b).count();
            assert!(
                differ as f64 <= 0.001 * (p.width() * p.height()) as f64,
                "window {win}: {differ} of {} pixels differ",
                p.width() * p.height()
            );
        }
    }
    let tables = g.integral_pages(&pages).expect("integral");
    for (p, t) in pages.iter().zip(&tables) {
        assert_eq!(&integral_images(p), t);
    }
}

#[test]
fn a_large_page_keeps_exact_64_bit_sums() {
    let Some(g) = gpu() else { return };
    // 2,600 x 1,700 of white: the sum of squares (2.9e11) needs more than 32 bits.
    let page = GrayImage::from_pixel(2600, 1700, Luma([255]));
    let t = g
        .integral_pages(std::slice::from_ref(&page))
        .expect("integral");
    assert_eq!(t[0], integral_images(&page));
    assert!(*t[0].sum_sq.last().unwrap() > u32::MAX as u64);
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let Some(g) = gpu() else { return };
    let page = noisy_page(20, 20, 9);
    assert!(
        g.rotate_pages(std::slice::from_ref(&page), &[], 255)
            .is_err()
    );
    assert!(
        g.normalize_lines(&[&page], &[(3, BBox::new(0, 0, 5, 5))], true)
            .is_err()
    );
    assert!(g.gray_pages(&[]).unwrap().is_empty());
}

#[test]
fn crnn_on_wgpu_matches_the_cpu_backend() {
    let Some(selected) = burn_gpu() else { return };
    let artifact = ModelArtifact::embedded().expect("embedded model");
    let cpu = CrnnRecognizer::new(
        &artifact,
        select_device(DevicePreference::Cpu).unwrap().device,
        "cpu",
    )
    .expect("cpu model");
    let gpu = CrnnRecognizer::new(&artifact, selected.device, "gpu").expect("gpu model");
    // A few real lines (lavapipe is slow: keep the batch small).
    let (gray, boxes) = line_boxes(&sample("sample-letter.png"));
    let lines: Vec<_> = boxes
        .iter()
        .take(6)
        .map(|&b| normalize_line(&gray, b))
        .collect();
    assert!(lines.len() >= 3, "sample page has lines");
    let check = check_model(&cpu, &gpu, &lines).expect("models run");
    eprintln!("{check:?}");
    assert!(check.pass, "{check:?}");
}

/// A gathered batch whose single forward pass would hold an activation larger than the
/// device's largest buffer (lavapipe: 128 MiB, the first conv block's output of ~2.1 M padded
/// pixels) is cut into passes that fit, and reads as on the CPU. Without the cut the pass
/// fails with "can't allocate buffer".
#[test]
fn a_batch_past_the_devices_largest_buffer_is_cut_into_passes_that_fit() {
    use ferrocr::lines::normalize::LINE_HEIGHT;
    use ferrocr::recognize::BatchPolicy;
    let Some(selected) = burn_gpu() else { return };
    let artifact = ModelArtifact::embedded().expect("embedded model");
    let limit = ferrocr::compute::device::max_tensor_bytes(&selected.device, "gpu").unwrap();
    let per_px = artifact.config.architecture.peak_bytes_per_input_pixel();
    let (gray, boxes) = line_boxes(&sample("sample-letter.png"));
    let page: Vec<_> = boxes.iter().map(|&b| normalize_line(&gray, b)).collect();
    let widest = page.iter().map(|l| l.width).max().unwrap();
    // Enough of the widest line that one pass of them would pass the limit by a tenth.
    let wanted = (limit as f64 * 1.1 / per_px / (LINE_HEIGHT * widest) as f64).ceil() as usize;
    if wanted > 512 {
        eprintln!("SKIP: this device's buffers ({limit} B) need more than 512 lines to fill");
        return;
    }
    let widest_line = page.iter().find(|l| l.width == widest).unwrap();
    let lines: Vec<_> = page
        .iter()
        .chain(std::iter::repeat_n(widest_line, wanted))
        .cloned()
        .collect();
    let one_pass = BatchPolicy::fewest_passes(lines.len(), LINE_HEIGHT * widest * lines.len());
    let cpu = CrnnRecognizer::new(
        &artifact,
        select_device(DevicePreference::Cpu).unwrap().device,
        "cpu",
    )
    .expect("cpu model")
    .with_policy(one_pass);
    let gpu = CrnnRecognizer::new(&artifact, selected.device, "gpu")
        .expect("gpu model")
        .with_policy(one_pass);
    let cap = gpu.pass_policy().max_pixels;
    eprintln!(
        "{} lines up to {widest} px; device tensors <= {limit} B, {per_px} B per pixel: passes of <= {cap} px",
        lines.len()
    );
    assert!((cap as f64) * per_px <= limit as f64);
    assert!(cap < LINE_HEIGHT * widest * wanted);
    // Probabilities only (lavapipe is slow): the same per line as the CPU's.
    let want = cpu.line_probabilities(&lines).expect("cpu pass");
    let got = gpu
        .line_probabilities(&lines)
        .expect("passes that fit the device");
    for (k, (a, b)) in want.iter().zip(&got).enumerate() {
        assert_eq!(a.len(), b.len(), "line {k}");
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff <= 1e-3, "line {k}: probabilities differ by {diff}");
    }
}

/// Each line `k` of `got` (a BiLSTM over the batch `x`, line `k` over its first `lengths[k]`
/// steps) within 1e-5 of `bilstm` run on that line alone, and zero past its length.
fn assert_reads_each_line_alone(
    got: &burn::tensor::Tensor<3>,
    x: &burn::tensor::Tensor<3>,
    lengths: &[usize],
    bilstm: &burn::nn::BiLstm,
    label: &str,
) {
    use burn::tensor::s;
    let steps = x.dims()[1];
    for (k, &len) in lengths.iter().enumerate() {
        if len > 0 {
            let (alone, _) = bilstm.forward(x.clone().slice(s![k..k + 1, 0..len]), None);
            let line = got.clone().slice(s![k..k + 1, 0..len]);
            let diff: f32 = (line - alone).abs().max().into_scalar();
            assert!(
                diff <= 1e-5,
                "{label}line {k} ({len} steps): max difference {diff}"
            );
        }
        if len < steps {
            let past: f32 = got
                .clone()
                .slice(s![k..k + 1, len..steps])
                .abs()
                .max()
                .into_scalar();
            assert_eq!(past, 0.0, "{label}line {k}: states past its length");
        }
    }
}

#[test]
fn fused_bilstm_on_wgpu_reads_each_line_as_burns_bilstm_does_alone() {
    use burn::nn::BiLstmConfig;
    use burn::tensor::{Distribution, Tensor};
    use ferrocr::recognize::fused_lstm::FusedBiLstm;
    let Some(selected) = burn_gpu() else { return };
    let device = selected.device;
    let bilstm = BiLstmConfig::new(16, 8, true).init(&device);
    let fused = FusedBiLstm::new(&bilstm);
    let lengths = [7usize, 1, 12, 4, 12];
    let x = Tensor::<3>::random([5, 12, 16], Distribution::Uniform(-2.0, 2.0), &device);
    let got = fused.forward(x.clone(), &lengths);
    assert_reads_each_line_alone(&got, &x, &lengths, &bilstm, "");
}

/// A random BiLSTM layer and a random batch of `lengths.len()` lines, 12 frames each.
fn bilstm_and_lines(
    d_input: usize,
    hidden: usize,
    lengths: &[usize],
    device: &burn::tensor::Device,
) -> (burn::nn::BiLstm, burn::tensor::Tensor<3>) {
    use burn::nn::BiLstmConfig;
    use burn::tensor::{Distribution, Tensor};
    let bilstm = BiLstmConfig::new(d_input, hidden, true).init(device);
    let x = Tensor::<3>::random(
        [lengths.len(), 12, d_input],
        Distribution::Uniform(-2.0, 2.0),
        device,
    );
    (bilstm, x)
}

/// The recurrence as one kernel launch per layer: each line as burn's `BiLstm` reads it alone,
/// zero past its length, and the same as the per-step fused form on the same batch; with the
/// shipped model's hidden size, so that the kernel's threads stride over the gate columns.
#[test]
fn the_recurrence_kernel_reads_each_line_as_burns_bilstm_does_alone() {
    use ferrocr::recognize::fused_lstm::FusedBiLstm;
    let Some(selected) = burn_gpu() else { return };
    let device = selected.device;
    for (d_input, hidden) in [(16usize, 8usize), (96, 128), (24, 200)] {
        let lengths = [7usize, 1, 12, 4, 12, 0];
        let (bilstm, x) = bilstm_and_lines(d_input, hidden, &lengths, &device);
        let fused = FusedBiLstm::new(&bilstm);
        let kernel = FusedBiLstm::new(&bilstm).with_recurrence_kernel();
        let got = kernel.forward(x.clone(), &lengths);
        assert_eq!(got.dims(), [lengths.len(), 12, 2 * hidden]);
        let per_step = fused.forward(x.clone(), &lengths);
        let diff: f32 = (got.clone() - per_step).abs().max().into_scalar();
        assert!(
            diff <= 1e-5,
            "hidden {hidden}: kernel vs per-step form differ by {diff}"
        );
        assert_reads_each_line_alone(&got, &x, &lengths, &bilstm, &format!("hidden {hidden}, "));
    }
}

/// Lines grouped in one workgroup (sharing each weight read): every group size reads each
/// line as the one-line-per-workgroup kernel does, with the batch not a multiple of the group,
/// lines of unequal lengths in one group (the reverse direction starting at each line's own
/// end), an empty line, and a hidden size whose group state overflows 16 KiB of workgroup
/// memory (the kernel then takes smaller groups).
#[test]
fn grouped_lines_in_the_recurrence_kernel_read_as_lines_alone() {
    use ferrocr::recognize::fused_lstm::FusedBiLstm;
    use ferrocr::recognize::lstm_kernel::GROUPS;
    let Some(selected) = burn_gpu() else { return };
    let device = selected.device;
    for (d_input, hidden) in [(16usize, 8usize), (96, 128), (24, 200)] {
        let lengths = [7usize, 1, 12, 4, 12, 0, 9, 3, 12, 5, 11];
        let (bilstm, x) = bilstm_and_lines(d_input, hidden, &lengths, &device);
        let alone = FusedBiLstm::new(&bilstm).with_lines_per_cube(1);
        let want = alone.forward(x.clone(), &lengths);
        assert_reads_each_line_alone(&want, &x, &lengths, &bilstm, &format!("hidden {hidden}, "));
        for group in GROUPS {
            let grouped = FusedBiLstm::new(&bilstm).with_lines_per_cube(group);
            let got = grouped.forward(x.clone(), &lengths);
            let diff: f32 = (got - want.clone()).abs().max().into_scalar();
            assert!(
                diff <= 1e-5,
                "hidden {hidden}, {group} lines per workgroup: differs by {diff}"
            );
        }
    }
}

/// burn's wgpu runtime initialises once per process: a second selection (another test, another
/// bench group, `doctor` after `serve` warmed up) must get the same GPU, not fall back to the CPU.
#[test]
fn selecting_the_gpu_again_reuses_the_device_it_opened() {
    let Some(first) = burn_gpu() else { return };
    let again = select_device(DevicePreference::Gpu).expect("the GPU again");
    assert_eq!(again.adapter, first.adapter);
    let auto = select_device(DevicePreference::Auto).expect("auto never fails");
    assert_eq!(auto.backend, "gpu", "{}", auto.reason);
}

#[test]
fn no_usable_adapter_falls_back_to_the_cpu_with_identical_text() {
    let hardware = list_adapters().iter().any(|a| a.acceptable);
    let auto = select_device(DevicePreference::Auto).expect("auto never fails");
    if !hardware && !software_adapter_allowed() {
        // This machine has no hardware GPU and software adapters are not allowed: both the
        // model and the kernels must fall back to the CPU.
        assert_eq!(auto.backend, "cpu", "{}", auto.reason);
        assert!(GpuContext::new(DevicePreference::Auto).is_err());
        assert!(select_device(DevicePreference::Gpu).is_err());
    } else {
        eprintln!(
            "note: an adapter is usable here ({}), checking --device cpu only",
            auto.adapter
        );
    }
    assert!(GpuContext::new(DevicePreference::Cpu).is_err());
    let artifact = ModelArtifact::embedded().expect("embedded model");
    let (gray, boxes) = line_boxes(&sample("sample-letter.png"));
    let lines: Vec<_> = boxes
        .iter()
        .take(8)
        .map(|&b| normalize_line(&gray, b))
        .collect();
    let cpu = CrnnRecognizer::new(
        &artifact,
        select_device(DevicePreference::Cpu).unwrap().device,
        "cpu",
    )
    .expect("cpu model");
    let fallback = CrnnRecognizer::new(&artifact, auto.device, auto.backend).expect("model");
    let a: Vec<String> = cpu
        .recognize(&lines)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    let b: Vec<String> = fallback
        .recognize(&lines)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert_eq!(a, b);
    assert!(a.iter().any(|t| !t.is_empty()));
}

#[test]
fn warm_up_runs_every_width() {
    let artifact = ModelArtifact::embedded().expect("embedded model");
    let cpu = CrnnRecognizer::new(
        &artifact,
        select_device(DevicePreference::Cpu).unwrap().device,
        "cpu",
    )
    .expect("cpu model");
    let w = ferrocr::recognize::warm_up::warm_up_with(&cpu, &[16, 64], 2).expect("warm-up");
    assert_eq!(w.runs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![16, 64]);
}

/// Repeated kernel calls on one input (as a server makes them): the same result every time,
/// the kernel's inputs held until it has run.
#[test]
fn the_recurrence_kernel_gives_the_same_result_call_after_call() {
    use burn::nn::BiLstmConfig;
    use burn::tensor::{Distribution, Tensor};
    use ferrocr::recognize::fused_lstm::FusedBiLstm;
    let Some(selected) = burn_gpu() else { return };
    let device = selected.device;
    let bilstm = BiLstmConfig::new(96, 128, true).init(&device);
    let per_step = FusedBiLstm::new(&bilstm);
    let kernel = FusedBiLstm::new(&bilstm).with_recurrence_kernel();
    let lengths = vec![40usize; 16];
    let x = Tensor::<3>::random([16, 40, 96], Distribution::Default, &device);
    let want = per_step.forward(x.clone(), &lengths);
    for call in 0..6 {
        let started = std::time::Instant::now();
        let got = kernel.forward(x.clone(), &lengths);
        let diff: f32 = (got - want.clone()).abs().max().into_scalar();
        eprintln!(
            "call {call}: {:?}, max difference {diff}",
            started.elapsed()
        );
        assert!(diff <= 1e-5, "call {call}: max difference {diff}");
    }
}
