//! Request heads: httparse under named limits, plus the framing rules of RFC 9112 §6.
//!
//! A head is parsed in place; the result records offsets into the head's bytes
//! ([`RequestHead`] owns those bytes as a [`Bytes`], so nothing is copied per header).

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::error::ProtoError;

/// Default limit on the whole request head (request line + header fields + CRLFs).
pub const DEFAULT_MAX_HEAD_BYTES: usize = 32 * 1024;
/// Default limit on the number of header fields.
pub const DEFAULT_MAX_HEADERS: usize = 128;
/// Default limit on the request target (path and query). S3 keys are at most 1024 bytes,
/// three times that percent-encoded, plus a presigned query.
pub const DEFAULT_MAX_URI_BYTES: usize = 16 * 1024;

/// The most header fields any configuration may allow (the parser's slots live on the stack).
pub const MAX_HEADERS_CAP: usize = 256;

/// The limits a head must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Bytes in the whole head, up to and including the empty line.
    pub max_head_bytes: usize,
    /// Header fields (repeats count once each); at most [`MAX_HEADERS_CAP`].
    pub max_headers: usize,
    /// Bytes in the request target.
    pub max_uri_bytes: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
        }
    }
}

/// The request method, with the ones S3 uses named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
    Options,
    /// Any other token; its text is [`RequestHead::method_str`].
    Other,
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: neither Content-Length nor Transfer-Encoding.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

#[derive(Debug, Clone)]
struct HeaderIndex {
    name: Range<usize>,
    value: Range<usize>,
}

/// A parsed request head. Owns the head's bytes; every accessor is a slice into them.
#[derive(Debug, Clone)]
pub struct RequestHead {
    raw: Bytes,
    method: Method,
    method_len: usize,
    target: Range<usize>,
    minor_version: u8,
    headers: Vec<HeaderIndex>,
    framing: BodyFraming,
    keep_alive: bool,
    expect_continue: bool,
}

impl RequestHead {
    /// Parses a head from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a head and is still within the
    /// limits (read more and call again); on success the head's bytes are split off `buf`,
    /// which then starts with the body or the next pipelined request.
    pub fn parse(
        buf: &mut BytesMut,
        limits: &HeadLimits,
    ) -> Result<Option<RequestHead>, ProtoError> {
        let Some(indices) = parse_indices(buf, limits)? else {
            return Ok(None);
        };
        let raw = buf.split_to(indices.head_len).freeze();
        Ok(Some(RequestHead {
            raw,
            method: indices.method,
            method_len: indices.method_len,
            target: indices.target,
            minor_version: indices.minor_version,
            headers: indices.headers,
            framing: indices.framing,
            keep_alive: indices.keep_alive,
            expect_continue: indices.expect_continue,
        }))
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method as sent.
    pub fn method_str(&self) -> &str {
        // The method is a token (ASCII), checked by httparse.
        std::str::from_utf8(&self.raw[..self.method_len]).unwrap_or("")
    }

    /// The request target as sent (path and query, not decoded).
    pub fn target(&self) -> &str {
        // Validated as UTF-8 while parsing.
        std::str::from_utf8(&self.raw[self.target.clone()]).unwrap_or("")
    }

    /// The path part of the target (before any `?`), as sent.
    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The query part of the target (after the first `?`), as sent; empty when there is none.
    pub fn query(&self) -> &str {
        self.target().split_once('?').map_or("", |(_, query)| query)
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// How the body is delimited.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Whether the client allows the connection to stay open after this request.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether the client sent `Expect: 100-continue` and waits before sending the body.
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// The value of the first header named `name` (compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of the first header named `name`, if present and valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// All header fields in the order received, names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.headers.iter().map(|h| {
            // Names are tokens (ASCII), checked by httparse.
            let name = std::str::from_utf8(&self.raw[h.name.clone()]).unwrap_or("");
            (name, &self.raw[h.value.clone()])
        })
    }

    /// The number of header fields.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
}

