//! The OpenAPI 3.1 description of the HTTP API (`GET /openapi.json`), kept as a JSON file beside
//! the code. A test sends a request to every path and method it lists and checks that the real
//! router serves it, and that every route of the router is listed.

/// The OpenAPI document.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// Every (method, path template) the router serves; the test compares it with [`DOCUMENT`].
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/ocr"),
    ("post", "/v1/jobs"),
    ("get", "/v1/jobs"),
    ("get", "/v1/jobs/{id}"),
    ("delete", "/v1/jobs/{id}"),
    ("get", "/v1/jobs/{id}/result"),
    ("post", "/v1/jobs/{id}/webhook"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];
