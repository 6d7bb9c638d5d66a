//! The library's error kinds.
//!
//! Every failure the pipeline can report is an [`OcrError`]; its [`ErrorKind`] is the one
//! classification that the CLI (exit codes, messages) and later the HTTP layer (status codes)
//! map from, so a new error never needs a new mapping in several places.

use thiserror::Error;

/// Coarse classification of an [`OcrError`], stable for callers that map errors to statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is not something we can read (corrupt, truncated, wrong type, empty).
    BadInput,
    /// The input is well-formed but over a configured limit (bytes, pixels, pages).
    TooLarge,
    /// The input's format is recognised but not supported.
    Unsupported,
    /// A caller-supplied parameter is invalid.
    BadParameter,
    /// The model could not be loaded or run.
    Model,
    /// A compute backend (GPU/CPU) failed.
    Backend,
    /// Filesystem or other I/O failure on our side.
    Io,
    /// A bug or an unexpected internal state.
    Internal,
    /// The service is at capacity (queues full); the caller should retry later.
    Overloaded,
    /// This caller is over its own concurrency limit.
    RateLimited,
    /// The request's deadline passed before its work ran or finished.
    Timeout,
    /// Missing or wrong credentials.
    Unauthorized,
    /// The addressed resource (e.g. a job) does not exist.
    NotFound,
    /// The request conflicts with the resource's state (e.g. a result that is not ready).
    Conflict,
    /// The service is shutting down or not ready.
    Unavailable,
    /// The client sent its request body too slowly (below the minimum upload rate).
    SlowClient,
}

impl ErrorKind {
    /// Stable snake-case code used in error bodies (`{"error":{"code":...}}`).
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::BadParameter => "bad_parameter",
            ErrorKind::Model => "model_error",
            ErrorKind::Backend => "backend_error",
            ErrorKind::Io => "io_error",
            ErrorKind::Internal => "internal",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::SlowClient => "request_timeout",
        }
    }
}

/// Every error the ferrocr library returns.
#[derive(Debug, Error)]
pub enum OcrError {
    /// The bytes are empty.
    #[error("empty input (0 bytes)")]
    Empty,
    /// The bytes are not a supported document type; `detail` says what was seen.
    #[error("unrecognised file type: {detail}")]
    UnknownFormat {
        /// What the sniffer saw, e.g. the first bytes.
        detail: String,
    },
    /// The file claims a known format but cannot be decoded (truncated, corrupt).
    #[error("corrupt or truncated {format}: {detail}")]
    Corrupt {
        /// Detected format name (PNG, JPEG, TIFF, PDF, ...).
        format: &'static str,
        /// The decoder's explanation.
        detail: String,
    },
    /// A format feature we cannot decode (e.g. an exotic TIFF compression).
    #[error("unsupported {format}: {detail}")]
    Unsupported {
        /// Detected format name.
        format: &'static str,
        /// What is unsupported.
        detail: String,
    },
    /// A limit (bytes, pixels per page, pages) was exceeded; checked before full decoding.
    #[error("{what} {actual} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which limit, e.g. "page pixels".
        what: &'static str,
        /// The value found in the input.
        actual: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// A parameter given by the caller is invalid.
    #[error("invalid parameter {name}: {detail}")]
    BadParameter {
        /// Parameter name as the user spelled it.
        name: String,
        /// Why it is invalid.
        detail: String,
    },
    /// Loading or running the recognition model failed.
    #[error("model error: {0}")]
    Model(String),
    /// A compute backend failed (device lost, shader error, ...).
    #[error("backend error: {0}")]
    Backend(String),
    /// I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Unexpected internal state.
    #[error("internal error: {0}")]
    Internal(String),
    /// Queues are full; retry after the given number of seconds.
    #[error("server busy: {what}; retry in {retry_after_s} s")]
    Overloaded {
        /// Which capacity ran out.
        what: String,
        /// Suggested wait before retrying, seconds.
        retry_after_s: u64,
    },
    /// The caller is over its own in-flight limit.
    #[error(
        "too many requests in flight for this client (limit {limit}); retry in {retry_after_s} s"
    )]
    RateLimited {
        /// The per-client limit.
        limit: usize,
        /// Suggested wait before retrying, seconds.
        retry_after_s: u64,
    },
    /// The request's deadline passed.
    #[error("deadline exceeded after {0} ms")]
    DeadlineExceeded(u64),
    /// Missing or invalid credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The addressed resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with the resource's current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The service is shutting down or not ready to take work.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request body arrived slower than the server's minimum upload rate.
    #[error(
        "request body too slow: {received} bytes in {elapsed_ms} ms (the server needs at least \
         {min_rate} bytes/s after the first {grace_ms} ms)"
    )]
    SlowUpload {
        /// Bytes received before the server gave up.
        received: u64,
        /// Time spent waiting for them, ms.
        elapsed_ms: u64,
        /// The minimum rate, bytes per second.
        min_rate: u64,
        /// The grace period before the rate applies, ms.
        grace_ms: u64,
    },
}

impl OcrError {
    /// The classification used for exit codes and HTTP statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OcrError::Empty | OcrError::UnknownFormat { .. } | OcrError::Corrupt { .. } => {
                ErrorKind::BadInput
            }
            OcrError::Unsupported { .. } => ErrorKind::Unsupported,
            OcrError::LimitExceeded { .. } => ErrorKind::TooLarge,
            OcrError::BadParameter { .. } => ErrorKind::BadParameter,
            OcrError::Model(_) => ErrorKind::Model,
            OcrError::Backend(_) => ErrorKind::Backend,
            OcrError::Io(_) => ErrorKind::Io,
            OcrError::Internal(_) => ErrorKind::Internal,
            OcrError::Overloaded { .. } => ErrorKind::Overloaded,
            OcrError::RateLimited { .. } => ErrorKind::RateLimited,
            OcrError::DeadlineExceeded(_) => ErrorKind::Timeout,
            OcrError::Unauthorized(_) => ErrorKind::Unauthorized,
            OcrError::NotFound(_) => ErrorKind::NotFound,
            OcrError::Conflict(_) => ErrorKind::Conflict,
            OcrError::Unavailable(_) => ErrorKind::Unavailable,
            OcrError::SlowUpload { .. } => ErrorKind::SlowClient,
        }
    }

    /// Seconds a client should wait before retrying, for errors that warrant `Retry-After`.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            OcrError::Overloaded { retry_after_s, .. }
            | OcrError::RateLimited { retry_after_s, .. } => Some(*retry_after_s),
            OcrError::Unavailable(_) => Some(5),
            _ => None,
        }
    }

    /// Shorthand for a [`OcrError::BadParameter`].
    pub fn bad_param(name: impl Into<String>, detail: impl Into<String>) -> Self {
        OcrError::BadParameter {
            name: name.into(),
            detail: detail.into(),
        }
    }
}

/// The library's result type.
pub type Result<T, E = OcrError> = std::result::Result<T, E>;
