//! One connection: TLS detection, then requests one after another (pipelined requests are
//! answered in order), each through the handler, until close, timeout or drain.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::io::AsyncWriteExt;
use futures_lite::StreamExt as _;
use glommio::net::TcpStream;

use super::body::Body;
use super::clock::ConnTimer;
use super::core::CoreShared;
use super::io::{write_all_timeout, ScratchRead, Stream, READ_CHUNK};
use super::{Handler, PlainHttp, Request, RequestError, Response, ResponseBody};
use crate::proto::{
    encode_chunk_prefix, BodyFraming, ChunkedDecoder, HttpDate, Method, ProtoError, RequestHead,
    ResponseFraming, ResponseHeadWriter, CHUNKED_BODY_END,
};

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;
/// Unread body bytes the server reads and drops to keep a connection open after a handler
/// that answered without reading the whole body; beyond it the connection is closed.
const DISCARD_LIMIT: u64 = 64 * 1024;
/// A small in-memory body is sent in the same write as its head.
const COALESCE_LIMIT: usize = 16 * 1024;
/// Responses to pipelined requests are batched up to this many bytes before a write.
const PIPELINE_BATCH: usize = 64 * 1024;
/// After a response that closes the connection, the server keeps reading (and dropping)
/// for this long so that unread client bytes do not turn the close into a reset that
/// destroys the response before the client reads it.
const LINGER: Duration = Duration::from_secs(2);
/// At most this much is dropped while lingering. An upload refused part way (a full disk,
/// a bad chunk signature) can leave several MiB of body in flight; stopping at 1 MiB reset
/// connections whose client was still sending, and the client lost the error response.
const LINGER_BYTES: usize = 16 << 20;

/// Progress of the current request body.
#[derive(Debug)]
pub(crate) enum BodyState {
    Length { remaining: u64 },
    Chunked(ChunkedDecoder),
    Done,
    Failed,
}

/// The connection's stream and buffers; the request body borrows it.
pub(crate) struct ConnIo {
    pub(crate) stream: Stream,
    pub(crate) rbuf: BytesMut,
    /// Response bytes not yet written (pipelined responses are batched).
    wbuf: Vec<u8>,
    pub(crate) core: Rc<CoreShared>,
    /// The connection's deadline slot, for every read and write.
    pub(crate) timer: ConnTimer,
    pub(crate) body: BodyState,
    pub(crate) continue_pending: bool,
    pub(crate) pending_chunk: Option<Bytes>,
}

impl std::fmt::Debug for ConnIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnIo")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl ConnIo {
    /// Writes any batched response bytes.
    pub(crate) async fn flush_pending(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let limit = self.core.config.timeouts.body;
        let result = write_all_timeout(&self.timer, &mut self.stream, &self.wbuf, limit).await;
        self.wbuf.clear();
        if self.wbuf.capacity() > PIPELINE_BATCH * 2 {
            self.wbuf = Vec::new();
        }
        result
    }

    /// Reads more bytes into `rbuf` before the clock passes `deadline`; 0 means the peer
    /// closed. An `idle` read also ends (`Interrupted`) when the core starts draining.
    async fn read_more(&mut self, deadline: Instant, idle: bool) -> io::Result<usize> {
        self.flush_pending().await?;
        let read = ScratchRead {
            stream: &mut self.stream,
            scratch: &self.core.scratch,
            out: &mut self.rbuf,
            max: READ_CHUNK,
        };
        self.timer.run_until(deadline, idle, read).await
    }
}

/// Where a connection is between requests.
enum ConnState {
    /// Waiting for the first byte of a request (the read buffer is empty).
    KeepAlive { first: bool },
    /// Some bytes of a head are here; waiting for the rest.
    ReadingHead,
    /// Done: close (after lingering if a response was sent with `Connection: close`).
    Closed { linger: bool },
}

enum HeadOutcome {
    Head(RequestHead),
    Refused(ProtoError),
    TimedOut,
    Gone,
}

