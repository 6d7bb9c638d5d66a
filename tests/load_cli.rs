//! `ferrocr load` against a real `ferrocr serve` process: the harness's counts must match the
//! server's own `/metrics` counters.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferrocr")
}

/// Start `ferrocr serve` on an ephemeral port and return it with its base URL.
fn serve(data_dir: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--device",
            "cpu",
            "--workers",
            "0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("ferrocr: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (Server(child), url)
}

fn get(url: &str) -> String {
    let out = Command::new("curl").args(["-fsS", url]).output().unwrap();
    assert!(out.status.success(), "curl {url}");
    String::from_utf8(out.stdout).unwrap()
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn load_counts_match_the_server_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(&dir.path().join("data"));
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample-receipt.jpg");
    let report = dir.path().join("report.json");
    let out = Command::new(bin())
        .args([
            "load",
            "--url",
            &url,
            "--concurrency",
            "4",
            "--requests",
            "12",
            "--http2",
            "--quiet",
        ])
        .arg("--file")
        .arg(&sample)
        .arg("--json")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("p99"), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["requests"], 12);
    assert_eq!(r["errors"], 0);
    for k in ["p50", "p90", "p99", "p999", "max"] {
        assert!(r["latency_ms"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    assert!(r["pages_per_s"].as_f64().unwrap() > 0.0);
    assert!(r["requests_per_s"].as_f64().unwrap() > 0.0);
    let m = get(&format!("{url}/metrics"));
    let served = metric(
        &m,
        "ferrocr_requests_total{method=\"POST\",route=\"/v1/ocr\",status=\"200\"}",
    );
    assert_eq!(
        served,
        r["ok"].as_f64().unwrap(),
        "server 200s vs harness ok"
    );
    assert_eq!(
        metric(&m, "ferrocr_pages_total"),
        r["pages"].as_f64().unwrap()
    );
    // Bad harness arguments are refused clearly.
    let out = Command::new(bin())
        .args(["load", "--url", "not a url", "--requests", "1", "--file"])
        .arg(&sample)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url"));
}
