//! The real server under hostile and overloading clients: slow uploads are cut off and never
//! hold an admission slot, and refusing many HTTP/2 streams does not cost the connection.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ferrocr::config::ServeConfig;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PNG: (&str, &str) = ("content-type", "image/png");

/// Open a connection, send the headers of a `len`-byte PNG upload and `sent` body bytes.
async fn start_upload(addr: std::net::SocketAddr, path: &str, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {len}\r\n\r\nP"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Trickle one byte every `gap` until the server answers; returns the status line's code.
async fn trickle_until_answered(mut s: TcpStream, gap: Duration) -> u16 {
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = s.read(&mut buf) => {
                let n = n.unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                return text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
            }
            () = tokio::time::sleep(gap) => {
                if s.write_all(b"\0").await.is_err() {
                    // The server closed on us; read what it said.
                    continue;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_uploads_are_cut_off_and_hold_no_admission_slot() {
    let server = start(ServeConfig {
        queue_capacity: 1,
        min_upload_bytes_per_s: 1000,
        upload_grace_ms: 1000,
        ..test_config()
    })
    .await;
    // More slow uploads than admission slots, to /v1/ocr.
    let mut slow = Vec::new();
    for _ in 0..8 {
        let s = start_upload(server.addr, "/v1/ocr", 100_000).await;
        slow.push(tokio::spawn(trickle_until_answered(
            s,
            Duration::from_millis(200),
        )));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Everyone else is still served, and the server does not call itself saturated.
    let r = send(
        &http1(),
        "POST",
        &server.url("/v1/ocr?format=text"),
        &[PNG],
        small_page(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("MARKET"), "{}", r.body);
    let ready = send(&http1(), "GET", &server.url("/readyz"), &[], vec![]).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(ready.body.contains("\"saturated\":false"), "{}", ready.body);
    // The trickling uploads are answered 408 once they fall under the minimum rate.
    let t = Instant::now();
    for h in slow {
        assert_eq!(h.await.unwrap(), 408);
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(server.state.metrics.in_flight.get(), 0);
    assert_eq!(
        server.state.bodies.available(),
        server.state.bodies.total(),
        "cut-off uploads gave their buffer budget back"
    );
    server.stop().await;
}

/// Send one request; a transport failure is an `Err`, not a panic.
async fn try_send(client: &HttpClient, url: &str, body: Bytes) -> Result<u16, String> {
    let req = hyper::Request::builder()
        .method("POST")
        .uri(url)
        .header(PNG.0, PNG.1)
        .body(Full::new(body))
        .unwrap();
    let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusing_thousands_of_h2_streams_keeps_the_connection() {
    // One admission slot and one HTTP/2 connection carrying 2,000 uploads, 64 at a time: nearly
    // all are refused before their bodies are read. Every one must get an answer (no stream or
    // connection killed), and the admitted ones must be read right.
    let server = start(ServeConfig {
        queue_capacity: 1,
        // Refusals at once: this is about the connection, not the pace.
        refusal_delay_ms: 0,
        ..test_config()
    })
    .await;
    let client = h2c();
    let url = server.url("/v1/ocr?format=text");
    let mut page = small_page();
    // Pad the PNG past one flow-control window's worth of DATA frames per stream (trailing
    // bytes after IEND are ignored by the decoder).
    page.resize(page.len().max(200_000), 0);
    let page = Bytes::from(page);
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for _ in 0..2000 {
        let (client, url, page, gate) = (client.clone(), url.clone(), page.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _turn = gate.acquire_owned().await.unwrap();
            try_send(&client, &url, page).await
        }));
    }
    let (mut ok, mut busy, mut failed) = (0, 0, Vec::new());
    for t in tasks {
        match t.await.unwrap() {
            Ok(200) => ok += 1,
            Ok(503) => busy += 1,
            Ok(s) => failed.push(format!("status {s}")),
            Err(e) => failed.push(e),
        }
    }
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(ok >= 1 && busy > 1024, "ok {ok}, busy {busy}");
    server.stop().await;
}