pub(crate) async fn run<H: Handler>(tcp: TcpStream, core: Rc<CoreShared>, handler: Rc<H>) {
    let peer = tcp
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = tcp.set_nodelay(true);
    let timer = ConnTimer::new(core.clone());
    let Some((stream, secure)) = establish(tcp, &core, &timer).await else {
        return;
    };
    let refuse_plain =
        !secure && core.config.tls.is_some() && core.config.plain_http == PlainHttp::Refuse;
    let mut io = ConnIo {
        stream,
        rbuf: BytesMut::new(),
        wbuf: Vec::new(),
        core,
        timer,
        body: BodyState::Done,
        continue_pending: false,
        pending_chunk: None,
    };
    let mut state = ConnState::KeepAlive { first: true };
    loop {
        state = match state {
            ConnState::KeepAlive { first } => wait_for_request(&mut io, first).await,
            ConnState::ReadingHead => match read_head(&mut io).await {
                HeadOutcome::Head(head) if refuse_plain => {
                    let response = handler.error_response(&RequestError::PlainHttpRefused(&head));
                    let minor = head.minor_version();
                    let _ = write_response(&mut io, response, false, minor, false).await;
                    ConnState::Closed { linger: true }
                }
                HeadOutcome::Head(head) => exchange(&mut io, &*handler, head, peer, secure).await,
                HeadOutcome::Refused(err) => {
                    let response = handler.error_response(&RequestError::Protocol(&err));
                    let _ = write_response(&mut io, response, false, 1, false).await;
                    ConnState::Closed { linger: true }
                }
                HeadOutcome::TimedOut => {
                    let response = handler.error_response(&RequestError::HeadTimeout);
                    let _ = write_response(&mut io, response, false, 1, false).await;
                    ConnState::Closed { linger: false }
                }
                HeadOutcome::Gone => ConnState::Closed { linger: false },
            },
            ConnState::Closed { linger } => {
                close(&mut io, linger).await;
                return;
            }
        };
    }
}

