//! GPU vs CPU benchmarks: Sauvola binarisation per page size (CPU twin vs the batched WGSL
//! kernels), CRNN lines/s per batch size and backend, and one BiLSTM layer's recurrence as
//! burn runs it vs the inference versions (fused gates; on the CPU also the host one) — CPU
//! always; GPU when an adapter is usable, else a skip message. Run: `cargo bench --bench gpu` (set
//! `FERROCR_ALLOW_SOFTWARE_ADAPTER=1` to include lavapipe, which measures correctness of the
//! plumbing rather than GPU speed). Sample sizes are small so a CPU-only run takes minutes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrocr::compute::device::{DevicePreference, select_device};
use ferrocr::compute::gpu::GpuPreprocessor;
use ferrocr::lines::normalize::normalize_line;
use ferrocr::preprocess::sauvola;
use ferrocr::recognize::model::ModelArtifact;
use ferrocr::recognize::{BatchPolicy, CrnnRecognizer, LINE_HEIGHT, LineImage, Recognizer};
use image::{GrayImage, imageops::FilterType};

fn letter() -> GrayImage {
    let path = format!(
        "{}/tests/data/sample-letter.png",
        env!("CARGO_MANIFEST_DIR")
    );
    image::open(path).expect("sample page").to_luma8()
}

fn binarize(c: &mut Criterion) {
    let gpu = GpuPreprocessor::open(DevicePreference::Auto)
        .map_err(|e| eprintln!("GPU kernels skipped: {e}"))
        .ok();
    let base = letter();
    let mut g = c.benchmark_group("binarize");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    // A5-ish, A4 at 200 dpi, A4 at 300 dpi.
    for (w, h) in [(1240u32, 1754u32), (1654, 2339), (2480, 3508)] {
        let page = image::imageops::resize(&base, w, h, FilterType::Triangle);
        let id = format!("{w}x{h}");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("cpu", &id), |b| {
            b.iter(|| sauvola(black_box(&page), 0, 0.2))
        });
        if let Some(gpu) = &gpu {
            let batch = vec![page.clone(); 8];
            g.throughput(Throughput::Elements(batch.len() as u64));
            g.bench_function(BenchmarkId::new("gpu_batch8", &id), |b| {
                b.iter(|| gpu.binarize_pages(black_box(&batch), 0, 0.2).unwrap())
            });
        }
    }
    g.finish();
}

fn sample_lines() -> Vec<LineImage> {
    let page = image::DynamicImage::ImageLuma8(letter());
    let (gray, boxes) = ferrocr::selftest::line_boxes(&page);
    boxes.iter().map(|&b| normalize_line(&gray, b)).collect()
}

fn crnn(c: &mut Criterion) {
    let artifact = ModelArtifact::resolve(None).expect("model");
    let lines = sample_lines();
    let mut backends = vec![select_device(DevicePreference::Cpu).expect("cpu")];
    match select_device(DevicePreference::Gpu) {
        Ok(d) => backends.push(d),
        Err(e) => eprintln!("CRNN on GPU skipped: {e}"),
    }
    let mut g = c.benchmark_group("crnn_lines");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for dev in backends {
        for batch in [16usize, 64, 256] {
            let policy = BatchPolicy::fewest_passes(batch, LINE_HEIGHT * 512 * batch);
            let rec = CrnnRecognizer::new(&artifact, dev.device.clone(), dev.backend)
                .expect("load")
                .with_policy(policy);
            // One batch-size worth of real lines (cycled from the sample page).
            let input: Vec<LineImage> = lines.iter().cycle().take(batch).cloned().collect();
            // No warm-up here (criterion's own covers shader compilation), so that a filtered
            // run does not pay for groups it skips.
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_function(BenchmarkId::new(dev.backend, batch), |b| {
                b.iter(|| rec.recognize(black_box(&input)).unwrap())
            });
        }
    }
    g.finish();
}

/// One BiLSTM layer of the shipped model's size (96 inputs, 128 hidden) over 64 lines of 128
/// frames (a 512-pixel line): burn's `BiLstm::forward` against the inference versions.
fn recurrence(c: &mut Criterion) {
    use burn::nn::BiLstmConfig;
    use burn::tensor::{Distribution, Tensor};
    use ferrocr::recognize::fused_lstm::FusedBiLstm;
    use ferrocr::recognize::host_lstm::HostBiLstm;
    let mut backends = vec![select_device(DevicePreference::Cpu).expect("cpu")];
    match select_device(DevicePreference::Gpu) {
        Ok(d) => backends.push(d),
        Err(e) => eprintln!("BiLSTM on GPU skipped: {e}"),
    }
    let (lines, frames) = (64usize, 128usize);
    let mut g = c.benchmark_group("bilstm_layer");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(lines as u64));
    for dev in backends {
        let device = dev.device.clone();
        let bilstm = BiLstmConfig::new(96, 128, true).init(&device);
        let x = Tensor::<3>::random([lines, frames, 96], Distribution::Default, &device);
        let lengths = vec![frames; lines];
        // Reading the result back makes the GPU finish the work.
        let done = |y: Tensor<3>| y.slice([0..1, 0..1, 0..1]).into_data();
        g.bench_function(BenchmarkId::new("burn", dev.backend), |b| {
            b.iter(|| done(bilstm.forward(black_box(x.clone()), None).0))
        });
        let fused = FusedBiLstm::new(&bilstm);
        g.bench_function(BenchmarkId::new("fused", dev.backend), |b| {
            b.iter(|| done(fused.forward(black_box(x.clone()), &lengths)))
        });
        if dev.backend == "gpu" {
            let kernel = FusedBiLstm::new(&bilstm).with_recurrence_kernel();
            g.bench_function(BenchmarkId::new("kernel", dev.backend), |b| {
                b.iter(|| done(kernel.forward(black_box(x.clone()), &lengths)))
            });
            // Four lines per workgroup sharing each weight read (the default from 1,024 lines).
            let grouped = FusedBiLstm::new(&bilstm).with_lines_per_cube(4);
            g.bench_function(
                BenchmarkId::new("kernel_4_lines_per_workgroup", dev.backend),
                |b| b.iter(|| done(grouped.forward(black_box(x.clone()), &lengths))),
            );
        }
        if dev.backend == "cpu" {
            let host = HostBiLstm::new(&bilstm);
            g.bench_function(BenchmarkId::new("host", dev.backend), |b| {
                b.iter(|| done(host.forward(black_box(x.clone()), &lengths)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, binarize, crnn, recurrence);
criterion_main!(benches);
