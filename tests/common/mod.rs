//! Shared helpers of the server tests: start the real server in-process on an ephemeral port,
//! and HTTP/1.1 and HTTP/2 (h2c) clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ferrocr::compute::device::DevicePreference;
use ferrocr::config::ServeConfig;
use ferrocr::metrics::Metrics;
use ferrocr::server::{AppState, build_state, listen, router};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    /// The job workers, webhook dispatcher and sweeper, when the store is open.
    background: Option<ferrocr::worker::Background>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Workers not stopped by `stop` live as long as the test's runtime (dropping their stop
        // signal would make their loops spin).
        if let Some(b) = self.background.take() {
            std::mem::forget(b);
        }
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Send the shutdown signal and wait for the drain to finish, then stop the job workers
    /// and the webhook dispatcher (as `ferrocr serve` does on SIGTERM).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            let _ = d.await;
        }
        if let Some(b) = self.background.take() {
            b.shutdown(std::time::Duration::from_secs(10)).await;
        }
    }
}

/// Settings for tests: CPU, no job workers, an ephemeral port.
pub fn test_config() -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".into(),
        device: DevicePreference::Cpu,
        workers: 0,
        ..ServeConfig::default()
    }
}

/// Start the server with `config` (no job store).
pub async fn start(config: ServeConfig) -> TestServer {
    start_inner(config, false).await
}

/// Start the server with its job store and `config.workers` workers.
pub async fn start_with_jobs(config: ServeConfig) -> TestServer {
    start_inner(config, true).await
}

async fn start_inner(config: ServeConfig, with_jobs: bool) -> TestServer {
    let metrics = Arc::new(Metrics::new());
    let jobs = if with_jobs {
        Some(Arc::new(
            ferrocr::worker::JobsState::open(&config).await.unwrap(),
        ))
    } else {
        None
    };
    let (cfg, m, j) = (config.clone(), metrics.clone(), jobs.clone());
    let state = tokio::task::spawn_blocking(move || build_state(cfg, m, j))
        .await
        .unwrap()
        .expect("server state builds");
    let background =
        jobs.map(|jobs| ferrocr::worker::start(jobs, state.batcher.clone(), &config, metrics));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state.clone());
    let st = state.clone();
    let done = tokio::spawn(async move {
        listen::serve(st, app, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer {
        addr,
        state,
        stop: Some(tx),
        done: Some(done),
        background,
    }
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// An HTTP/1.1 client.
pub fn http1() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client with prior knowledge (h2c); all requests share one connection.
pub fn h2c() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .http2_max_concurrent_reset_streams(1024)
        .build_http()
}

/// A response's status, headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
    pub version: hyper::Version,
}

/// Send one request.
pub async fn send(
    client: &HttpClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut b = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::from(body))).unwrap();
    let resp = client.request(req).await.expect("request sent");
    let status = resp.status().as_u16();
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        version,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

/// The test data file `name`.
pub fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// A small PNG: the top of the sample receipt (a few lines), cheap to recognise on a CPU.
pub fn small_page() -> Vec<u8> {
    let img = image::load_from_memory(&data("sample-receipt.jpg")).unwrap();
    let top = img.crop_imm(0, 0, img.width(), 260);
    let mut out = Vec::new();
    top.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The value of a metric line `name{labels} value` in a Prometheus exposition.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The `ferrocr` binary on the CPU, quiet below errors.
pub fn ferrocr_bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ferrocr"));
    c.env("FERROCR_DEVICE", "cpu").env("RUST_LOG", "error");
    c
}

/// The path of the test data file `name`.
pub fn data_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}
