//! The job routes: `POST /v1/jobs` (202 + `Location`), `GET /v1/jobs/{id}`,
//! `GET /v1/jobs/{id}/result?format=`, `DELETE /v1/jobs/{id}`, `POST /v1/jobs/{id}/webhook`
//! (deliver the webhook again), `GET /v1/jobs?status=&limit=&cursor=`.
//!
//! A submission is checked completely before anything is stored: parameters, the callback URL
//! against the allow-list, and the document itself (decoded once on the CPU pool under the
//! server's limits), so bad input gets a 4xx and leaves nothing half-written. The body is read
//! under the upload rules ([`super::upload`]); at most `max_job_submissions` are checked at once
//! (beyond: 503 + `Retry-After`, refused before the body is read).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::ocr::query_error;
use super::upload::{read_uploads, refuse};
use crate::document::{Document, Page};
use crate::error::OcrError;
use crate::jobs::{JobError, JobId, JobRecord, JobSpec, JobStatus, parse_format};
use crate::options::PipelineOptions;
use crate::render::{OutputFormat, render, render_json_line, render_pdf};
use crate::worker::JobsState;

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let message = e.to_string();
        ApiError(match e.kind() {
            crate::ErrorKind::NotFound => OcrError::NotFound(message),
            crate::ErrorKind::Conflict => OcrError::Conflict(message),
            crate::ErrorKind::BadParameter => OcrError::bad_param("job", message),
            crate::ErrorKind::Io => OcrError::Unavailable(format!("job store: {message}")),
            _ => OcrError::Internal(message),
        })
    }
}

/// Query of `POST /v1/jobs`: the pipeline options of `/v1/ocr` plus job settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// See [`PipelineOptions`].
    pub review_threshold: Option<f32>,
    /// See [`PipelineOptions`].
    pub deskew: Option<bool>,
    /// See [`PipelineOptions`].
    pub orientation: Option<bool>,
    /// See [`PipelineOptions`].
    pub columns: Option<bool>,
    /// See [`PipelineOptions`].
    pub max_pages: Option<usize>,
    /// PDF pages read from their own text layer: auto (default), ocr or use.
    pub pdf_text: Option<crate::text_layer::PdfTextMode>,
    /// Comma-separated formats to store (default `json`).
    pub formats: Option<String>,
    /// Higher runs first, -1000..=1000 (default 0).
    pub priority: Option<i32>,
    /// POSTed the job summary on a terminal state (signed; see docs/ARCHITECTURE.md).
    pub callback_url: Option<String>,
}

impl JobQuery {
    fn pipeline_options(&self) -> PipelineOptions {
        PipelineOptions {
            review_threshold: self.review_threshold,
            deskew: self.deskew,
            orientation: self.orientation,
            columns: self.columns,
            max_pages: self.max_pages,
            pdf_text: self.pdf_text,
            ..Default::default()
        }
    }

    fn formats(&self) -> Result<Vec<OutputFormat>, ApiError> {
        let Some(list) = &self.formats else {
            return Ok(vec![OutputFormat::Json]);
        };
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let f = parse_format(name)
                .map_err(|_| ApiError::bad_param("formats", format!("unknown format {name:?}")))?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if out.is_empty() {
            return Err(ApiError::bad_param("formats", "name at least one format"));
        }
        Ok(out)
    }
}

fn jobs_state(state: &AppState) -> Result<&Arc<JobsState>, ApiError> {
    state.jobs.as_ref().ok_or_else(|| {
        ApiError(OcrError::Unavailable(
            "jobs are not enabled on this node".into(),
        ))
    })
}

/// The JSON body of a job: its summary plus links.
pub fn job_json(job: &JobRecord) -> Value {
    let mut v = job.summary_json();
    v["links"] = job.links("");
    v["webhook"] = json!({"state": job.webhook_state, "attempts": job.webhook_attempts});
    v
}

fn parse_id(id: &str) -> Result<JobId, ApiError> {
    id.parse::<JobId>()
        .map_err(|_| ApiError::bad_param("id", format!("not a job id: {id:?}")))
}

