//! One core's server: the accept loop, the state its connections share, and the drain.

use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::FutureExt as _;
use glommio::net::{TcpListener, TcpStream};

use super::clock::{CoarseClock, ConnTimer, TICK};
use super::event::LocalEvent;
use super::io::{write_all_timeout, Stream, READ_CHUNK};
use super::{conn, Handler, RequestError, ServerConfig, ShutdownSignal};

/// How often a core looks at the process-wide shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(50);
/// How long a refused connection (over the limit) gets to take its 503.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after an accept error such as EMFILE, so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// State shared by the connections of one core.
#[derive(Debug)]
pub(crate) struct CoreShared {
    pub(crate) config: Arc<ServerConfig>,
    /// Read buffer shared by every connection of the core (see `io::ScratchRead`).
    pub(crate) scratch: RefCell<Box<[u8]>>,
    pub(crate) draining: LocalEvent,
    drained: LocalEvent,
    connections: Cell<usize>,
    pub(crate) clock: CoarseClock,
    pub(crate) tls_cache: RefCell<Option<(u64, Arc<rustls::ServerConfig>)>>,
}

impl CoreShared {
    fn new(config: Arc<ServerConfig>) -> Self {
        CoreShared {
            config,
            scratch: RefCell::new(vec![0u8; READ_CHUNK].into_boxed_slice()),
            draining: LocalEvent::default(),
            drained: LocalEvent::default(),
            connections: Cell::new(0),
            clock: CoarseClock::new(),
            tls_cache: RefCell::new(None),
        }
    }
}

/// Counts a connection for as long as its task lives.
struct ConnectionGuard(Rc<CoreShared>);

impl ConnectionGuard {
    fn new(core: Rc<CoreShared>) -> Self {
        core.connections.set(core.connections.get() + 1);
        ConnectionGuard(core)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let left = self.0.connections.get() - 1;
        self.0.connections.set(left);
        if left == 0 && self.0.draining.is_set() {
            self.0.drained.set();
        }
    }
}

/// What one core did, reported when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreReport {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused at the connection limit.
    pub refused: u64,
    /// Connections still open at the drain deadline, closed without finishing.
    pub cut_at_deadline: usize,
}

/// Serves `listener` on the current glommio executor until `shutdown` is triggered and the
/// drain is over (every connection finished, or the drain timeout passed).
pub async fn serve_core<H: Handler>(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handler: Rc<H>,
    shutdown: ShutdownSignal,
) -> CoreReport {
    let core = Rc::new(CoreShared::new(config));
    let watcher = glommio::spawn_local({
        let core = core.clone();
        async move {
            while !shutdown.is_triggered() {
                glommio::timer::sleep(SHUTDOWN_POLL).await;
            }
            core.draining.set();
            // Idle keep-alive connections wake and close.
            core.clock.interrupt();
        }
    })
    .detach();
    let ticker = glommio::spawn_local({
        let core = core.clone();
        async move {
            loop {
                glommio::timer::sleep(TICK).await;
                core.clock.tick();
            }
        }
    })
    .detach();

    let mut report = CoreReport::default();
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                core.draining.wait().await;
                None
            })
            .await;
        let stream = match accepted {
            None => break,
            Some(Ok(stream)) => stream,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        if core.connections.get() >= core.config.max_connections_per_core {
            report.refused += 1;
            glommio::spawn_local(refuse_overloaded(stream, core.clone(), handler.clone())).detach();
            continue;
        }
        report.accepted += 1;
        let guard = ConnectionGuard::new(core.clone());
        let handler = handler.clone();
        glommio::spawn_local(async move {
            let core = guard.0.clone();
            if AssertUnwindSafe(conn::run(stream, core, handler))
                .catch_unwind()
                .await
                .is_err()
            {
                tracing::error!("a connection task panicked; the connection was closed");
            }
            drop(guard);
        })
        .detach();
    }
    // Stop accepting: with the listener closed, the kernel sends new connections to the
    // other cores' listeners, or refuses them once all are closed.
    drop(listener);
    let open = core.connections.get();
    if open > 0 {
        tracing::debug!(open, "draining connections");
        core.drained
            .wait()
            .or(glommio::timer::sleep(core.config.drain_timeout))
            .await;
    }
    report.cut_at_deadline = core.connections.get();
    watcher.cancel();
    ticker.cancel();
    report
}

/// Answers a connection over the limit with the handler's 503 and closes it.
async fn refuse_overloaded<H: Handler>(stream: TcpStream, core: Rc<CoreShared>, handler: Rc<H>) {
    let response = handler.error_response(&RequestError::Overloaded);
    let mut out = Vec::new();
    conn::encode_simple_response(&mut out, response, &core.clock.date());
    let mut stream = Stream::Plain(stream);
    let timer = ConnTimer::new(core.clone());
    let _ = write_all_timeout(&timer, &mut stream, &out, REFUSAL_WRITE_TIMEOUT).await;
}
