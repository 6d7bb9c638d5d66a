//! The real server on an ephemeral port: HTTP/2 cross-request batching, HTTP/1.1, TLS + ALPN,
//! overload, bad input, auth, request ids and the OpenAPI document against the real routes.

mod common;

use std::sync::Arc;

use common::*;
use ferrocr::config::ServeConfig;

const PNG: (&str, &str) = ("content-type", "image/png");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn h2c_streams_share_line_batches_and_all_get_the_right_text() {
    let server = start(ServeConfig {
        max_queue_delay_ms: 30,
        ..test_config()
    })
    .await;
    let page = small_page();
    // Orientation is left to the scan: the orientation check reads a small page's lines itself
    // and they are not read again, so none would reach the line stage this test is about.
    let query = "/v1/ocr?format=text&orientation=false";
    // The reference: the same page alone over HTTP/1.1.
    let reference = send(&http1(), "POST", &server.url(query), &[PNG], page.clone()).await;
    assert_eq!(reference.status, 200, "{}", reference.body);
    assert!(reference.body.contains("MARKET"), "{}", reference.body);

    let client = h2c();
    let url = server.url(query);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (client, url, page) = (client.clone(), url.clone(), page.clone());
        tasks.push(tokio::spawn(async move {
            send(&client, "POST", &url, &[PNG], page).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.version, hyper::Version::HTTP_2);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, reference.body);
    }
    let m = send(&http1(), "GET", &server.url("/metrics"), &[], vec![])
        .await
        .body;
    let sum = metric(&m, "ferrocr_batch_requests_sum{stage=\"line\"}").unwrap();
    let count = metric(&m, "ferrocr_batch_requests_count{stage=\"line\"}").unwrap();
    assert!(
        sum > count,
        "some line batch must hold lines of several requests: {sum} requests over {count} batches"
    );
    let ok = metric(
        &m,
        "ferrocr_requests_total{method=\"POST\",route=\"/v1/ocr\",status=\"200\"}",
    )
    .unwrap();
    assert_eq!(ok, 65.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overload_answers_503_with_retry_after_and_keeps_serving() {
    let server = start(ServeConfig {
        queue_capacity: 4,
        ..test_config()
    })
    .await;
    let page = small_page();
    let client = h2c();
    let url = server.url("/v1/ocr?format=text");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (client, url, page) = (client.clone(), url.clone(), page.clone());
        tasks.push(tokio::spawn(async move {
            send(&client, "POST", &url, &[PNG], page).await
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => {
                assert!(r.body.contains("MARKET"));
                ok += 1;
            }
            503 => {
                assert!(r.headers.contains_key("retry-after"));
                assert!(r.body.contains("\"overloaded\""), "{}", r.body);
                busy += 1;
            }
            s => panic!("unexpected status {s}: {}", r.body),
        }
    }
    assert!(busy > 0 && ok >= 4, "ok {ok}, busy {busy}");
    assert_eq!(ok + busy, 100);
    // Still serving.
    let r = send(&http1(), "POST", &url, &[PNG], page).await;
    assert_eq!(r.status, 200);
    assert_eq!(server.state.metrics.in_flight.get(), 0);
    server.stop().await;
}

/// A multipart/form-data body with one PNG file part per `(name, bytes)`, and its content type.
fn multipart(files: &[(&str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "BOUNDARY42";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// (what, url, content type, body, expected status, expected error code).
type BadCase = (&'static str, String, String, Vec<u8>, u16, &'static str);

fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut crc = 0xffff_ffffu32;
    for &b in &ihdr {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(&ihdr);
    v.extend_from_slice(&(!crc).to_be_bytes());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_4xx_json_and_the_server_keeps_serving() {
    let server = start(ServeConfig {
        max_body_bytes: 400_000,
        ..test_config()
    })
    .await;
    let client = http1();
    let png = data("sample-letter.png");
    let jpg = data("sample-receipt.jpg");
    let ocr = server.url("/v1/ocr");
    let mp = |boundary: &str, body: &str| {
        (
            format!("multipart/form-data; boundary={boundary}"),
            body.as_bytes().to_vec(),
        )
    };
    let (mp_broken_ct, mp_broken) = mp(
        "XYZ",
        "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nabc",
    );
    let (mp_nofile_ct, mp_nofile) = mp(
        "XYZ",
        "--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XYZ--\r\n",
    );
    let cases: Vec<BadCase> = vec![
        (
            "empty body",
            ocr.clone(),
            "image/png".into(),
            vec![],
            400,
            "bad_input",
        ),
        (
            "truncated png",
            ocr.clone(),
            "image/png".into(),
            png[..png.len() / 3].to_vec(),
            400,
            "bad_input",
        ),
        (
            "truncated jpeg",
            ocr.clone(),
            "image/jpeg".into(),
            jpg[..jpg.len() / 4].to_vec(),
            400,
            "bad_input",
        ),
        (
            "text as image",
            ocr.clone(),
            "image/png".into(),
            b"not an image".to_vec(),
            400,
            "bad_input",
        ),
        (
            "fake pdf",
            ocr.clone(),
            "application/pdf".into(),
            b"%PDF-1.7\nnope\n".to_vec(),
            400,
            "bad_input",
        ),
        (
            "decompression bomb",
            ocr.clone(),
            "image/png".into(),
            png_claiming(100_000, 100_000),
            413,
            "too_large",
        ),
        (
            "wrong content type",
            ocr.clone(),
            "text/plain".into(),
            png.clone(),
            415,
            "unsupported",
        ),
        (
            "oversized body",
            ocr.clone(),
            "image/png".into(),
            vec![0u8; 500_000],
            413,
            "too_large",
        ),
        (
            "bad format",
            format!("{ocr}?format=docx"),
            "image/png".into(),
            jpg.clone(),
            400,
            "bad_parameter",
        ),
        (
            "bad threshold",
            format!("{ocr}?review_threshold=2"),
            "image/png".into(),
            jpg.clone(),
            400,
            "bad_parameter",
        ),
        (
            "unknown parameter",
            format!("{ocr}?colour=blue"),
            "image/png".into(),
            jpg.clone(),
            400,
            "bad_parameter",
        ),
        (
            "bad boolean",
            format!("{ocr}?deskew=maybe"),
            "image/png".into(),
            jpg.clone(),
            400,
            "bad_parameter",
        ),
        (
            "zero timeout",
            format!("{ocr}?timeout_ms=0"),
            "image/png".into(),
            jpg.clone(),
            400,
            "bad_parameter",
        ),
        (
            "malformed multipart",
            ocr.clone(),
            mp_broken_ct,
            mp_broken,
            400,
            "bad_input",
        ),
        (
            "multipart without a file",
            ocr.clone(),
            mp_nofile_ct,
            mp_nofile,
            400,
            "bad_input",
        ),
        (
            "unknown route",
            server.url("/v1/nope"),
            "image/png".into(),
            vec![1],
            404,
            "not_found",
        ),
    ];
    for (what, url, ctype, body, status, code) in cases {
        // A fresh connection per case: the server may close one after refusing a body unread.
        let r = send(&http1(), "POST", &url, &[("content-type", &ctype)], body).await;
        assert_eq!(r.status, status, "{what}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {}", r.body));
        assert_eq!(v["error"]["code"], code, "{what}: {}", r.body);
        assert!(v["error"]["message"].as_str().unwrap().len() > 5, "{what}");
    }
    // Multipart with two good files answers both.
    let small = small_page();
    let (ct, body) = multipart(&[("a.png", small.clone()), ("b.png", small.clone())]);
    let r = send(
        &client,
        "POST",
        &format!("{ocr}?format=text"),
        &[("content-type", &ct)],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["documents"].as_array().unwrap().len(), 2);
    assert_eq!(v["documents"][1]["filename"], "b.png");
    assert!(
        v["documents"][0]["result"]
            .as_str()
            .unwrap()
            .contains("MARKET")
    );
    // One corrupt file among three: two results and one error entry naming it, 200.
    let (ct, body) = multipart(&[
        ("a.png", small.clone()),
        ("broken.png", b"\x89PNG\r\n\x1a\nnot really".to_vec()),
        ("c.png", small.clone()),
    ]);
    let r = send(
        &client,
        "POST",
        &format!("{ocr}?format=text"),
        &[("content-type", &ct)],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["schema_version"], 1, "{}", r.body);
    assert!(v["ferrocr_version"].is_string(), "{}", r.body);
    let docs = v["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 3);
    assert!(docs[0]["result"].as_str().unwrap().contains("MARKET"));
    assert!(docs[2]["result"].as_str().unwrap().contains("MARKET"));
    assert_eq!(docs[1]["filename"], "broken.png");
    assert!(docs[1].get("result").is_none(), "{}", r.body);
    assert_eq!(docs[1]["error"]["code"], "bad_input", "{}", r.body);
    assert!(
        docs[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broken.png"),
        "{}",
        r.body
    );
    // And the server still serves.
    let r = send(&client, "POST", &ocr, &[PNG], small).await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        !v["document"]["pages"][0]["blocks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_request_ids_health_and_openapi() {
    let server = start(ServeConfig {
        api_keys: vec!["s3cret".into()],
        ..test_config()
    })
    .await;
    let client = http1();
    let page = small_page();
    let r = send(
        &client,
        "POST",
        &server.url("/v1/ocr"),
        &[PNG],
        page.clone(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = send(
        &client,
        "POST",
        &server.url("/v1/ocr"),
        &[PNG, ("authorization", "Bearer nope")],
        page.clone(),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = send(
        &client,
        "POST",
        &server.url("/v1/ocr?format=tsv"),
        &[
            PNG,
            ("authorization", "Bearer s3cret"),
            ("x-request-id", "abc-123"),
        ],
        page,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["x-request-id"], "abc-123");
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/tab-separated-values")
    );
    let r = send(&client, "GET", &server.url("/healthz"), &[], vec![]).await;
    assert_eq!(r.status, 200);
    assert!(!r.headers["x-request-id"].is_empty());
    let r = send(&client, "GET", &server.url("/readyz"), &[], vec![]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Every path and method of the OpenAPI document is a real route, and every route is listed.
    let spec: serde_json::Value = serde_json::from_str(
        &send(&client, "GET", &server.url("/openapi.json"), &[], vec![])
            .await
            .body,
    )
    .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut listed = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            listed.push((method.clone(), path.clone()));
        }
    }
    listed.sort();
    let mut routes: Vec<(String, String)> = ferrocr::server::openapi::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routes.sort();
    assert_eq!(listed, routes);
    for (method, path) in &routes {
        let concrete = path.replace("{id}", "00000000-0000-4000-8000-000000000000");
        let r = send(
            &client,
            &method.to_uppercase(),
            &server.url(&concrete),
            &[("authorization", "Bearer s3cret")],
            vec![],
        )
        .await;
        assert_ne!(r.status, 405, "{method} {path}");
        assert!(
            !r.body.contains("no such route"),
            "{method} {path}: {}",
            r.body
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_alpn_h2() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let server = start(ServeConfig {
        tls_cert: Some(cert_path),
        tls_key: Some(key_path),
        ..test_config()
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.cert.der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let _ = PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post(format!(
        "https://localhost:{}/v1/ocr?format=text",
        server.addr.port()
    ))
    .header("content-type", "image/png")
    .body(http_body_util::Full::new(bytes::Bytes::from(small_page())))
    .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("MARKET"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdf_format_answers_a_searchable_pdf_for_one_file() {
    let server = start(test_config()).await;
    let reply = send(
        &http1(),
        "POST",
        &server.url("/v1/ocr?format=pdf"),
        &[PNG],
        small_page(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/pdf"
    );
    assert!(reply.body.starts_with("%PDF-1."), "not a PDF");
    assert!(reply.body.trim_end().ends_with("%%EOF"), "truncated PDF");
    assert_eq!(reply.headers.get("x-ferrocr-pages").unwrap(), "1");
    // Several files cannot share one PDF answer: a clear 400 naming the parameter.
    let (ctype, body) = multipart(&[("a.png", small_page()), ("b.png", small_page())]);
    let reply = send(
        &http1(),
        "POST",
        &server.url("/v1/ocr?format=pdf"),
        &[("content-type", ctype.as_str())],
        body,
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("format"), "{}", reply.body);
    server.stop().await;
}