struct HeadIndices {
    head_len: usize,
    method: Method,
    method_len: usize,
    target: Range<usize>,
    minor_version: u8,
    headers: Vec<HeaderIndex>,
    framing: BodyFraming,
    keep_alive: bool,
    expect_continue: bool,
}

fn offset_in(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

fn parse_indices(buf: &[u8], limits: &HeadLimits) -> Result<Option<HeadIndices>, ProtoError> {
    // Uninitialised slots: parsing a head does not pay for zeroing 256 of them.
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
    let mut req = httparse::Request::new(&mut []);
    let slots = &mut storage[..limits.max_headers.min(MAX_HEADERS_CAP)];
    let status = match req.parse_with_uninit_headers(buf, slots) {
        Ok(status) => status,
        Err(err) => return Err(classify_httparse_error(err, buf, limits)),
    };
    let head_len = match status {
        httparse::Status::Partial => {
            if buf.len() >= limits.max_head_bytes {
                return Err(ProtoError::HeadTooLarge {
                    limit: limits.max_head_bytes,
                });
            }
            check_partial_request_line(buf, limits)?;
            check_line_endings(buf)?;
            return Ok(None);
        }
        httparse::Status::Complete(len) => len,
    };
    if head_len > limits.max_head_bytes {
        return Err(ProtoError::HeadTooLarge {
            limit: limits.max_head_bytes,
        });
    }
    check_line_endings(&buf[..head_len])?;

    let method_token = req.method.ok_or(ProtoError::Malformed("missing method"))?;
    let path = req
        .path
        .ok_or(ProtoError::Malformed("missing request target"))?;
    let method_len = method_token.len();
    let target = offset_in(buf, path.as_bytes());
    if target.len() > limits.max_uri_bytes {
        return Err(ProtoError::UriTooLong {
            limit: limits.max_uri_bytes,
        });
    }
    if std::str::from_utf8(&buf[target.clone()]).is_err() {
        return Err(ProtoError::Malformed("request target is not UTF-8"));
    }
    let minor_version = match req.version {
        Some(v @ (0 | 1)) => v,
        _ => return Err(ProtoError::UnsupportedVersion),
    };

    let mut framing = FramingBuilder::default();
    let mut connection = ConnectionTokens::default();
    let mut host_count = 0usize;
    let mut expect_continue = false;
    let mut headers = Vec::with_capacity(req.headers.len());
    for header in req.headers.iter() {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("content-length") {
            framing.content_length(value)?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            framing.transfer_encoding(value)?;
        } else if name.eq_ignore_ascii_case("connection") {
            connection.add(value);
        } else if name.eq_ignore_ascii_case("host") {
            host_count += 1;
        } else if name.eq_ignore_ascii_case("expect") && minor_version == 1 {
            if trim_ows(value).eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(ProtoError::UnsupportedExpectation);
            }
        }
        headers.push(HeaderIndex {
            name: offset_in(buf, name.as_bytes()),
            value: offset_in(buf, value),
        });
    }
    if minor_version == 1 {
        match host_count {
            0 => return Err(ProtoError::MissingHost),
            1 => {}
            _ => return Err(ProtoError::DuplicateHost),
        }
    } else if host_count > 1 {
        return Err(ProtoError::DuplicateHost);
    }
    let framing = framing.finish(minor_version)?;
    let keep_alive = if minor_version == 1 {
        !connection.close
    } else {
        connection.keep_alive && !connection.close
    };

    Ok(Some(HeadIndices {
        head_len,
        method: Method::from_token(method_token),
        method_len,
        target,
        minor_version,
        headers,
        framing,
        keep_alive,
        expect_continue,
    }))
}

/// Maps httparse's error to ours, looking first for the specific smuggling shapes so the
/// error names what was wrong.
fn classify_httparse_error(err: httparse::Error, buf: &[u8], limits: &HeadLimits) -> ProtoError {
    if let Err(specific) = check_line_endings(buf) {
        return specific;
    }
    match err {
        httparse::Error::TooManyHeaders => ProtoError::TooManyHeaders {
            limit: limits.max_headers.min(MAX_HEADERS_CAP),
        },
        httparse::Error::HeaderName => ProtoError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => ProtoError::Malformed("invalid header value"),
        httparse::Error::NewLine => ProtoError::Malformed("invalid line ending"),
        httparse::Error::Status => ProtoError::Malformed("invalid status"),
        httparse::Error::Token => ProtoError::Malformed("invalid token in request line"),
        httparse::Error::Version => ProtoError::UnsupportedVersion,
    }
}

