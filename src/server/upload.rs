//! Reading request bodies under the server's upload rules, for `/v1/ocr` and `/v1/jobs` alike.
//!
//! - **Size**: a body over `max_body_bytes` is refused with 413, from its `Content-Length` before
//!   a byte is read, or as soon as the count passes the limit.
//! - **Memory**: every buffered body byte is charged to one process-wide [`BodyBudget`]
//!   (`max_buffered_body_bytes`), up front for a declared `Content-Length` and chunk by chunk
//!   otherwise; the request holds its charge ([`BodyHold`]) until it is answered. A body that
//!   does not fit is refused with 503 and `Retry-After`, so a burst of large uploads cannot take
//!   the process past its memory.
//! - **Pace**: after a grace period (`upload_grace_ms`) the body must keep arriving at
//!   `min_upload_bytes_per_s` on average: by time `t` at least `(t - grace) * rate` bytes. A
//!   client that trickles or holds its upload is cut off with 408, so it cannot hold a
//!   connection and a buffer for as long as it likes. The check runs on a timer, so a body that
//!   sends nothing at all is caught too.
//!
//! Reading happens before admission to the OCR queue (see `ocr.rs`), so slow uploads hold only
//! their own bytes, never a work slot.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use super::error::ApiError;
use crate::error::OcrError;

/// How one request body must arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRules {
    /// Largest body, bytes.
    pub max_bytes: usize,
    /// Minimum average upload rate after the grace period, bytes per second (0 = no minimum).
    pub min_rate: u64,
    /// Time before the minimum rate applies.
    pub grace: Duration,
    /// How long a refusal made before the body is read takes (see [`refuse`]).
    pub refusal_delay: Duration,
}

impl UploadRules {
    /// The rules the settings name.
    pub fn of(config: &crate::config::ServeConfig) -> Self {
        UploadRules {
            max_bytes: config.max_body_bytes,
            min_rate: config.min_upload_bytes_per_s,
            grace: Duration::from_millis(config.upload_grace_ms),
            refusal_delay: Duration::from_millis(config.refusal_delay_ms),
        }
    }
}

/// The process-wide budget of request-body bytes held in memory.
#[derive(Debug)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// Budget bytes one request holds for its buffered body; given back on drop.
#[derive(Debug, Default)]
pub struct BodyHold(Option<OwnedSemaphorePermit>);

impl BodyHold {
    fn add(&mut self, p: OwnedSemaphorePermit) {
        match &mut self.0 {
            Some(held) => held.merge(p),
            None => self.0 = Some(p),
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.num_permits())
    }
}

impl BodyBudget {
    /// A budget of `total` bytes (capped at what a semaphore can count).
    pub fn new(total: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes not held by any request.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// The whole budget, bytes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Take `n` bytes of the budget now, or say it is spent.
    fn charge(&self, n: usize) -> Result<OwnedSemaphorePermit, OcrError> {
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        self.bytes
            .clone()
            .try_acquire_many_owned(n32)
            .map_err(|_| OcrError::Overloaded {
                what: format!(
                    "upload memory budget spent ({} of {} bytes buffered; this body needs {n} more)",
                    self.total - self.available(),
                    self.total
                ),
                retry_after_s: 1,
            })
    }
}

/// One uploaded document.
pub struct Upload {
    /// The client's file name, if given.
    pub filename: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
}

const ACCEPTED_TYPES: &[&str] = &[
    "image/",
    "application/pdf",
    "application/octet-stream",
    "application/x-pdf",
];

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// What the metered body found wrong, and the budget it charged so far.
#[derive(Default)]
struct Meter {
    hold: BodyHold,
    fault: Option<OcrError>,
}

/// A request body that enforces [`UploadRules`] and charges a [`BodyBudget`] as it is read.
struct MeteredBody {
    inner: Body,
    meter: Arc<Mutex<Meter>>,
    budget: Arc<BodyBudget>,
    rules: UploadRules,
    started: Instant,
    received: u64,
    charged: u64,
    pace: Pin<Box<Sleep>>,
}

impl MeteredBody {
    /// When the body must have delivered more than `received` bytes.
    fn due(&self) -> tokio::time::Instant {
        let allowed = if self.rules.min_rate == 0 {
            Duration::from_secs(365 * 24 * 3600)
        } else {
            self.rules.grace
                + Duration::from_secs_f64(self.received as f64 / self.rules.min_rate as f64)
        };
        (self.started + allowed).into()
    }

