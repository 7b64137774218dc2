//! TLS: a handshake with a CA made in the test, ALPN, certificate reload on SIGHUP without
//! dropping open connections, and `require_tls`.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use cairn_tests::{read_response, roundtrip, temp_dir, DaemonOptions, RawResponse};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::ca::TestCa;

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

fn tls_connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsStream {
    let name = ServerName::IpAddress(addr.ip().into());
    let connection = ClientConnection::new(config.clone(), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    StreamOwned::new(connection, tcp)
}

fn tls_health(stream: &mut TlsStream) -> RawResponse {
    stream
        .write_all(b"GET /_cairn/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    stream.flush().unwrap();
    read_response(stream, &mut Vec::new(), false)
}

fn served_certificate(stream: &TlsStream) -> Vec<u8> {
    stream
        .conn
        .peer_certificates()
        .expect("server certificates")[0]
        .to_vec()
}

#[test]
fn tls_request_with_a_test_ca_and_alpn() {
    let dir = temp_dir();
    let ca = TestCa::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let issued = ca.issue("cairn-a", &cert, &key);
    let daemon = DaemonOptions::default()
        .arg("--tls-cert")
        .arg(cert.display().to_string())
        .arg("--tls-key")
        .arg(key.display().to_string())
        .start();
    let config = ca.client_config();
    let mut stream = tls_connect(daemon.addr, &config);
    let response = tls_health(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(served_certificate(&stream), issued);
    // Keep-alive over TLS.
    assert_eq!(tls_health(&mut stream).status, 200);
    // On loopback, plain HTTP is still served beside TLS unless TLS is required.
    let plain = roundtrip(
        daemon.addr,
        b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(plain.status, 200);
}

#[test]
fn sighup_swaps_the_certificate_without_dropping_open_connections() {
    let dir = temp_dir();
    let ca = TestCa::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = ca.issue("cairn-first", &cert, &key);
    let mut daemon = DaemonOptions::default()
        .arg("--tls-cert")
        .arg(cert.display().to_string())
        .arg("--tls-key")
        .arg(key.display().to_string())
        .start();
    let config = ca.client_config();
    let mut open = tls_connect(daemon.addr, &config);
    assert_eq!(tls_health(&mut open).status, 200);
    assert_eq!(served_certificate(&open), first);

    let second = ca.issue("cairn-second", &cert, &key);
    assert_ne!(first, second);
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_log("TLS certificate and key reloaded", Duration::from_secs(10));

    let mut fresh = tls_connect(daemon.addr, &config);
    assert_eq!(tls_health(&mut fresh).status, 200);
    assert_eq!(served_certificate(&fresh), second);
    // The connection opened before the reload keeps working, on its original certificate.
    assert_eq!(tls_health(&mut open).status, 200);
    assert_eq!(served_certificate(&open), first);

    // A broken file on reload keeps the current certificate in force.
    std::fs::write(&cert, b"not a certificate").unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_log("TLS reload failed", Duration::from_secs(10));
    let mut after_failure = tls_connect(daemon.addr, &config);
    assert_eq!(tls_health(&mut after_failure).status, 200);
    assert_eq!(served_certificate(&after_failure), second);
}

#[test]
fn require_tls_refuses_plain_http_with_a_clear_error() {
    let dir = temp_dir();
    let ca = TestCa::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    ca.issue("cairn-strict", &cert, &key);
    let daemon = DaemonOptions::default()
        .arg("--tls-cert")
        .arg(cert.display().to_string())
        .arg("--tls-key")
        .arg(key.display().to_string())
        .arg("--require-tls")
        .start();
    let plain = roundtrip(daemon.addr, b"GET /bucket/key HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(plain.status, 403);
    let xml = plain.body_text();
    assert!(xml.contains("<Code>AccessDenied</Code>"), "{xml}");
    assert!(xml.contains("requires TLS"), "{xml}");
    let mut secure = tls_connect(daemon.addr, &ca.client_config());
    assert_eq!(tls_health(&mut secure).status, 200);
}
