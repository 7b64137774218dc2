//! The admin API's server: HTTP/1.1 (RFC 9112), one request per connection, on a Unix socket
//! that only the daemon's user may open (mode 0600; systemd's `RuntimeDirectory=` makes its
//! directory private too). One thread serves it; every answer comes from
//! [`cairn_iam::admin::handle`]. Neither requests nor answers are logged: the answer to a key
//! creation holds the key's secret.

use std::io::{Read, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_iam::admin::{self, AdminRequest, AdminResponse, MAX_BODY_BYTES};
use cairn_iam::{Iam, IamError};
use cairn_storage::Engine;

use crate::startup::StartupError;

/// The largest request head read: the admin API's requests carry a handful of short headers.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Headers parsed per request; more is answered 431 like a head too large.
const MAX_HEADERS: usize = 32;
/// How long one connection may take to send its request and read the answer: the server
/// serves one connection at a time, so a stalled client must not hold it longer.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// The running admin server. Dropping it (or [`AdminServer::stop`]) stops the thread and
/// removes the socket file.
#[derive(Debug)]
pub struct AdminServer {
    path: PathBuf,
    /// The socket file's (device, inode): removed on stop only if it is still ours.
    identity: (u64, u64),
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Binds the admin socket at `socket` and serves the admin API on a thread of its own.
pub fn spawn_admin_server(
    socket: &Path,
    iam: Arc<Iam>,
    engine: Engine,
) -> Result<AdminServer, StartupError> {
    let listener = bind_private(socket)?;
    let abandon = |reason: String| {
        let _ = std::fs::remove_file(socket);
        socket_error(socket, &reason)
    };
    let identity = std::fs::symlink_metadata(socket)
        .map(|m| (m.dev(), m.ino()))
        .map_err(|e| abandon(format!("cannot read it back: {e}")))?;
    let stopping = Arc::new(AtomicBool::new(false));
    let stop_flag = stopping.clone();
    let thread = std::thread::Builder::new()
        .name("cairn-admin".into())
        .spawn(move || accept_loop(&listener, &iam, &engine, &stop_flag))
        .map_err(|e| abandon(format!("cannot start its thread: {e}")))?;
    tracing::info!("admin API listening on {}", socket.display());
    Ok(AdminServer {
        path: socket.to_owned(),
        identity,
        stopping,
        thread: Some(thread),
    })
}

impl AdminServer {
    /// Stops serving (after the connection in progress) and removes the socket file.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // The thread waits in accept(): a connection wakes it to see the flag. Should the
        // socket file be gone, the thread is left to end with the process.
        if UnixStream::connect(&self.path).is_ok() {
            let _ = thread.join();
        }
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn socket_error(path: &Path, reason: &str) -> StartupError {
    StartupError::Config(format!(
        "cannot serve the admin API on {}: {reason}",
        path.display()
    ))
}

/// Binds a listener at `path` that only this user may connect to. A stale socket file (that
/// nothing answers on) is removed first; a live one, or any other file, is refused. The
/// socket is bound under a temporary name, made 0600 and then renamed into place, so that it
/// is never reachable with wider permissions.
fn bind_private(path: &Path) -> Result<UnixListener, StartupError> {
    let fail = |reason: String| socket_error(path, &reason);
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| fail(format!("cannot create its directory: {e}")))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(fail(
                "the path exists and is not a socket: remove it or set another admin_socket".into(),
            ))
        }
        Ok(_) if UnixStream::connect(path).is_ok() => {
            return Err(fail(
                "another process answers on it (another cairnd?)".into(),
            ))
        }
        Ok(_) => std::fs::remove_file(path)
            .map_err(|e| fail(format!("cannot remove the stale socket file: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".{}.new", std::process::id()));
    let staged = PathBuf::from(staged);
    let _ = std::fs::remove_file(&staged);
    let listener = UnixListener::bind(&staged).map_err(|e| fail(e.to_string()))?;
    let placed = std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&staged, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&staged);
        return Err(fail(e.to_string()));
    }
    Ok(listener)
}

fn accept_loop(listener: &UnixListener, iam: &Iam, engine: &Engine, stopping: &AtomicBool) {
    let buckets = || engine.buckets().map_err(IamError::from);
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        match stream {
            Ok(stream) => serve_connection(stream, iam, &buckets),
            Err(e) => {
                tracing::warn!("admin socket: cannot accept a connection: {e}");
                // Out of file descriptors, say: do not spin.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn serve_connection(mut stream: UnixStream, iam: &Iam, buckets: &dyn admin::Buckets) {
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    let mut reader = DeadlineReader {
        stream: &stream,
        deadline,
    };
    let response = match read_request(&mut reader) {
        Ok(request) => {
            let response = admin::handle(iam, buckets, &request.as_admin());
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                status = response.status,
                "admin request"
            );
            response
        }
        Err(ReadError::Closed | ReadError::Io(_)) => return,
        Err(e) => e.response(),
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    let _ = stream.set_write_timeout(Some(remaining.max(Duration::from_millis(1))));
    if let Err(e) = stream.write_all(&encode_response(&response)) {
        tracing::debug!("admin socket: the client left before the answer: {e}");
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Reads from a Unix stream until a deadline, however the reads are spread over it.
struct DeadlineReader<'a> {
    stream: &'a UnixStream,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(remaining))?;
        (&mut &*self.stream).read(buf)
    }
}

/// A request as read off the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Without `?`.
    pub query: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn as_admin(&self) -> AdminRequest<'_> {
        AdminRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            body: &self.body,
        }
    }
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The client closed the connection before sending anything.
    #[error("the connection closed before a request")]
    Closed,
    #[error("the request head is larger than {MAX_HEAD_BYTES} bytes or has more than {MAX_HEADERS} headers")]
    HeadTooLarge,
    #[error("the request body of {0} bytes is larger than the admin API's limit of {MAX_BODY_BYTES} bytes")]
    BodyTooLarge(u64),
    #[error(
        "send the request body with Content-Length: the admin API does not accept chunked bodies"
    )]
    LengthRequired,
    #[error("{0}")]
    Malformed(String),
    #[error("the request was not sent within {} seconds", CONNECTION_DEADLINE.as_secs())]
    TimedOut,
    #[error("reading the request failed: {0}")]
    Io(std::io::Error),
}

