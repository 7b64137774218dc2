//! The HTTP/1.1 client side of one keep-alive connection: sends what it is given as is,
//! reads response heads with httparse and bodies framed by Content-Length or chunked
//! (cairn-http's decoder), into a sink that discards, collects, or compares against the
//! expected bytes without copying them.

use std::io;
use std::time::Duration;

use cairn_http::proto::ChunkedDecoder;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use rustls::pki_types::ServerName;

use crate::config::Target;
use crate::payload::mismatched;
use crate::stats::{Failure, ProtocolError};

/// The read buffer a connection starts with: heads and small bodies (10,000 connections
/// should not hold 256 KiB each).
const READ_BUFFER_SMALL: usize = 16 * 1024;
/// What it grows to for a large body (fewer, larger reads), and the most a response head may
/// take.
const READ_BUFFER: usize = 256 * 1024;
/// Headers parsed per response.
const MAX_HEADERS: usize = 64;
/// The most of a response body [`Sink::Collect`] keeps (listings; error documents).
pub const MAX_COLLECT: usize = 64 << 20;

/// A connection's byte stream.
type Stream = cairn_http::stream::MaybeTls<futures_rustls::client::TlsStream<TcpStream>>;

/// What a response head said.
#[derive(Debug, Clone, Default)]
pub struct ResponseHead {
    pub status: u16,
    /// `None`: chunked, or no body (see [`ResponseHead::has_body`]).
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// The server closes the connection after this response.
    pub close: bool,
    /// The `ETag`, quotes included.
    pub etag: Option<String>,
    /// The request was a HEAD (no body whatever the head says).
    head_request: bool,
}

impl ResponseHead {
    /// Whether a body follows the head.
    pub fn has_body(&self) -> bool {
        !(self.head_request
            || self.status == 204
            || self.status == 304
            || (100..200).contains(&self.status))
    }
}

/// Where a response body goes.
#[derive(Debug)]
pub enum Sink<'a> {
    /// Read and dropped.
    Discard,
    /// Kept in [`Conn::body`] (up to [`MAX_COLLECT`]).
    Collect,
    /// Compared with these bytes as it arrives.
    Verify(&'a [u8]),
}

/// What reading a body found.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyRead {
    /// Body bytes received.
    pub len: u64,
    /// Bytes compared against the expected ones ([`Sink::Verify`]).
    pub verified: u64,
    /// Bytes that differed, including any beyond the expected length and any missing.
    pub mismatched: u64,
}

