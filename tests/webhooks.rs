//! Webhooks that outlive an outage, through the real server: a receiver down for the first
//! attempts, the server restarted between attempts on the same job store, the delivery still
//! arriving (signed, with the result links) once the receiver is back; and a redelivery asked
//! for through `POST /v1/jobs/{id}/webhook`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ferrocr::config::ServeConfig;
use parking_lot::Mutex;
use serde_json::Value;

const PNG: (&str, &str) = ("content-type", "image/png");
const SECRET: &[u8] = b"hook-secret-of-the-test";

/// What the receiver saw: the status it answered, whether the signature verified, the body.
type Seen = Arc<Mutex<Vec<(u16, bool, Value)>>>;

/// A loopback receiver answering 503 while `up` is false, 200 after; it checks signatures.
async fn receiver(up: Arc<AtomicBool>, seen: Seen) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let (up, seen) = (up.clone(), seen.clone());
            async move {
                let header = |k: &str| headers[k].to_str().unwrap().to_string();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let valid = ferrocr::jobs::webhook::verify(
                    SECRET,
                    &header("x-ferrocr-timestamp"),
                    &header("x-ferrocr-signature"),
                    &body,
                    now,
                    Duration::from_secs(300),
                )
                .is_ok();
                let status = if up.load(Ordering::SeqCst) { 200 } else { 503 };
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                seen.lock().push((status, valid, json));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn config(data_dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        data_dir: data_dir.to_path_buf(),
        workers: 1,
        webhook_secret: Some(String::from_utf8(SECRET.to_vec()).unwrap()),
        webhook_allow: vec!["127.0.0.1".into()],
        // Shortened for the test: 400 ms doubling to 800 ms.
        webhook_backoff_initial_ms: 400,
        webhook_backoff_max_ms: 800,
        webhook_max_attempts: 12,
        public_url: Some("https://ocr.example.com".into()),
        ..test_config()
    }
}

/// Wait until `cond` holds of what the receiver saw, failing after `secs`.
async fn wait_seen(
    seen: &Seen,
    secs: u64,
    what: &str,
    cond: impl Fn(&[(u16, bool, Value)]) -> bool,
) {
    let start = Instant::now();
    while !cond(&seen.lock()) {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: {:?}",
            seen.lock().iter().map(|s| s.0).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn job_json(client: &HttpClient, url: &str) -> Value {
    serde_json::from_str(&send(client, "GET", url, &[], vec![]).await.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_outlives_a_receiver_outage_and_a_server_restart() {
    let up = Arc::new(AtomicBool::new(false));
    let seen: Seen = Arc::default();
    let hook = receiver(up.clone(), seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = http1();

    let first = start_with_jobs(config(dir.path())).await;
    let r = send(
        &client,
        "POST",
        &first.url(&format!(
            "/v1/jobs?formats=text,json&callback_url=http://{hook}/hook"
        )),
        &[PNG],
        small_page(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = serde_json::from_str::<Value>(&r.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Two attempts refused, then the server goes down between attempts.
    wait_seen(&seen, 120, "two attempts while the receiver is down", |s| {
        s.len() >= 2
    })
    .await;
    first.stop().await;
    let before_restart = seen.lock().len();

    // Another server on the same store takes the pending delivery over.
    let second = start_with_jobs(config(dir.path())).await;
    let want = (before_restart + 1).max(3);
    wait_seen(&seen, 60, "an attempt by the restarted server", |s| {
        s.len() >= want
    })
    .await;
    up.store(true, Ordering::SeqCst);
    wait_seen(&seen, 60, "the delivery once the receiver is up", |s| {
        s.iter().any(|x| x.0 == 200)
    })
    .await;
    let s = seen.lock().clone();
    assert!(
        s.len() >= 4,
        "down for at least three attempts: {}",
        s.len()
    );
    assert!(s.iter().all(|x| x.1), "every attempt is signed");
    assert!(s[..s.len() - 1].iter().all(|x| x.0 == 503));
    let body = &s.last().unwrap().2;
    assert_eq!(body["event"], "job.succeeded");
    assert_eq!(body["id"], id.as_str());
    let own = format!("https://ocr.example.com/v1/jobs/{id}");
    assert_eq!(body["links"]["self"], own.as_str());
    assert_eq!(body["links"]["result"], format!("{own}/result").as_str());
    assert_eq!(
        body["links"]["results"]["json"],
        format!("{own}/result?format=json").as_str()
    );
    assert!(body["links"]["results"]["text"].is_string());

    // The store kept every attempt: the job shows the delivery.
    let job_url = second.url(&format!("/v1/jobs/{id}"));
    let start = Instant::now();
    loop {
        let job = job_json(&client, &job_url).await;
        if job["webhook"]["state"] == "delivered" {
            assert_eq!(job["webhook"]["attempts"], s.len() as i64);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Redelivery on request: one more signed attempt, now.
    let n = s.len();
    let r = send(&client, "POST", &format!("{job_url}/webhook"), &[], vec![]).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["webhook"]["state"],
        "pending"
    );
    wait_seen(&seen, 30, "the redelivery", |s| s.len() > n).await;
    let again = seen.lock()[n].clone();
    assert_eq!((again.0, again.1), (200, true));
    assert_eq!(again.2["id"], id.as_str());

    // A job without a callback, or one not finished, has nothing to redeliver: 409; an unknown
    // job is 404.
    let r = send(
        &client,
        "POST",
        &second.url("/v1/jobs?formats=text"),
        &[PNG],
        small_page(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let plain = serde_json::from_str::<Value>(&r.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        &client,
        "POST",
        &second.url(&format!("/v1/jobs/{plain}/webhook")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = send(
        &client,
        "POST",
        &second.url(&format!("/v1/jobs/{}/webhook", uuid::Uuid::new_v4())),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    second.stop().await;
}

#[test]
fn the_default_schedule_covers_a_day() {
    let config = ferrocr::jobs::webhook::WebhookConfig::new(b"k".to_vec());
    let window = config.window();
    assert!(window >= Duration::from_secs(24 * 3600), "{window:?}");
    assert!(window <= Duration::from_secs(26 * 3600), "{window:?}");
    // The server's defaults are the same schedule.
    let d = ServeConfig::default();
    assert_eq!(d.webhook_max_attempts, config.max_attempts);
    assert_eq!(
        Duration::from_millis(d.webhook_backoff_initial_ms),
        config.backoff_base
    );
    assert_eq!(
        Duration::from_millis(d.webhook_backoff_max_ms),
        config.backoff_cap
    );
}