/// `POST /v1/jobs`.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    query: Result<Query<JobQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let jobs = jobs_state(&state)?.clone();
    let Query(query) = query.map_err(query_error)?;
    let ocr = query.pipeline_options();
    let options = ocr.engine_options(&state.engine_options)?;
    let formats = query.formats()?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(String::from)
                .map_err(|_| ApiError::bad_param("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()?;
    if let Some(url) = &query.callback_url {
        if !jobs.webhooks_enabled {
            return Err(ApiError::bad_param(
                "callback_url",
                "webhooks are disabled on this server (no webhook_secret configured)",
            ));
        }
        jobs.policy
            .resolve(url)
            .await
            .map_err(|e| ApiError::bad_param("callback_url", e.to_string()))?;
    }
    // Refuse before reading anything when every submission slot is taken; the slot itself is
    // taken once the body is in, so a slow upload never holds one.
    let busy = || OcrError::Overloaded {
        what: "job submissions being checked".into(),
        retry_after_s: state.config.retry_after_s,
    };
    let rules = super::upload::UploadRules::of(&state.config);
    if state.job_submissions.available_permits() == 0 {
        return Err(refuse(req, busy(), rules.refusal_delay).await);
    }
    let (mut uploads, _body_bytes) = read_uploads(req, rules, &state.bodies).await?;
    let _slot = state
        .job_submissions
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError(busy()))?;
    if uploads.len() != 1 {
        return Err(ApiError::bad_param(
            "body",
            format!("a job takes exactly one document, got {}", uploads.len()),
        ));
    }
    let document = uploads.remove(0).bytes;
    // Refuse over-limit or unreadable documents now, before anything is stored: every limit the
    // headers allow, and the first page decoded (a single image in full; a page of a long
    // document that turns out corrupt later fails the job with its reason).
    state
        .batcher
        .check_document(
            document.clone(),
            options.limits.clone(),
            std::time::Instant::now()
                + std::time::Duration::from_millis(state.config.request_timeout_ms),
        )
        .await?;
    let spec = JobSpec {
        options_json: serde_json::to_string(&ocr).map_err(|e| OcrError::Internal(e.to_string()))?,
        formats,
        priority: query.priority.unwrap_or(0),
        callback_url: query.callback_url.clone(),
        idempotency_key,
        max_attempts: None,
    };
    let outcome = jobs.store.submit(spec, document).await?;
    jobs.notify.notify_one();
    let location = format!("/v1/jobs/{}", outcome.job.id);
    let mut resp = (StatusCode::ACCEPTED, Json(job_json(&outcome.job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if !outcome.created {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// `GET /v1/jobs/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let jobs = jobs_state(&state)?;
    let job = jobs.store.get(parse_id(&id)?).await?;
    Ok(Json(job_json(&job)).into_response())
}

/// `POST /v1/jobs/{id}/webhook`: deliver a finished job's webhook again, now (one more
/// attempt, whatever became of the earlier ones): 202 with the job (`webhook_state`
/// `pending`); 409 for a job without a `callback_url` or not finished yet.
pub async fn redeliver_webhook(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let jobs = jobs_state(&state)?;
    let job = jobs.store.redeliver_webhook(parse_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(job_json(&job))).into_response())
}

/// `DELETE /v1/jobs/{id}`: a queued or running job is canceled (200 with the job); a finished
/// one is deleted at once with its pages, results and document (200 with `"deleted": true`;
/// a pending webhook for it is dropped).
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let jobs = jobs_state(&state)?;
    let id = parse_id(&id)?;
    let outcome = jobs.store.cancel(id).await?;
    if outcome.canceled {
        return Ok(Json(job_json(&outcome.job)).into_response());
    }
    // A finished job: its record, pages, results and document go now (privacy), not at the
    // end of the retention period.
    if jobs.store.expire_now(id).await? {
        let now = jobs.store.now_ms();
        jobs.store.sweep_expired(now).await?;
        return Ok(Json(json!({
            "id": id.to_string(),
            "status": outcome.job.status.to_string(),
            "deleted": true,
        }))
        .into_response());
    }
    Err(ApiError(OcrError::Conflict(format!(
        "job {id} is {} and could be neither canceled nor deleted",
        outcome.job.status
    ))))
}

/// Query of `GET /v1/jobs/{id}/result`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultQuery {
    /// Any format (default: the job's first stored one): stored formats as stored, other text
    /// formats rendered on demand from the recorded pages; pdf only when it was requested.
    pub format: Option<OutputFormat>,
}

/// `GET /v1/jobs/{id}/result`: 409 until the job has succeeded.
pub async fn result(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<ResultQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let jobs = jobs_state(&state)?;
    let Query(query) = query.map_err(query_error)?;
    let id = parse_id(&id)?;
    let job = jobs.store.get(id).await?;
    if job.status != JobStatus::Succeeded {
        return Err(ApiError(OcrError::Conflict(format!(
            "job {id} is {}; its result exists once it has succeeded",
            job.status
        ))));
    }
    let format = query
        .format
        .or_else(|| job.formats.first().copied())
        .unwrap_or(OutputFormat::Json);
    let result =
        jobs.store.result(id).await?.ok_or_else(|| {
            ApiError(OcrError::NotFound(format!("job {id} has no stored result")))
        })?;
    let body: Vec<u8> = match result.get(format) {
        // A PDF is stored as base64 text (the result table holds text); answered as the file.
        Some(body) if format == OutputFormat::Pdf => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| ApiError(OcrError::Internal(format!("stored PDF unreadable: {e}"))))?
        }
        Some(body) => body.as_bytes().to_vec(),
        // Any text format on demand, rendered from the pages the job recorded.
        None if format.is_text() => {
            let doc = stored_document(jobs, &job).await?;
            match format {
                OutputFormat::Json => render_json_line(&doc),
                f => render(&doc, f).unwrap_or_default(),
            }
            .into_bytes()
        }
        // A PDF not asked for at submission: rendered now from the recorded pages over the
        // stored document (its images embedded as they are, a PDF's own pages carried over).
        None => {
            let doc = stored_document(jobs, &job).await?;
            let source = jobs.store.document(id).await?;
            let limits = state.engine_options.limits.clone();
            tokio::task::spawn_blocking(move || render_pdf(&doc, &source, &limits))
                .await
                .map_err(|e| ApiError(OcrError::Internal(format!("PDF rendering: {e}"))))?
                .map_err(ApiError)?
        }
    };
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

