//! The HTTP/1.1 server on glommio: one accept loop per core, keep-alive, pipelining,
//! `Expect: 100-continue`, streamed bodies both ways, timeouts, TLS and graceful drain.
//!
//! The daemon starts one executor per core, binds a listener on each (SO_REUSEPORT, so the
//! kernel spreads connections) and calls [`serve_core`] with its [`Handler`].

mod body;
mod clock;
mod conn;
mod core;
mod event;
mod io;
mod response;
mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use self::core::{serve_core, CoreReport};
pub use body::{Body, BodyError};
pub use response::{Response, ResponseBody, ResponseStream};
pub use tls::{TlsConfigHandle, TlsError};

use crate::proto::{HeadLimits, ProtoError, RequestHead};

/// Timeouts, each a production default unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the first byte of a request (or the TLS handshake) until its head is complete.
    pub head: Duration,
    /// How long a keep-alive connection may sit idle between requests.
    pub idle: Duration,
    /// How long a request body or a response may make no progress.
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            head: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            body: Duration::from_secs(60),
        }
    }
}

/// Whether plain-HTTP requests are served when TLS is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Serve plain HTTP beside TLS on the same port.
    Serve,
    /// Answer plain HTTP with [`RequestError::PlainHttpRefused`] and close.
    Refuse,
}

/// Everything a core's server needs to know.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub limits: HeadLimits,
    pub timeouts: Timeouts,
    /// Open connections one core keeps; past it a new connection gets 503 and is closed.
    pub max_connections_per_core: usize,
    /// How long a drain waits for in-flight requests before closing them.
    pub drain_timeout: Duration,
    /// TLS, when configured. A connection whose first byte is a TLS handshake gets TLS;
    /// any other gets plain HTTP, or a refusal under [`PlainHttp::Refuse`].
    pub tls: Option<TlsConfigHandle>,
    pub plain_http: PlainHttp,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: HeadLimits::default(),
            timeouts: Timeouts::default(),
            max_connections_per_core: 20_000,
            drain_timeout: Duration::from_secs(30),
            tls: None,
            plain_http: PlainHttp::Serve,
        }
    }
}

/// A request as the handler sees it.
#[derive(Debug)]
pub struct Request<'c> {
    pub head: RequestHead,
    /// The body, read on demand (the first read sends `100 Continue` if the client waits).
    pub body: Body<'c>,
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// Whether this core is draining (the handler may report it, e.g. in a health check).
    pub draining: bool,
}

/// Requests the server answers itself, before or instead of the handler.
#[derive(Debug)]
pub enum RequestError<'a> {
    /// The head broke a rule or a limit.
    Protocol(&'a ProtoError),
    /// The head did not arrive within the head timeout.
    HeadTimeout,
    /// A plain-HTTP request where TLS is required.
    PlainHttpRefused(&'a RequestHead),
    /// The core is at its connection limit.
    Overloaded,
}

impl RequestError<'_> {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::Protocol(e) => e.status(),
            RequestError::HeadTimeout => 408,
            RequestError::PlainHttpRefused(_) => 403,
            RequestError::Overloaded => 503,
        }
    }
}

/// The application: answers requests. One instance per core; its futures need not be `Send`.
pub trait Handler: 'static {
    /// Answers one request. The handler may return without reading the body: the server then
    /// closes the connection (or reads and drops a small rest) rather than misframe the next
    /// request, and a client waiting on `100 Continue` never sends the body.
    fn handle(&self, request: Request<'_>) -> impl Future<Output = Response>;

    /// The response for a request the server refuses itself. The default is a short text.
    fn error_response(&self, error: &RequestError<'_>) -> Response {
        let text = match error {
            RequestError::Protocol(e) => format!("{e}\n"),
            RequestError::HeadTimeout => "request head timed out\n".to_owned(),
            RequestError::PlainHttpRefused(_) => "this server requires TLS (https)\n".to_owned(),
            RequestError::Overloaded => "too many connections\n".to_owned(),
        };
        Response::new(error.status())
            .header("Content-Type", "text/plain")
            .body(text)
    }
}

/// Tells every core to drain: stop accepting, finish in-flight requests, then stop.
/// Set from any thread (a signal handler thread, typically).
#[derive(Debug, Clone, Default)]
pub struct ShutdownSignal {
    flag: Arc<AtomicBool>,
}

impl ShutdownSignal {
    pub fn new() -> Self {
        ShutdownSignal::default()
    }

    /// Starts the drain on every core.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
    }

    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}
