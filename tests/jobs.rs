//! Asynchronous jobs through the real server: idempotency, signed webhooks with retries, bad
//! input leaving nothing behind (in-process, embedded SQLite store), a SIGKILL mid-run with the
//! embedded store, and a farm of 1 API + 3 worker processes on PostgreSQL with one worker killed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ferrocr::config::ServeConfig;
use parking_lot::Mutex;

const PNG: (&str, &str) = ("content-type", "image/png");

async fn wait_status(
    client: &HttpClient,
    url: &str,
    want: &str,
    timeout: Duration,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let r = send(client, "GET", url, &[], vec![]).await;
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        if v["status"] == want {
            return v;
        }
        assert!(start.elapsed() < timeout, "job never became {want}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_webhooks_and_bad_input() {
    // A loopback webhook receiver: 500 twice, then 200; it checks every signature.
    let seen: Arc<Mutex<Vec<(u16, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let seen = seen2.clone();
            async move {
                let ts = headers["x-ferrocr-timestamp"].to_str().unwrap().to_string();
                let sig = headers["x-ferrocr-signature"].to_str().unwrap().to_string();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let valid = ferrocr::jobs::webhook::verify(
                    b"hook-secret",
                    &ts,
                    &sig,
                    &body,
                    now,
                    Duration::from_secs(300),
                )
                .is_ok();
                let mut s = seen.lock();
                let status = if s.len() < 2 { 500 } else { 200 };
                s.push((status, valid));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(hook_listener, receiver).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let server = start_with_jobs(ServeConfig {
        data_dir: dir.path().join("data"),
        workers: 1,
        webhook_secret: Some("hook-secret".into()),
        webhook_allow: vec!["127.0.0.1".into()],
        webhook_backoff_initial_ms: 300,
        ..test_config()
    })
    .await;
    let client = http1();
    let page = small_page();

    // Bad input first: every one refused, nothing stored.
    let jobs_url = server.url("/v1/jobs");
    let bad: Vec<(String, &str, Vec<u8>, u16)> = vec![
        (jobs_url.clone(), "image/png", vec![], 400),
        (
            jobs_url.clone(),
            "image/png",
            page[..page.len() / 3].to_vec(),
            400,
        ),
        (jobs_url.clone(), "text/plain", page.clone(), 415),
        (
            format!("{jobs_url}?formats=docx"),
            "image/png",
            page.clone(),
            400,
        ),
        (
            format!("{jobs_url}?priority=5000"),
            "image/png",
            page.clone(),
            400,
        ),
        (
            format!("{jobs_url}?callback_url=http://10.0.0.1/x"),
            "image/png",
            page.clone(),
            400,
        ),
        (
            format!("{jobs_url}?callback_url=http://169.254.169.254/x"),
            "image/png",
            page.clone(),
            400,
        ),
        (format!("{jobs_url}?nope=1"), "image/png", page.clone(), 400),
    ];
    for (url, ct, body, status) in bad {
        let r = send(&client, "POST", &url, &[("content-type", ct)], body).await;
        assert_eq!(r.status, status, "{url}: {}", r.body);
        assert!(r.body.contains("\"error\""), "{}", r.body);
    }
    let r = send(
        &client,
        "GET",
        &server.url("/v1/jobs/not-a-uuid"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        &client,
        "GET",
        &server.url("/v1/jobs/00000000-0000-4000-8000-000000000000"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let list = send(&client, "GET", &server.url("/v1/jobs"), &[], vec![]).await;
    let v: serde_json::Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(
        v["jobs"].as_array().unwrap().len(),
        0,
        "nothing half-written: {}",
        list.body
    );

    // Idempotency: the same key twice gives the same job.
    let url = format!("{jobs_url}?formats=text,json,pdf&callback_url=http://{hook_addr}/hook");
    let a = send(
        &client,
        "POST",
        &url,
        &[PNG, ("idempotency-key", "k-1")],
        page.clone(),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    let b = send(
        &client,
        "POST",
        &url,
        &[PNG, ("idempotency-key", "k-1")],
        page.clone(),
    )
    .await;
    assert_eq!(b.status, 202, "{}", b.body);
    let ja: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let jb: serde_json::Value = serde_json::from_str(&b.body).unwrap();
    assert_eq!(ja["id"], jb["id"]);
    assert_eq!(b.headers["idempotent-replayed"], "true");
    let location = a.headers["location"].to_str().unwrap().to_string();
    let done = wait_status(
        &client,
        &server.url(&location),
        "succeeded",
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(done["pages_total"], 1);
    let text = result_of(&client, &server.url(&location), "text").await;
    assert_eq!(text.status, 200);
    assert!(text.body.contains("MARKET"), "{}", text.body);
    let sync = send(
        &client,
        "POST",
        &server.url("/v1/ocr?format=text"),
        &[PNG],
        page.clone(),
    )
    .await;
    assert_eq!(
        text.body, sync.body,
        "job result equals the synchronous result"
    );
    // The searchable PDF is served as the file it is (stored as base64 text).
    let pdf = result_of(&client, &server.url(&location), "pdf").await;
    assert_eq!(pdf.status, 200, "{}", pdf.body);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.body.starts_with("%PDF-1.") && pdf.body.trim_end().ends_with("%%EOF"));
    // Formats that were not requested are rendered on demand from the recorded pages.
    for (format, marker) in [
        ("alto", "CONTENT=\"MARKET\""),
        ("hocr", "class='ocrx_word'"),
        ("tsv", "\tMARKET\n"),
    ] {
        let r = result_of(&client, &server.url(&location), format).await;
        assert_eq!(r.status, 200, "{format} on demand: {}", r.body);
        assert!(r.body.contains(marker), "{format}: {}", r.body);
    }
    // The webhook: two 500s, then delivered; every signature valid.
    let start = Instant::now();
    while seen.lock().len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "webhook retries: {:?}",
            seen.lock()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = seen.lock().clone();
    assert_eq!(
        s.iter().map(|x| x.0).collect::<Vec<_>>()[..3],
        [500, 500, 200]
    );
    assert!(s.iter().all(|x| x.1), "signatures verify");

    // Cancel a queued job (priority below the worker's reach is not needed: cancel right away).
    let r = send(
        &client,
        "POST",
        &format!("{jobs_url}?priority=-5"),
        &[PNG],
        data("sample-letter.png"),
    )
    .await;
    assert_eq!(r.status, 202);
    let id = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        &client,
        "DELETE",
        &server.url(&format!("/v1/jobs/{id}")),
        &[],
        vec![],
    )
    .await;
    // Canceled while queued, or deleted if it had already finished.
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        v["status"] == "canceled" || v["deleted"] == true,
        "{}",
        r.body
    );
    let m = send(&client, "GET", &server.url("/metrics"), &[], vec![])
        .await
        .body;
    assert!(
        metric(&m, "ferrocr_jobs{state=\"succeeded\"}").unwrap() >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "ferrocr_webhook_deliveries_total{outcome=\"delivered\"}"
        )
        .unwrap()
            >= 1.0
    );

    // DELETE on a finished job removes it at once (privacy): record, pages, results.
    let r = send(&client, "DELETE", &server.url(&location), &[], vec![]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"deleted\":true"), "{}", r.body);
    let gone = send(&client, "GET", &server.url(&location), &[], vec![]).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    let gone = result_of(&client, &server.url(&location), "text").await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    server.stop().await;
}

/// `GET {job_url}/result?format={format}`.
async fn result_of(client: &HttpClient, job_url: &str, format: &str) -> Reply {
    send(
        client,
        "GET",
        &format!("{job_url}/result?format={format}"),
        &[],
        vec![],
    )
    .await
}

/// A `ferrocr` child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrocr"));
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("ferrocr: listening on ")
        .unwrap_or("")
        .to_string();
    (Proc(child), url)
}

async fn submit_many(client: &HttpClient, base: &str, page: &[u8], n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let r = send(
            client,
            "POST",
            &format!("{base}/v1/jobs?formats=text"),
            &[PNG],
            page.to_vec(),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.body);
        ids.push(
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids
}

async fn count_succeeded(client: &HttpClient, base: &str) -> usize {
    let r = send(
        client,
        "GET",
        &format!("{base}/v1/jobs?status=succeeded&limit=1000"),
        &[],
        vec![],
    )
    .await;
    serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["jobs"]
        .as_array()
        .unwrap()
        .len()
}

async fn check_all(
    client: &HttpClient,
    base: &str,
    ids: &[String],
    expected: &str,
    timeout: Duration,
) {
    let start = Instant::now();
    while count_succeeded(client, base).await < ids.len() {
        assert!(
            start.elapsed() < timeout,
            "only {} of {} succeeded",
            count_succeeded(client, base).await,
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for id in ids {
        let r = send(
            client,
            "GET",
            &format!("{base}/v1/jobs/{id}/result?format=text"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, expected, "job {id}");
        // A PDF not asked for at submission is made on request from the stored document.
        let r = send(
            client,
            "GET",
            &format!("{base}/v1/jobs/{id}/result?format=pdf"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["content-type"], "application/pdf");
        assert!(r.body.starts_with("%PDF-1.") && r.body.trim_end().ends_with("%%EOF"));
    }
}

const FAST_LEASE: [(&str, &str); 3] = [
    ("FERROCR_LEASE_MS", "1500"),
    ("FERROCR_DEDUPE", "false"),
    ("FERROCR_DEVICE", "cpu"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_then_restart_finishes_every_job_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let client = http1();
    let page = small_page();
    let (first, base) = spawn(&args, &FAST_LEASE);
    let expected = send(
        &client,
        "POST",
        &format!("{base}/v1/ocr?format=text"),
        &[PNG],
        page.clone(),
    )
    .await
    .body;
    let ids = submit_many(&client, &base, &page, 50).await;
    let start = Instant::now();
    while count_succeeded(&client, &base).await < 3 {
        assert!(start.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = count_succeeded(&client, &base).await;
    assert!(before < 50, "the kill must land mid-run ({before} done)");
    drop(first); // SIGKILL
    let (_second, base) = spawn(&args, &FAST_LEASE);
    check_all(&client, &base, &ids, &expected, Duration::from_secs(300)).await;
    let r = send(
        &client,
        "GET",
        &format!("{base}/v1/jobs?limit=1000"),
        &[],
        vec![],
    )
    .await;
    let all: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        all["jobs"].as_array().unwrap().len(),
        50,
        "no job lost or duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_farm_survives_a_killed_worker() {
    let Ok(admin_url) = std::env::var("FERROCR_TEST_POSTGRES_URL") else {
        ferrocr::prerequisite::missing("FERROCR_TEST_POSTGRES_URL is not set (.ci/run sets it)");
        return;
    };
    use sqlx::Connection;
    let db = format!("ferrocr_farm_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let store = match admin_url.rfind('/') {
        Some(i) => format!("{}/{db}", &admin_url[..i]),
        None => panic!("bad FERROCR_TEST_POSTGRES_URL"),
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (_api, base) = spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--store",
            &store,
            "--data-dir",
            d,
        ],
        &FAST_LEASE,
    );
    let mut workers: Vec<Proc> = (0..3)
        .map(|_| spawn(&["worker", "--store", &store, "--data-dir", d], &FAST_LEASE).0)
        .collect();
    let client = http1();
    let page = small_page();
    let expected = send(
        &client,
        "POST",
        &format!("{base}/v1/ocr?format=text"),
        &[PNG],
        page.clone(),
    )
    .await
    .body;
    let ids = submit_many(&client, &base, &page, 100).await;
    let start = Instant::now();
    while count_succeeded(&client, &base).await < 10 {
        assert!(start.elapsed() < Duration::from_secs(180));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(workers.remove(0)); // SIGKILL one worker mid-run
    check_all(&client, &base, &ids, &expected, Duration::from_secs(400)).await;
    drop(workers);
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .ok();
}

/// `ferrocr worker --listen ADDR` answers health, readiness and metrics (with the process
/// series) over HTTP; API-only flags are refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_health_and_metrics_and_refuses_api_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_ferrocr"))
        .args(["worker", "--api-key", "k", "--data-dir", data])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--api-key") && err.contains("worker"), "{err}");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrocr"));
    cmd.args(["worker", "--listen", "127.0.0.1:0", "--data-dir", data])
        .env("FERROCR_DEVICE", "cpu")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    // Kept open to the end: the worker writes a second line.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let _proc = Proc(child);
    let base = line
        .trim()
        .strip_prefix("ferrocr: worker health and metrics on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let client = http1();
    let health = send(&client, "GET", &format!("{base}/healthz"), &[], vec![]).await;
    assert_eq!(health.status, 200, "{}", health.body);
    let ready = send(&client, "GET", &format!("{base}/readyz"), &[], vec![]).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(ready.body.contains("\"store\":\"ok\""), "{}", ready.body);
    let metrics = send(&client, "GET", &format!("{base}/metrics"), &[], vec![]).await;
    assert_eq!(metrics.status, 200);
    for series in [
        "ferrocr_pages_total 0",
        "ferrocr_lease_expiries_total 0",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.body.contains(series), "missing {series}");
    }
    let api = send(&client, "POST", &format!("{base}/v1/ocr"), &[PNG], vec![1]).await;
    assert_eq!(api.status, 404, "a worker serves no OCR API");
}