/// While the head is incomplete, a request line longer than the URI limit already fails.
fn check_partial_request_line(buf: &[u8], limits: &HeadLimits) -> Result<(), ProtoError> {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    // Method, two spaces and "HTTP/1.1" come on top of the target.
    const REQUEST_LINE_OVERHEAD: usize = 32;
    if line_end > limits.max_uri_bytes + REQUEST_LINE_OVERHEAD {
        return Err(ProtoError::UriTooLong {
            limit: limits.max_uri_bytes,
        });
    }
    Ok(())
}

/// Every LF must follow a CR, and no header line may start with whitespace (obs-fold).
fn check_line_endings(head: &[u8]) -> Result<(), ProtoError> {
    for i in memchr::memchr_iter(b'\n', head) {
        if i == 0 || head[i - 1] != b'\r' {
            return Err(ProtoError::BareLf);
        }
        if matches!(head.get(i + 1), Some(b' ' | b'\t')) {
            return Err(ProtoError::ObsoleteLineFolding);
        }
    }
    Ok(())
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

#[derive(Default)]
struct FramingBuilder {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked_last: bool,
    codings: usize,
}

/// Longest Content-Length we parse: 19 digits always fit a u64.
const MAX_CONTENT_LENGTH_DIGITS: usize = 19;

impl FramingBuilder {
    fn content_length(&mut self, value: &[u8]) -> Result<(), ProtoError> {
        // A list ("5, 5") is allowed by RFC 9110 only when every member is the same.
        for member in value.split(|&b| b == b',') {
            let digits = trim_ows(member);
            if digits.is_empty()
                || digits.len() > MAX_CONTENT_LENGTH_DIGITS
                || !digits.iter().all(u8::is_ascii_digit)
            {
                return Err(ProtoError::InvalidContentLength);
            }
            let n = digits
                .iter()
                .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
            match self.content_length {
                Some(previous) if previous != n => {
                    return Err(ProtoError::ConflictingContentLength)
                }
                _ => self.content_length = Some(n),
            }
        }
        Ok(())
    }

    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), ProtoError> {
        self.transfer_encoding = true;
        for member in value.split(|&b| b == b',') {
            let coding = trim_ows(member);
            if coding.is_empty() {
                continue;
            }
            self.codings += 1;
            self.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
            if !self.chunked_last {
                return Err(ProtoError::UnknownTransferCoding);
            }
        }
        Ok(())
    }

    fn finish(self, minor_version: u8) -> Result<BodyFraming, ProtoError> {
        if self.transfer_encoding {
            if minor_version == 0 {
                return Err(ProtoError::TransferEncodingInHttp10);
            }
            if self.content_length.is_some() {
                return Err(ProtoError::ContentLengthWithTransferEncoding);
            }
            // Exactly one coding, and it is chunked: "chunked, chunked" or an empty value
            // leave the body length ambiguous.
            if self.codings != 1 || !self.chunked_last {
                return Err(ProtoError::UnknownTransferCoding);
            }
            return Ok(BodyFraming::Chunked);
        }
        Ok(match self.content_length {
            Some(0) | None => BodyFraming::Empty,
            Some(n) => BodyFraming::Length(n),
        })
    }
}

#[derive(Default)]
struct ConnectionTokens {
    close: bool,
    keep_alive: bool,
}

