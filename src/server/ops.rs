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

/// `GET /readyz`: the model is warm, the backend is up, the job store answers and the server is
/// not shutting down. 503 with the failing checks otherwise.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let warm = state.warm.load(Ordering::Acquire);
    let draining = state.draining.load(Ordering::Acquire);
    let store = match &state.jobs {
        Some(jobs) => Some(jobs.store.ping().await.map_err(|e| e.to_string())),
        None => None,
    };
    let store_ok = store.as_ref().is_none_or(|r| r.is_ok());
    let ready = warm && !draining && store_ok;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "model_warm": warm,
        "draining": draining,
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
