//! Batcher tests with a fake recogniser that records every batch it is given.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::*;
use crate::decode::DecodeLimits;
use crate::document::Document;
use crate::recognize::{LineImage, LineText, RecognizedChar};

/// Answers "line<width>" for every line and records batch sizes.
struct RecordingRecognizer {
    batches: Mutex<Vec<usize>>,
    delay: Duration,
}

impl Recognizer for RecordingRecognizer {
    fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>> {
        self.batches.lock().push(lines.len());
        std::thread::sleep(self.delay);
        Ok(lines
            .iter()
            .map(|l| {
                let text = format!("w{}", l.width);
                let n = text.chars().count().max(1);
                LineText {
                    chars: text
                        .chars()
                        .enumerate()
                        .map(|(i, ch)| RecognizedChar {
                            ch,
                            confidence: 0.9,
                            first_frame: i * l.content_width / 4 / n,
                            last_frame: i * l.content_width / 4 / n,
                        })
                        .collect(),
                    text,
                    frames: l.content_width / 4,
                }
            })
            .collect())
    }

    fn describe(&self) -> String {
        "recording fake".into()
    }
}

fn sample() -> bytes::Bytes {
    bytes::Bytes::from_static(include_bytes!("../../tests/data/sample-receipt.jpg"))
}

