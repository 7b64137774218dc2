//! What a handler answers: status, headers and a body that is empty, in memory or streamed.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_lite::Stream;

/// A streamed body: chunks are written as they come, so a large object is never held whole.
pub struct ResponseStream {
    /// The total length when known (sent as Content-Length); otherwise the body is chunked.
    pub length: Option<u64>,
    pub chunks: Pin<Box<dyn Stream<Item = io::Result<Bytes>>>>,
}

impl fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseStream")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// A response body.
#[derive(Debug, Default)]
pub enum ResponseBody {
    #[default]
    Empty,
    Full(Bytes),
    Stream(ResponseStream),
    /// The answer to a HEAD request: `Content-Length: n` and no body bytes.
    HeadOf(u64),
}

/// A response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub body: ResponseBody,
}

impl Response {
    /// A response with no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: ResponseBody::Empty,
        }
    }

    /// Adds a header.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets an in-memory body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = ResponseBody::Full(body.into());
        self
    }

    /// Sets a streamed body.
    pub fn stream(
        mut self,
        length: Option<u64>,
        chunks: impl Stream<Item = io::Result<Bytes>> + 'static,
    ) -> Self {
        self.body = ResponseBody::Stream(ResponseStream {
            length,
            chunks: Box::pin(chunks),
        });
        self
    }

    /// Answers a HEAD request for a body of `length` bytes.
    pub fn head_of(mut self, length: u64) -> Self {
        self.body = ResponseBody::HeadOf(length);
        self
    }
}
