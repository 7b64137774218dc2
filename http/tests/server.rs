//! The server with a test handler that reads bodies (cairnd's handlers do not yet): bodies
//! pulled in pieces, `100 Continue` on first read, chunked bodies both ways, the body
//! timeout, the connection limit and the drain.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use cairn_http::server::{
    serve_core, BodyError, CoreReport, Handler, Request, Response, ServerConfig, ShutdownSignal,
    Timeouts,
};

struct TestHandler;

impl Handler for TestHandler {
    async fn handle(&self, mut request: Request<'_>) -> Response {
        let path = request.head.path().to_owned();
        let query = request.head.query().to_owned();
        match path.as_str() {
            "/echo" => {
                let mut body = Vec::new();
                loop {
                    match request.body.chunk().await {
                        Ok(Some(piece)) => body.extend_from_slice(&piece),
                        Ok(None) => break,
                        Err(BodyError::Timeout) => return Response::new(408),
                        Err(e) => return Response::new(400).body(e.to_string()),
                    }
                }
                Response::new(200)
                    .header("X-Body-Length", body.len().to_string())
                    .body(body)
            }
            "/read-into" => {
                // Small reads exercise giving back what does not fit.
                let mut body = Vec::new();
                let mut buf = [0u8; 7];
                loop {
                    match request.body.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => body.extend_from_slice(&buf[..n]),
                        Err(e) => return Response::new(400).body(e.to_string()),
                    }
                }
                assert!(request.body.is_complete());
                Response::new(200).body(body)
            }
            "/sum" => {
                let mut sum = 0u64;
                let mut total = 0u64;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match request.body.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => {
                            total += n as u64;
                            sum = buf[..n].iter().fold(sum, |acc, &b| {
                                acc.wrapping_mul(31).wrapping_add(u64::from(b))
                            });
                        }
                        Err(e) => return Response::new(400).body(e.to_string()),
                    }
                }
                Response::new(200).body(format!("{total} {sum}"))
            }
            "/stream" | "/stream-length" => {
                let n: usize = query.trim_start_matches("n=").parse().unwrap_or(3);
                let chunks = (0..n).map(|i| Ok(Bytes::from(vec![b'a' + (i % 26) as u8; 1000])));
                let length = (path == "/stream-length").then_some(n as u64 * 1000);
                Response::new(200).stream(length, futures_lite::stream::iter(chunks))
            }
            "/slow" => {
                glommio::timer::sleep(Duration::from_millis(800)).await;
                Response::new(200).body("slow done")
            }
            _ => Response::new(403).body("refused"),
        }
    }
}

struct TestServer {
    addr: SocketAddr,
    shutdown: ShutdownSignal,
    thread: Option<std::thread::JoinHandle<CoreReport>>,
}

impl TestServer {
    fn start(config: ServerConfig) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let shutdown = ShutdownSignal::new();
        let signal = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .io_memory(256 * 1024)
                .make()
                .expect("glommio executor");
            executor.run(async move {
                let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                serve_core(listener, Arc::new(config), Rc::new(TestHandler), signal).await
            })
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server started");
        TestServer {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    fn stop(mut self) -> CoreReport {
        self.shutdown.trigger();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one response; returns (status, headers text, body), decoding a chunked body with
/// httparse's chunk-size parser (an implementation independent of the server's).
fn read_response(stream: &mut TcpStream, pending: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    let mut buf = [0u8; 65536];
    let (status, head_len, headers) = loop {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut slots);
        if let httparse::Status::Complete(len) = response.parse(pending).unwrap() {
            let text: String = response
                .headers
                .iter()
                .map(|h| {
                    format!(
                        "{}: {}\n",
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value)
                    )
                })
                .collect();
            break (response.code.unwrap(), len, text);
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before a response head: {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&buf[..n]);
    };
    pending.drain(..head_len);
    let mut fill = |pending: &mut Vec<u8>, want: usize| {
        while pending.len() < want {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed inside a body");
            pending.extend_from_slice(&buf[..n]);
        }
    };
    let mut body = Vec::new();
    if headers.contains("transfer-encoding: chunked") {
        loop {
            let (offset, size) = loop {
                match httparse::parse_chunk_size(pending) {
                    Ok(httparse::Status::Complete((offset, size))) => {
                        break (offset, size as usize)
                    }
                    Ok(httparse::Status::Partial) => {
                        let want = pending.len() + 1;
                        fill(pending, want)
                    }
                    Err(_) => panic!("bad chunk size line"),
                }
            };
            fill(pending, offset + size + 2);
            body.extend_from_slice(&pending[offset..offset + size]);
            assert_eq!(&pending[offset + size..offset + size + 2], b"\r\n");
            pending.drain(..offset + size + 2);
            if size == 0 {
                break;
            }
        }
    } else if let Some(line) = headers.lines().find(|l| l.starts_with("content-length: ")) {
        let length: usize = line["content-length: ".len()..].parse().unwrap();
        fill(pending, length);
        body = pending.drain(..length).collect();
    }
    (status, headers, body)
}

#[test]
fn continue_is_sent_when_the_handler_reads_the_body() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    stream
        .write_all(
            b"PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n",
        )
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello world").unwrap();
    let (status, _, body) = read_response(&mut stream, &mut Vec::new());
    assert_eq!(status, 200);
    assert_eq!(body, b"hello world");
}

#[test]
fn continue_never_overtakes_an_earlier_pipelined_response() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    // The first response is batched (the next head is already buffered); the 100 Continue
    // for the second request must still come after it.
    stream
        .write_all(b"GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\nPUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let (status, _, body) = read_response(&mut stream, &mut pending);
    assert_eq!((status, body.len()), (200, 2000));
    let mut buf = [0u8; 64];
    while pending.len() < 25 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        pending.extend_from_slice(&buf[..n]);
    }
    assert_eq!(&pending[..25], b"HTTP/1.1 100 Continue\r\n\r\n");
    pending.drain(..25);
    stream.write_all(b"abc").unwrap();
    let (status, _, body) = read_response(&mut stream, &mut pending);
    assert_eq!((status, body.as_slice()), (200, &b"abc"[..]));
}

