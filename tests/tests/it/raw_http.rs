//! Raw HTTP/1.1 against cairnd: pipelining, 100-continue, limits, timeouts, smuggling shapes
//! and many idle connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cairn_tests::{read_response, read_until_closed, roundtrip, temp_dir, Daemon, DaemonOptions};

#[test]
fn health_anonymous_and_not_implemented_answers() {
    let daemon = Daemon::start();
    let health = roundtrip(
        daemon.addr,
        b"GET /_cairn/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(health.status, 200);
    assert_eq!(health.body_text(), "{\"status\":\"ok\"}\n");
    assert!(health.header("x-amz-request-id").is_some());

    let head = roundtrip(
        daemon.addr,
        b"HEAD /_cairn/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("16"));

    let s3 = roundtrip(
        daemon.addr,
        b"GET /bucket/key?list-type=2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    // An anonymous S3 request is refused before anything else.
    assert_eq!(s3.status, 403);
    assert_eq!(s3.header("content-type"), Some("application/xml"));
    let id = s3
        .header("x-amz-request-id")
        .expect("request id")
        .to_owned();
    let xml = s3.body_text();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{xml}"
    );
    assert!(xml.contains("<Code>AccessDenied</Code>"), "{xml}");
    assert!(xml.contains("<Resource>/bucket/key</Resource>"), "{xml}");
    assert!(
        xml.contains(&format!("<RequestId>{id}</RequestId>")),
        "{xml}"
    );
    // A sub-resource Cairn does not implement is named as such.
    let tagging = roundtrip(
        daemon.addr,
        b"GET /bucket?tagging HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(tagging.status, 501);
    assert!(tagging.body_text().contains("<Code>NotImplemented</Code>"));
}

#[test]
fn three_pipelined_requests_in_one_write_are_answered_in_order() {
    let daemon = Daemon::start();
    let mut stream = daemon.connect();
    stream
        .write_all(
            b"GET /first/a HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n\
              DELETE /third/c HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let mut pending = Vec::new();
    let first = read_response(&mut stream, &mut pending, false);
    let second = read_response(&mut stream, &mut pending, false);
    let third = read_response(&mut stream, &mut pending, false);
    assert_eq!(first.status, 403);
    assert!(first.body_text().contains("<Resource>/first/a</Resource>"));
    assert_eq!(second.status, 200);
    assert_eq!(third.status, 403);
    assert!(third.body_text().contains("<Resource>/third/c</Resource>"));
    assert!(pending.is_empty());
    // The connection is still open for a fourth.
    stream
        .write_all(b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream, &mut pending, false).status, 200);
}

#[test]
fn expect_continue_is_not_answered_when_the_handler_refuses() {
    let daemon = Daemon::start();
    let mut stream = daemon.connect();
    // The S3 layer refuses this request without reading its body: the client must get the
    // final answer, never "100 Continue", and must not have to send the 10 MB.
    stream
        .write_all(b"PUT /bucket/big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let response = read_response(&mut stream, &mut pending, false);
    assert_eq!(response.status, 403);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(!String::from_utf8_lossy(&pending).contains("100 Continue"));
    let rest = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(
        rest.is_empty(),
        "unexpected bytes after the response: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn small_unread_body_is_discarded_and_the_connection_kept() {
    let daemon = Daemon::start();
    let mut stream = daemon.connect();
    stream.write_all(b"PUT /bucket/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut stream, &mut pending, false).status, 403);
    assert_eq!(read_response(&mut stream, &mut pending, false).status, 200);
    // A chunked body is read through its framing too.
    stream
        .write_all(b"PUT /bucket/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        .unwrap();
    let response = read_response(&mut stream, &mut pending, false);
    assert_eq!(response.status, 403);
}

#[test]
fn head_over_the_limit_gets_431_and_close() {
    let daemon = Daemon::start();
    let mut stream = daemon.connect();
    let mut request = b"GET /bucket/key HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 40 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    // The server may close before reading it all; the write error is not the point.
    let _ = stream.write_all(&request);
    let response = read_response(&mut stream, &mut Vec::new(), false);
    assert_eq!(response.status, 431);
    assert!(response
        .body_text()
        .contains("<Code>RequestHeaderSectionTooLarge</Code>"));

    let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(roundtrip(daemon.addr, &many).status, 431);

    let mut long_uri = b"GET /".to_vec();
    long_uri.extend(std::iter::repeat_n(b'k', 20 * 1024));
    long_uri.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(roundtrip(daemon.addr, &long_uri).status, 414);
}

#[test]
fn smuggling_shapes_are_refused_with_400_and_close() {
    let daemon = Daemon::start();
    let cases: [&[u8]; 8] = [
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"GET /b/k HTTP/1.1\nHost: x\r\n\r\n",
        b"GET /b/k HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        b"GET /b/k HTTP/1.1\r\n\r\n",
        b"PUT /b/k HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for case in cases {
        let mut stream = daemon.connect();
        stream.write_all(case).unwrap();
        let response = read_response(&mut stream, &mut Vec::new(), false);
        assert_eq!(
            response.status,
            400,
            "case {:?}",
            String::from_utf8_lossy(case)
        );
        assert!(response.body_text().contains("<Code>InvalidRequest</Code>"));
        assert_eq!(response.header("connection"), Some("close"));
        read_until_closed(&mut stream, Duration::from_secs(10));
    }
}

#[test]
fn half_a_head_then_silence_is_disconnected_after_the_head_timeout() {
    let dir = temp_dir();
    let config = dir.path().join("cairn.toml");
    std::fs::write(&config, "[timeouts]\nhead_secs = 1\nidle_secs = 30\n").unwrap();
    let daemon = DaemonOptions::default()
        .arg("--config")
        .arg(config.display().to_string())
        .start();

    let mut stream = daemon.connect();
    let started = Instant::now();
    stream
        .write_all(b"GET /bucket/key HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let received = read_until_closed(&mut stream, Duration::from_secs(15));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "closed too early: {elapsed:?}"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("<Code>RequestTimeout</Code>"), "{text}");

    // A connection that never sends a byte is closed too (no response owed).
    let mut silent = daemon.connect();
    let received = read_until_closed(&mut silent, Duration::from_secs(15));
    assert!(received.is_empty());

    // Dripping bytes does not extend the head timeout.
    let mut drip = daemon.connect();
    let started = Instant::now();
    drip.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let mut closed = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(100));
        if drip.write_all(b"X-A: b\r\n").is_err() {
            closed = true;
            break;
        }
    }
    let rest = read_until_closed(&mut drip, Duration::from_secs(15));
    assert!(closed || String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408 "));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn five_thousand_idle_keep_alive_connections_and_a_new_request_is_served() {
    const IDLE: usize = 5000;
    let daemon = Daemon::start();
    let rss_before = daemon.rss_kib();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let mut stream = TcpStream::connect(daemon.addr).expect("open idle connection");
        stream
            .write_all(b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        idle.push(stream);
    }
    // Every connection got its answer and stays open (keep-alive).
    for stream in &mut idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let response = read_response(stream, &mut Vec::new(), false);
        assert_eq!(response.status, 200);
    }
    let rss_with_idle = daemon.rss_kib();
    let fresh = cairn_tests::roundtrip(
        daemon.addr,
        b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(fresh.status, 200);
    // The idle ones are still usable.
    for stream in idle.iter_mut().step_by(500) {
        stream
            .write_all(b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(stream, &mut Vec::new(), false).status, 200);
    }
    eprintln!(
        "cairnd RSS: {rss_before} KiB idle, {rss_with_idle} KiB with {IDLE} keep-alive connections ({} bytes each)",
        (rss_with_idle.saturating_sub(rss_before) * 1024) / IDLE as u64
    );
}

#[test]
fn head_requests_have_no_body_and_keep_alive_works() {
    let daemon = Daemon::start();
    let mut stream = daemon.connect();
    stream.write_all(b"HEAD /bucket/key HTTP/1.1\r\nHost: x\r\n\r\nGET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    let head = read_response(&mut stream, &mut pending, true);
    assert_eq!(head.status, 403);
    assert!(head.header("content-length").is_some_and(|v| v != "0"));
    // The next response starts right after the head: no body bytes in between.
    assert_eq!(read_response(&mut stream, &mut pending, false).status, 200);
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let daemon = Daemon::start();
    let mut stream = daemon.connect();
    stream
        .write_all(b"GET /_cairn/health HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("Connection: close"), "{text}");
}
