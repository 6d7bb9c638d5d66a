//! Criterion benchmarks of each pipeline stage and of a whole page, on the bundled sample pages
//! (CPU backend). Run: `cargo bench --bench pipeline` (figures go to docs/BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrocr::compute::device::{DevicePreference, select_device};
use ferrocr::engine::{Engine, EngineOptions};
use ferrocr::recognize::model::ModelArtifact;
use ferrocr::recognize::{CrnnRecognizer, Recognizer};

fn engine() -> Engine {
    let artifact = ModelArtifact::resolve(None).expect("model");
    let dev = select_device(DevicePreference::Cpu).expect("cpu");
    let rec: Arc<dyn Recognizer> =
        Arc::new(CrnnRecognizer::new(&artifact, dev.device, "cpu").expect("load"));
    Engine::new(rec, EngineOptions::default())
}

fn stages(c: &mut Criterion) {
    let engine = engine();
    for name in ["sample-letter.png", "sample-receipt.jpg"] {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).expect("sample page");
        let pages = engine.decode(&bytes).expect("decode");
        let page = &pages[0];
        let prepared = engine.preprocess(page);
        let layout = engine.layout(&prepared);
        let lines = engine.line_images(&prepared, &layout);
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.bench_function("decode", |b| {
            b.iter(|| engine.decode(black_box(&bytes)).unwrap())
        });
        g.bench_function("preprocess", |b| {
            b.iter(|| engine.preprocess(black_box(page)))
        });
        g.bench_function("layout", |b| b.iter(|| engine.layout(black_box(&prepared))));
        g.bench_function("normalize_lines", |b| {
            b.iter(|| engine.line_images(black_box(&prepared), &layout))
        });
        g.bench_function("recognize", |b| {
            b.iter(|| engine.recognize(black_box(&lines)).unwrap())
        });
        g.bench_function("whole_page", |b| {
            b.iter(|| engine.process_bytes(black_box(&bytes), None).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
