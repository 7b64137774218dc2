//! Request bodies as a pull-based stream: the handler asks for the next piece, and only then
//! does the server read from the socket (so TCP flow control is the backpressure, and a body
//! is never buffered whole). The first read sends `100 Continue` when the client waits for it.

use std::fmt;
use std::io;

use bytes::{Buf, Bytes};

use super::conn::{BodyState, ConnIo};
use super::io::{write_all_timeout, ScratchRead, READ_CHUNK};
use crate::proto::{ChunkedError, CONTINUE_100};

/// Why a request body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the client sent no body bytes within the body timeout")]
    Timeout,
    #[error("the connection closed before the end of the body")]
    Incomplete,
    #[error("malformed chunked body: {0}")]
    Framing(#[from] ChunkedError),
    #[error("reading the body failed: {0}")]
    Io(io::Error),
}

impl BodyError {
    fn from_io(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::TimedOut => BodyError::Timeout,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => BodyError::Incomplete,
            _ => BodyError::Io(err),
        }
    }
}

/// The body of one request.
pub struct Body<'c> {
    io: &'c mut ConnIo,
    declared_length: Option<u64>,
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("declared_length", &self.declared_length)
            .field("complete", &self.is_complete())
            .finish()
    }
}

impl<'c> Body<'c> {
    pub(crate) fn new(io: &'c mut ConnIo, declared_length: Option<u64>) -> Self {
        Body {
            io,
            declared_length,
        }
    }

    /// The Content-Length, when the body has one (not for chunked bodies).
    pub fn content_length(&self) -> Option<u64> {
        self.declared_length
    }

    /// Whether the body was sent with `Transfer-Encoding: chunked`.
    pub fn is_chunked(&self) -> bool {
        matches!(self.io.body, BodyState::Chunked(_))
    }

    /// Whether the whole body has been read.
    pub fn is_complete(&self) -> bool {
        matches!(self.io.body, BodyState::Done) && self.io.pending_chunk.is_none()
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        if let Some(piece) = self.io.pending_chunk.take() {
            return Ok(Some(piece));
        }
        self.send_continue().await?;
        loop {
            match &mut self.io.body {
                BodyState::Done => return Ok(None),
                BodyState::Failed => return Err(BodyError::Incomplete),
                BodyState::Length { remaining } => {
                    if !self.io.rbuf.is_empty() {
                        let take = (*remaining).min(self.io.rbuf.len() as u64) as usize;
                        *remaining -= take as u64;
                        if *remaining == 0 {
                            self.io.body = BodyState::Done;
                        }
                        return Ok(Some(self.io.rbuf.split_to(take).freeze()));
                    }
                }
                BodyState::Chunked(decoder) => {
                    if !self.io.rbuf.is_empty() {
                        let step = match decoder.decode(&self.io.rbuf) {
                            Ok(step) => step,
                            Err(e) => {
                                self.io.body = BodyState::Failed;
                                return Err(e.into());
                            }
                        };
                        let done = decoder.is_done();
                        if done {
                            self.io.body = BodyState::Done;
                        }
                        if let Some(range) = step.data {
                            self.io.rbuf.advance(range.start);
                            return Ok(Some(self.io.rbuf.split_to(range.len()).freeze()));
                        }
                        self.io.rbuf.advance(step.consumed);
                        if done {
                            return Ok(None);
                        }
                        if step.consumed > 0 && !self.io.rbuf.is_empty() {
                            continue;
                        }
                    }
                }
            }
            self.fill().await?;
        }
    }

