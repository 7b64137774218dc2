//! The integration-test harness: builds and starts the real `cairnd` on a free loopback port
//! with its own data directory, reads its log, signals it, and stops it when dropped; plus
//! a small blocking HTTP/1.1 client for raw-protocol tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The key pair every test daemon is started with (through `CAIRN_ACCESS_KEY_ID` and
/// `CAIRN_SECRET_ACCESS_KEY`), unless a test sets its own.
pub const ACCESS_KEY_ID: &str = "CAIRNTESTKEY00000001";
pub const SECRET_ACCESS_KEY: &str = "test-secret-key-0000000000000000000000001";
/// The region test daemons serve (the default).
pub const REGION: &str = "us-east-1";

/// How long a daemon gets to print its "serving" line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `cairnd` binary: `$CAIRND_BIN` if set, else built (once per test process) by the
/// same cargo that runs the tests, into the same target directory and profile.
pub fn cairnd_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CAIRND_BIN") {
            return PathBuf::from(bin);
        }
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "-p", "cairn", "--bin", "cairnd"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo to build cairnd");
        assert!(status.success(), "building cairnd failed");
        // The test binary lives in <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target profile directory");
        let bin = profile_dir.join("cairnd");
        assert!(bin.exists(), "cairnd not found at {}", bin.display());
        bin
    })
}

/// A directory removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cairn-test-")
        .tempdir()
        .expect("create a temporary directory")
}

/// Collected stderr of a daemon, with a way to wait for a line.
#[derive(Debug, Default)]
struct Log {
    text: Mutex<String>,
    changed: Condvar,
}

/// A running `cairnd`.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    _owned_dir: Option<tempfile::TempDir>,
    log: Arc<Log>,
}

/// Options for starting a daemon.
#[derive(Debug, Default)]
pub struct DaemonOptions {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Variables removed from the daemon's environment, after the harness's defaults (so a
    /// daemon can start without `CAIRN_ACCESS_KEY_ID` and `CAIRN_SECRET_ACCESS_KEY`).
    pub env_remove: Vec<String>,
    /// A shell snippet run before exec (to lower a limit, say).
    pub shell_prefix: Option<String>,
    /// Data directory; a fresh temporary one when `None`.
    pub data_dir: Option<PathBuf>,
    /// Listen address; `127.0.0.1:0` (a free port chosen by the daemon) when `None`.
    pub listen: Option<String>,
}

impl DaemonOptions {
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes `key` from the daemon's environment, including a variable the harness sets.
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    fn command(&self, data_dir: &Path) -> Command {
        let bin = cairnd_bin();
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            self.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into()),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ];
        args.extend(self.args.iter().cloned());
        let mut command = match &self.shell_prefix {
            Some(prefix) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{prefix} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        command.args(&args);
        for key in [
            "CAIRN_CONFIG",
            "CAIRN_LISTEN",
            "CAIRN_DATA_DIR",
            "CAIRN_REGION",
            "NOTIFY_SOCKET",
            "JOURNAL_STREAM",
            "WATCHDOG_USEC",
        ] {
            command.env_remove(key);
        }
        command.env("CAIRN_LOG", "info,cairn_http=debug");
        command.env("CAIRN_ACCESS_KEY_ID", ACCESS_KEY_ID);
        command.env("CAIRN_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        for key in &self.env_remove {
            command.env_remove(key);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    /// Runs the daemon expecting it to fail at start-up; returns its exit status and stderr.
    pub fn run_expecting_failure(self) -> (ExitStatus, String) {
        let dir = temp_dir();
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let mut child = self
            .command(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cairnd");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for cairnd") {
                let mut stderr = String::new();
                child
                    .stderr
                    .take()
                    .expect("stderr")
                    .read_to_string(&mut stderr)
                    .expect("read stderr");
                return (status, stderr);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("cairnd did not exit although start-up should have failed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the daemon and waits until it serves.
    pub fn start(self) -> Daemon {
        let (owned_dir, data_dir) = match &self.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let dir = temp_dir();
                let data = dir.path().join("data");
                (Some(dir), data)
            }
        };
        let mut child = self
            .command(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cairnd");
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                sink.changed.notify_all();
            }
        });
        let mut daemon = Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            _owned_dir: owned_dir,
            log,
        };
        let line = daemon.wait_for_log("cairnd serving on ", START_TIMEOUT);
        let url = line
            .split("serving on ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("URL in log");
        let host_port = url.split("://").nth(1).expect("scheme in URL");
        daemon.addr = host_port.parse().expect("address in URL");
        daemon
    }
}

impl Daemon {
    /// Starts a daemon with default options.
    pub fn start() -> Daemon {
        DaemonOptions::default().start()
    }