impl ReadError {
    /// The answer to a request that could not be read, in the admin API's error shape.
    fn response(&self) -> AdminResponse {
        let (status, code) = match self {
            ReadError::HeadTooLarge => (431, "RequestHeaderFieldsTooLarge"),
            ReadError::BodyTooLarge(_) => (413, "ContentTooLarge"),
            ReadError::LengthRequired => (411, "LengthRequired"),
            ReadError::TimedOut => (408, "RequestTimeout"),
            ReadError::Closed | ReadError::Io(_) | ReadError::Malformed(_) => {
                (400, "InvalidArgument")
            }
        };
        let body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        AdminResponse {
            status,
            body: serde_json::to_vec_pretty(&body).unwrap_or_default(),
        }
    }
}

fn io_error(e: std::io::Error) -> ReadError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ReadError::TimedOut,
        _ => ReadError::Io(e),
    }
}

/// Reads one request: its head (at most [`MAX_HEAD_BYTES`]) and the body its Content-Length
/// announces (at most [`MAX_BODY_BYTES`]). Bytes after the body are ignored: the connection
/// closes after the answer.
pub fn read_request(reader: &mut impl Read) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head = loop {
        if let Some(head) = parse_head(&buf)? {
            break head;
        }
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(ReadError::HeadTooLarge);
        }
        let room = (MAX_HEAD_BYTES - buf.len()).min(chunk.len());
        let n = reader.read(&mut chunk[..room]).map_err(io_error)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Malformed("the request ended before its head was complete".into())
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut body = buf.split_off(head.len);
    body.truncate(head.body_len);
    let missing = (head.body_len - body.len()) as u64;
    reader
        .take(missing)
        .read_to_end(&mut body)
        .map_err(io_error)?;
    if body.len() < head.body_len {
        return Err(ReadError::Malformed(
            "the request ended before its body was complete".into(),
        ));
    }
    let (path, query) = match head.target.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (head.target, String::new()),
    };
    Ok(Request {
        method: head.method,
        path,
        query,
        body,
    })
}

/// A complete request head.
#[derive(Debug)]
struct Head {
    method: String,
    target: String,
    /// Bytes of the head, final CRLF included.
    len: usize,
    body_len: usize,
}

/// Parses the head in `buf`: `None` while it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
        Err(e) => {
            return Err(ReadError::Malformed(format!(
                "the request head is malformed: {e}"
            )))
        }
    };
    let mut body_len: Option<u64> = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::LengthRequired);
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| ReadError::Malformed("Content-Length is not a number".into()))?;
            if body_len.is_some_and(|earlier| earlier != value) {
                return Err(ReadError::Malformed(
                    "the request has two different Content-Length headers".into(),
                ));
            }
            body_len = Some(value);
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > MAX_BODY_BYTES as u64 {
        return Err(ReadError::BodyTooLarge(body_len));
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(ReadError::Malformed(
            "the request line is incomplete".into(),
        ));
    };
    if !target.starts_with('/') {
        return Err(ReadError::Malformed(format!(
            "the request target {target:?} is not a path"
        )));
    }
    Ok(Some(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        len,
        body_len: body_len as usize,
    }))
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "",
    }
}

