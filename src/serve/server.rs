//! The HTTP/1.1 server loop: hyper with limits `axum::serve` does not set,
//! on event loops of its own.
//!
//! `axum::serve` builds hyper connections without a timer, so hyper's
//! header read timeout never ran: a client that sends its headers a byte at
//! a time (slowloris) held a connection, a task and a file descriptor for as
//! long as it liked (issue #9). Here every connection gets
//! [`HEADER_READ_TIMEOUT`] to send its request head, at most [`MAX_HEADERS`]
//! headers and [`MAX_HEAD_BYTES`] of them, and [`WRITE_TIMEOUT`] for each
//! write of its answer to make progress (#20: connections that pipelined
//! requests and never read held their descriptors for ever).
//!
//! Connections are served on one single-threaded tokio runtime per core
//! ([`Loops`]), each on a thread of its own, as nginx serves from one event
//! loop per worker; the listener is accepted from the caller's runtime and
//! each connection handed to the next loop in turn. On tokio's
//! multi-threaded runtime a request woke one worker from the I/O driver and
//! that worker woke another to share the work: perf put ~25 % of the
//! daemon's time answering `304`s in the kernel's scheduler, and the `304`
//! path ran at 0.87× nginx's rate (issue #8, `bench/serve.sh`). On a loop of
//! its own a connection's request is read, answered and written without a
//! thread switch. Polling keeps the multi-threaded runtime.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// The longest a client may take to send a request line and its headers,
/// counted from when the connection opens or the previous response ends (so
/// an idle keep-alive connection is closed after this too; readers poll
/// minutes apart and gain nothing from holding one).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Most headers one request may carry; more is answered 431. A feed reader
/// sends about ten.
pub const MAX_HEADERS: usize = 64;

/// Most bytes of one request head; more is answered 431. The longest valid
/// feed URL (every parameter at its cap) is a few KB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// hyper's read buffer. hyper checks its limit before each read, and one
/// read may add up to the buffer's size again: with the buffer at
/// [`MAX_HEAD_BYTES`] a 114 KB head got through (#20). Half of it keeps
/// every head accepted under [`MAX_HEAD_BYTES`].
const READ_BUFFER_BYTES: usize = MAX_HEAD_BYTES / 2;

/// The longest one write of a response may wait for the client to read:
/// a client that stops reading is cut off, its descriptor freed. A slow
/// reader that takes anything at all within it keeps going.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Blocking threads each serving loop may start, for the store reads and
/// the first compression of a page that its handlers run with
/// `spawn_blocking`: one per reader connection of the store, and one more
/// so that a compression never waits behind reads. Fewer let slow searches
/// take every thread of a loop, and `/healthz` wait behind them though a
/// reader was free (#17: 1.2 s behind three slow searches with two).
const LOOP_BLOCKING_THREADS: usize = crate::store::READERS as usize + 1;

/// Connections served at once: the open-file soft limit less a quarter of
/// it (at least 256) kept for polls, the store's connections and logs, so a
/// flood of connections never takes the descriptors a poll needs (#20: 260
/// connections that never read held every descriptor, and every poll
/// failed with "Too many open files").
pub fn connection_cap() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    let reserve = (soft / 4).max(256);
    usize::try_from(soft.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .clamp(16, 65_536)
}

/// The connections served at once: `configured` (`server.max_connections`)
/// when set, never more than [`connection_cap`] allows.
pub fn effective_cap(configured: Option<usize>) -> usize {
    let safe = connection_cap();
    configured.map_or(safe, |n| n.min(safe))
}

/// Serves `router` on `listener` until `stop` is cancelled; then stops
/// accepting, lets each connection finish the request it is answering, and
/// returns once all are closed. At most [`effective_cap`] connections at
/// once.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    max_connections: Option<usize>,
) {
    let cap = effective_cap(max_connections);
    if max_connections.is_some_and(|n| n > cap) {
        tracing::warn!(
            configured = max_connections,
            cap,
            "server.max_connections is over what the open-file limit leaves after polling's \
             reserve; serving at most the lower number"
        );
    }
    tracing::info!(cap, "connections served at once");
    let limits = Limits {
        connections: cap,
        write_timeout: WRITE_TIMEOUT,
    };
    serve_with(listener, router, stop, limits).await;
}

/// What one server allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once: one more is closed as soon as it is
    /// accepted, without a word (a client retries; a flood gets nothing).
    pub connections: usize,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
}

/// [`serve`] with the given limits.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    limits: Limits,
) {
    let Limits {
        connections: cap,
        write_timeout,
    } = limits;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let loops = Loops::start(cores);
    let mut next = 0;
    let connections = TaskTracker::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(cap.max(1)));
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(cap, "connection refused: as many open as allowed");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        match loops.handles.get(next % loops.handles.len().max(1)) {
            Some(handle) => {
                next = next.wrapping_add(1);
                // A tokio socket belongs to the I/O driver of the runtime it
                // was registered with: hand it over as a std socket and
                // register it again on the loop.
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot hand a connection to a loop");
                        continue;
                    }
                };
                connections.spawn_on(
                    async move {
                        match TcpStream::from_std(stream) {
                            Ok(stream) => connection(stream, service, stop, write_timeout).await,
                            Err(e) => tracing::debug!(error = %e, "cannot register a connection"),
                        }
                        drop(slot);
                    },
                    handle,
                );
            }
            // No loop could be started: serve on this runtime.
            None => {
                connections.spawn(async move {
                    connection(stream, service, stop, write_timeout).await;
                    drop(slot);
                });
            }
        }
    }
    connections.close();
    connections.wait().await;
    drop(loops);
}

/// Serves one connection with hyper's limits until it closes, or until
/// `stop` is cancelled and the request in progress has been answered.
async fn connection(
    stream: TcpStream,
    service: TowerToHyperService<Router>,
    stop: CancellationToken,
    write_timeout: Duration,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(MAX_HEADERS)
        .max_buf_size(READ_BUFFER_BYTES);
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(write_timeout));
    let conn = builder.serve_connection(TokioIo::new(Box::pin(stream)), service);
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
}

/// The serving event loops: one single-threaded runtime per thread, which
/// runs the tasks spawned on its handle until [`Loops`] is dropped; the
/// runtime (and any task still on it) is dropped then, on its thread.
struct Loops {
    handles: Vec<Handle>,
    _finish: DropGuard,
}

impl Loops {
    /// Starts up to `count` loops; one that cannot start (no thread or no
    /// runtime, both out of resources) is logged and left out.
    fn start(count: usize) -> Loops {
        let finish = CancellationToken::new();
        let mut handles = Vec::with_capacity(count);
        for i in 0..count {
            match Self::start_one(i, finish.clone()) {
                Ok(handle) => handles.push(handle),
                Err(e) => tracing::warn!(error = %e, "cannot start an HTTP serving loop"),
            }
        }
        Loops {
            handles,
            _finish: finish.drop_guard(),
        }
    }

    fn start_one(i: usize, finish: CancellationToken) -> std::io::Result<Handle> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(LOOP_BLOCKING_THREADS)
            .thread_name(format!("wd-http-{i}-blocking"))
            .build()?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name(format!("wd-http-{i}"))
            .spawn(move || runtime.block_on(finish.cancelled()))?;
        Ok(handle)
    }
}
