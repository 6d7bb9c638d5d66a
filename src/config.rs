//! Server settings: defaults, overlaid by a TOML file (`--config`), then by `FERROCR_<KEY>`
//! environment variables (every key, e.g. `FERROCR_QUEUE_CAPACITY=64`), then by command-line
//! flags. Every key and its default is listed in docs/CONFIG.md; unknown keys are an error so a
//! typo never goes unnoticed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::batcher::BatcherConfig;
use crate::compute::device::DevicePreference;
use crate::error::{OcrError, Result};

/// Every setting of `ferrocr serve` / `ferrocr worker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on (HTTP/1.1 and h2c on one port; TLS when a certificate is set).
    pub listen: String,
    /// PEM certificate chain; with `tls_key`, serve TLS with ALPN h2 and http/1.1.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// HTTP/2: most concurrent streams per connection.
    pub http2_max_concurrent_streams: u32,
    /// HTTP/2: initial per-stream flow-control window, bytes.
    pub http2_stream_window: u32,
    /// HTTP/2: initial per-connection flow-control window, bytes.
    pub http2_connection_window: u32,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Largest page, pixels (checked from headers before decoding).
    pub max_page_pixels: u64,
    /// Most pages per document.
    pub max_pages: usize,
    /// Most pixels of one document's pages together (TIFF: refused from the headers before
    /// decoding; PDF: rendered at a lower DPI to fit, down to 100 DPI; 413 beyond).
    pub max_document_pixels: u64,
    /// Decoded page pixels in memory at once over every request and job (pages take their
    /// share before they are decoded and wait, until their deadline, when it is spent; a page
    /// larger than this runs alone).
    pub max_pixels_in_flight: u64,
    /// Deadline of a synchronous request, ms (a request may ask for less with `timeout_ms`).
    pub request_timeout_ms: u64,
    /// Admission: most synchronous requests in flight (queued or running); beyond, 503.
    pub queue_capacity: usize,
    /// Most requests in flight per client (API key, else IP address); beyond, 429. 0 = off.
    pub max_in_flight_per_client: usize,
    /// `Retry-After` seconds sent with 503 and 429 when no better estimate exists.
    pub retry_after_s: u64,
    /// Longest a synchronous request is expected to wait for its turn, ms: once the server's
    /// completion rate is measured, no more requests are admitted than it finishes in this time
    /// (or in 0.8 x the request's deadline, if shorter).
    pub max_queue_wait_ms: u64,
    /// Request-body bytes buffered at once across all requests; a body that does not fit gets
    /// 503 + `Retry-After`.
    pub max_buffered_body_bytes: usize,
    /// After `upload_grace_ms`, a request body must arrive at this average rate, bytes/s, or is
    /// cut off with 408 (0 = no minimum).
    pub min_upload_bytes_per_s: u64,
    /// Time before `min_upload_bytes_per_s` applies, ms.
    pub upload_grace_ms: u64,
    /// A 503/429 refusal is answered after this long (at most its `Retry-After`), ms, so a
    /// client that ignores `Retry-After` and retries at once is slowed to its pace instead of
    /// spinning the server's cores on refusals (0 = answer at once).
    pub refusal_delay_ms: u64,
    /// `POST /v1/jobs` submissions being checked (read, decoded, stored) at once; beyond, 503.
    pub max_job_submissions: usize,
    /// Most open client connections (0 = derived from the file-descriptor limit, which is
    /// raised to its hard maximum at start); beyond, new connections wait to be accepted.
    pub max_connections: usize,
    /// Line stage: most lines per recognition batch.
    pub max_batch_lines: usize,
    /// Line stage: most padded input pixels per recognition batch.
    pub max_batch_pixels: usize,
    /// Longest a batch waits to fill, ms.
    pub max_queue_delay_ms: u64,
    /// Page stage: most pages per preprocessing batch.
    pub max_batch_pages: usize,
    /// CPU threads for decoding and preprocessing (0 = one per core).
    pub page_workers: usize,
    /// Bearer API keys accepted on `/v1/*` (none = no authentication).
    pub api_keys: Vec<String>,
    /// A file with one API key per line (blank lines and `#` comments ignored).
    pub api_keys_file: Option<PathBuf>,
    /// Require an API key on `/metrics` too.
    pub auth_metrics: bool,
    /// Require an API key on `/healthz` and `/readyz` too.
    pub auth_health: bool,
    /// On SIGTERM/SIGINT, how long in-flight work may take to drain, ms.
    pub shutdown_grace_ms: u64,
    /// Compute device preference.
    pub device: DevicePreference,
    /// Model directory (default: the embedded model).
    pub model: Option<PathBuf>,
    /// Decode without the model's lexicon (no dictionary correction).
    pub no_lexicon: bool,
    /// Give lines the model is unsure of a second look from other framings (slower, a little
    /// more accurate on well-framed lines).
    pub second_look: bool,
    /// Decode lines greedily instead of by CTC prefix beam search (a little faster, a little
    /// less accurate).
    pub greedy: bool,
    /// Data directory of the embedded job store.
    pub data_dir: PathBuf,
    /// Job store URL: none = SQLite in `data_dir`; `postgres://...` for many nodes.
    pub store: Option<String>,
    /// Job workers in this process (0 = API only).
    pub workers: usize,
    /// Job lease duration, ms (heartbeats renew it at a third of this).
    pub lease_ms: u64,
    /// Attempts before a job is failed.
    pub max_attempts: u32,
    /// Answer a job whose document and options were seen before from the stored result.
    pub dedupe: bool,
    /// How long job results and documents are kept, seconds.
    pub result_ttl_s: u64,
    /// Secret for webhook signatures (HMAC-SHA256); webhooks are refused without one.
    pub webhook_secret: Option<String>,
    /// Hosts or CIDRs webhooks may call even when private (e.g. "127.0.0.1").
    pub webhook_allow: Vec<String>,
    /// Most webhook delivery attempts.
    pub webhook_max_attempts: u32,
    /// Delay after a webhook delivery's first failed attempt, ms; doubles per attempt.
    pub webhook_backoff_initial_ms: u64,
    /// Longest delay between two attempts of one delivery, ms.
    pub webhook_backoff_max_ms: u64,
    /// The API's public base URL (e.g. `https://ocr.example.com`): webhook payloads link to
    /// the job and its results under it; none = links relative to the API's root.
    pub public_url: Option<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        let batch = BatcherConfig::default();
        ServeConfig {
            listen: "0.0.0.0:8080".into(),
            tls_cert: None,
            tls_key: None,
            http2_max_concurrent_streams: 256,
            http2_stream_window: 1 << 20,
            http2_connection_window: 4 << 20,
            max_body_bytes: 64 << 20,
            max_page_pixels: 100_000_000,
            max_pages: 200,
            max_document_pixels: crate::decode::DEFAULT_DOCUMENT_PIXELS,
            max_pixels_in_flight: batch.max_pixels_in_flight,
            request_timeout_ms: 60_000,
            queue_capacity: 256,
            max_in_flight_per_client: 0,
            retry_after_s: 1,
            max_queue_wait_ms: 10_000,
            max_buffered_body_bytes: 512 << 20,
            min_upload_bytes_per_s: 16 << 10,
            upload_grace_ms: 10_000,
            refusal_delay_ms: 1000,
            max_job_submissions: 16,
            max_connections: 0,
            max_batch_lines: batch.max_batch_lines,
            max_batch_pixels: batch.max_batch_pixels,
            max_queue_delay_ms: batch.max_queue_delay.as_millis() as u64,
            max_batch_pages: batch.max_batch_pages,
            page_workers: 0,
            api_keys: Vec::new(),
            api_keys_file: None,
            auth_metrics: false,
            auth_health: false,
            shutdown_grace_ms: 30_000,
            device: DevicePreference::Auto,
            model: None,
            no_lexicon: false,
            second_look: false,
            greedy: false,
            data_dir: PathBuf::from("ferrocr-data"),
            store: None,
            workers: 1,
            lease_ms: 30_000,
            max_attempts: 3,
            dedupe: true,
            result_ttl_s: 7 * 24 * 3600,
            webhook_secret: None,
            webhook_allow: Vec::new(),
            // 22 attempts, 10 s doubling to 2 h: the last one 24.8 h after the first.
            webhook_max_attempts: 22,
            webhook_backoff_initial_ms: 10_000,
            webhook_backoff_max_ms: 7_200_000,
            public_url: None,
        }
    }
}

