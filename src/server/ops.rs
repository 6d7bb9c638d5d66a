//! Operational routes: liveness, readiness, Prometheus metrics and the OpenAPI document.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// `GET /healthz`: the process is alive and serving HTTP.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: the model is warm, no batcher stage keeps failing (health watch), the job
/// store answers, the server is not shutting down and not saturated (its admission limit reached, or its upload memory
/// budget spent: new work would be refused). 503 with the failing checks otherwise.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let warm = state.warm.load(Ordering::Acquire);
    let draining = state.draining.load(Ordering::Acquire);
    let store = match &state.jobs {
        Some(jobs) => Some(jobs.store.ping().await.map_err(|e| e.to_string())),
        None => None,
    };
    let store_ok = store.as_ref().is_none_or(|r| r.is_ok());
    let timeout = std::time::Duration::from_millis(state.config.request_timeout_ms);
    let in_flight = state.admission.in_flight();
    let limit = state.admission.current_limit(timeout);
    let queue_full = in_flight >= limit as i64;
    let uploads_full = state.bodies.available() == 0;
    let saturated = queue_full || uploads_full;
    let failing = state.batcher.failing_stages();
    let ready = warm && !draining && store_ok && !saturated && failing.is_empty();
    let body = json!({
        "status": if ready { "ready" } else if saturated { "saturated" } else { "not_ready" },
        "model_warm": warm,
        "draining": draining,
        "saturated": saturated,
        "failing_stages": failing,
        "in_flight": in_flight,
        "admission_limit": limit,
        "measured_requests_per_s": state.admission.measured_rate(),
        "body_bytes_buffered": state.bodies.total() - state.bodies.available(),
        "backend": state.backend,
        "adapter": state.adapter,
        "model": state.model,
        "store": match store {
            None => json!(null),
            Some(Ok(())) => json!("ok"),
            Some(Err(e)) => json!(e),
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    if let Some(jobs) = &state.jobs {
        jobs.refresh_metrics(&state.metrics).await;
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`: the API description (OpenAPI 3.1).
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::DOCUMENT,
    )
        .into_response()
}
