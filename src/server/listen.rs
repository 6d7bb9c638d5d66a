//! The accept loop: HTTP/1.1 and HTTP/2 (h2c with prior knowledge, or TLS with ALPN `h2` /
//! `http/1.1`) on one port through hyper-util's auto connection builder, with the HTTP/2 limits
//! from the settings, and graceful shutdown: on the signal the listener closes, readiness turns
//! false, open connections finish their in-flight requests within `shutdown_grace_ms`.
//!
//! Open connections are capped ([`connection_limit`]) below the file-descriptor limit: at the
//! cap the loop stops accepting (new clients wait in the listen backlog) instead of running the
//! process out of descriptors, where `accept` fails for everyone and the database, the model
//! files and health checks go with it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::AppState;
use super::middleware::ClientAddr;
use crate::config::ServeConfig;
use crate::error::{OcrError, Result};

/// A TLS acceptor for the configured certificate and key, offering h2 and http/1.1 by ALPN.
pub fn tls_acceptor(config: &ServeConfig) -> Result<Option<TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let bad = |what: &str, e: String| OcrError::bad_param(what, e);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("tls_cert", format!("{}: {e}", cert.display())))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("tls_cert", format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad("tls_key", format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("tls", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("tls", e.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(tls))))
}

fn connection_builder(config: &ServeConfig) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1().keep_alive(true).timer(TokioTimer::new());
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .initial_stream_window_size(config.http2_stream_window)
        .initial_connection_window_size(config.http2_connection_window)
        .keep_alive_interval(Duration::from_secs(30));
    b
}

/// Descriptors kept free of client connections (database, blobs, model, logs, listener).
const FD_RESERVE: usize = 256;

/// The most open client connections: `max_connections`, or else the process's file-descriptor
/// limit less [`FD_RESERVE`] (at least 64).
pub fn connection_limit(config: &ServeConfig) -> usize {
    if config.max_connections > 0 {
        return config.max_connections;
    }
    fd_limit().map_or(4096, |n| n.saturating_sub(FD_RESERVE).max(64))
}

fn fd_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct passed by pointer.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
        ok.then(|| usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    None
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain.
pub async fn serve(
    state: Arc<AppState>,
    app: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let tls = tls_acceptor(&state.config)?;
    let builder = connection_builder(&state.config);
    let graceful = GracefulShutdown::new();
    let limit = connection_limit(&state.config);
    let connections = Arc::new(tokio::sync::Semaphore::new(limit));
    tracing::info!(max_connections = limit, "accepting connections");
    tokio::pin!(shutdown);
    loop {
        let seat = tokio::select! {
            seat = connections.clone().acquire_owned() => seat.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ClientAddr(peer));
            req
        });
        let svc = TowerToHyperService::new(svc);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _seat = seat;
            let result = match tls {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        let conn =
                            builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), svc);
                        watcher.watch(conn.into_owned()).await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, "TLS handshake failed: {e}");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    state.draining.store(true, Ordering::Release);
    let grace = Duration::from_millis(state.config.shutdown_grace_ms);
    tracing::info!(
        connections = graceful.count(),
        grace_ms = grace.as_millis() as u64,
        "shutting down: draining in-flight requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}
