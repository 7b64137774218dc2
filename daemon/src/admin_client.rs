//! Where an admin command runs: the running daemon, through its admin socket (HTTP/1.1, one
//! request per connection, RFC 9112), or, while cairnd is stopped, the key store opened
//! in-process on the data directory (holding the directory's lock, as the daemon does). Both
//! answer through [`cairn_iam::admin::handle`], so both behave alike.

use std::io::{Read, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_iam::admin::{self, AdminRequest, AdminResponse};
use cairn_iam::{Iam, IamConfig, IamError, MasterKeyOutcome, MasterKeySource};
use cairn_storage::{BucketInfo, SledStore};

use crate::cli::{AdminOptions, ServeArgs};
use crate::config::Config;
use crate::startup::{prepare_data_dir, DataDirLock, StartupError};

/// The largest answer read from the daemon (a key list of tens of thousands of keys fits).
const MAX_RESPONSE_BYTES: u64 = 64 << 20;
/// The largest answer head read.
const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;
/// Headers parsed in an answer.
const MAX_RESPONSE_HEADERS: usize = 16;
/// How long the daemon gets to answer; a master-key rotation re-seals every secret.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// The page cache for reading a stopped daemon's buckets.
const META_CACHE_BYTES: u64 = 8 << 20;

/// Why an admin command failed. The message is what `cairnd: error:` prints.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Config(#[from] StartupError),
    /// The admin API refused the request (its own message).
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cairnd is running (it holds the lock on {}) but its admin socket {} does not answer ({reason})", data_dir.display(), socket.display())]
    Unreachable {
        data_dir: PathBuf,
        socket: PathBuf,
        reason: String,
    },
    #[error("talking to cairnd on its admin socket {} failed: {reason}", socket.display())]
    Socket { socket: PathBuf, reason: String },
    #[error("cairnd's answer on its admin socket is malformed: {0}")]
    Response(String),
    #[error("{0}")]
    Iam(#[from] IamError),
}

/// Where the command's requests go.
#[derive(Debug)]
pub enum Session {
    /// The running daemon, through its admin socket.
    Online { socket: PathBuf },
    /// The stopped daemon's data directory, opened here (its lock held until the end).
    Offline {
        iam: Arc<Iam>,
        data_dir: PathBuf,
        _lock: DataDirLock,
    },
}

impl Session {
    /// Finds the daemon's admin socket and data directory (from the options and the config
    /// file) and picks the mode: the socket when it answers, else the data directory when
    /// its lock is free; a daemon holding the lock without answering is an error.
    pub fn open(options: &AdminOptions) -> Result<Session, AdminError> {
        let config = Config::resolve(ServeArgs {
            config: options.config.clone(),
            data_dir: options.data_dir.clone(),
            ..ServeArgs::default()
        })?;
        let socket = options
            .socket
            .clone()
            .unwrap_or_else(|| config.admin_socket.clone());
        let refused = match UnixStream::connect(&socket) {
            Ok(_probe) => {
                if options.verbose {
                    eprintln!("cairnd: asking the running daemon ({})", socket.display());
                }
                return Ok(Session::Online { socket });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "there is no socket".into(),
            Err(e) => e.to_string(),
        };
        let lock = match prepare_data_dir(&config.data_dir) {
            Ok(lock) => lock,
            Err(StartupError::DataDirLocked(data_dir)) => {
                return Err(AdminError::Unreachable {
                    data_dir,
                    socket,
                    reason: refused,
                })
            }
            Err(e) => return Err(e.into()),
        };
        if options.verbose {
            eprintln!(
                "cairnd: the daemon is not running: working on {} directly",
                config.data_dir.display()
            );
        }
        let iam = open_store(&config)?;
        Ok(Session::Offline {
            iam,
            data_dir: config.data_dir,
            _lock: lock,
        })
    }

    /// Sends one request and returns the answer, whatever its status.
    pub fn call(&self, request: &AdminRequest<'_>) -> Result<AdminResponse, AdminError> {
        match self {
            Session::Online { socket } => call_socket(socket, request),
            Session::Offline { iam, data_dir, .. } => {
                let buckets = || stored_buckets(data_dir);
                Ok(admin::handle(iam, &buckets, request))
            }
        }
    }
}

/// Opens the key store as the daemon would, saying on stderr what a first open did.
fn open_store(config: &Config) -> Result<Arc<Iam>, AdminError> {
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    let source = MasterKeySource::locate(
        config.auth.master_key_file.as_deref(),
        credentials.as_deref(),
        &config.data_dir,
    );
    let key_path = source.path().to_owned();
    let (iam, outcome) = Iam::open(
        &config.data_dir,
        source,
        IamConfig {
            key_id_prefix: config.auth.key_id_prefix.clone(),
        },
    )?;
    match outcome {
        MasterKeyOutcome::Initialised { generated: true } => eprintln!(
            "cairnd: generated a new master key in {}: back it up, the secrets cannot be opened without it",
            key_path.display()
        ),
        MasterKeyOutcome::FinishedRotation => eprintln!(
            "cairnd: finished an interrupted master-key rotation: the new key is in {}",
            key_path.display()
        ),
        MasterKeyOutcome::Initialised { generated: false } | MasterKeyOutcome::Verified => {}
    }
    Ok(iam)
}

/// A stopped daemon's buckets, from its metadata store (none before its first start).
fn stored_buckets(data_dir: &Path) -> Result<Vec<BucketInfo>, IamError> {
    let meta_dir = data_dir.join("meta");
    if !meta_dir.exists() {
        return Ok(Vec::new());
    }
    let meta = SledStore::open(&meta_dir, META_CACHE_BYTES)?;
    Ok(cairn_storage::buckets_in(&meta)?)
}

/// One request over the admin socket.
fn call_socket(socket: &Path, request: &AdminRequest<'_>) -> Result<AdminResponse, AdminError> {
    let failed = |e: std::io::Error| AdminError::Socket {
        socket: socket.to_owned(),
        reason: e.to_string(),
    };
    let mut stream = UnixStream::connect(socket).map_err(failed)?;
    stream
        .set_read_timeout(Some(RESPONSE_TIMEOUT))
        .map_err(failed)?;
    stream
        .set_write_timeout(Some(RESPONSE_TIMEOUT))
        .map_err(failed)?;
    stream.write_all(&encode_request(request)).map_err(failed)?;
    read_response(&mut stream).map_err(|e| match e {
        ResponseError::Io(e) => failed(e),
        ResponseError::Malformed(text) => AdminError::Response(text),
    })
}

/// A request as HTTP/1.1 bytes.
pub fn encode_request(request: &AdminRequest<'_>) -> Vec<u8> {
    let mut target = request.path.to_owned();
    if !request.query.is_empty() {
        target.push('?');
        target.push_str(request.query);
    }
    let mut out = format!(
        "{} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        request.method,
        request.body.len()
    )
    .into_bytes();
    out.extend_from_slice(request.body);
    out
}

/// Why an answer could not be read.
#[derive(Debug)]
pub enum ResponseError {
    Io(std::io::Error),
    Malformed(String),
}

/// Reads one answer: its head, then the body its Content-Length announces (or everything up
/// to the end of the connection without one).
pub fn read_response(reader: &mut impl Read) -> Result<AdminResponse, ResponseError> {
    let mut buf = Vec::with_capacity(4096);
    let (status, head_len, body_len) = loop {
        if let Some(head) = parse_response_head(&buf)? {
            break head;
        }
        if buf.len() > MAX_RESPONSE_HEAD_BYTES {
            return Err(ResponseError::Malformed(format!(
                "its head is larger than {MAX_RESPONSE_HEAD_BYTES} bytes"
            )));
        }
        if fill(reader, &mut buf)? == 0 {
            return Err(ResponseError::Malformed(
                "the connection closed before the answer's head was complete".into(),
            ));
        }
    };
    let body_len = if status == 204 { Some(0) } else { body_len };
    let too_large =
        || ResponseError::Malformed(format!("it is larger than {MAX_RESPONSE_BYTES} bytes"));
    let end = match body_len {
        Some(n) if n as u64 > MAX_RESPONSE_BYTES => return Err(too_large()),
        Some(n) => {
            while buf.len() < head_len + n {
                if fill(reader, &mut buf)? == 0 {
                    return Err(ResponseError::Malformed(
                        "the connection closed before the answer's body was complete".into(),
                    ));
                }
            }
            head_len + n
        }
        None => {
            while fill(reader, &mut buf)? > 0 {
                if buf.len() as u64 > MAX_RESPONSE_BYTES {
                    return Err(too_large());
                }
            }
            buf.len()
        }
    };
    Ok(AdminResponse {
        status,
        body: buf[head_len..end].to_vec(),
    })
}

/// Reads once into `buf`; the number of bytes read (0 at the end).
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>) -> Result<usize, ResponseError> {
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ResponseError::Io(e)),
        }
    }
}