    /// Waits until a log line contains `needle` and returns that line.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut text = self.log.text.lock().unwrap();
        loop {
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cairnd exited ({status}) before logging {needle:?}; log:\n{text}");
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "cairnd did not log {needle:?} within {timeout:?}; log:\n{text}"
            );
            let wait = (deadline - now).min(Duration::from_millis(100));
            text = self.log.changed.wait_timeout(text, wait).unwrap().0;
        }
    }

    /// Everything the daemon logged so far.
    pub fn logs(&self) -> String {
        self.log.text.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped); no memory
        // is shared with the call.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed");
    }

    /// Waits for the daemon to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for cairnd") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "cairnd did not exit within {timeout:?}; log:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens a plain TCP connection with generous timeouts.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect to cairnd");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }

    /// Resident memory of the daemon in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A response read by [`read_response`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `reader`, keeping bytes that follow it in `pending`.
/// `head_request` says the response has no body whatever its Content-Length.
pub fn read_response(
    reader: &mut impl Read,
    pending: &mut Vec<u8>,
    head_request: bool,
) -> RawResponse {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) =
            response.parse(pending).expect("valid response head")
        {
            let status = response.code.expect("status");
            let headers: Vec<(String, String)> = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse::<usize>().expect("numeric Content-Length"));
            let body_len = if head_request || status == 304 || status == 204 || status < 200 {
                0
            } else {
                length.expect("tests read only Content-Length responses")
            };
            while pending.len() < head_len + body_len {
                let n = reader.read(&mut buf).expect("read response body");
                assert!(n > 0, "connection closed inside a response body");
                pending.extend_from_slice(&buf[..n]);
            }
            let body = pending[head_len..head_len + body_len].to_vec();
            pending.drain(..head_len + body_len);
            return RawResponse {
                status,
                headers,
                body,
            };
        }
        let n = reader.read(&mut buf).expect("read response head");
        assert!(
            n > 0,
            "connection closed before a complete response head; got {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&buf[..n]);
    }
}

/// Sends `request` on a fresh connection and reads one response.
pub fn roundtrip(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    if let Err(e) = stream.write_all(request) {
        // A server may answer before it has read the whole body (an upload it refuses part
        // way) and close; the answer can still be waiting to be read, as a client sees it.
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "send request: {e}"
        );
    }
    let head = request.starts_with(b"HEAD ");
    read_response(&mut stream, &mut Vec::new(), head)
}

/// Reads until the peer closes, returning what arrived; fails if it stays open past `timeout`.
pub fn read_until_closed(stream: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "connection still open after {timeout:?}");
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("connection still open after {timeout:?}")
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// The unix time now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A raw request signed with SigV4 (header auth, the body's SHA-256 signed) by the test
/// credentials: `method`, `target` (path and query, as sent), extra headers and the body.
/// Adds `Host` and `Content-Length`.
pub fn signed_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    signed_request_as(
        (ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        addr,
        method,
        target,
        headers,
        body,
    )
}

/// [`signed_request`] with another key pair.
pub fn signed_request_as(
    key: (&str, &str),
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let length = body.len().to_string();
    let mut all = headers.to_vec();
    all.push(("content-length", &length));
    let (mut out, _) = signed_head(
        key,
        addr,
        method,
        target,
        &all,
        cairn_sigv4::sign::SignPayload::Bytes(body),
        unix_now(),
    );
    out.extend_from_slice(body);
    out
}

/// A request head signed with SigV4 at `time`, announcing `payload`: the head's bytes (the
/// caller appends the body and sets its framing among `headers`) and the signature, which
/// seeds the chunk signatures of an aws-chunked body. Adds `Host`.
pub fn signed_head(
    (key_id, secret): (&str, &str),
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    payload: cairn_sigv4::sign::SignPayload<'_>,
    time: i64,
) -> (Vec<u8>, cairn_sigv4::sign::SignedRequest) {
    use cairn_sigv4::sign::{sign_v4_header, Credentials};
    let host = addr.to_string();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut all: Vec<(&str, &str)> = vec![("host", &host)];
    all.extend_from_slice(headers);
    let parts = cairn_sigv4::RequestParts {
        method,
        path,
        query,
        headers: &all,
    };
    let signed = sign_v4_header(
        &parts,
        &Credentials::new(key_id, secret),
        REGION,
        time,
        payload,
    );
    let mut out = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    for (name, value) in all
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .chain(signed.headers.iter().cloned())
    {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    (out, signed)
}