/// The 1-based line of a TOML text where `key` is set at the top level (`key = ...`).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let rest = l
                .strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

fn config_error(detail: String) -> OcrError {
    OcrError::bad_param("config", detail)
}

/// Parse an environment value as a TOML value of the same type as the default (`true`, `42`,
/// `["a","b"]`), falling back to a plain string (or a comma-separated list for lists).
fn env_value(raw: &str, like: &toml::Value) -> toml::Value {
    let parsed = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"));
    match (parsed, like) {
        (Some(v), _) if v.same_type(like) => v,
        (_, toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        (Some(v), _) if !matches!(v, toml::Value::String(_)) => v,
        _ => toml::Value::String(raw.to_string()),
    }
}

impl ServeConfig {
    /// Defaults, then `file`, then `FERROCR_<KEY>` variables from `env`, then `flags` (a TOML
    /// table of the flags actually given). An error names the key and where its value came
    /// from (`FILE line N`, the variable, or the flag).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: toml::Table,
    ) -> Result<Self> {
        let defaults = toml::Table::try_from(ServeConfig::default())
            .map_err(|e| config_error(e.to_string()))?;
        let mut table = toml::Table::new();
        // Where each given value came from, by key.
        let mut source: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| config_error(format!("cannot read {}: {e}", path.display())))?;
            let parsed: toml::Table = text
                .parse()
                .map_err(|e| config_error(format!("{}: {e}", path.display())))?;
            for (key, value) in parsed {
                let at = match line_of_key(&text, &key) {
                    Some(n) => format!("{} line {n}", path.display()),
                    None => path.display().to_string(),
                };
                source.insert(key.clone(), at);
                table.insert(key, value);
            }
        }
        // Every key may come from the environment, including optional ones with no default.
        let probe = toml::Table::try_from(ServeConfig::every_key_example())
            .map_err(|e| config_error(e.to_string()))?;
        for (key, like) in probe.iter() {
            let var = format!("FERROCR_{}", key.to_ascii_uppercase());
            if let Some(raw) = env(&var) {
                table.insert(
                    key.clone(),
                    env_value(&raw, defaults.get(key).unwrap_or(like)),
                );
                source.insert(key.clone(), var);
            }
        }
        for (key, value) in flags {
            let flag = match key.as_str() {
                "api_keys" => "api-key".to_string(),
                k => k.replace('_', "-"),
            };
            source.insert(key.clone(), format!("--{flag}"));
            table.insert(key, value);
        }
        let from = |key: &str| source.get(key).cloned().unwrap_or_else(|| "default".into());
        if let Some(unknown) = table.keys().find(|k| !probe.contains_key(*k)) {
            return Err(config_error(format!(
                "unknown setting `{unknown}` ({}); docs/CONFIG.md lists every key",
                from(unknown)
            )));
        }
        let config: ServeConfig = match toml::Value::Table(table.clone()).try_into() {
            Ok(c) => c,
            Err(e) => {
                // Name the value that does not fit: the first one that fails over the defaults.
                for (key, value) in &table {
                    let one = toml::Table::from_iter([(key.clone(), value.clone())]);
                    if let Err(e) = toml::Value::Table(one).try_into::<ServeConfig>() {
                        return Err(config_error(format!(
                            "`{key}` ({}): {}",
                            from(key),
                            e.message()
                        )));
                    }
                }
                return Err(config_error(e.message().to_string()));
            }
        };
        config.check().map_err(|(key, problem)| {
            config_error(format!("`{key}` ({}): {problem}", from(key)))
        })?;
        Ok(config)
    }

    /// A value for every key (optional keys set), used to enumerate the environment variables.
    fn every_key_example() -> Self {
        ServeConfig {
            tls_cert: Some(PathBuf::new()),
            tls_key: Some(PathBuf::new()),
            api_keys_file: Some(PathBuf::new()),
            model: Some(PathBuf::new()),
            store: Some(String::new()),
            webhook_secret: Some(String::new()),
            public_url: Some(String::new()),
            ..ServeConfig::default()
        }
    }

    /// Reject values that cannot work.
    pub fn validate(&self) -> Result<()> {
        self.check()
            .map_err(|(key, problem)| config_error(format!("`{key}`: {problem}")))
    }

    /// The first value that cannot work: its key and what is wrong with it.
    fn check(&self) -> std::result::Result<(), (&'static str, &'static str)> {
        let positive = [
            ("queue_capacity", self.queue_capacity),
            ("max_batch_lines", self.max_batch_lines),
            ("max_batch_pixels", self.max_batch_pixels),
            ("max_batch_pages", self.max_batch_pages),
            ("max_body_bytes", self.max_body_bytes),
            ("max_pages", self.max_pages),
            ("max_buffered_body_bytes", self.max_buffered_body_bytes),
            ("max_job_submissions", self.max_job_submissions),
            ("max_pixels_in_flight", self.max_pixels_in_flight as usize),
        ];
        if let Some((name, _)) = positive.into_iter().find(|&(_, v)| v == 0) {
            return Err((name, "must be at least 1"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            let missing = if self.tls_cert.is_some() {
                "tls_cert"
            } else {
                "tls_key"
            };
            return Err((missing, "tls_cert and tls_key go together"));
        }
        if self.request_timeout_ms == 0 {
            return Err(("request_timeout_ms", "must be at least 1"));
        }
        if self.lease_ms < 300 {
            return Err(("lease_ms", "must be at least 300"));
        }
        if self.webhook_max_attempts == 0 {
            return Err(("webhook_max_attempts", "must be at least 1"));
        }
        if self.webhook_backoff_initial_ms == 0 {
            return Err(("webhook_backoff_initial_ms", "must be at least 1"));
        }
        if self.webhook_backoff_max_ms < self.webhook_backoff_initial_ms {
            return Err((
                "webhook_backoff_max_ms",
                "must be at least webhook_backoff_initial_ms",
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(("public_url", "must be an http:// or https:// URL"));
        }
        Ok(())
    }

    /// The batcher's knobs.
    pub fn batcher(&self) -> BatcherConfig {
        let d = BatcherConfig::default();
        BatcherConfig {
            max_batch_lines: self.max_batch_lines,
            max_batch_pixels: self.max_batch_pixels,
            max_queue_delay: Duration::from_millis(self.max_queue_delay_ms),
            max_batch_pages: self.max_batch_pages,
            page_workers: if self.page_workers == 0 {
                d.page_workers
            } else {
                self.page_workers
            },
            stage_queue_capacity: d.stage_queue_capacity,
            max_pixels_in_flight: self.max_pixels_in_flight,
        }
    }

    /// Every configured API key (inline and from the keys file).
    pub fn all_api_keys(&self) -> Result<Vec<String>> {
        let mut keys = self.api_keys.clone();
        if let Some(path) = &self.api_keys_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config_error(format!("cannot read api_keys_file {}: {e}", path.display()))
            })?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "queue_capacity = 8\nmax_batch_lines = 99\nlisten = \"1.2.3.4:1\"\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "FERROCR_MAX_BATCH_LINES" => Some("128".to_string()),
            "FERROCR_API_KEYS" => Some("a,b".to_string()),
            "FERROCR_STORE" => Some("postgres://x".to_string()),
            "FERROCR_DEVICE" => Some("cpu".to_string()),
            _ => None,
        };
        let mut flags = toml::Table::new();
        flags.insert("listen".into(), toml::Value::String("127.0.0.1:9".into()));
        let c = ServeConfig::load(Some(&path), env, flags).unwrap();
        assert_eq!(c.queue_capacity, 8);
        assert_eq!(c.max_batch_lines, 128);
        assert_eq!(c.listen, "127.0.0.1:9");
        assert_eq!(c.api_keys, vec!["a", "b"]);
        assert_eq!(c.store.as_deref(), Some("postgres://x"));
        assert_eq!(c.device, DevicePreference::Cpu);
    }

    #[test]
    fn errors_name_the_key_and_where_its_value_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let error = |file: Option<&Path>, var: &str, value: &str, flags: toml::Table| {
            let env = |k: &str| (k == var).then(|| value.to_string());
            ServeConfig::load(file, env, flags).unwrap_err().to_string()
        };
        let none = toml::Table::new;
        std::fs::write(
            &path,
            "# settings\nlisten = \"0.0.0.0:1\"\nqueue_capacityy = 8\n",
        )
        .unwrap();
        let e = error(Some(&path), "", "", none());
        assert!(
            e.contains("`queue_capacityy`") && e.contains("c.toml line 3"),
            "{e}"
        );
        std::fs::write(&path, "max_pages = \"many\"\n").unwrap();
        let e = error(Some(&path), "", "", none());
        assert!(
            e.contains("`max_pages`") && e.contains("c.toml line 1"),
            "{e}"
        );
        let e = error(None, "FERROCR_QUEUE_CAPACITY", "0", none());
        assert!(
            e.contains("`queue_capacity` (FERROCR_QUEUE_CAPACITY): must be at least 1"),
            "{e}"
        );
        let e = error(None, "FERROCR_QUEUE_CAPACITY", "many", none());
        assert!(
            e.contains("`queue_capacity` (FERROCR_QUEUE_CAPACITY)"),
            "{e}"
        );
        let mut flags = none();
        flags.insert("queue_capacity".into(), toml::Value::Integer(0));
        let e = error(None, "FERROCR_QUEUE_CAPACITY", "5", flags);
        assert!(e.contains("`queue_capacity` (--queue-capacity)"), "{e}");
        let e = error(None, "FERROCR_LEASE_MS", "10", none());
        assert!(
            e.contains("`lease_ms` (FERROCR_LEASE_MS): must be at least 300"),
            "{e}"
        );
        let e = error(None, "FERROCR_TLS_KEY", "/k.pem", none());
        assert!(
            e.contains("`tls_key` (FERROCR_TLS_KEY): tls_cert and tls_key go"),
            "{e}"
        );
    }
}