#[test]
fn refusing_without_reading_never_sends_continue_and_closes() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    stream.write_all(b"PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n").unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{text}");
    assert!(!text.contains("100 Continue"));
    assert!(text.contains("Connection: close"));
}

#[test]
fn chunked_request_bodies_in_tiny_writes() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    stream.set_nodelay(true).unwrap();
    let request = b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n";
    for piece in request.chunks(3) {
        stream.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let (status, _, body) = read_response(&mut stream, &mut Vec::new());
    assert_eq!(status, 200);
    assert_eq!(body, b"hello world");
    // Then a pipelined request with a Content-Length body read in 7-byte pieces.
    stream
        .write_all(b"PUT /read-into HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyzPUT /read-into HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let (status, _, body) = read_response(&mut stream, &mut pending);
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"abcdefghijklmnopqrstuvwxyz"[..])
    );
    let (status, _, body) = read_response(&mut stream, &mut pending);
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"abcdefghijklmnopqrstuvwxyz"[..])
    );
}

#[test]
fn malformed_chunked_body_reaches_the_handler_as_an_error_and_closes() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    stream.write_all(b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("invalid chunk size"), "{text}");
}

#[test]
fn large_body_streams_through_read() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    let body: Vec<u8> = (0..32u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let expected_sum = body.iter().fold(0u64, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    stream
        .write_all(
            format!(
                "PUT /sum HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    stream.write_all(&body).unwrap();
    let (status, _, answer) = read_response(&mut stream, &mut Vec::new());
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        format!("{} {expected_sum}", body.len())
    );
}

#[test]
fn streamed_responses_chunked_and_with_length() {
    let server = TestServer::start(ServerConfig::default());
    let mut stream = server.connect();
    stream.write_all(b"GET /stream?n=50 HTTP/1.1\r\nHost: x\r\n\r\nGET /stream-length?n=7 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /stream?n=5 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    let (status, headers, body) = read_response(&mut stream, &mut pending);
    assert_eq!(status, 200);
    assert!(headers.contains("transfer-encoding: chunked"));
    assert_eq!(body.len(), 50_000);
    assert!(body[..1000].iter().all(|&b| b == b'a') && body[49_000..].iter().all(|&b| b == b'x'));
    let (status, headers, body) = read_response(&mut stream, &mut pending);
    assert_eq!(status, 200);
    assert!(headers.contains("content-length: 7000"));
    assert_eq!(body.len(), 7000);
    // HEAD: the head only, then the connection is ready for more.
    let mut buf = [0u8; 4096];
    let complete = |pending: &[u8]| {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        matches!(
            httparse::Response::new(&mut slots).parse(pending),
            Ok(httparse::Status::Complete(_))
        )
    };
    while !complete(&pending) {
        let n = stream.read(&mut buf).unwrap();
        pending.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&pending).ends_with("\r\n\r\n"));
}

#[test]
fn stalled_body_times_out() {
    let config = ServerConfig {
        timeouts: Timeouts {
            body: Duration::from_secs(1),
            ..Timeouts::default()
        },
        ..ServerConfig::default()
    };
    let server = TestServer::start(config);
    let mut stream = server.connect();
    stream
        .write_all(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        .unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("Connection: close"));
}

#[test]
fn connections_over_the_limit_get_503() {
    let config = ServerConfig {
        max_connections_per_core: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = server.connect();
        stream
            .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut stream, &mut Vec::new()).0, 200);
        held.push(stream);
    }
    let mut extra = server.connect();
    let mut all = Vec::new();
    extra.read_to_end(&mut all).unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 503 "));
    drop(held);
    let report = server.stop();
    assert_eq!(report.refused, 1);
    assert_eq!(report.accepted, 2);
}

#[test]
fn drain_finishes_in_flight_requests_and_closes_idle_ones() {
    let server = TestServer::start(ServerConfig::default());
    let mut idle = server.connect();
    idle.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle, &mut Vec::new()).0, 200);
    let mut busy = server.connect();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.shutdown.trigger();
    let (status, headers, body) = read_response(&mut busy, &mut Vec::new());
    assert_eq!((status, body.as_slice()), (200, &b"slow done"[..]));
    assert!(headers.contains("connection: close"));
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let report = server.stop();
    assert_eq!(report.cut_at_deadline, 0);
}