    fn fail(&mut self, e: OcrError) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let msg = e.to_string();
        self.meter.lock().fault = Some(e);
        Poll::Ready(Some(Err(axum::Error::new(msg))))
    }
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if this.received > this.rules.max_bytes as u64 {
                        let e = too_large(this.received, this.rules.max_bytes);
                        return this.fail(e.0);
                    }
                    if this.received > this.charged {
                        let extra = (this.received - this.charged) as usize;
                        match this.budget.charge(extra) {
                            Ok(p) => this.meter.lock().hold.add(p),
                            Err(e) => return this.fail(e),
                        }
                        this.charged = this.received;
                    }
                    let due = this.due();
                    this.pace.as_mut().reset(due);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if this.pace.as_mut().poll(cx).is_ready() {
                    let e = OcrError::SlowUpload {
                        received: this.received,
                        elapsed_ms: this.started.elapsed().as_millis() as u64,
                        min_rate: this.rules.min_rate,
                        grace_ms: this.rules.grace.as_millis() as u64,
                    };
                    return this.fail(e);
                }
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Read the documents of a request body (multipart files or one raw document) under `rules`,
/// charging `budget`; returns them with the budget they hold.
pub async fn read_uploads(
    req: Request,
    rules: UploadRules,
    budget: &Arc<BodyBudget>,
) -> Result<(Vec<Upload>, BodyHold), ApiError> {
    let declared = content_length(req.headers());
    if let Some(len) = declared
        && len > rules.max_bytes as u64
    {
        return Err(too_large(len, rules.max_bytes));
    }
    let ctype = content_type(req.headers());
    let multipart = match ctype.as_deref() {
        Some(ct) if ct.starts_with("multipart/form-data") => true,
        Some(ct) if ACCEPTED_TYPES.iter().any(|a| ct.starts_with(a)) => false,
        Some(ct) => {
            return Err(ApiError(OcrError::Unsupported {
                format: "Content-Type",
                detail: format!(
                    "{ct} is not accepted; send image/*, application/pdf, \
                     application/octet-stream or multipart/form-data"
                ),
            }));
        }
        None => {
            return Err(ApiError(OcrError::Unsupported {
                format: "Content-Type",
                detail: "missing; send image/*, application/pdf, application/octet-stream or \
                         multipart/form-data"
                    .into(),
            }));
        }
    };
    let mut meter = Meter::default();
    let prepaid = declared.unwrap_or(0);
    if prepaid > 0 {
        match budget.charge(prepaid as usize) {
            Ok(p) => meter.hold.add(p),
            Err(e) => return Err(refuse(req, e, rules.refusal_delay).await),
        }
    }
    let meter = Arc::new(Mutex::new(meter));
    let (parts, body) = req.into_parts();
    let mut metered = MeteredBody {
        inner: body,
        meter: meter.clone(),
        budget: budget.clone(),
        rules,
        started: Instant::now(),
        received: 0,
        charged: prepaid,
        pace: Box::pin(tokio::time::sleep(Duration::ZERO)),
    };
    let due = metered.due();
    metered.pace.as_mut().reset(due);
    let req = Request::from_parts(parts, Body::new(metered));
    let read = if multipart {
        read_multipart(req).await
    } else {
        axum::body::to_bytes(req.into_body(), rules.max_bytes)
            .await
            .map_err(|e| body_error(e, rules.max_bytes))
            .map(|bytes| {
                vec![Upload {
                    filename: None,
                    bytes,
                }]
            })
    };
    let mut meter = meter.lock();
    if let Some(fault) = meter.fault.take() {
        return Err(ApiError(fault));
    }
    let uploads = read?;
    Ok((uploads, std::mem::take(&mut meter.hold)))
}

/// Most body bytes read and thrown away to refuse a request cleanly.
const DRAIN_MAX_BYTES: usize = 8 << 20;
/// Longest spent reading a refused request's body.
const DRAIN_MAX_TIME: Duration = Duration::from_secs(2);

/// Answer a refused request (`err`: 503 or 429, decided before its body was read) cleanly and at
/// a pace the server can afford.
///
/// The rest of the body is read and discarded first (bounded in bytes and time; nothing is
/// kept). Over HTTP/2, answering with the body unread resets the stream, and DATA frames the
/// client had already sent then arrive on a stream the server no longer remembers: each counts
/// as a protocol-error reset, and after 1,024 of those hyper closes the whole connection with
/// every request it carried, admitted ones included. Over HTTP/1.1 the client would otherwise
/// see its upload cut off (a transport error) instead of the 503.
///
/// The answer then waits until `delay` has passed since the request arrived (capped at the
/// refusal's `Retry-After`), so a client that retries at once is held to the pace `Retry-After`
/// asks for: at 40x overload, refusals answered at once came back thousands of times a second
/// and took the cores from the admitted work.
pub async fn refuse(req: Request, err: OcrError, delay: Duration) -> ApiError {
    let started = Instant::now();
    let mut body = req.into_body();
    let mut read = 0usize;
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
        while read <= DRAIN_MAX_BYTES {
            match body.frame().await {
                Some(Ok(f)) => read += f.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
    })
    .await;
    let cap = Duration::from_secs(err.retry_after_s().unwrap_or(0));
    let wait = delay.min(cap).saturating_sub(started.elapsed());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    ApiError(err)
}

fn too_large(actual: u64, max: usize) -> ApiError {
    ApiError(OcrError::LimitExceeded {
        what: "request body bytes",
        actual,
        limit: max as u64,
    })
}

fn body_error(e: axum::Error, max_body: usize) -> ApiError {
    let text = e.to_string();
    let source_is_limit =
        std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
    if source_is_limit || text.contains("length limit") {
        too_large(max_body as u64 + 1, max_body)
    } else {
        ApiError::bad_input(format!("cannot read the body: {text}"))
    }
}

async fn read_multipart(req: Request) -> Result<Vec<Upload>, ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_input(format!("malformed multipart: {}", e.body_text())))?;
    let mut uploads = Vec::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e)),
        };
        let filename = field.file_name().map(String::from);
        let is_file = filename.is_some()
            || field
                .content_type()
                .is_some_and(|c| ACCEPTED_TYPES.iter().any(|a| c.starts_with(a)));
        if !is_file {
            continue;
        }
        let bytes = field.bytes().await.map_err(multipart_error)?;
        uploads.push(Upload { filename, bytes });
    }
    if uploads.is_empty() {
        return Err(ApiError::bad_input(
            "multipart body holds no file (send parts with a filename)",
        ));
    }
    Ok(uploads)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(OcrError::LimitExceeded {
            what: "request body bytes",
            actual: 0,
            limit: 0,
        })
    } else {
        ApiError::bad_input(format!("malformed multipart: {}", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn rules() -> UploadRules {
        UploadRules {
            max_bytes: 1 << 20,
            min_rate: 1000,
            grace: Duration::from_millis(200),
            refusal_delay: Duration::ZERO,
        }
    }

    fn raw(body: Body, len: Option<usize>) -> Request {
        let mut b = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "image/png");
        if let Some(n) = len {
            b = b.header(header::CONTENT_LENGTH, n);
        }
        b.body(body).unwrap()
    }

    /// A body that sends `chunks` pieces of `size` bytes, `gap` apart, then ends.
    fn trickle(chunks: usize, size: usize, gap: Duration) -> Body {
        let stream = futures_util::stream::unfold(0usize, move |i| async move {
            if i == chunks {
                return None;
            }
            tokio::time::sleep(gap).await;
            Some((Ok::<_, std::io::Error>(Bytes::from(vec![7u8; size])), i + 1))
        });
        Body::from_stream(stream)
    }

    #[tokio::test]
    async fn a_body_is_read_and_its_bytes_held_until_dropped() {
        let budget = Arc::new(BodyBudget::new(10_000));
        let (ups, hold) = read_uploads(
            raw(Body::from(vec![1u8; 3000]), Some(3000)),
            rules(),
            &budget,
        )
        .await
        .unwrap();
        assert_eq!(ups[0].bytes.len(), 3000);
        assert_eq!((hold.bytes(), budget.available()), (3000, 7000));
        drop(hold);
        assert_eq!(budget.available(), 10_000);
        // Without a Content-Length the bytes are charged as they come.
        let (_, hold) = read_uploads(raw(trickle(3, 500, Duration::ZERO), None), rules(), &budget)
            .await
            .unwrap();
        assert_eq!(hold.bytes(), 1500);
    }

    #[tokio::test]
    async fn a_spent_budget_refuses_with_retry_after() {
        let budget = Arc::new(BodyBudget::new(4000));
        let (_, _hold) = read_uploads(
            raw(Body::from(vec![1u8; 3000]), Some(3000)),
            rules(),
            &budget,
        )
        .await
        .unwrap();
        let err = read_uploads(
            raw(Body::from(vec![1u8; 3000]), Some(3000)),
            rules(),
            &budget,
        )
        .await
        .err()
        .unwrap();
        assert_eq!(err.0.kind(), ErrorKind::Overloaded);
        assert!(err.0.retry_after_s().is_some());
        let err = read_uploads(raw(trickle(4, 500, Duration::ZERO), None), rules(), &budget)
            .await
            .err()
            .unwrap();
        assert_eq!(err.0.kind(), ErrorKind::Overloaded, "{}", err.0);
        // Refused bodies gave their bytes back.
        assert_eq!(budget.available(), 1000);
    }

    #[tokio::test]
    async fn a_trickling_or_silent_body_is_cut_off() {
        let budget = Arc::new(BodyBudget::new(1 << 20));
        // 10 bytes every 100 ms is 100 bytes/s, under the 1000 bytes/s minimum.
        let t = Instant::now();
        let err = read_uploads(
            raw(trickle(100, 10, Duration::from_millis(100)), None),
            rules(),
            &budget,
        )
        .await
        .err()
        .unwrap();
        assert_eq!(err.0.kind(), ErrorKind::SlowClient, "{}", err.0);
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        // A body that never sends a byte.
        let silent =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let err = read_uploads(raw(silent, Some(100)), rules(), &budget)
            .await
            .err()
            .unwrap();
        assert_eq!(err.0.kind(), ErrorKind::SlowClient, "{}", err.0);
        assert_eq!(budget.available(), 1 << 20);
        // A body well above the minimum pace (3x) and past the grace period is read.
        let (ups, _) = read_uploads(
            raw(trickle(6, 300, Duration::from_millis(100)), None),
            rules(),
            &budget,
        )
        .await
        .unwrap();
        assert_eq!(ups[0].bytes.len(), 1800);
    }

    #[tokio::test]
    async fn a_refusal_reads_the_body_and_keeps_its_pace() {
        let busy = |s| OcrError::Overloaded {
            what: "test".into(),
            retry_after_s: s,
        };
        // The body is consumed (a stream that would fail if read twice is fine: read once).
        let t = Instant::now();
        let e = refuse(
            raw(trickle(3, 1000, Duration::ZERO), None),
            busy(1),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(e.0.kind(), ErrorKind::Overloaded);
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        // Never longer than the refusal's own Retry-After.
        let t = Instant::now();
        refuse(raw(Body::empty(), None), busy(0), Duration::from_secs(5)).await;
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_declared_or_not() {
        let budget = Arc::new(BodyBudget::new(8 << 20));
        let small = UploadRules {
            max_bytes: 1000,
            ..rules()
        };
        let err = read_uploads(raw(Body::from(vec![1u8; 2000]), Some(2000)), small, &budget)
            .await
            .err()
            .unwrap();
        assert_eq!(err.0.kind(), ErrorKind::TooLarge);
        let err = read_uploads(raw(trickle(4, 500, Duration::ZERO), None), small, &budget)
            .await
            .err()
            .unwrap();
        assert_eq!(err.0.kind(), ErrorKind::TooLarge, "{}", err.0);
        assert_eq!(budget.available(), 8 << 20);
    }
}
