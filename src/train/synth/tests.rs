//! Tests of the synthetic line generator (system fonts; skipped when none are installed).

use super::*;

/// A generator over the system fonts, or `None` (with a note) when there are none.
fn generator(seed: u64) -> Option<SynthGenerator> {
    match FontSet::discover() {
        Ok(fonts) => {
            Some(SynthGenerator::new(fonts, TextGenerator::new(), seed).expect("generator"))
        }
        Err(e) => {
            crate::prerequisite::missing(&format!("system fonts: {e}"));
            None
        }
    }
}

#[test]
fn generator_is_sync_and_send() {
    fn check<T: Sync + Send>() {}
    check::<SynthGenerator>();
}

#[test]
fn deterministic_per_seed_and_index() {
    let Some(g) = generator(42) else { return };
    let Some(g2) = generator(42) else { return };
    for i in [0u64, 1, 17, 123_456_789] {
        let a = g.sample(i);
        let b = g2.sample(i);
        assert_eq!(a, b, "sample {i} differs between identical generators");
    }
    let a = g.sample(5);
    let b = g.sample(6);
    assert!(a.image != b.image || a.text != b.text);
    let Some(other) = generator(43) else { return };
    assert_ne!(g.sample(5).image, other.sample(5).image);
    // Parallel generation gives the same data as sequential.
    let par: Vec<SynthLine> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u64)
            .map(|i| {
                let g = &g;
                s.spawn(move || g.sample(i))
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for (i, s) in par.iter().enumerate() {
        assert_eq!(*s, g.sample(i as u64));
    }
}

#[test]
fn labels_are_canonical_and_boxes_hold_ink() {
    let Some(g) = generator(7) else { return };
    let alphabet = Alphabet::default();
    let n = 2000;
    let start = std::time::Instant::now();
    let mut heights = Vec::new();
    let mut min_contrast = f32::MAX;
    let mut loose = 0usize;
    for i in 0..n {
        let s = g.sample(i);
        let t = &s.text;
        assert!(!t.is_empty(), "sample {i}: empty label");
        assert_eq!(
            *t,
            alphabet.canonicalize(t),
            "sample {i}: non-canonical {t:?}"
        );
        assert!(
            t.chars().all(|c| alphabet.class_of(c).is_some()),
            "sample {i}: {t:?}"
        );
        assert!(
            t.trim() == t && !t.contains("  "),
            "sample {i}: bad spacing {t:?}"
        );
        let (w, h) = s.image.dimensions();
        let b = s.text_bbox;
        assert!(
            !b.is_empty() && b.x1 <= w && b.y1 <= h,
            "sample {i}: box {b:?} outside {w}x{h}"
        );
        // The box holds ink: its darkest pixel is well below its light (paper) pixels, or, in
        // reverse video, its lightest pixel well above its dark ground.
        let mut inside: Vec<u8> = Vec::with_capacity(b.area() as usize);
        for y in b.y0..b.y1 {
            for x in b.x0..b.x1 {
                inside.push(s.image.get_pixel(x, y)[0]);
            }
        }
        inside.sort_unstable();
        let n = inside.len();
        let (paper, darkest) = (inside[n * 4 / 5] as f32, inside[0] as f32);
        let (ground, lightest) = (inside[n / 5] as f32, inside[n - 1] as f32);
        let contrast = (paper - darkest).max(lightest - ground);
        min_contrast = min_contrast.min(contrast);
        assert!(
            contrast >= 40.0,
            "sample {i} ({t:?}, {}): box {b:?} has no ink (contrast {contrast})",
            s.font
        );
        let full = BBox::new(0, 0, w, h);
        assert!(
            s.line_box == b || s.line_box == full,
            "sample {i}: line box {:?} is neither the text box nor the image",
            s.line_box
        );
        loose += usize::from(s.line_box == full && b != full);
        heights.push(h);
    }
    // About half the lines are normalised from a loose box (SynthConfig::loose_box_fraction).
    assert!(
        (n as usize / 4..=n as usize * 3 / 4).contains(&loose),
        "{loose} of {n} loose boxes"
    );
    let per = start.elapsed().as_secs_f64() * 1000.0 / n as f64;
    heights.sort_unstable();
    println!(
        "{n} samples, {per:.2} ms/sample, heights p10={} p50={} p90={}, min contrast {min_contrast}",
        heights[n as usize / 10],
        heights[n as usize / 2],
        heights[n as usize * 9 / 10]
    );
}

#[test]
fn clean_config_renders_without_degradation() {
    let Some(fonts) = FontSet::discover().ok() else {
        return;
    };
    let cfg = SynthConfig {
        degradation: 0.0,
        ..SynthConfig::default()
    };
    let g = SynthGenerator::with_config(fonts, TextGenerator::new(), 1, cfg).expect("generator");
    for i in 0..50 {
        let s = g.sample(i);
        // Clean renders have pure paper around the text: the corners are light.
        let (w, h) = s.image.dimensions();
        let corner = s.image.get_pixel(0, 0)[0].max(s.image.get_pixel(w - 1, h - 1)[0]);
        assert!(corner > 200, "sample {i}: corner {corner}");
    }
}

#[test]
fn writes_samples_for_eyeballing() {
    let Some(g) = generator(0) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    g.write_samples(dir.path(), 5).expect("write");
    let labels = std::fs::read_to_string(dir.path().join("labels.txt")).expect("labels");
    assert_eq!(labels.lines().count(), 5);
    assert!(dir.path().join("00004.png").exists());
    if let Ok(out) = std::env::var("SYNTH_SAMPLES_DIR") {
        let n = std::env::var("SYNTH_SAMPLES_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        g.write_samples(Path::new(&out), n).expect("write samples");
    }
}

#[test]
fn halftone_screens_the_paper_with_dots() {
    let mut rng = sample_rng(3, 0);
    let mut p = Plane::filled(48, 32, 240.0);
    degrade::halftone(&mut p, 3.0, 0.5, 100.0, &mut rng);
    let min = p.data.iter().copied().fold(f32::MAX, f32::min);
    let max = p.data.iter().copied().fold(f32::MIN, f32::max);
    let mean = p.data.iter().sum::<f32>() / p.data.len() as f32;
    assert!(min < 160.0, "dots are dark: {min}");
    assert!(max > 235.0, "paper shows between dots: {max}");
    assert!(
        (160.0..235.0).contains(&mean),
        "a mid gray on average: {mean}"
    );
}

#[test]
fn broken_strokes_break_but_keep_most_ink() {
    // A 200x60 plane with five thick vertical strokes (x-height 40 px).
    let mut cov = Plane::filled(200, 60, 0.0);
    for s in 0..5 {
        for y in 10..50 {
            for x in 20 + 35 * s..28 + 35 * s {
                cov.data[y * 200 + x] = 1.0;
            }
        }
    }
    let before: f32 = cov.data.iter().sum();
    let (mut broken_any, mut lost_any) = (false, false);
    for seed in 0..8 {
        let mut rng = sample_rng(seed, 1);
        let out = degrade::broken_strokes(&cov, 4.0, 40.0, &mut rng);
        let after: f32 = out.data.iter().sum();
        assert!(after <= before, "ink is only removed");
        lost_any |= after < 0.99 * before;
        assert!(after > 0.5 * before, "most ink stays: {after} of {before}");
        assert!(out.data.iter().all(|v| (0.0..=1.0).contains(v)));
        // A gap: some pixel in a stroke's core dropped near white.
        broken_any |= (12..48).any(|y| (0..5).any(|s| out.data[y * 200 + 24 + 35 * s] < 0.2));
    }
    assert!(lost_any, "some ink is lost");
    assert!(broken_any, "strokes show gaps");
}