/// One keep-alive connection to a target.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// Unread response bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// The collected body of the last response read with [`Sink::Collect`].
    pub body: Vec<u8>,
    /// Request bytes being assembled; taken and put back by the caller.
    pub out: Vec<u8>,
    /// The server will close (or has closed) the connection: open a new one.
    pub broken: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("buffered", &(self.end - self.start))
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Connects (and, for HTTPS, handshakes) to `target` within `timeout`; every later read
    /// and write has the same timeout.
    pub async fn connect(target: &Target, timeout: Duration) -> Result<Conn, Failure> {
        let tcp = TcpStream::connect_timeout(target.addr, timeout)
            .await
            .map_err(|e| Failure::io(&io::Error::from(e)))?;
        let io_err = |e: glommio::GlommioError<()>| Failure::io(&io::Error::from(e));
        tcp.set_nodelay(true).map_err(io_err)?;
        tcp.set_read_timeout(Some(timeout)).map_err(io_err)?;
        tcp.set_write_timeout(Some(timeout)).map_err(io_err)?;
        let stream = match &target.tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let name = ServerName::try_from(target.hostname.clone())
                    .map_err(|_| Failure::Io(io::ErrorKind::InvalidInput))?;
                let tls = futures_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Failure::io(&e))?;
                Stream::Tls(Box::new(tls))
            }
        };
        Ok(Conn {
            stream,
            buf: vec![0u8; READ_BUFFER_SMALL],
            start: 0,
            end: 0,
            body: Vec::new(),
            out: Vec::with_capacity(4096),
            broken: false,
        })
    }

    fn io<T>(&mut self, r: io::Result<T>) -> Result<T, Failure> {
        r.map_err(|e| {
            self.broken = true;
            Failure::io(&e)
        })
    }

    /// Writes `bytes` whole.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let r = self.stream.write_all(bytes).await;
        self.io(r)
    }

    /// Writes the assembled request bytes ([`Conn::out`]) whole and clears them.
    pub async fn send_out(&mut self) -> Result<(), Failure> {
        let out = std::mem::take(&mut self.out);
        let r = self.stream.write_all(&out).await;
        self.out = out;
        self.out.clear();
        self.io(r)
    }

    /// Flushes (TLS buffers records until flushed).
    pub async fn flush(&mut self) -> Result<(), Failure> {
        let r = self.stream.flush().await;
        self.io(r)
    }

    /// Reads more bytes into the buffer; fails at end of stream.
    async fn fill(&mut self) -> Result<(), Failure> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                if self.buf.len() < READ_BUFFER {
                    self.buf.resize(READ_BUFFER, 0);
                } else {
                    self.broken = true;
                    return Err(Failure::Protocol(ProtocolError::HeadTooLarge));
                }
            }
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let end = self.end;
        let r = self.stream.read(&mut self.buf[end..]).await;
        let n = self.io(r)?;
        if n == 0 {
            self.broken = true;
            return Err(Failure::Protocol(ProtocolError::UnexpectedEof));
        }
        self.end += n;
        Ok(())
    }

    /// Reads the next final response head (skipping `100 Continue`); `head_request` when the
    /// request was a HEAD.
    pub async fn read_head(&mut self, head_request: bool) -> Result<ResponseHead, Failure> {
        loop {
            if let Some(head) = self.parse_head(head_request)? {
                if (100..200).contains(&head.status) {
                    continue;
                }
                if head.close {
                    self.broken = true;
                }
                return Ok(head);
            }
            self.fill().await?;
        }
    }

    fn parse_head(&mut self, head_request: bool) -> Result<Option<ResponseHead>, Failure> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(&self.buf[self.start..self.end]) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => {
                self.broken = true;
                return Err(Failure::Protocol(ProtocolError::BadHead));
            }
        };
        let mut head = ResponseHead {
            status: response.code.unwrap_or(0),
            head_request,
            close: response.version == Some(0),
            ..ResponseHead::default()
        };
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match n {
                    Some(n) => head.content_length = Some(n),
                    None => {
                        self.broken = true;
                        return Err(Failure::Protocol(ProtocolError::BadLength));
                    }
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = h
                    .value
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                if h.value.trim_ascii().eq_ignore_ascii_case(b"close") {
                    head.close = true;
                }
            } else if h.name.eq_ignore_ascii_case("etag") {
                head.etag = Some(String::from_utf8_lossy(h.value).into_owned());
            }
        }
        if head.chunked {
            head.content_length = None;
        } else if head.has_body() && head.content_length.is_none() {
            // A body delimited by the end of the connection.
            head.close = true;
        }
        self.start += len;
        Ok(Some(head))
    }

    /// Hands one run of body bytes to the sink.
    fn take(&mut self, data: std::ops::Range<usize>, sink: &Sink<'_>, read: &mut BodyRead) {
        let bytes = &self.buf[data];
        match sink {
            Sink::Discard => {}
            Sink::Collect => {
                let room = MAX_COLLECT.saturating_sub(self.body.len());
                self.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Sink::Verify(expected) => {
                let at = (read.len as usize).min(expected.len());
                let want = &expected[at..(at + bytes.len()).min(expected.len())];
                let extra = (bytes.len() - want.len()) as u64;
                read.verified += want.len() as u64;
                read.mismatched += mismatched(&bytes[..want.len()], want) + extra;
            }
        }
        read.len += bytes.len() as u64;
    }

    /// Reads the body `head` announces into `sink`.
    pub async fn read_body(
        &mut self,
        head: &ResponseHead,
        sink: Sink<'_>,
    ) -> Result<BodyRead, Failure> {
        self.body.clear();
        let mut read = BodyRead::default();
        let large = head.chunked
            || head
                .content_length
                .is_none_or(|n| n > READ_BUFFER_SMALL as u64);
        if large && head.has_body() && self.buf.len() < READ_BUFFER {
            self.buf.resize(READ_BUFFER, 0);
        }
        if head.has_body() {
            if head.chunked {
                self.read_chunked(&sink, &mut read).await?;
            } else if let Some(len) = head.content_length {
                while read.len < len {
                    if self.start == self.end {
                        self.fill().await?;
                    }
                    let take = (self.end - self.start).min((len - read.len) as usize);
                    let range = self.start..self.start + take;
                    self.start += take;
                    self.take(range, &sink, &mut read);
                }
            } else {
                // Until the server closes.
                loop {
                    if self.start == self.end {
                        match self.fill().await {
                            Ok(()) => {}
                            Err(Failure::Protocol(ProtocolError::UnexpectedEof)) => break,
                            Err(e) => return Err(e),
                        }
                    }
                    let range = self.start..self.end;
                    self.start = self.end;
                    self.take(range, &sink, &mut read);
                }
            }
        }
        if let Sink::Verify(expected) = sink {
            read.mismatched += (expected.len() as u64).saturating_sub(read.len);
        }
        Ok(read)
    }

    async fn read_chunked(&mut self, sink: &Sink<'_>, read: &mut BodyRead) -> Result<(), Failure> {
        let mut decoder = ChunkedDecoder::new();
        while !decoder.is_done() {
            if self.start == self.end {
                self.fill().await?;
            }
            let step = match decoder.decode(&self.buf[self.start..self.end]) {
                Ok(step) => step,
                Err(_) => {
                    self.broken = true;
                    return Err(Failure::Protocol(ProtocolError::BadChunked));
                }
            };
            let base = self.start;
            self.start += step.consumed;
            if let Some(data) = step.data {
                self.take(base + data.start..base + data.end, sink, read);
            }
        }
        Ok(())
    }
}
