//! Webhook signatures, the callback allow-list, and a loopback receiver for delivery tests.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;

use crate::jobs::JobError;
use crate::jobs::webhook::{
    CallbackPolicy, IpNet, SIGNATURE_HEADER, TIMESTAMP_HEADER, VerifyError, is_internal, sign,
    verify,
};

const SECRET: &[u8] = b"whsec_test";
const TOL: Duration = Duration::from_secs(300);

#[test]
fn sign_verify_round_trip_and_tampering() {
    let body = br#"{"id":"x","status":"succeeded"}"#;
    let sig = sign(SECRET, 1_700_000_000, body);
    assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
    assert_eq!(
        verify(SECRET, "1700000000", &sig, body, 1_700_000_010, TOL),
        Ok(())
    );
    // Rotation: any listed signature may match.
    let both = format!("v1={},{sig}", "00".repeat(32));
    assert_eq!(
        verify(SECRET, "1700000000", &both, body, 1_700_000_000, TOL),
        Ok(())
    );
    let tampered = br#"{"id":"x","status":"failed"}"#;
    let bad = Err(VerifyError::BadSignature);
    assert_eq!(
        verify(SECRET, "1700000000", &sig, tampered, 1_700_000_000, TOL),
        bad
    );
    assert_eq!(
        verify(SECRET, "1700000001", &sig, body, 1_700_000_000, TOL),
        bad
    );
    assert_eq!(
        verify(b"other", "1700000000", &sig, body, 1_700_000_000, TOL),
        bad
    );
    assert_eq!(
        verify(SECRET, "1700000000", "v0=abc", body, 1_700_000_000, TOL),
        bad
    );
    assert_eq!(
        verify(SECRET, "1700000000", &sig, body, 1_700_000_301, TOL),
        Err(VerifyError::Stale)
    );
    assert_eq!(
        verify(SECRET, "soon", &sig, body, 1_700_000_000, TOL),
        Err(VerifyError::BadTimestamp)
    );
}

async fn refused(policy: &CallbackPolicy, url: &str) -> bool {
    matches!(policy.resolve(url).await, Err(JobError::BadRequest(_)))
}

#[tokio::test]
async fn allow_list_denies_internal_targets_by_default() {
    let p = CallbackPolicy::default();
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/hook",
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "https://192.168.1.20/hook",
        "http://[::ffff:10.0.0.1]/hook",
        // Loopback in every IPv6 form: IPv4-compatible, SIIT-translated, local-use NAT64,
        // well-known NAT64 of an internal address, 6to4, Teredo.
        "http://[::127.0.0.1]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[64:ff9b:1::7f00:1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[2002:c0a8:0101::1]/hook",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
        // Ports outside 1..=65535.
        "http://93.184.216.34:0/hook",
        "http://93.184.216.34:99999/hook",
        "http://93.184.216.34:65536/hook",
        "http://0.0.0.0/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
        "not a url",
    ] {
        assert!(refused(&p, url).await, "{url} should be refused");
    }
    // Public IPv4 reached through NAT64 or 6to4 stays allowed; explicit valid ports work.
    assert!(p.resolve("http://[64:ff9b::5db8:d822]/hook").await.is_ok());
    assert!(p.resolve("http://[2002:5db8:d822::1]/hook").await.is_ok());
    let (target, _) = p.resolve("http://93.184.216.34:65535/hook").await.unwrap();
    assert_eq!(target.port, 65535);
    let (target, addrs) = p.resolve("https://93.184.216.34/hook").await.unwrap();
    assert_eq!((target.https, target.port), (true, 443));
    assert_eq!(addrs[0].ip(), "93.184.216.34".parse::<IpAddr>().unwrap());
    // Allow-listing a range or a host opens exactly that.
    let p = CallbackPolicy::default().allow_net("127.0.0.1/32").unwrap();
    assert!(p.resolve("http://127.0.0.1:9/hook").await.is_ok());
    assert!(refused(&p, "http://127.0.0.2/hook").await);
    let p = CallbackPolicy::default().allow_host("localhost");
    assert!(p.resolve("http://localhost:9/hook").await.is_ok());
    let p = CallbackPolicy::default().deny_public();
    assert!(refused(&p, "https://93.184.216.34/hook").await);
}

#[test]
fn cidr_matching() {
    let net = IpNet::parse("10.1.0.0/16").unwrap();
    assert!(net.contains("10.1.200.3".parse().unwrap()));
    assert!(!net.contains("10.2.0.1".parse().unwrap()));
    assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
    assert!(
        IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap())
    );
    assert!(
        IpNet::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap())
    );
    assert!(IpNet::parse("10.0.0.0/33").is_err() && IpNet::parse("x/8").is_err());
    assert!(is_internal("fe80::1".parse().unwrap()) && is_internal("100.64.0.1".parse().unwrap()));
    assert!(
        !is_internal("1.1.1.1".parse().unwrap()) && !is_internal("2606:4700::1".parse().unwrap())
    );
}

/// One request seen by a [`Receiver`].
#[derive(Debug, Clone)]
pub struct Seen {
    /// Whether the signature verified against the receiver's clock.
    pub verified: bool,
    /// The JSON body.
    pub body: serde_json::Value,
}

/// A loopback webhook receiver answering with scripted statuses (then 200).
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    /// Requests received, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a receiver verifying with `secret` at the (manual) clock `now_ms`.
pub async fn receiver(secret: &'static [u8], statuses: &[u16], now_ms: Arc<AtomicI64>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<u16>>(),
    ));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (log, script, now_ms) = (log.clone(), script.clone(), now_ms.clone());
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (log, script, now_ms) = (log.clone(), script.clone(), now_ms.clone());
                async move {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let (ts, sig) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
                    let body = req.into_body().collect().await?.to_bytes();
                    let now = now_ms.load(Ordering::SeqCst) / 1000;
                    let verified = verify(secret, &ts, &sig, &body, now, TOL).is_ok();
                    let body = serde_json::from_slice(&body).unwrap_or_default();
                    log.lock().push(Seen { verified, body });
                    let status = script.lock().pop_front().unwrap_or(200);
                    let resp = hyper::Response::builder()
                        .status(status)
                        .body(Full::new(Bytes::from_static(b"ok")))
                        .unwrap();
                    Ok::<_, hyper::Error>(resp)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Receiver { url, seen, task }
}
