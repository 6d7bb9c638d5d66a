//! The one mapping from an error kind to an HTTP status, and the JSON error body
//! `{"error":{"code","message"}}` every failing route answers with. 503 and 429 carry
//! `Retry-After`; 401 carries `WWW-Authenticate`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ErrorKind, OcrError};

/// The HTTP status for an error kind: the only place this mapping lives.
pub fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadInput | ErrorKind::BadParameter => StatusCode::BAD_REQUEST,
        ErrorKind::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Overloaded | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::SlowClient => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Model | ErrorKind::Backend | ErrorKind::Io | ErrorKind::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub OcrError);

impl From<OcrError> for ApiError {
    fn from(e: OcrError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// A 400 for a bad request parameter.
    pub fn bad_param(name: &str, detail: impl Into<String>) -> Self {
        ApiError(OcrError::bad_param(name, detail))
    }

    /// A bad-input error (malformed body, multipart, ...).
    pub fn bad_input(detail: impl Into<String>) -> Self {
        ApiError(OcrError::Corrupt {
            format: "request body",
            detail: detail.into(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let status = status_for(kind);
        if status.is_server_error() && kind != ErrorKind::Overloaded {
            tracing::warn!(code = kind.code(), "request failed: {}", self.0);
        }
        let body = json!({"error": {"code": kind.code(), "message": self.0.to_string()}});
        let mut resp = (status, Json(body)).into_response();
        if let Some(s) = self.0.retry_after_s()
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if kind == ErrorKind::Unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ferrocr\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_carries_retry_after() {
        let resp = ApiError(OcrError::Overloaded {
            what: "queue".into(),
            retry_after_s: 2,
        })
        .into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn every_kind_has_a_status() {
        use ErrorKind::*;
        for k in [
            BadInput,
            TooLarge,
            Unsupported,
            BadParameter,
            Model,
            Backend,
            Io,
            Internal,
            Overloaded,
            RateLimited,
            Timeout,
            Unauthorized,
            NotFound,
            Conflict,
            Unavailable,
            SlowClient,
        ] {
            let s = status_for(k);
            assert!(s.is_client_error() || s.is_server_error(), "{k:?}");
        }
    }
}
