//! `ferrocr serve`: the HTTP API (HTTP/1.1 and HTTP/2 on one port, TLS optional) in front of the
//! dynamic batcher, with admission control, metrics, tracing and graceful shutdown.
//!
//! Settings come from [`crate::config`]. Rooms: [`admission`] (503/429 gate), [`upload`] (request bodies:
//! size, pace, memory budget), [`middleware`] (request id, metrics, auth), [`ocr`] (`/v1/ocr`),
//! [`jobs`] (`/v1/jobs`), [`ops`] (health, readiness, metrics, OpenAPI), [`listen`] (accept
//! loop, connection limit, TLS, shutdown), [`error`] (the one error → status mapping).

pub mod admission;
pub mod error;
pub mod jobs;
pub mod listen;
pub mod middleware;
pub mod ocr;
pub mod openapi;
pub mod ops;
pub mod trim;
pub mod upload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::batcher::Batcher;
use crate::compute::device::select_device;
use crate::config::ServeConfig;
use crate::decode::DecodeLimits;
use crate::error::{OcrError, Result};
use crate::metrics::Metrics;
use crate::options::EngineOptions;
use crate::recognize::model::ModelArtifact;
use crate::recognize::{BatchPolicy, CrnnRecognizer, LINE_HEIGHT, LineImage, Recognizer};
use admission::Admission;

/// Everything a request handler may touch. Each piece has one owner; handlers only read or use
/// the thread-safe handles.
pub struct AppState {
    /// The effective settings.
    pub config: ServeConfig,
    /// Default pipeline options (limits from the settings).
    pub engine_options: EngineOptions,
    /// The dynamic batcher.
    pub batcher: Arc<Batcher>,
    /// The admission gate of synchronous requests.
    pub admission: Admission,
    /// The memory budget of buffered request bodies.
    pub bodies: Arc<upload::BodyBudget>,
    /// `POST /v1/jobs` submissions being checked at once.
    pub job_submissions: Arc<tokio::sync::Semaphore>,
    /// Every exported metric.
    pub metrics: Arc<Metrics>,
    /// SHA-256 digests of the accepted API keys (empty: no authentication).
    pub api_key_digests: Vec<[u8; 32]>,
    /// Set once the model has run a warm-up batch.
    pub warm: AtomicBool,
    /// Set when shutdown begins: readiness turns false so balancers stop sending.
    pub draining: AtomicBool,
    /// "cpu" or "gpu".
    pub backend: String,
    /// The adapter (or CPU backend) name.
    pub adapter: String,
    /// The model's description.
    pub model: String,
    /// The job store and webhook policy, when jobs are enabled on this node.
    pub jobs: Option<Arc<crate::worker::JobsState>>,
}

/// Load the model on the configured device, start the batcher and warm the model up.
pub fn build_state(
    config: ServeConfig,
    metrics: Arc<Metrics>,
    jobs: Option<Arc<crate::worker::JobsState>>,
) -> Result<Arc<AppState>> {
    let artifact = ModelArtifact::resolve(config.model.as_deref())?;
    let selected = select_device(config.device)?;
    tracing::info!(backend = selected.backend, adapter = %selected.adapter, reason = %selected.reason, "device selected");
    let policy = BatchPolicy::for_backend(
        selected.backend,
        config.max_batch_lines,
        config.max_batch_pixels,
    );
    let mut crnn = CrnnRecognizer::new(&artifact, selected.device.clone(), selected.backend)?
        .with_policy(policy);
    if config.no_lexicon {
        crnn = crnn.without_lexicon();
    }
    if config.second_look {
        crnn = crnn.with_second_look();
    }
    if config.greedy {
        crnn = crnn.greedy();
    }
    let recognizer: Arc<dyn Recognizer> = Arc::new(crnn);
    metrics
        .backend_info
        .with_label_values(&[selected.backend, &selected.adapter])
        .set(1);
    let model = recognizer.describe();
    metrics
        .model_info
        .with_label_values(&[&artifact.config.name, &model])
        .set(1);
    let batcher = Arc::new(Batcher::start_with_kernels(
        recognizer.clone(),
        crate::compute::page_kernels(&selected),
        config.batcher(),
        metrics.clone(),
    )?);
    let engine_options = EngineOptions {
        limits: DecodeLimits {
            max_bytes: config.max_body_bytes as u64,
            max_page_pixels: config.max_page_pixels,
            max_pages: config.max_pages,
            max_document_pixels: config.max_document_pixels,
        },
        ..Default::default()
    };
    let api_key_digests = config
        .all_api_keys()?
        .iter()
        .map(|k| middleware::key_digest(k))
        .collect();
    let state = Arc::new(AppState {
        admission: Admission::new(admission::AdmissionConfig::of(&config), metrics.clone()),
        bodies: Arc::new(upload::BodyBudget::new(config.max_buffered_body_bytes)),
        job_submissions: Arc::new(tokio::sync::Semaphore::new(config.max_job_submissions)),
        config,
        engine_options,
        batcher,
        metrics,
        api_key_digests,
        warm: AtomicBool::new(false),
        draining: AtomicBool::new(false),
        backend: selected.backend.to_string(),
        adapter: selected.adapter.clone(),
        model,
        jobs,
    });
    warm_up(recognizer.as_ref())?;
    state.warm.store(true, Ordering::Release);
    Ok(state)
}

/// Run the model once on blank lines of the common widths, so shaders are compiled (GPU) and
/// buffers allocated before the first real request.
pub fn warm_up(recognizer: &dyn Recognizer) -> Result<()> {
    let lines: Vec<LineImage> = [64usize, 256, 512, 1024]
        .iter()
        .map(|&w| LineImage::from_pixels(w, vec![0.0; LINE_HEIGHT * w]))
        .collect();
    let t = std::time::Instant::now();
    recognizer
        .recognize(&lines)
        .map_err(|e| OcrError::Model(format!("warm-up failed: {e}")))?;
    tracing::info!(ms = t.elapsed().as_millis() as u64, "model warm");
    Ok(())
}

/// The HTTP routes with their middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let auth = !state.api_key_digests.is_empty();
    let guard = |r: Router<Arc<AppState>>, on: bool| {
        if on {
            r.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::require_key,
            ))
        } else {
            r
        }
    };
    let v1 = guard(
        Router::new()
            .route("/v1/ocr", post(ocr::ocr))
            .route("/v1/jobs", post(jobs::submit).get(jobs::list))
            .route("/v1/jobs/{id}", get(jobs::get).delete(jobs::cancel))
            .route("/v1/jobs/{id}/result", get(jobs::result))
            .route("/v1/jobs/{id}/webhook", post(jobs::redeliver_webhook)),
        auth,
    );
    let health = guard(
        Router::new()
            .route("/healthz", get(ops::healthz))
            .route("/readyz", get(ops::readyz)),
        auth && state.config.auth_health,
    );
    let metrics = guard(
        Router::new().route("/metrics", get(ops::metrics)),
        auth && state.config.auth_metrics,
    );
    Router::new()
        .merge(v1)
        .merge(health)
        .merge(metrics)
        .route("/openapi.json", get(ops::openapi))
        .fallback(|| async { error::ApiError(OcrError::NotFound("no such route".into())) })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}