/// The answer as HTTP/1.1 bytes; the connection closes after it. A 204 has no body and so
/// no Content-Length (RFC 9110, section 8.6).
pub fn encode_response(response: &AdminResponse) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason_phrase(response.status)
    );
    if response.status != 204 {
        out.push_str("Content-Type: application/json\r\n");
        out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    if response.status != 204 {
        out.extend_from_slice(&response.body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_client::Session;

    /// Hands out its bytes a few at a time, as a socket may.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn read_all(bytes: &[u8], step: usize) -> Result<Request, ReadError> {
        read_request(&mut Trickle { bytes, step })
    }

    #[test]
    fn reads_a_request_in_any_pieces() {
        let raw = b"POST /v1/keys?user=a%2Bb HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{\"user\":\"a\"}\nextra";
        for step in [1, 7, 4096] {
            let request = read_all(raw, step).unwrap();
            assert_eq!(request.method, "POST");
            assert_eq!(request.path, "/v1/keys");
            assert_eq!(request.query, "user=a%2Bb");
            assert_eq!(request.body, b"{\"user\":\"a\"}\n");
        }
        let get = read_all(b"GET /v1/users HTTP/1.1\r\n\r\n", 3).unwrap();
        assert!(get.query.is_empty() && get.body.is_empty());
    }

    #[test]
    fn limits_are_enforced() {
        let mut big_head = b"GET /v1/users HTTP/1.1\r\nX-Pad: ".to_vec();
        big_head.resize(MAX_HEAD_BYTES + 10, b'a');
        assert!(matches!(
            read_all(&big_head, 4096),
            Err(ReadError::HeadTooLarge)
        ));
        let many = format!(
            "GET /v1/users HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(
            read_all(many.as_bytes(), 4096),
            Err(ReadError::HeadTooLarge)
        ));
        let body = format!(
            "POST /v1/users HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        let err = read_all(body.as_bytes(), 4096).unwrap_err();
        assert!(matches!(err, ReadError::BodyTooLarge(n) if n == MAX_BODY_BYTES as u64 + 1));
        assert_eq!(err.response().status, 413);
        assert_eq!(ReadError::HeadTooLarge.response().status, 431);
        let at_limit = format!(
            "POST /v1/users HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES}\r\n\r\n{}",
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(
            read_all(at_limit.as_bytes(), 4096).unwrap().body.len(),
            MAX_BODY_BYTES
        );
    }

    #[test]
    fn malformed_and_short_requests_are_refused() {
        for (raw, what) in [
            (
                &b"POST /v1/users HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"[..],
                "body",
            ),
            (b"GET /v1/users HTTP/1.1\r\nHost:", "head"),
            (
                b"POST /v1/users HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                "number",
            ),
            (b"GET * HTTP/1.1\r\n\r\n", "path"),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                "two",
            ),
        ] {
            let err = read_all(raw, 4096).unwrap_err();
            assert!(matches!(err, ReadError::Malformed(_)), "{what}: {err:?}");
            assert_eq!(err.response().status, 400);
        }
        let chunked = b"POST /v1/users HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            read_all(chunked, 4096),
            Err(ReadError::LengthRequired)
        ));
        assert!(matches!(read_all(b"", 4096), Err(ReadError::Closed)));
    }

    #[test]
    fn answers_are_http_1_1() {
        let ok = encode_response(&AdminResponse {
            status: 200,
            body: b"[]".to_vec(),
        });
        assert_eq!(
            ok,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
        );
        let none = encode_response(&AdminResponse {
            status: 204,
            body: Vec::new(),
        });
        assert_eq!(
            none,
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cairn-admin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn request<'a>(method: &'a str, path: &'a str, body: &'a [u8]) -> AdminRequest<'a> {
        AdminRequest {
            method,
            path,
            query: "",
            body,
        }
    }

    #[test]
    fn serves_the_admin_api_on_a_private_socket() {
        let dir = scratch("serve");
        let (iam, _) = Iam::open(
            &dir,
            cairn_iam::MasterKeySource::Generated(dir.join("master.key")),
            cairn_iam::IamConfig::default(),
        )
        .unwrap();
        let engine = Engine::open(cairn_storage::EngineConfig::new(dir.join("data"), 1)).unwrap();
        let socket = dir.join("run/admin.sock");
        // A stale socket file (nothing answers on it) is replaced.
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        drop(UnixListener::bind(&socket).unwrap());
        let server = spawn_admin_server(&socket, iam, engine.clone()).unwrap();
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second server on a live socket is refused.
        let (iam2, _) = Iam::open(
            &dir.join("other"),
            cairn_iam::MasterKeySource::Generated(dir.join("other.key")),
            cairn_iam::IamConfig::default(),
        )
        .unwrap();
        let second = spawn_admin_server(&socket, iam2, engine);
        assert!(matches!(second, Err(StartupError::Config(m)) if m.contains("another process")));

        let session = Session::Online {
            socket: socket.clone(),
        };
        let created = session
            .call(&request("POST", "/v1/users", br#"{"name": "alice"}"#))
            .unwrap();
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let missing = session
            .call(&request("DELETE", "/v1/users/bob", b""))
            .unwrap();
        assert_eq!(missing.status, 404);
        let gone = session
            .call(&request("DELETE", "/v1/users/alice", b""))
            .unwrap();
        assert_eq!((gone.status, gone.body.len()), (204, 0));
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        let refused = session.call(&request("POST", "/v1/users", &huge)).unwrap();
        assert_eq!(refused.status, 413);
        server.stop();
        assert!(!socket.exists(), "the socket file is removed on stop");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_in_the_way_is_not_removed() {
        let dir = scratch("file");
        let path = dir.join("admin.sock");
        std::fs::write(&path, b"not a socket").unwrap();
        let err = bind_private(&path).unwrap_err();
        assert!(err.to_string().contains("is not a socket"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
