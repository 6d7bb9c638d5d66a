//! Training smoke test: a few CPU steps on synthetic lines make the CTC loss fall, the checkpoint
//! is written, resumes where it stopped, and loads as a model artefact that reads lines.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrocr"));
    c.env("FERROCR_DEVICE", "cpu").env("RUST_LOG", "error");
    c
}

fn losses(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.starts_with("step ") && l.contains(" loss "))
        .filter_map(|l| {
            l.split(" loss ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn train(out: &Path, steps: u64, stop_at: Option<u64>, resume: bool) -> String {
    train_with(out, steps, stop_at, resume, &[])
}

fn train_with(
    out: &Path,
    steps: u64,
    stop_at: Option<u64>,
    resume: bool,
    extra: &[&str],
) -> String {
    let mut c = bin();
    c.args([
        "train", "--device", "cpu", "--batch", "8", "--lr", "0.003", "--warmup", "1",
    ])
    .args([
        "--log-every",
        "1",
        "--val-every",
        "1000",
        "--checkpoint-every",
        "1000",
        "--val-synth",
        "8",
    ])
    .args(["--max-chars", "12", "--steps", &steps.to_string(), "--out"])
    .arg(out);
    if resume {
        c.arg("--resume");
    }
    if let Some(s) = stop_at {
        c.args(["--stop-at", &s.to_string()]);
    }
    c.args(extra);
    let o = c.output().expect("run ferrocr train");
    assert!(
        o.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn loss_falls_and_checkpoints_round_trip() {
    if !Path::new("/usr/share/fonts").exists() {
        ferrocr::prerequisite::missing(
            "no system fonts in /usr/share/fonts (install fonts-dejavu-core)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let log = train(&out, 40, None, false);
    let l = losses(&log);
    assert_eq!(l.len(), 40, "one loss line per step:\n{log}");
    let first: f64 = l[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = l[35..].iter().sum::<f64>() / 5.0;
    assert!(
        last < 0.8 * first,
        "loss should fall: first {first:.3}, last {last:.3}\n{log}"
    );
    for f in [
        "config.json",
        "model.bpk",
        "optimizer.bpk",
        "train_state.json",
    ] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("train_state.json")).unwrap())
            .unwrap();
    assert_eq!(state["step"], 40);

    // Resume on a longer schedule, stopping early: two steps, checkpoint at 42.
    let log = train(&out, 100, Some(42), true);
    assert!(log.contains("resumed at step 40"), "{log}");
    assert!(log.contains("40 -> 42 (schedule of 100)"), "{log}");
    assert_eq!(losses(&log).len(), 2);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("train_state.json")).unwrap())
            .unwrap();
    assert_eq!(state["step"], 42);

    // Grow the network by a residual BiLSTM layer and train one more step; it cannot shrink.
    let log = train_with(&out, 100, Some(43), true, &["--lstm-layers", "2"]);
    assert!(log.contains("grown from 1 to 2 BiLSTM layers"), "{log}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architecture"]["lstm_layers"], 2);
    let o = bin()
        .args(["train", "--device", "cpu", "--resume", "--lstm-layers", "1"])
        .args(["--steps", "100", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("a network can grow, not shrink"), "{err}");

    // The checkpoint is a model artefact: eval-lines loads it and reads a labelled line set.
    let data = dir.path().join("lines");
    std::fs::create_dir_all(&data).unwrap();
    let mut img = image::GrayImage::from_pixel(200, 40, image::Luma([250]));
    for x in 20..180 {
        for y in 15..25 {
            img.put_pixel(x, y, image::Luma([10]));
        }
    }
    img.save(data.join("page_1.png")).unwrap();
    std::fs::write(
        data.join("lines.jsonl"),
        "{\"image\": \"page_1.png\", \"bbox\": [10, 5, 190, 35], \"text\": \"x\"}\n",
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let o = bin()
        .args(["eval-lines", "--device", "cpu", "--model"])
        .arg(&out)
        .arg("--data")
        .arg(&data)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["lines"], 1);
    for key in ["cer", "cer_ci", "wer_ci", "ece"] {
        assert!(report[key].is_number(), "{key} in {report}");
    }
}

#[test]
fn a_schedule_that_starts_after_it_ends_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = bin()
        .args([
            "train",
            "--device",
            "cpu",
            "--steps",
            "100",
            "--schedule-from",
            "100",
        ])
        .arg("--out")
        .arg(dir.path().join("m"))
        .output()
        .expect("run ferrocr");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--schedule-from 100 must be below --steps 100"),
        "{err}"
    );
}
