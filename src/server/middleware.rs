//! Per-request plumbing: a request id (accepted from `X-Request-Id` or made, always echoed), a
//! tracing span, the request counter and latency histogram by route template, and bearer-key
//! authentication.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::AppState;
use super::error::ApiError;
use crate::error::OcrError;

/// The id of the request being served (from `X-Request-Id` or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The peer address of the connection, set by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// The name of the request-id header.
pub const REQUEST_ID: &str = "x-request-id";

fn valid_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())
}

/// Request id, span, metrics.
pub async fn observe(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    // An HTTP/1.1 request whose body may be refused unread (401, 413, 415, 503...): tell the
    // client not to reuse the connection, which the server closes after such a refusal.
    let has_body = req.version() <= axum::http::Version::HTTP_11
        && (req.headers().contains_key(header::CONTENT_LENGTH)
            && req.headers()[header::CONTENT_LENGTH] != "0"
            || req.headers().contains_key(header::TRANSFER_ENCODING));
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "done"
        )
    });
    state
        .metrics
        .requests_total
        .with_label_values(&[&method, &route, status.as_str()])
        .inc();
    state
        .metrics
        .request_duration
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    if has_body && (status.is_client_error() || status.is_server_error()) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// SHA-256 of an API key; keys are compared by digest so comparison time does not depend on
/// how many leading bytes match.
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The bearer token of a request, if any.
pub fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Require a configured API key (only installed when keys are configured).
pub async fn require_key(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let ok = bearer(&req).is_some_and(|k| {
        let d = key_digest(k);
        state
            .api_key_digests
            .iter()
            .fold(false, |acc, known| acc | (known == &d))
    });
    if !ok {
        let why = if bearer(&req).is_some() {
            "unknown API key"
        } else {
            "missing Authorization: Bearer <key>"
        };
        return ApiError(OcrError::Unauthorized(why.into())).into_response();
    }
    next.run(req).await
}
