//! `POST /v1/ocr`: one document as the raw body (with its Content-Type), or one or more files as
//! multipart/form-data; the query selects the output format and pipeline options. An overloaded
//! server refuses before the body is read (cheaply); the admission slot itself is taken once the
//! body is in ([`super::upload`]), so a slow upload never holds one.
//!
//! One file: the body is the rendering in `format` with its content type (or its error). Several
//! files: a JSON object `{"ferrocr_version", "schema_version", "documents":[{"filename",
//! "format", "result"}]}` where `result` is the
//! JSON document for `format=json` and the rendered string otherwise; a file that could not be
//! read has `"error": {"code", "message"}` in place of `result` and the others are still
//! answered (200 as long as one file was read; when none was, the first file's error is the
//! answer).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::middleware::{ClientAddr, bearer};
use super::upload::{read_uploads, refuse};
use crate::batcher::Priority;
use crate::document::Document;
use crate::error::OcrError;
use crate::options::EngineOptions;
use crate::options::PipelineOptions;
use crate::render::{OutputFormat, render, render_json_line, render_pdf};

/// A query that failed to parse becomes a 400 naming the problem.
pub fn query_error(e: QueryRejection) -> ApiError {
    ApiError::bad_param("query", e.body_text())
}

/// The admission key of a request: its API key when keys are checked (`verified`: the
/// `require_key` layer has already refused unknown keys), else the peer's IP address. With
/// authentication off a bearer value is anything a client makes up, so it never names the client.
pub fn client_key(req: &Request, verified: bool) -> String {
    if verified && let Some(k) = bearer(req) {
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

/// One uploaded file's outcome: its name and its document, or why it could not be read.
pub type FileOutcome = (Option<String>, Result<Document, OcrError>);

/// Render the files' outcomes as the response (see the module docs). One file: its rendering,
/// or its error as the whole answer. Several files: 200 with one entry per file, each holding
/// its `result` or its own `error` object, as long as at least one file was read; when none
/// was, the first file's error is the answer.
pub fn respond(files: Vec<FileOutcome>, format: OutputFormat) -> Result<Response, ApiError> {
    if !files.iter().any(|(_, r)| r.is_ok()) {
        let first = files.into_iter().find_map(|(_, r)| r.err());
        return Err(ApiError(first.unwrap_or_else(|| {
            OcrError::Internal("a request without files reached rendering".into())
        })));
    }
    let pages: usize = files
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|d| d.pages.len())
        .sum();
    let mut resp = respond_body(files, format);
    resp.headers_mut().insert(PAGES_HEADER, pages.into());
    Ok(resp)
}

/// Response header with the number of pages recognised (read by `ferrocr load`).
pub const PAGES_HEADER: &str = "x-ferrocr-pages";

/// The searchable PDF of the request's one file, rendered off the async threads (embedding a
/// page image compresses it).
async fn respond_pdf(
    mut files: Vec<FileOutcome>,
    sources: Vec<bytes::Bytes>,
    options: Arc<EngineOptions>,
) -> Result<Response, ApiError> {
    let (Some((_, outcome)), Some(source)) = (files.pop(), sources.into_iter().next()) else {
        return Err(ApiError(OcrError::Internal(
            "a request without files reached rendering".into(),
        )));
    };
    let doc = outcome.map_err(ApiError)?;
    let pages = doc.pages.len();
    let pdf = tokio::task::spawn_blocking(move || render_pdf(&doc, &source, &options.limits))
        .await
        .map_err(|e| ApiError(OcrError::Internal(format!("PDF rendering failed: {e}"))))?
        .map_err(ApiError)?;
    let mut resp = (
        [(header::CONTENT_TYPE, OutputFormat::Pdf.content_type())],
        pdf,
    )
        .into_response();
    resp.headers_mut().insert(PAGES_HEADER, pages.into());
    Ok(resp)
}

fn respond_body(files: Vec<FileOutcome>, format: OutputFormat) -> Response {
    if let [(_, Ok(doc))] = files.as_slice() {
        let body = match format {
            OutputFormat::Json => render_json_line(doc),
            f => render(doc, f).unwrap_or_default(),
        };
        return ([(header::CONTENT_TYPE, format.content_type())], body).into_response();
    }
    let documents: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, outcome)| match outcome {
            Ok(doc) => {
                let result = match format {
                    OutputFormat::Json => serde_json::to_value(doc).unwrap_or(json!(null)),
                    f => json!(render(doc, f).unwrap_or_default()),
                };
                json!({"filename": name, "format": format, "result": result})
            }
            Err(e) => json!({
                "filename": name,
                "format": format,
                "error": {"code": e.kind().code(), "message": e.to_string()},
            }),
        })
        .collect();
    axum::Json(json!({
        "ferrocr_version": crate::render::FERROCR_VERSION,
        "schema_version": crate::render::JSON_SCHEMA_VERSION,
        "documents": documents,
    }))
    .into_response()
}

/// The `/v1/ocr` handler: admission pre-check (refuse before reading anything), the body read
/// under the upload rules, then the admission slot and the work.
pub async fn ocr(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PipelineOptions>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let options = Arc::new(query.engine_options(&state.engine_options)?);
    let timeout = query.timeout(state.config.request_timeout_ms)?;
    let format = query.format.unwrap_or(OutputFormat::Json);
    let client = client_key(&req, !state.api_key_digests.is_empty());
    let rules = super::upload::UploadRules::of(&state.config);
    if let Err(e) = state.admission.check(&client, timeout) {
        return Err(refuse(req, e, rules.refusal_delay).await);
    }
    let meta = state.batcher.request(Priority::Interactive, Some(timeout));
    let work = async {
        let (uploads, _body_bytes) = read_uploads(req, rules, &state.bodies).await?;
        if format == OutputFormat::Pdf && uploads.len() > 1 {
            return Err(ApiError::bad_param(
                "format",
                format!(
                    "pdf answers one file per request, got {}: send each file on its own",
                    uploads.len()
                ),
            ));
        }
        let mut sources = Vec::with_capacity(uploads.len());
        let left = timeout.saturating_sub(meta.started.elapsed());
        let permit = state.admission.admit(&client, left)?;
        let mut files = Vec::with_capacity(uploads.len());
        for up in uploads {
            sources.push(up.bytes.clone());
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
                });
            // The request's own deadline ends every file, not just this one.
            if let Err(e @ OcrError::DeadlineExceeded(_)) = doc {
                return Err(ApiError(e));
            }
            files.push((up.filename, doc));
        }
        if files.iter().any(|(_, r)| r.is_ok()) {
            permit.completed();
        }
        let t = std::time::Instant::now();
        let resp = if format == OutputFormat::Pdf {
            respond_pdf(files, sources, options.clone()).await?
        } else {
            respond(files, format)?
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bearer: Option<&str>) -> Request {
        let mut b = Request::builder().uri("/v1/ocr");
        if let Some(t) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let mut req = b.body(axum::body::Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ClientAddr("10.1.2.3:4567".parse().unwrap()));
        req
    }

    #[test]
    fn made_up_bearer_values_do_not_name_a_client() {
        // Authentication off: whatever token a client sends, it is its address that counts.
        for token in ["a", "b", "anything"] {
            assert_eq!(client_key(&request(Some(token)), false), "ip:10.1.2.3");
        }
        assert_eq!(client_key(&request(None), false), "ip:10.1.2.3");
        // Keys checked by the auth layer: each key is its own client.
        let a = client_key(&request(Some("a")), true);
        let b = client_key(&request(Some("b")), true);
        assert!(a.starts_with("key:") && b.starts_with("key:") && a != b);
    }
}
