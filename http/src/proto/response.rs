//! Response heads (RFC 9112 §4 and §6): status line, `Date`, framing and `Connection`.
//!
//! The writer refuses header values that could split a response (CR, LF, NUL), so a value
//! that came from a client (an object's metadata, say) can never inject a header.

use std::io::Write as _;
use std::time::SystemTime;

/// The interim response sent when a handler first reads a body the client holds back.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// The last chunk and empty trailer section of a chunked response body.
pub const CHUNKED_BODY_END: &[u8] = b"0\r\n\r\n";

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form of the `Date` header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpDate([u8; 29]);

impl HttpDate {
    /// Formats `time` (the caller reads the clock; this module does not).
    pub fn from_system_time(time: SystemTime) -> HttpDate {
        let text = httpdate::fmt_http_date(time);
        let mut bytes = [b' '; 29];
        let len = text.len().min(29);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        HttpDate(bytes)
    }

    /// The formatted date.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for HttpDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("?"))
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// `Content-Length: n` (also used for HEAD, which then sends no body).
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
    /// No body and no length (1xx, 204 and 304).
    NoBody,
}

/// The standard reason phrase for `status`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// A header the writer refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name:?} has an invalid name or value")]
pub struct InvalidHeader {
    /// The name as given.
    pub name: String,
}

/// Writes one response head into a buffer.
#[derive(Debug)]
pub struct ResponseHeadWriter<'a> {
    out: &'a mut Vec<u8>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_value(value: &[u8]) -> bool {
    value.iter().all(|&b| b != b'\r' && b != b'\n' && b != 0)
}

impl<'a> ResponseHeadWriter<'a> {
    /// Starts a response: the status line, `Date` and `Server`.
    pub fn start(out: &'a mut Vec<u8>, status: u16, date: &HttpDate) -> Self {
        out.extend_from_slice(b"HTTP/1.1 ");
        if (100..1000).contains(&status) {
            out.extend_from_slice(&[
                b'0' + (status / 100) as u8,
                b'0' + (status / 10 % 10) as u8,
                b'0' + (status % 10) as u8,
                b' ',
            ]);
        } else {
            let _ = write!(out, "{status} ");
        }
        out.extend_from_slice(reason_phrase(status).as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date.as_bytes());
        out.extend_from_slice(b"\r\nServer: Cairn\r\n");
        ResponseHeadWriter { out }
    }

    /// Adds a header. Framing and connection headers are written by [`finish`](Self::finish)
    /// and refused here, so a handler cannot contradict the real framing.
    pub fn header(&mut self, name: &str, value: &[u8]) -> Result<(), InvalidHeader> {
        let reserved = [
            "content-length",
            "transfer-encoding",
            "connection",
            "date",
            "server",
        ]
        .iter()
        .any(|r| name.eq_ignore_ascii_case(r));
        if reserved || !valid_name(name) || !valid_value(value) {
            return Err(InvalidHeader {
                name: name.to_owned(),
            });
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Ends the head with the framing headers and `Connection`.
    ///
    /// `keep_alive` is whether the server will read another request on this connection;
    /// `minor_version` is the request's, since an HTTP/1.0 client must be told explicitly.
    pub fn finish(self, framing: ResponseFraming, keep_alive: bool, minor_version: u8) {
        match framing {
            ResponseFraming::Length(n) => {
                self.out.extend_from_slice(b"Content-Length: ");
                push_decimal(self.out, n);
                self.out.extend_from_slice(b"\r\n");
            }
            ResponseFraming::Chunked => self
                .out
                .extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            ResponseFraming::NoBody => {}
        }
        if !keep_alive {
            self.out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            self.out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Writes the size line that starts a chunk of `len` bytes.
pub fn encode_chunk_prefix(len: usize, out: &mut Vec<u8>) {
    let _ = write!(out, "{len:x}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn date() -> HttpDate {
        HttpDate::from_system_time(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
    }

    #[test]
    fn date_format() {
        assert_eq!(date().as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn head_with_length() {
        let mut out = Vec::new();
        let mut w = ResponseHeadWriter::start(&mut out, 200, &date());
        w.header("ETag", b"\"abc\"").unwrap();
        w.finish(ResponseFraming::Length(5), true, 1);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: Cairn\r\nETag: \"abc\"\r\nContent-Length: 5\r\n\r\n"
        );
    }

    #[test]
    fn head_chunked_close_and_http10() {
        let mut out = Vec::new();
        ResponseHeadWriter::start(&mut out, 404, &date()).finish(
            ResponseFraming::Chunked,
            false,
            1,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.ends_with("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));

        let mut out = Vec::new();
        ResponseHeadWriter::start(&mut out, 304, &date()).finish(ResponseFraming::NoBody, true, 0);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Content-Length"));
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn refuses_response_splitting_and_framing_headers() {
        let mut out = Vec::new();
        let mut w = ResponseHeadWriter::start(&mut out, 200, &date());
        assert!(w.header("X-A", b"a\r\nSet-Cookie: x").is_err());
        assert!(w.header("X-A", b"a\nb").is_err());
        assert!(w.header("X A", b"v").is_err());
        assert!(w.header("Content-Length", b"1").is_err());
        assert!(w.header("transfer-encoding", b"chunked").is_err());
        assert!(w.header("x-amz-meta-ünicode", b"v").is_err());
        w.header("x-amz-meta-a", "värde".as_bytes()).unwrap();
        w.finish(ResponseFraming::Length(0), true, 1);
        assert!(!String::from_utf8_lossy(&out).contains("Set-Cookie"));
    }

    #[test]
    fn lengths_and_unusual_statuses() {
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            ResponseHeadWriter::start(&mut out, 200, &date()).finish(
                ResponseFraming::Length(n),
                true,
                1,
            );
            assert!(String::from_utf8(out)
                .unwrap()
                .contains(&format!("\r\nContent-Length: {n}\r\n")));
        }
        let mut out = Vec::new();
        ResponseHeadWriter::start(&mut out, 599, &date()).finish(ResponseFraming::NoBody, true, 1);
        assert!(out.starts_with(b"HTTP/1.1 599 Unknown\r\n"));
    }

    #[test]
    fn chunk_prefix() {
        let mut out = Vec::new();
        encode_chunk_prefix(65536, &mut out);
        assert_eq!(out, b"10000\r\n");
    }
}
