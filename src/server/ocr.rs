//! `POST /v1/ocr`: one document as the raw body (with its Content-Type), or one or more files as
//! multipart/form-data; the query selects the output format and pipeline options. Admission is
//! decided before the body is read, so an overloaded server refuses cheaply.
//!
//! One file: the body is the rendering in `format` with its content type. Several files: a JSON
//! object `{"documents":[{"filename", "format", "result"}]}` where `result` is the JSON document
//! for `format=json` and the rendered string otherwise.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::middleware::{ClientAddr, bearer};
use crate::batcher::Priority;
use crate::document::Document;
use crate::engine::EngineOptions;
use crate::error::OcrError;
use crate::render::{OutputFormat, render, render_json_line};

/// Query parameters of `/v1/ocr` (and of job submission).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OcrQuery {
    /// Output format (default json).
    pub format: Option<OutputFormat>,
    /// Confidence under which words and lines are flagged needs_review (0..1, default 0.6).
    pub review_threshold: Option<f32>,
    /// Estimate and correct skew (default true).
    pub deskew: Option<bool>,
    /// Detect page orientation 0/90/180/270 (default true).
    pub orientation: Option<bool>,
    /// Detect columns and read column by column (default true).
    pub columns: Option<bool>,
    /// Most pages to accept (at most the server's limit).
    pub max_pages: Option<usize>,
    /// Deadline in ms (at most the server's `request_timeout_ms`).
    pub timeout_ms: Option<u64>,
}

impl OcrQuery {
    /// Pipeline options for this request on top of the server's defaults.
    pub fn engine_options(&self, base: &EngineOptions) -> Result<EngineOptions, ApiError> {
        let mut o = base.clone();
        if let Some(t) = self.review_threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(ApiError::bad_param(
                    "review_threshold",
                    format!("must be within 0..1, got {t}"),
                ));
            }
            o.review_threshold = t;
        }
        if let Some(d) = self.deskew {
            o.preprocess.deskew = d;
        }
        if let Some(r) = self.orientation {
            o.preprocess.detect_orientation = r;
        }
        if let Some(c) = self.columns {
            o.layout.detect_columns = c;
        }
        if let Some(p) = self.max_pages {
            if p == 0 {
                return Err(ApiError::bad_param("max_pages", "must be at least 1"));
            }
            o.limits.max_pages = p.min(base.limits.max_pages);
        }
        Ok(o)
    }

    /// The request deadline: the asked one, capped by the server's.
    pub fn timeout(&self, server_ms: u64) -> Result<Duration, ApiError> {
        match self.timeout_ms {
            Some(0) => Err(ApiError::bad_param("timeout_ms", "must be at least 1")),
            Some(ms) => Ok(Duration::from_millis(ms.min(server_ms))),
            None => Ok(Duration::from_millis(server_ms)),
        }
    }
}

/// A query that failed to parse becomes a 400 naming the problem.
pub fn query_error(e: QueryRejection) -> ApiError {
    ApiError::bad_param("query", e.body_text())
}

/// The admission key of a request: its API key when it has one, else the peer's IP address.
pub fn client_key(req: &Request) -> String {
    if let Some(k) = bearer(req) {
        return format!(
            "key:{}",
            hex::encode(&super::middleware::key_digest(k)[..8])
        );
    }
    req.extensions()
        .get::<ClientAddr>()
        .map(|a| format!("ip:{}", a.0.ip()))
        .unwrap_or_else(|| "ip:unknown".into())
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

/// Read the documents of a request body: multipart files or one raw document.
pub async fn read_uploads(req: Request, max_body: usize) -> Result<Vec<Upload>, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max_body as u64
    {
        return Err(too_large(len, max_body));
    }
    let ctype = content_type(req.headers());
    match ctype.as_deref() {
        Some(ct) if ct.starts_with("multipart/form-data") => read_multipart(req).await,
        Some(ct) if ACCEPTED_TYPES.iter().any(|a| ct.starts_with(a)) => {
            let bytes = axum::body::to_bytes(req.into_body(), max_body)
                .await
                .map_err(|e| body_error(e, max_body))?;
            Ok(vec![Upload {
                filename: None,
                bytes,
            }])
        }
        Some(ct) => Err(ApiError(OcrError::Unsupported {
            format: "Content-Type",
            detail: format!(
                "{ct} is not accepted; send image/*, application/pdf, application/octet-stream \
                 or multipart/form-data"
            ),
        })),
        None => Err(ApiError(OcrError::Unsupported {
            format: "Content-Type",
            detail: "missing; send image/*, application/pdf, application/octet-stream or \
                     multipart/form-data"
                .into(),
        })),
    }
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

/// Render documents as the response body (see the module docs).
pub fn respond(docs: Vec<(Option<String>, Document)>, format: OutputFormat) -> Response {
    let pages: usize = docs.iter().map(|(_, d)| d.pages.len()).sum();
    let mut resp = respond_body(docs, format);
    resp.headers_mut().insert(PAGES_HEADER, pages.into());
    resp
}

/// Response header with the number of pages recognised (read by `ferrocr load`).
pub const PAGES_HEADER: &str = "x-ferrocr-pages";

fn respond_body(docs: Vec<(Option<String>, Document)>, format: OutputFormat) -> Response {
    if docs.len() == 1 {
        let (_, doc) = &docs[0];
        let body = match format {
            OutputFormat::Json => render_json_line(doc),
            f => render(doc, f),
        };
        return ([(header::CONTENT_TYPE, format.content_type())], body).into_response();
    }
    let documents: Vec<serde_json::Value> = docs
        .iter()
        .map(|(name, doc)| {
            let result = match format {
                OutputFormat::Json => serde_json::to_value(doc).unwrap_or(json!(null)),
                f => json!(render(doc, f)),
            };
            json!({"filename": name, "format": format, "result": result})
        })
        .collect();
    axum::Json(json!({ "documents": documents })).into_response()
}

/// The `/v1/ocr` handler.
pub async fn ocr(
    State(state): State<Arc<AppState>>,
    query: Result<Query<OcrQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let options = Arc::new(query.engine_options(&state.engine_options)?);
    let timeout = query.timeout(state.config.request_timeout_ms)?;
    let format = query.format.unwrap_or(OutputFormat::Json);
    let _permit = state.admission.admit(&client_key(&req))?;
    let meta = state.batcher.request(Priority::Interactive, Some(timeout));
    let work = async {
        let uploads = read_uploads(req, state.config.max_body_bytes).await?;
        let mut docs = Vec::with_capacity(uploads.len());
        for up in uploads {
            let doc = state
                .batcher
                .process_document(up.bytes, options.clone(), &meta, up.filename.clone())
                .await
                .map_err(|e| match (&up.filename, e) {
                    (Some(name), OcrError::Corrupt { format, detail }) => OcrError::Corrupt {
                        format,
                        detail: format!("{name}: {detail}"),
                    },
                    (_, e) => e,
                })?;
            docs.push((up.filename, doc));
        }
        let t = std::time::Instant::now();
        let resp = respond(docs, format);
        state
            .metrics
            .observe_stage_ms("render", t.elapsed().as_secs_f64() * 1000.0);
        Ok::<Response, ApiError>(resp)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(ApiError(meta.deadline_error())),
    }
}