/// Accepts TLS when the first byte is a handshake and TLS is configured.
async fn establish(tcp: TcpStream, core: &CoreShared, timer: &ConnTimer) -> Option<(Stream, bool)> {
    let Some(tls) = &core.config.tls else {
        return Some((Stream::Plain(tcp), false));
    };
    let limit = core.config.timeouts.head;
    let mut first = [0u8; 1];
    let peeked = timer
        .run(limit, async {
            tcp.peek(&mut first).await.map_err(io::Error::from)
        })
        .await;
    if !matches!(peeked, Ok(1)) {
        return None;
    }
    if first[0] != TLS_HANDSHAKE {
        return Some((Stream::Plain(tcp), false));
    }
    let config = tls.current(&mut core.tls_cache.borrow_mut());
    let acceptor = futures_rustls::TlsAcceptor::from(config);
    match timer.run(limit, acceptor.accept(tcp)).await {
        Ok(stream) => Some((Stream::Tls(Box::new(stream)), true)),
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}

async fn wait_for_request(io: &mut ConnIo, first: bool) -> ConnState {
    if !io.rbuf.is_empty() {
        return ConnState::ReadingHead;
    }
    if io.flush_pending().await.is_err() {
        return ConnState::Closed { linger: false };
    }
    if io.core.draining.is_set() {
        return ConnState::Closed { linger: false };
    }
    // Give the (empty) read buffer back while idle: thousands of idle keep-alive
    // connections then cost no buffer memory.
    io.rbuf = BytesMut::new();
    let timeouts = io.core.config.timeouts;
    let limit = if first { timeouts.head } else { timeouts.idle };
    let deadline = io.core.clock.now() + limit;
    match io.read_more(deadline, true).await {
        Ok(0) | Err(_) => ConnState::Closed { linger: false },
        Ok(_) => ConnState::ReadingHead,
    }
}

async fn read_head(io: &mut ConnIo) -> HeadOutcome {
    let deadline = io.core.clock.now() + io.core.config.timeouts.head;
    loop {
        match RequestHead::parse(&mut io.rbuf, &io.core.config.limits) {
            Ok(Some(head)) => return HeadOutcome::Head(head),
            Err(err) => return HeadOutcome::Refused(err),
            Ok(None) => {}
        }
        match io.read_more(deadline, false).await {
            Ok(0) => return HeadOutcome::Gone,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return HeadOutcome::TimedOut,
            Err(_) => return HeadOutcome::Gone,
        }
    }
}

/// One request and its response.
async fn exchange<H: Handler>(
    io: &mut ConnIo,
    handler: &H,
    head: RequestHead,
    peer: SocketAddr,
    secure: bool,
) -> ConnState {
    let framing = head.framing();
    io.body = match framing {
        BodyFraming::Empty => BodyState::Done,
        BodyFraming::Length(n) => BodyState::Length { remaining: n },
        BodyFraming::Chunked => BodyState::Chunked(ChunkedDecoder::new()),
    };
    io.pending_chunk = None;
    io.continue_pending = head.expect_continue() && framing != BodyFraming::Empty;
    let declared = match framing {
        BodyFraming::Empty => Some(0),
        BodyFraming::Length(n) => Some(n),
        BodyFraming::Chunked => None,
    };
    let is_head = head.method() == Method::Head;
    let minor = head.minor_version();
    let mut keep_alive = head.keep_alive();
    let draining = io.core.draining.is_set();
    let response = {
        let request = Request {
            head,
            body: Body::new(io, declared),
            peer,
            secure,
            draining,
        };
        // Boxed: the handler's future is the largest state of a connection's task, and an
        // idle keep-alive connection would otherwise carry its space between requests.
        Box::pin(handler.handle(request)).await
    };

    // Whatever the handler left unread must not be taken for the next request.
    let body_finished = matches!(io.body, BodyState::Done) && io.pending_chunk.is_none();
    if !body_finished {
        let small_rest =
            matches!(io.body, BodyState::Length { remaining } if remaining <= DISCARD_LIMIT);
        if io.continue_pending || matches!(io.body, BodyState::Failed) || !small_rest {
            // The client holds the body back (it never got 100 Continue), or the framing
            // is broken, or the rest is large: answer and close.
            keep_alive = false;
        } else {
            let mut body = Body::new(io, None);
            keep_alive &= body.discard(DISCARD_LIMIT).await;
        }
    }
    keep_alive &= !io.core.draining.is_set();
    match write_response(io, response, is_head, minor, keep_alive).await {
        Ok(true) if keep_alive => ConnState::KeepAlive { first: false },
        Ok(_) => ConnState::Closed { linger: true },
        Err(_) => ConnState::Closed { linger: false },
    }
}

/// Encodes the head of `response` into `out`, returning the framing used and the body.
fn encode_head(
    out: &mut Vec<u8>,
    response: Response,
    date: &HttpDate,
    is_head: bool,
    minor: u8,
    keep_alive: &mut bool,
) -> (ResponseFraming, ResponseBody) {
    let status = response.status;
    let bodiless_status = status < 200 || status == 204 || status == 304;
    let mut framing = match &response.body {
        ResponseBody::Empty => ResponseFraming::Length(0),
        ResponseBody::Full(bytes) => ResponseFraming::Length(bytes.len() as u64),
        ResponseBody::HeadOf(n) if is_head => ResponseFraming::Length(*n),
        ResponseBody::HeadOf(_) => {
            tracing::error!(
                status,
                "handler answered a non-HEAD request with a HEAD body"
            );
            ResponseFraming::Length(0)
        }
        ResponseBody::Stream(s) => match s.length {
            Some(n) => ResponseFraming::Length(n),
            None if minor >= 1 => ResponseFraming::Chunked,
            None => {
                // HTTP/1.0 has no chunked encoding: the body ends when the connection does.
                *keep_alive = false;
                ResponseFraming::NoBody
            }
        },
    };
    if bodiless_status {
        framing = ResponseFraming::NoBody;
    }
    let mut writer = ResponseHeadWriter::start(out, status, date);
    for (name, value) in &response.headers {
        if writer.header(name, value.as_bytes()).is_err() {
            tracing::warn!(header = %name, "dropped a response header with an invalid name or value");
        }
    }
    writer.finish(framing, *keep_alive, minor);
    let body = if is_head || bodiless_status {
        ResponseBody::Empty
    } else {
        response.body
    };
    (framing, body)
}

/// Encodes a whole response with an in-memory body (used for refusals before any request).
pub(crate) fn encode_simple_response(out: &mut Vec<u8>, response: Response, date: &HttpDate) {
    let mut keep_alive = false;
    let (_, body) = encode_head(out, response, date, false, 1, &mut keep_alive);
    if let ResponseBody::Full(bytes) = body {
        out.extend_from_slice(&bytes);
    }
}

/// Writes a response. Returns whether the connection is still usable (the body was sent
/// exactly as framed).
async fn write_response(
    io: &mut ConnIo,
    response: Response,
    is_head: bool,
    minor: u8,
    mut keep_alive: bool,
) -> io::Result<bool> {
    let date = io.core.clock.date();
    let mut head = std::mem::take(&mut io.wbuf);
    let (framing, body) = encode_head(&mut head, response, &date, is_head, minor, &mut keep_alive);
    io.wbuf = head;
    let limit = io.core.config.timeouts.body;
    match body {
        ResponseBody::Empty | ResponseBody::HeadOf(_) => {}
        ResponseBody::Full(bytes) if bytes.len() <= COALESCE_LIMIT => {
            io.wbuf.extend_from_slice(&bytes)
        }
        ResponseBody::Full(bytes) => {
            io.flush_pending().await?;
            write_all_timeout(&io.timer, &mut io.stream, &bytes, limit).await?;
        }
        ResponseBody::Stream(mut stream) => {
            io.flush_pending().await?;
            let chunked = framing == ResponseFraming::Chunked;
            let mut sent = 0u64;
            while let Some(piece) = stream.chunks.next().await {
                let piece = match piece {
                    Ok(piece) => piece,
                    Err(e) => {
                        // Nothing can be said in the middle of a body: end it by closing.
                        tracing::warn!(error = %e, "response body failed mid-stream; closing");
                        return Ok(false);
                    }
                };
                if piece.is_empty() {
                    continue;
                }
                sent += piece.len() as u64;
                if chunked {
                    encode_chunk_prefix(piece.len(), &mut io.wbuf);
                    io.flush_pending().await?;
                    write_all_timeout(&io.timer, &mut io.stream, &piece, limit).await?;
                    io.wbuf.extend_from_slice(b"\r\n");
                } else {
                    if let ResponseFraming::Length(n) = framing {
                        if sent > n {
                            tracing::error!(
                                declared = n,
                                "response body longer than its length; closing"
                            );
                            return Ok(false);
                        }
                    }
                    write_all_timeout(&io.timer, &mut io.stream, &piece, limit).await?;
                }
            }
            if chunked {
                io.wbuf.extend_from_slice(CHUNKED_BODY_END);
            } else if let ResponseFraming::Length(n) = framing {
                if sent != n {
                    tracing::error!(
                        declared = n,
                        sent,
                        "response body shorter than its length; closing"
                    );
                    return Ok(false);
                }
            }
        }
    }
    // Batch with the next pipelined response when its request is already here.
    if !keep_alive || io.rbuf.is_empty() || io.wbuf.len() >= PIPELINE_BATCH {
        io.flush_pending().await?;
    }
    Ok(keep_alive)
}

/// Closes the connection. With `linger`, half-closes first and drops whatever the client
/// still sends for a moment, so it reads our last response instead of a reset.
async fn close(io: &mut ConnIo, linger: bool) {
    if io.flush_pending().await.is_err() {
        return;
    }
    let _ = io
        .timer
        .run(Duration::from_secs(1), io.stream.close())
        .await;
    if !linger {
        return;
    }
    let deadline = io.core.clock.now() + LINGER;
    let mut dropped = 0;
    io.rbuf = BytesMut::new();
    while dropped < LINGER_BYTES {
        match io.read_more(deadline, false).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                dropped += n;
                io.rbuf.clear();
            }
        }
    }
}
