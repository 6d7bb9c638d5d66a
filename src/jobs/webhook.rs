//! Webhooks: terminal-state callbacks, signed, SSRF-guarded, retried and recorded.
//!
//! **Signature format.** Each delivery is a `POST` of the job summary JSON
//! ([`crate::jobs::JobRecord::summary_json`] plus `"event": "job.<status>"`) with headers
//!
//! - `X-Ferrocr-Timestamp: <unix seconds>`
//! - `X-Ferrocr-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//!
//! A receiver recomputes the HMAC over the timestamp header, a `.`, and the raw body bytes,
//! compares in constant time, and rejects timestamps too far from its clock (replays). [`verify`]
//! does exactly that. Several comma-separated `v1=` values are accepted (secret rotation).
//!
//! **Delivery.** [`WebhookSender::deliver_due`] takes due deliveries from the store
//! (`claim_webhooks`), checks the URL against the [`CallbackPolicy`], POSTs to the checked
//! addresses only, and records every attempt; a non-2xx answer or a network error is retried with
//! exponential backoff up to `max_attempts`, after which the delivery is marked `failed`.

mod policy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

pub use policy::{CallbackPolicy, CallbackTarget, IpNet, is_internal};

use super::{JobError, JobId, JobRecord, JobStore, WebhookAttempt, backoff_ms};

/// Header carrying the signing time (unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Ferrocr-Timestamp";
/// Header carrying `v1=<hex signature>`.
pub const SIGNATURE_HEADER: &str = "X-Ferrocr-Signature";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Ferrocr-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1={}", hex::encode(tag))
}

/// Why [`verify`] rejected a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is not an integer.
    #[error("malformed timestamp")]
    BadTimestamp,
    /// The timestamp is further than the tolerance from now (a replay, or a skewed clock).
    #[error("timestamp outside the tolerance")]
    Stale,
    /// No `v1=` signature matches the body.
    #[error("signature mismatch")]
    BadSignature,
}

/// Check a delivery as a receiver would: `timestamp` and `signature` are the header values,
/// `body` the raw request body, `now` the receiver's unix seconds.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if now.abs_diff(ts) > tolerance.as_secs() {
        return Err(VerifyError::Stale);
    }
    let ok = signature
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok())
        .any(|tag| {
            mac(secret, timestamp.trim(), body)
                .verify_slice(&tag)
                .is_ok()
        });
    if ok {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Webhook delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The HMAC key shared with receivers.
    pub secret: Vec<u8>,
    /// Which callback hosts may be called.
    pub policy: CallbackPolicy,
    /// Attempts per delivery before giving up.
    pub max_attempts: u32,
    /// Delay after the first failed attempt; doubles per attempt.
    pub backoff_base: Duration,
    /// Upper bound of the delay.
    pub backoff_cap: Duration,
    /// Connect + response timeout per attempt.
    pub timeout: Duration,
    /// Base of the links in the payload (the API's public URL, no trailing slash); empty =
    /// links relative to the API's root.
    pub links_base: String,
}

impl WebhookConfig {
    /// Defaults: 22 attempts, 10 s doubling to at most 2 h (the last attempt 24.8 h after the
    /// first), 10 s timeout, default policy, relative links.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        WebhookConfig {
            secret: secret.into(),
            policy: CallbackPolicy::default(),
            max_attempts: 22,
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(7200),
            timeout: Duration::from_secs(10),
            links_base: String::new(),
        }
    }

    /// How long after a delivery's first attempt its last one is made, when every attempt
    /// fails.
    pub fn window(&self) -> Duration {
        let ms: i64 = (1..i64::from(self.max_attempts))
            .map(|n| backoff_ms(self.backoff_base, self.backoff_cap, n))
            .sum();
        Duration::from_millis(ms.max(0) as u64)
    }
}

/// Delivers webhooks and records the attempts in a [`JobStore`].
#[derive(Debug, Clone)]
pub struct WebhookSender {
    config: WebhookConfig,
}

