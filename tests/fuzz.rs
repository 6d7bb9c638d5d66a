//! The fuzz targets (`tests/fuzz/targets.rs`) in CI: every file of the kept corpus
//! (`fuzz/corpus/TARGET/`), then mutations of it for a bounded time per target.
//!
//! The coverage-guided runs that grow the corpus are the `fuzz/` crate's (cargo-afl; see
//! fuzz/README.md); this test is their short, repeatable CI run: seeded mutations (bit flips,
//! interesting bytes, insertions, deletions, duplicated and spliced ranges, truncation), not
//! coverage-guided. `FERROCR_FUZZ_SECS` (default 8) is the time per target, `FERROCR_FUZZ_SEED`
//! the seed. A failing input is written to the target directory's tmp folder and named in the
//! panic, so it can be added to the corpus once fixed.

#[path = "fuzz/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small, seeded xorshift generator (no dependency, reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = &[0, 1, 0x7F, 0x80, 0xFF, b'<', b'&', b'"', b'\n', b'\r', b'-'];

/// One mutation of `input`: 1-8 random edits, sometimes splicing in a range of `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, rng.next() as u8);
            }
            3 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            4 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            5 if len > 0 => v.truncate(rng.below(len)),
            6 if !other.is_empty() => {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(512));
                let at = rng.below(len + 1);
                v.splice(at..at, other[i..i + n].iter().copied());
            }
            _ if len >= 4 => {
                // A 32-bit field set to an extreme (sizes, offsets, counts).
                let i = rng.below(len - 3);
                let x: u32 = [0, 1, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF][rng.below(5)];
                v[i..i + 4].copy_from_slice(&x.to_le_bytes());
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("corpus file");
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// Runs `f` on `input`; on a panic, keeps the input and fails naming it.
fn run_one(target: &str, f: fn(&[u8]), input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| f(input))).is_err() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        std::fs::create_dir_all(&dir).expect("failure dir");
        let path = dir.join(format!("{target}-{:016x}", fxhash(input)));
        std::fs::write(&path, input).expect("write failure");
        panic!(
            "fuzz target {target} failed on {what}; input kept at {}",
            path.display()
        );
    }
}

fn fxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

fn fuzz(target: &str, f: fn(&[u8])) {
    let files = corpus(target);
    for (path, bytes) in &files {
        run_one(target, f, bytes, &path.display().to_string());
    }
    let secs: u64 = std::env::var("FERROCR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("FERROCR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let mut rng = Rng(seed ^ fxhash(target.as_bytes()) | 1);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut cases = 0u64;
    while Instant::now() < until {
        let (_, a) = &files[rng.below(files.len())];
        let (_, b) = &files[rng.below(files.len())];
        let input = mutate(&mut rng, a, b);
        run_one(
            target,
            f,
            &input,
            &format!("mutation {cases} (seed {seed})"),
        );
        cases += 1;
    }
    eprintln!(
        "{target}: {} corpus files, {cases} mutations in {secs} s",
        files.len()
    );
    assert!(secs == 0 || cases > 0, "no mutation ran");
}

#[test]
fn decoders() {
    fuzz("decode", targets::decode_file);
}

#[test]
fn request_bodies() {
    fuzz("multipart", targets::multipart_body);
}

#[test]
fn query_strings() {
    fuzz("query", targets::query_string);
}

#[test]
fn renderers() {
    fuzz("render", targets::render_document);
}

/// The seeds reach deep: the valid files of the decode corpus decode (so mutations of them
/// exercise the pixel decoders, not only the sniffing), and the well-formed bodies give uploads.
#[test]
fn the_corpus_seeds_are_valid_inputs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for name in [
        "gray.png",
        "alpha.png",
        "rgb.jpg",
        "exif6.jpg",
        "two-pages-g4.tif",
        "gray16.tif",
        "rgb-lzw.tif",
        "rgb.bmp",
        "bilevel.pbm",
        "gray.pgm",
        "small.webp",
        "text.pdf",
        "images.pdf",
    ] {
        let bytes = std::fs::read(dir.join("decode").join(name)).expect("seed");
        let pages = ferrocr::decode::decode(&bytes, &ferrocr::decode::DecodeLimits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!pages.is_empty(), "{name}");
    }
    let body = std::fs::read(dir.join("multipart/two-files")).expect("seed");
    let req = axum::http::Request::builder()
        .method("POST")
        .header("content-type", "multipart/form-data; boundary=X")
        .body(axum::body::Body::from(body[1..].to_vec()))
        .expect("request");
    let rules = ferrocr::server::upload::UploadRules {
        max_bytes: 1 << 20,
        min_rate: 0,
        grace: Duration::from_secs(10),
        refusal_delay: Duration::ZERO,
    };
    let budget = std::sync::Arc::new(ferrocr::server::upload::BodyBudget::new(1 << 20));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("rt");
    let (uploads, _) = rt
        .block_on(ferrocr::server::upload::read_uploads(req, rules, &budget))
        .map_err(|e| format!("{:?}", e.0))
        .expect("two files read");
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].filename.as_deref(), Some("a.png"));
}