fn start(delay_ms: u64) -> (Batcher, Arc<RecordingRecognizer>, Arc<Metrics>) {
    let rec = Arc::new(RecordingRecognizer {
        batches: Mutex::new(Vec::new()),
        delay: Duration::from_millis(delay_ms),
    });
    let metrics = Arc::new(Metrics::new());
    let config = BatcherConfig {
        max_queue_delay: Duration::from_millis(20),
        ..Default::default()
    };
    let b = Batcher::start(rec.clone(), config, metrics.clone()).unwrap();
    (b, rec, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_document_matches_the_engine_layout() {
    let (b, _rec, metrics) = start(0);
    let meta = b.request(Priority::Interactive, None);
    let doc = b
        .process_document(sample(), Arc::new(EngineOptions::default()), &meta, None)
        .await
        .unwrap();
    assert_eq!(doc.pages.len(), 1);
    let lines: usize = doc.pages[0].blocks.iter().map(|b| b.lines.len()).sum();
    assert!(lines > 5, "receipt has many lines, got {lines}");
    assert!(doc.pages[0].blocks[0].lines[0].text.starts_with('w'));
    assert_eq!(metrics.pages_total.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lines_of_concurrent_requests_share_batches() {
    // A slow recogniser lets the queue fill while a batch runs: later batches must mix requests.
    let (b, rec, metrics) = start(150);
    let b = Arc::new(b);
    // Orientation is left to the scan here: its sample reads run in the page stage and would
    // be recorded (and delayed) by this recogniser as well; this test is about line batches.
    let mut options = EngineOptions::default();
    options.preprocess.detect_orientation = false;
    let options = Arc::new(options);
    let mut handles = Vec::new();
    for _ in 0..6 {
        let b = b.clone();
        let options = options.clone();
        handles.push(tokio::spawn(async move {
            let meta = b.request(Priority::Interactive, None);
            b.process_document(sample(), options, &meta, None).await
        }));
    }
    let mut per_page = 0;
    for h in handles {
        let doc = h.await.unwrap().unwrap();
        per_page = doc.pages[0].blocks.iter().map(|b| b.lines.len()).sum();
    }
    // Every request is the same page, so a batch of at least twice its lines mixed requests
    // (the smallest batch is not a page's size: when all pages are ready at once, the lines
    // may be cut into equal batches).
    let batches = rec.batches.lock().clone();
    assert!(per_page > 0);
    assert!(
        batches.iter().any(|&n| n >= 2 * per_page),
        "no batch held lines of two pages: {batches:?}"
    );
    let text = metrics.render();
    let executions = metrics
        .batch_executions_total
        .with_label_values(&["line"])
        .get();
    assert!(executions < 6, "6 pages in {executions} batches");
    assert!(text.contains("ferrocr_batch_requests_bucket{stage=\"line\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_deadline_is_answered_promptly() {
    let (b, _rec, _m) = start(0);
    let meta = b.request(Priority::Interactive, Some(Duration::from_millis(0)));
    std::thread::sleep(Duration::from_millis(2));
    let started = Instant::now();
    let page = b.decode(sample(), DecodeLimits::default()).await.unwrap();
    let err = b
        .process_page(
            page.into_iter().next().unwrap(),
            Arc::new(EngineOptions::default()),
            &meta,
            0.0,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_bad_input_error() {
    let (b, _rec, _m) = start(0);
    let meta = b.request(Priority::Interactive, None);
    let err = b
        .process_document(
            bytes::Bytes::from_static(b"\x89PNG\r\n\x1a\nnope"),
            Arc::new(EngineOptions::default()),
            &meta,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::BadInput);
}

/// Page kernels that always fail, like a GPU lost mid-run; counts the calls.
struct BrokenKernels(Mutex<usize>);

impl PageKernels for BrokenKernels {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn gray(&self, _: &[&image::DynamicImage]) -> Result<Vec<image::GrayImage>> {
        *self.0.lock() += 1;
        Err(OcrError::Backend("device lost".into()))
    }
    fn contrast(&self, _: &[image::GrayImage]) -> Result<Vec<image::GrayImage>> {
        unreachable!()
    }
    fn binarize(&self, _: &[image::GrayImage], _: u32, _: f32) -> Result<Vec<image::GrayImage>> {
        unreachable!()
    }
    fn rotate(&self, _: &[image::GrayImage], _: &[f32], _: u8) -> Result<Vec<image::GrayImage>> {
        unreachable!()
    }
    fn lines(
        &self,
        _: &[&image::GrayImage],
        _: &[(usize, crate::geometry::BBox)],
        _: bool,
    ) -> Result<Vec<LineImage>> {
        unreachable!("a batch whose page kernels failed normalises its lines on the CPU")
    }
}

/// The CPU kernels, except that line normalisation fails (a GPU lost between preprocessing and
/// the lines); counts the calls.
struct BrokenLineKernels(Mutex<usize>);

impl PageKernels for BrokenLineKernels {
    fn name(&self) -> &'static str {
        "broken-lines"
    }
    fn gray(&self, i: &[&image::DynamicImage]) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.gray(i)
    }
    fn contrast(&self, p: &[image::GrayImage]) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.contrast(p)
    }
    fn binarize(&self, p: &[image::GrayImage], w: u32, k: f32) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.binarize(p, w, k)
    }
    fn rotate(&self, p: &[image::GrayImage], d: &[f32], f: u8) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.rotate(p, d, f)
    }
    fn lines(
        &self,
        _: &[&image::GrayImage],
        _: &[(usize, crate::geometry::BBox)],
        _: bool,
    ) -> Result<Vec<LineImage>> {
        *self.0.lock() += 1;
        Err(OcrError::Backend("device lost".into()))
    }
}

async fn texts_with(kernels: Option<Arc<dyn PageKernels>>) -> Vec<String> {
    let rec = Arc::new(RecordingRecognizer {
        batches: Mutex::new(Vec::new()),
        delay: Duration::ZERO,
    });
    let b = Batcher::start_with_kernels(
        rec,
        kernels,
        BatcherConfig::default(),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let meta = b.request(Priority::Interactive, None);
    let doc = b
        .process_document(sample(), Arc::new(EngineOptions::default()), &meta, None)
        .await
        .unwrap();
    doc.pages[0]
        .blocks
        .iter()
        .flat_map(|b| b.lines.iter().map(|l| format!("{} {:?}", l.text, l.bbox)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_page_kernels_give_the_per_page_result_and_fall_back_on_error() {
    let per_page = texts_with(None).await;
    assert!(per_page.len() > 5);
    let batched = texts_with(Some(Arc::new(crate::preprocess::CpuKernels))).await;
    assert_eq!(batched, per_page);
    let broken = Arc::new(BrokenKernels(Mutex::new(0)));
    let fallback = texts_with(Some(broken.clone())).await;
    assert_eq!(fallback, per_page);
    assert_eq!(*broken.0.lock(), 1, "the broken kernels were tried once");
    let broken_lines = Arc::new(BrokenLineKernels(Mutex::new(0)));
    let fallback = texts_with(Some(broken_lines.clone())).await;
    assert_eq!(fallback, per_page);
    assert_eq!(
        *broken_lines.0.lock(),
        1,
        "line normalisation was tried once"
    );
}

/// Panics on its first `panics` calls, then reads like [`RecordingRecognizer`].
struct PanickyRecognizer {
    panics: std::sync::atomic::AtomicUsize,
    inner: RecordingRecognizer,
}

impl Recognizer for PanickyRecognizer {
    fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>> {
        let left = self.panics.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.panics
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            panic!("injected recognition fault");
        }
        self.inner.recognize(lines)
    }

    fn describe(&self) -> String {
        "panicky fake".into()
    }
}

/// CPU kernels whose `gray` step panics while `armed`.
struct PanickyKernels {
    armed: std::sync::atomic::AtomicBool,
}

impl crate::preprocess::PageKernels for PanickyKernels {
    fn name(&self) -> &'static str {
        "panicky"
    }
    fn gray(&self, images: &[&image::DynamicImage]) -> Result<Vec<image::GrayImage>> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("injected preprocessing fault");
        }
        crate::preprocess::CpuKernels.gray(images)
    }
    fn contrast(&self, pages: &[image::GrayImage]) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.contrast(pages)
    }
    fn binarize(&self, p: &[image::GrayImage], w: u32, k: f32) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.binarize(p, w, k)
    }
    fn rotate(&self, p: &[image::GrayImage], d: &[f32], f: u8) -> Result<Vec<image::GrayImage>> {
        crate::preprocess::CpuKernels.rotate(p, d, f)
    }
    fn lines(
        &self,
        pages: &[&image::GrayImage],
        lines: &[(usize, crate::geometry::BBox)],
        views: bool,
    ) -> Result<Vec<LineImage>> {
        crate::preprocess::CpuKernels.lines(pages, lines, views)
    }
}

async fn one_page(b: &Batcher) -> Result<Document> {
    let mut options = EngineOptions::default();
    options.preprocess.detect_orientation = false;
    let meta = b.request(Priority::Interactive, Some(Duration::from_secs(30)));
    b.process_document(sample(), Arc::new(options), &meta, None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recognition_panic_fails_its_pages_and_the_stage_lives_on() {
    let rec = Arc::new(PanickyRecognizer {
        panics: std::sync::atomic::AtomicUsize::new(health::FAILING_AFTER as usize),
        inner: RecordingRecognizer {
            batches: Mutex::new(Vec::new()),
            delay: Duration::ZERO,
        },
    });
    let b = Batcher::start(rec, BatcherConfig::default(), Arc::new(Metrics::new())).unwrap();
    for _ in 0..health::FAILING_AFTER {
        let err = one_page(&b).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal, "{err}");
        assert!(err.to_string().contains("recognition panicked"), "{err}");
    }
    // Failing persistently: the health watch says so.
    assert_eq!(b.failing_stages(), vec!["line"]);
    // The fault is gone: the same stage thread serves again and the watch recovers.
    let doc = one_page(&b).await.unwrap();
    assert!(doc.pages[0].blocks[0].lines[0].text.starts_with('w'));
    assert!(b.failing_stages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_analysis_panic_fails_its_page_and_the_pool_lives_on() {
    let rec = Arc::new(RecordingRecognizer {
        batches: Mutex::new(Vec::new()),
        delay: Duration::ZERO,
    });
    let kernels = Arc::new(PanickyKernels {
        armed: std::sync::atomic::AtomicBool::new(true),
    });
    let config = BatcherConfig {
        page_workers: 1,
        ..BatcherConfig::default()
    };
    let b =
        Batcher::start_with_kernels(rec, Some(kernels.clone()), config, Arc::new(Metrics::new()))
            .unwrap();
    // More faults than pool workers: a lost token would stall the stage here.
    for _ in 0..health::FAILING_AFTER + 1 {
        let err = one_page(&b).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Internal, "{err}");
        assert!(err.to_string().contains("page"), "{err}");
    }
    assert_eq!(b.failing_stages(), vec!["page"]);
    kernels
        .armed
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let doc = one_page(&b).await.unwrap();
    assert!(!doc.pages[0].blocks.is_empty());
    assert!(b.failing_stages().is_empty());
}

/// A TIFF of `pages` gray copies of the sample receipt, and one page's pixels.
fn receipt_tiff(pages: usize) -> (bytes::Bytes, u64) {
    use ::tiff::encoder::{TiffEncoder, colortype};
    let gray = image::load_from_memory(&sample()).unwrap().to_luma8();
    let mut out = std::io::Cursor::new(Vec::new());
    let mut enc = TiffEncoder::new(&mut out).unwrap();
    for _ in 0..pages {
        enc.write_image::<colortype::Gray8>(gray.width(), gray.height(), gray.as_raw())
            .unwrap();
    }
    let pixels = u64::from(gray.width()) * u64::from(gray.height());
    (out.into_inner().into(), pixels)
}

fn start_with_budget(delay_ms: u64, budget: u64) -> (Batcher, Arc<Metrics>) {
    let rec = Arc::new(RecordingRecognizer {
        batches: Mutex::new(Vec::new()),
        delay: Duration::from_millis(delay_ms),
    });
    let metrics = Arc::new(Metrics::new());
    let config = BatcherConfig {
        max_queue_delay: Duration::from_millis(5),
        max_pixels_in_flight: budget,
        ..Default::default()
    };
    (
        Batcher::start(rec, config, metrics.clone()).unwrap(),
        metrics,
    )
}

fn pages_decoded(metrics: &Metrics) -> u64 {
    metrics
        .stage_duration
        .with_label_values(&["decode"])
        .get_sample_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_larger_than_the_pixel_budget_is_read_page_by_page() {
    let (tiff, page_pixels) = receipt_tiff(4);
    // Room for one page and a half: the pages must take turns.
    let (b, metrics) = start_with_budget(0, page_pixels * 3 / 2);
    let peak = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let watcher = {
        let (metrics, peak) = (metrics.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                peak.fetch_max(
                    metrics.pixels_in_flight.get(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
    };
    let meta = b.request(Priority::Interactive, None);
    let doc = b
        .process_document(tiff, Arc::new(EngineOptions::default()), &meta, None)
        .await
        .unwrap();
    watcher.abort();
    assert_eq!(doc.pages.len(), 4);
    assert_eq!(
        doc.pages.iter().map(|p| p.index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(pages_decoded(&metrics), 4);
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed) as u64;
    assert!(peak > 0, "the watcher never saw a page in flight");
    assert!(
        peak < 2 * page_pixels,
        "two pages held at once ({peak} pixels, a page is {page_pixels})"
    );
    assert_eq!(metrics.pixels_in_flight.get(), 0, "every share given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_goes_away_decodes_no_more_pages() {
    let (tiff, page_pixels) = receipt_tiff(6);
    // One page at a time, and a slow recogniser: each page holds its share while its
    // orientation is read in the page stage.
    let (b, metrics) = start_with_budget(400, page_pixels);
    let b = Arc::new(b);
    let task = {
        let b = b.clone();
        tokio::spawn(async move {
            let meta = b.request(Priority::Interactive, None);
            b.process_document(tiff, Arc::new(EngineOptions::default()), &meta, None)
                .await
        })
    };
    let started = Instant::now();
    while pages_decoded(&metrics) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no page decoded"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The client goes away with the first page in the page stage.
    task.abort();
    // The page stage finishes the page it holds, then gives its share back...
    while metrics.pixels_in_flight.get() != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "share never given back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and nothing more of the document is decoded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        pages_decoded(&metrics),
        1,
        "pages decoded after the request went away"
    );
}