/// The body POSTed for `job`: its summary plus `"event": "job.<status>"` and `"links"` as in
/// `GET /v1/jobs/{id}` (`self`, `result`), and for a succeeded job `results`, its result in each
/// format it was asked for (every text format can also be fetched on demand), under `base` (the
/// API's public URL, or empty for links relative to the API's root).
pub fn webhook_body(job: &JobRecord, base: &str) -> Vec<u8> {
    let mut v = job.summary_json();
    v["event"] = serde_json::Value::String(format!("job.{}", job.status));
    let mut links = job.links(base);
    if job.status == super::JobStatus::Succeeded {
        let own = links["self"].as_str().unwrap_or_default().to_string();
        let results: serde_json::Map<String, serde_json::Value> = job
            .formats
            .iter()
            .map(|&f| {
                let name = super::format_name(f);
                (
                    name.to_string(),
                    format!("{own}/result?format={name}").into(),
                )
            })
            .collect();
        links["results"] = results.into();
    }
    v["links"] = links;
    serde_json::to_vec(&v).expect("JSON values serialise")
}

impl WebhookSender {
    /// A sender with `config`.
    pub fn new(config: WebhookConfig) -> Self {
        WebhookSender { config }
    }

    /// Make every due delivery once (up to `limit`), recording each attempt; returns them.
    pub async fn deliver_due(
        &self,
        store: &dyn JobStore,
        limit: u32,
    ) -> Result<Vec<(JobId, WebhookAttempt)>, JobError> {
        let hold = self.config.timeout.saturating_mul(3);
        let due = store.claim_webhooks(limit, hold).await?;
        let mut out = Vec::with_capacity(due.len());
        for job in due {
            let attempt = self.deliver(store, &job).await?;
            out.push((job.id, attempt));
        }
        Ok(out)
    }

    /// Make one delivery attempt for `job` now and record it.
    pub async fn deliver(
        &self,
        store: &dyn JobStore,
        job: &JobRecord,
    ) -> Result<WebhookAttempt, JobError> {
        let n = job.webhook_attempts + 1;
        let at = store.now_ms();
        let outcome = match &job.callback_url {
            Some(url) => {
                self.post(url, webhook_body(job, &self.config.links_base), at / 1000)
                    .await
            }
            None => Err("no callback_url".to_string()),
        };
        let (http_status, error) = match outcome {
            Ok(s) if (200..300).contains(&s) => (Some(s), None),
            Ok(s) => (Some(s), Some(format!("receiver answered HTTP {s}"))),
            Err(e) => (None, Some(e)),
        };
        let delivered = error.is_none();
        let retry = !delivered && n < i64::from(self.config.max_attempts);
        let attempt = WebhookAttempt {
            attempt: n,
            at,
            http_status,
            error,
            next_attempt_at: retry
                .then(|| at + backoff_ms(self.config.backoff_base, self.config.backoff_cap, n)),
        };
        if !delivered {
            tracing::warn!(job = %job.id, attempt = n, error = ?attempt.error, "webhook delivery failed");
        }
        store
            .record_webhook_attempt(job.id, attempt.clone())
            .await?;
        Ok(attempt)
    }

    /// POST `body` signed at `timestamp` to `url`; the HTTP status, or why there is none.
    async fn post(&self, url: &str, body: Vec<u8>, timestamp: i64) -> Result<u16, String> {
        let (_, addrs) = self
            .config
            .policy
            .resolve(url)
            .await
            .map_err(|e| e.to_string())?;
        let mut http = HttpConnector::new_with_resolver(Pinned(Arc::new(addrs)));
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.config.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("TLS setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
        let signature = sign(&self.config.secret, timestamp, &body);
        let request = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "ferrocr-webhook/1")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request: {e}"))?;
        match tokio::time::timeout(self.config.timeout, client.request(request)).await {
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
            Ok(Err(e)) => Err(format!("request failed: {e}")),
            Err(_) => Err(format!("timed out after {:?}", self.config.timeout)),
        }
    }
}

/// A resolver that answers with the addresses already checked by the policy, so the connection
/// goes exactly where the check looked (no second DNS lookup to rebind).
#[derive(Clone)]
struct Pinned(Arc<Vec<SocketAddr>>);

impl tower::Service<Name> for Pinned {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(Vec::clone(&self.0).into_iter()))
    }
}
