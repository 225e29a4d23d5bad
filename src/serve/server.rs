//! The HTTP/1.1 server loop: hyper with limits `axum::serve` does not set.
//!
//! `axum::serve` builds hyper connections without a timer, so hyper's
//! header read timeout never ran: a client that sends its headers a byte at
//! a time (slowloris) held a connection, a task and a file descriptor for as
//! long as it liked (issue #9). Here every connection gets
//! [`HEADER_READ_TIMEOUT`] to send its request head, at most [`MAX_HEADERS`]
//! headers, and a read buffer of [`MAX_HEAD_BYTES`].

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The longest a client may take to send a request line and its headers,
/// counted from when the connection opens or the previous response ends (so
/// an idle keep-alive connection is closed after this too; readers poll
/// minutes apart and gain nothing from holding one).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Most headers one request may carry; more is answered 431. A feed reader
/// sends about ten.
pub const MAX_HEADERS: usize = 64;

/// Most bytes buffered for one request head; more is answered 431. The
/// longest valid feed URL (every parameter at its cap) is a few KB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop` is cancelled; then stops
/// accepting, lets each connection finish the request it is answering, and
/// returns once all are closed.
pub async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, usually: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_headers(MAX_HEADERS)
                .max_buf_size(MAX_HEAD_BYTES);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
}
