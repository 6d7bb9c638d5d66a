//! What a load test sends and how each request is checked: the server URL, the documents, sync
//! (`POST /v1/ocr`) or jobs mode (`POST /v1/jobs`, poll `GET /v1/jobs/{id}` to a terminal state,
//! fetch the result), over HTTP/1.1 or HTTP/2 on `connections` client connections.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::report::Outcome;
use crate::error::{OcrError, Result};

/// Why a request failed, and when the server asked to be tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// Error kind (e.g. `http_503`, `transport`).
    pub kind: String,
    /// The `Retry-After` of a 503 or 429.
    pub retry_after: Option<Duration>,
}

impl From<String> for Failed {
    fn from(kind: String) -> Self {
        Failed {
            kind,
            retry_after: None,
        }
    }
}

impl From<&str> for Failed {
    fn from(kind: &str) -> Self {
        Failed::from(kind.to_string())
    }
}

/// A non-success status as a [`Failed`] (`prefix` + status), with its `Retry-After` seconds.
fn refused(prefix: &str, status: u16, headers: &hyper::HeaderMap) -> Failed {
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Failed {
        kind: format!("{prefix}{status}"),
        retry_after,
    }
}

/// Synchronous requests or asynchronous jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `POST /v1/ocr` and wait for the answer.
    Sync,
    /// `POST /v1/jobs`, poll to completion, fetch the result.
    Jobs,
}

/// One document to send.
#[derive(Debug, Clone)]
pub struct Input {
    /// File name.
    pub name: String,
    /// Its bytes.
    pub bytes: Bytes,
    /// Content-Type from the extension.
    pub content_type: &'static str,
}

fn content_type_of(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "tif" | "tiff" => "image/tiff",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "pnm" | "pgm" | "ppm" | "pbm" => "image/x-portable-anymap",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

/// The documents of `--images DIR` (every image/PDF file, sorted) or `--file F`.
pub fn load_inputs(dir: Option<&Path>, file: Option<&Path>) -> Result<Vec<Input>> {
    let mut paths = Vec::new();
    if let Some(f) = file {
        paths.push(f.to_path_buf());
    }
    if let Some(d) = dir {
        for entry in std::fs::read_dir(d)? {
            let p = entry?.path();
            if p.is_file() && content_type_of(&p).is_some() {
                paths.push(p);
            }
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(OcrError::bad_param(
            "--images/--file",
            "no image or PDF files found",
        ));
    }
    paths
        .iter()
        .map(|p| {
            Ok(Input {
                name: p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
                bytes: Bytes::from(std::fs::read(p)?),
                content_type: content_type_of(p).unwrap_or("application/octet-stream"),
            })
        })
        .collect()
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The server under test and how to talk to it.
pub struct Target {
    base: String,
    clients: Vec<HttpsClient>,
    inputs: Vec<Input>,
    mode: Mode,
    api_key: Option<String>,
    timeout: Duration,
}

impl Target {
    /// A target at `base` (e.g. `http://127.0.0.1:8080`) over `connections` connections.
    pub fn new(
        base: &str,
        inputs: Vec<Input>,
        mode: Mode,
        http2: bool,
        connections: usize,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<Self> {
        let uri: hyper::Uri = base
            .parse()
            .map_err(|e| OcrError::bad_param("--url", format!("{base}: {e}")))?;
        if uri.scheme_str().is_none() || uri.host().is_none() {
            return Err(OcrError::bad_param(
                "--url",
                format!("{base}: want http(s)://host:port"),
            ));
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut clients = Vec::new();
        for _ in 0..connections.max(1) {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(provider.clone())
                .map_err(|e| OcrError::Internal(format!("TLS setup: {e}")))?
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .build();
            let mut b = Client::builder(TokioExecutor::new());
            b.http2_only(http2)
                .pool_idle_timeout(Duration::from_secs(90));
            clients.push(b.build(https));
        }
        Ok(Target {
            base: base.trim_end_matches('/').to_string(),
            clients,
            inputs,
            mode,
            api_key,
            timeout,
        })
    }

    async fn call(
        &self,
        n: u64,
        method: &str,
        path: &str,
        body: Option<&Input>,
    ) -> std::result::Result<(u16, hyper::HeaderMap, Bytes), String> {
        let client = &self.clients[n as usize % self.clients.len()];
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(k) = &self.api_key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        let body = match body {
            Some(input) => {
                req = req.header("content-type", input.content_type);
                Full::new(input.bytes.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|_| "request".to_string())?;
        let resp = client.request(req).await.map_err(|e| {
            if e.is_connect() {
                "connect".to_string()
            } else {
                "transport".to_string()
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|_| "body".to_string())?
            .to_bytes();
        Ok((status, headers, bytes))
    }

    /// Send request number `n` and check its answer.
    pub async fn exercise(&self, n: u64) -> Outcome {
        let input = &self.inputs[n as usize % self.inputs.len()];
        let fut = async {
            match self.mode {
                Mode::Sync => self.sync(n, input).await,
                Mode::Jobs => self.job(n, input).await,
            }
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(pages)) => Outcome::Ok { pages },
            Ok(Err(f)) => Outcome::Error {
                kind: f.kind,
                retry_after: f.retry_after,
            },
            Err(_) => Outcome::Error {
                kind: "timeout".into(),
                retry_after: None,
            },
        }
    }

    async fn sync(&self, n: u64, input: &Input) -> std::result::Result<u64, Failed> {
        let (status, headers, body) = self
            .call(n, "POST", "/v1/ocr?format=text", Some(input))
            .await?;
        if status != 200 {
            return Err(refused("http_", status, &headers));
        }
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err("empty_body".into());
        }
        Ok(headers
            .get("x-ferrocr-pages")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1))
    }

    async fn job(&self, n: u64, input: &Input) -> std::result::Result<u64, Failed> {
        let (status, headers, body) = self
            .call(n, "POST", "/v1/jobs?formats=text", Some(input))
            .await?;
        if status != 202 {
            return Err(refused("http_", status, &headers));
        }
        let job: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "bad_json")?;
        let id = job["id"].as_str().ok_or("bad_json")?.to_string();
        let started = Instant::now();
        let mut wait = Duration::from_millis(20);
        let job = loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(500));
            let (status, _, body) = self.call(n, "GET", &format!("/v1/jobs/{id}"), None).await?;
            if status != 200 {
                return Err(format!("poll_http_{status}").into());
            }
            let job: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "bad_json")?;
            match job["status"].as_str() {
                Some("succeeded") => break job,
                Some("failed") => return Err("job_failed".into()),
                Some("canceled") => return Err("job_canceled".into()),
                _ if started.elapsed() > self.timeout => return Err("timeout".into()),
                _ => {}
            }
        };
        let (status, _, body) = self
            .call(n, "GET", &format!("/v1/jobs/{id}/result?format=text"), None)
            .await?;
        if status != 200 {
            return Err(format!("result_http_{status}").into());
        }
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err("empty_body".into());
        }
        Ok(job["pages_total"].as_u64().unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_carries_its_retry_after() {
        let mut h = hyper::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        let f = refused("http_", 503, &h);
        assert_eq!(f.kind, "http_503");
        assert_eq!(f.retry_after, Some(Duration::from_secs(3)));
        let f = refused("http_", 500, &hyper::HeaderMap::new());
        assert_eq!((f.kind.as_str(), f.retry_after), ("http_500", None));
    }
}