/// The document of a succeeded job, from the pages its worker recorded (those of the job it
/// was deduplicated from when it ran none itself).
async fn stored_document(jobs: &JobsState, job: &JobRecord) -> Result<Document, ApiError> {
    let mut pages = jobs.store.completed_pages(job.id).await?;
    if pages.is_empty()
        && let Some(from) = job.deduplicated_from
    {
        pages = jobs.store.completed_pages(from).await?;
    }
    if pages.is_empty() || job.pages_total.is_some_and(|n| n != pages.len() as i64) {
        return Err(ApiError(OcrError::NotFound(format!(
            "job {} has no complete set of recorded pages to render this format from; \
             its stored formats are still available",
            job.id
        ))));
    }
    let pages = pages
        .into_iter()
        .map(|(_, json)| serde_json::from_str::<Page>(&json))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError(OcrError::Internal(format!("recorded page unreadable: {e}"))))?;
    Ok(Document {
        source: None,
        pages,
    })
}

/// Query of `GET /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only jobs in this state.
    pub status: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `GET /v1/jobs`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let jobs = jobs_state(&state)?;
    let Query(query) = query.map_err(query_error)?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.parse::<JobStatus>())
        .transpose()
        .map_err(|e| ApiError::bad_param("status", e.to_string()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_param("limit", "must be within 1..=1000"));
    }
    let page = jobs.store.list(status, limit, query.cursor).await?;
    let body = json!({
        "jobs": page.jobs.iter().map(job_json).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    });
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query parameters the OpenAPI document lists for `route`.
    fn documented_query(route: &str) -> Vec<String> {
        let doc: Value = serde_json::from_str(super::super::openapi::DOCUMENT).unwrap();
        doc["paths"][route]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every documented parameter is accepted by the handler's query type (which refuses
    /// unknown ones), so the document promises nothing the server answers 400 to.
    #[test]
    fn documented_query_parameters_are_accepted() {
        for (route, accepts) in [
            (
                "/v1/jobs",
                (|v: Value| serde_json::from_value::<JobQuery>(v).map(|_| ()))
                    as fn(Value) -> serde_json::Result<()>,
            ),
            ("/v1/ocr", |v: Value| {
                serde_json::from_value::<PipelineOptions>(v).map(|_| ())
            }),
        ] {
            let names = documented_query(route);
            assert!(!names.is_empty(), "{route}");
            for name in names {
                let one = json!({ name.clone(): null });
                assert!(
                    accepts(one).is_ok(),
                    "{route} documents `{name}`, which it refuses"
                );
            }
        }
    }
}