    /// Reads body bytes into `dst`, returning how many (0 at the end of the body).
    ///
    /// For a body with a Content-Length, bytes not yet buffered go straight from the socket
    /// into `dst` with no intermediate copy.
    pub async fn read(&mut self, dst: &mut [u8]) -> Result<usize, BodyError> {
        if dst.is_empty() {
            return Ok(0);
        }
        self.send_continue().await?;
        if let BodyState::Length { remaining } = self.io.body {
            if self.io.rbuf.is_empty() && self.io.pending_chunk.is_none() {
                if let Err(e) = self.io.flush_pending().await {
                    self.io.body = BodyState::Failed;
                    return Err(BodyError::from_io(e));
                }
                let want = (remaining.min(dst.len() as u64)) as usize;
                let limit = self.io.core.config.timeouts.body;
                let read = self
                    .io
                    .timer
                    .run(
                        limit,
                        futures_lite::io::AsyncReadExt::read(&mut self.io.stream, &mut dst[..want]),
                    )
                    .await;
                let n = match read {
                    Ok(0) => {
                        self.io.body = BodyState::Failed;
                        return Err(BodyError::Incomplete);
                    }
                    Ok(n) => n,
                    Err(e) => {
                        self.io.body = BodyState::Failed;
                        return Err(BodyError::from_io(e));
                    }
                };
                let left = remaining - n as u64;
                self.io.body = if left == 0 {
                    BodyState::Done
                } else {
                    BodyState::Length { remaining: left }
                };
                return Ok(n);
            }
        }
        let mut copied = 0;
        while copied < dst.len() {
            // Take what is buffered; only wait for the socket if nothing was copied yet.
            let buffered = self.io.pending_chunk.is_some()
                || (matches!(self.io.body, BodyState::Length { .. }) && !self.io.rbuf.is_empty());
            if copied > 0 && !buffered {
                break;
            }
            let Some(mut piece) = self.chunk().await? else {
                break;
            };
            let n = piece.len().min(dst.len() - copied);
            dst[copied..copied + n].copy_from_slice(&piece[..n]);
            copied += n;
            if n < piece.len() {
                // Give back what did not fit: it is still body data.
                piece.advance(n);
                self.unread(piece);
                break;
            }
        }
        Ok(copied)
    }

    /// Puts back body data that `read` could not use; the next read returns it first.
    fn unread(&mut self, rest: Bytes) {
        self.io.pending_chunk = Some(rest);
    }

    /// Reads and discards the rest of the body, up to `limit` bytes. Returns whether the
    /// body ended within the limit.
    pub(crate) async fn discard(&mut self, limit: u64) -> bool {
        let mut dropped = 0u64;
        loop {
            match self.chunk().await {
                Ok(Some(piece)) => {
                    dropped += piece.len() as u64;
                    if dropped > limit {
                        return false;
                    }
                }
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    async fn send_continue(&mut self) -> Result<(), BodyError> {
        if self.io.continue_pending {
            self.io.continue_pending = false;
            // Responses to earlier pipelined requests go first.
            if let Err(e) = self.io.flush_pending().await {
                self.io.body = BodyState::Failed;
                return Err(BodyError::from_io(e));
            }
            let limit = self.io.core.config.timeouts.body;
            if let Err(e) =
                write_all_timeout(&self.io.timer, &mut self.io.stream, CONTINUE_100, limit).await
            {
                self.io.body = BodyState::Failed;
                return Err(BodyError::from_io(e));
            }
        }
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), BodyError> {
        // The client may wait for earlier pipelined responses before it sends more.
        if let Err(e) = self.io.flush_pending().await {
            self.io.body = BodyState::Failed;
            return Err(BodyError::from_io(e));
        }
        let io = &mut *self.io;
        let limit = io.core.config.timeouts.body;
        let read = ScratchRead {
            stream: &mut io.stream,
            scratch: &io.core.scratch,
            out: &mut io.rbuf,
            max: READ_CHUNK,
        };
        match io.timer.run(limit, read).await {
            Ok(0) => {
                io.body = BodyState::Failed;
                Err(BodyError::Incomplete)
            }
            Ok(_) => Ok(()),
            Err(e) => {
                io.body = BodyState::Failed;
                Err(BodyError::from_io(e))
            }
        }
    }
}