impl ConnectionTokens {
    fn add(&mut self, value: &[u8]) {
        for token in value.split(|&b| b == b',').map(trim_ows) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<RequestHead>, ProtoError> {
        RequestHead::parse(&mut BytesMut::from(bytes), &HeadLimits::default())
    }

    fn parse_ok(bytes: &[u8]) -> RequestHead {
        parse(bytes).expect("valid head").expect("complete head")
    }

    fn parse_err(bytes: &[u8]) -> ProtoError {
        parse(bytes).expect_err("head must be refused")
    }

    #[test]
    fn simple_get() {
        let head = parse_ok(b"GET /bucket/key?list-type=2&prefix=a HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(head.method(), Method::Get);
        assert_eq!(head.method_str(), "GET");
        assert_eq!(head.path(), "/bucket/key");
        assert_eq!(head.query(), "list-type=2&prefix=a");
        assert_eq!(head.framing(), BodyFraming::Empty);
        assert!(head.keep_alive());
        assert!(!head.expect_continue());
        assert_eq!(head.header("HOST"), Some(&b"x"[..]));
        assert_eq!(head.header_count(), 1);
    }

    #[test]
    fn split_leaves_the_next_request() {
        let mut buf = BytesMut::from(&b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n"[..]);
        let head = RequestHead::parse(&mut buf, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(head.path(), "/a");
        assert_eq!(&buf[..], b"GET /b HTTP/1.1\r\n");
        assert!(RequestHead::parse(&mut buf, &HeadLimits::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn partial_is_not_an_error() {
        let full = b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
        for cut in 0..full.len() {
            assert!(parse(&full[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        assert_eq!(parse_ok(full).framing(), BodyFraming::Length(5));
    }

    #[test]
    fn head_limit() {
        let limits = HeadLimits {
            max_head_bytes: 64,
            ..HeadLimits::default()
        };
        let mut big = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "[..]);
        big.extend_from_slice(&[b'a'; 64]);
        let err = RequestHead::parse(&mut big.clone(), &limits).unwrap_err();
        assert_eq!(err, ProtoError::HeadTooLarge { limit: 64 });
        assert_eq!(err.status(), 431);
        big.extend_from_slice(b"\r\n\r\n");
        let err = RequestHead::parse(&mut big, &limits).unwrap_err();
        assert_eq!(err, ProtoError::HeadTooLarge { limit: 64 });
    }

    #[test]
    fn header_count_limit() {
        let limits = HeadLimits {
            max_headers: 3,
            ..HeadLimits::default()
        };
        let ok = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(RequestHead::parse(&mut BytesMut::from(&ok[..]), &limits)
            .unwrap()
            .is_some());
        let over = b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let err = RequestHead::parse(&mut BytesMut::from(&over[..]), &limits).unwrap_err();
        assert_eq!(err, ProtoError::TooManyHeaders { limit: 3 });
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn uri_limit_complete_and_partial() {
        let limits = HeadLimits {
            max_uri_bytes: 16,
            ..HeadLimits::default()
        };
        let long = b"GET /0123456789abcdefg HTTP/1.1\r\nHost: x\r\n\r\n";
        let err = RequestHead::parse(&mut BytesMut::from(&long[..]), &limits).unwrap_err();
        assert_eq!(err, ProtoError::UriTooLong { limit: 16 });
        assert_eq!(err.status(), 414);
        let mut partial = BytesMut::from(&b"GET /"[..]);
        partial.extend_from_slice(&[b'a'; 100]);
        let err = RequestHead::parse(&mut partial, &limits).unwrap_err();
        assert_eq!(err, ProtoError::UriTooLong { limit: 16 });
        let exact = b"GET /0123456789abcde HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(RequestHead::parse(&mut BytesMut::from(&exact[..]), &limits)
            .unwrap()
            .is_some());
    }

    #[test]
    fn content_length_rules() {
        let with = |v: &str| format!("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(parse_ok(with("0").as_bytes()).framing(), BodyFraming::Empty);
        assert_eq!(
            parse_ok(with("42").as_bytes()).framing(),
            BodyFraming::Length(42)
        );
        assert_eq!(
            parse_ok(with("7, 7").as_bytes()).framing(),
            BodyFraming::Length(7)
        );
        for bad in [
            "+5",
            "-5",
            "5a",
            "0x10",
            "",
            "1 2",
            "99999999999999999999",
            "5,",
        ] {
            let err = parse_err(with(bad).as_bytes());
            assert_eq!(err, ProtoError::InvalidContentLength, "value {bad:?}");
            assert_eq!(err.status(), 400);
        }
        assert_eq!(
            parse_err(with("5, 6").as_bytes()),
            ProtoError::ConflictingContentLength
        );
        let two = b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        assert_eq!(parse_err(two), ProtoError::ConflictingContentLength);
        let same = b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(parse_ok(same).framing(), BodyFraming::Length(5));
    }

    #[test]
    fn transfer_encoding_rules() {
        let with = |v: &str| format!("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {v}\r\n\r\n");
        assert_eq!(
            parse_ok(with("chunked").as_bytes()).framing(),
            BodyFraming::Chunked
        );
        assert_eq!(
            parse_ok(with("Chunked").as_bytes()).framing(),
            BodyFraming::Chunked
        );
        for bad in [
            "gzip",
            "gzip, chunked",
            "chunked, gzip",
            "chunked, chunked",
            "identity",
            "xchunked",
        ] {
            let err = parse_err(with(bad).as_bytes());
            assert_eq!(err, ProtoError::UnknownTransferCoding, "value {bad:?}");
            assert_eq!(err.status(), 400);
        }
        let both =
            b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            parse_err(both),
            ProtoError::ContentLengthWithTransferEncoding
        );
        let both_rev =
            b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(
            parse_err(both_rev),
            ProtoError::ContentLengthWithTransferEncoding
        );
        let two = b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_err(two), ProtoError::UnknownTransferCoding);
        let http10 = b"PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_err(http10), ProtoError::TransferEncodingInHttp10);
    }

    #[test]
    fn bare_lf_and_obs_fold() {
        assert_eq!(
            parse_err(b"GET / HTTP/1.1\nHost: x\r\n\r\n"),
            ProtoError::BareLf
        );
        assert_eq!(
            parse_err(b"GET / HTTP/1.1\r\nHost: x\n\r\n"),
            ProtoError::BareLf
        );
        assert_eq!(
            parse_err(b"GET / HTTP/1.1\r\nHost: x\r\n\n"),
            ProtoError::BareLf
        );
        // A bare LF is refused even before the head is complete.
        assert_eq!(parse_err(b"GET / HTTP/1.1\nHost"), ProtoError::BareLf);
        let folded = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n";
        let err = parse_err(folded);
        assert_eq!(err, ProtoError::ObsoleteLineFolding);
        assert_eq!(err.status(), 400);
        let folded_tab = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\t2\r\n\r\n";
        assert_eq!(parse_err(folded_tab), ProtoError::ObsoleteLineFolding);
    }

    #[test]
    fn host_rules() {
        assert_eq!(
            parse_err(b"GET / HTTP/1.1\r\n\r\n"),
            ProtoError::MissingHost
        );
        assert_eq!(
            parse_err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            ProtoError::DuplicateHost
        );
        assert!(parse_ok(b"GET / HTTP/1.0\r\n\r\n").header("host").is_none());
    }

    #[test]
    fn keep_alive_and_expect() {
        assert!(!parse_ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive());
        assert!(!parse_ok(b"GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(parse_ok(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(
            !parse_ok(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n")
                .keep_alive()
        );
        let expect =
            b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        assert!(parse_ok(expect).expect_continue());
        let other = b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n";
        assert_eq!(parse_err(other).status(), 417);
        // HTTP/1.0 clients cannot wait for 100 Continue; the header is ignored.
        assert!(!parse_ok(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue());
    }

    #[test]
    fn malformed_request_lines() {
        for bad in [
            &b"GET  HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            b"GET / FTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        ] {
            let err = parse_err(bad);
            assert!(matches!(err.status(), 400 | 505), "{bad:?} gave {err:?}");
        }
        let invalid_utf8 = b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(parse_err(invalid_utf8).status(), 400);
    }

    #[test]
    fn repeated_headers_are_kept_in_order() {
        let head = parse_ok(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
        let values: Vec<&[u8]> = head
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-a"))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values, vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(head.header_str("x-a"), Some("1"));
    }
}