/// The status, head length and Content-Length of a complete answer head; `None` while it
/// is incomplete.
fn parse_response_head(buf: &[u8]) -> Result<Option<(u16, usize, Option<usize>)>, ResponseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(n)) => n,
        Err(e) => return Err(ResponseError::Malformed(e.to_string())),
    };
    let status = response
        .code
        .ok_or_else(|| ResponseError::Malformed("no status code".into()))?;
    let mut body_len = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| ResponseError::Malformed("Content-Length is not a number".into()))?;
            body_len = Some(value);
        }
    }
    Ok(Some((status, head_len, body_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<AdminResponse, ResponseError> {
        read_response(&mut &bytes[..])
    }

    #[test]
    fn answers_are_read_by_their_length() {
        let ok = read(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}trailing").unwrap();
        assert_eq!((ok.status, &ok.body[..]), (201, &b"{}"[..]));
        let empty = read(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!((empty.status, empty.body.len()), (204, 0));
        let to_end = read(b"HTTP/1.1 200 OK\r\n\r\n[1, 2]").unwrap();
        assert_eq!(to_end.body, b"[1, 2]");
        assert!(matches!(
            read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
            Err(ResponseError::Malformed(_))
        ));
        assert!(matches!(
            read(b"HTTP/1.1 200 OK\r\nContent"),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn requests_carry_their_length() {
        let bytes = encode_request(&AdminRequest {
            method: "DELETE",
            path: "/v1/grants",
            query: "user=a&bucket=b",
            body: b"",
        });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("DELETE /v1/grants?user=a&bucket=b HTTP/1.1\r\n"));
        assert!(text.contains("\r\nContent-Length: 0\r\n") && text.ends_with("\r\n\r\n"));
    }
}
