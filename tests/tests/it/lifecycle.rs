//! The daemon's life: start-up checks, systemd readiness, drain on SIGTERM.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use cairn_tests::{read_response, roundtrip, signed_request, temp_dir, DaemonOptions};

#[test]
fn sigterm_during_a_slow_upload_lets_it_finish_then_exits_zero() {
    let mut daemon = DaemonOptions::default().start();
    let created = roundtrip(
        daemon.addr,
        &signed_request(daemon.addr, "PUT", "/bucket", &[], b""),
    );
    assert_eq!(created.status, 200, "{}", created.body_text());
    const BODY: usize = 60 * 1024;
    let body = vec![b'a'; BODY];
    let request = signed_request(daemon.addr, "PUT", "/bucket/slow", &[], &body);
    let head_len = request.len() - BODY;
    let mut upload = daemon.connect();
    upload.write_all(&request[..head_len + 1024]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    daemon.signal(libc::SIGTERM);
    daemon.wait_for_log("draining", Duration::from_secs(10));
    // New connections are refused once every core has stopped accepting.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(daemon.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting new connections while draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The in-flight upload goes on, slowly, and is stored.
    for piece in request[head_len + 1024..].chunks(1024) {
        upload.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let response = read_response(&mut upload, &mut Vec::new(), false);
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert_eq!(response.header("connection"), Some("close"));
    let status = daemon.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
    assert!(daemon.logs().contains("cairnd stopped"));

    // After a restart on the same data the upload reads back whole.
    // Same port too: the connections the drain closed (TIME_WAIT) must not block it.
    let again = DaemonOptions {
        data_dir: Some(daemon.data_dir.clone()),
        listen: Some(daemon.addr.to_string()),
        ..DaemonOptions::default()
    }
    .start();
    let got = roundtrip(
        again.addr,
        &signed_request(again.addr, "GET", "/bucket/slow", &[], b""),
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.body, body);
}

#[test]
fn ready_is_sent_to_notify_socket_only_once_the_port_accepts() {
    let dir = temp_dir();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut daemon = DaemonOptions {
        listen: Some(addr.clone()),
        ..DaemonOptions::default()
    }
    .env("NOTIFY_SOCKET", socket_path.display().to_string())
    .start();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(message.lines().any(|l| l == "READY=1"), "{message}");
    // At the moment READY=1 arrives, the port accepts and serves.
    let response = cairn_tests::roundtrip(
        addr.parse().unwrap(),
        b"GET /_cairn/health HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(response.status, 200);

    daemon.signal(libc::SIGTERM);
    let n = socket.recv(&mut buf).expect("a stop notification");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(message.lines().any(|l| l == "STOPPING=1"), "{message}");
    assert!(daemon.wait_exit(Duration::from_secs(20)).success());
}

#[test]
fn watchdog_is_pinged_when_systemd_asks() {
    let dir = temp_dir();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _daemon = DaemonOptions::default()
        .env("NOTIFY_SOCKET", socket_path.display().to_string())
        .env("WATCHDOG_USEC", "400000")
        .start();
    let mut buf = [0u8; 4096];
    let mut pings = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pings < 3 && Instant::now() < deadline {
        let n = socket.recv(&mut buf).expect("notification");
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "WATCHDOG=1")
        {
            pings += 1;
        }
    }
    assert!(pings >= 3, "only {pings} watchdog pings");
}

fn assert_startup_fails(options: DaemonOptions, expected: &str) {
    let (status, stderr) = options.run_expecting_failure();
    assert!(!status.success(), "cairnd should have failed: {stderr}");
    let error_line = stderr
        .lines()
        .find(|l| l.starts_with("cairnd: error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(
        error_line.contains(expected),
        "expected {expected:?} in {error_line:?}"
    );
}

#[test]
fn startup_fails_clearly_when_memlock_is_too_low() {
    let options = DaemonOptions {
        shell_prefix: Some("ulimit -l 64".into()),
        ..DaemonOptions::default()
    };
    assert_startup_fails(options, "RLIMIT_MEMLOCK");
}

#[test]
fn startup_fails_clearly_when_the_data_dir_is_not_writable() {
    let dir = temp_dir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let options = DaemonOptions {
        data_dir: Some(file.join("data")),
        ..DaemonOptions::default()
    };
    assert_startup_fails(options, "data directory");
}

#[test]
fn startup_fails_clearly_when_the_address_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let options = DaemonOptions {
        listen: Some(addr),
        ..DaemonOptions::default()
    };
    assert_startup_fails(options, "already in use");
}

#[test]
fn startup_fails_clearly_when_the_certificate_is_unreadable() {
    let dir = temp_dir();
    let missing = dir.path().join("missing.pem");
    let options = DaemonOptions::default()
        .arg("--tls-cert")
        .arg(missing.display().to_string())
        .arg("--tls-key")
        .arg(missing.display().to_string());
    assert_startup_fails(options, "cannot read the TLS certificate file");
}

#[test]
fn startup_refuses_plain_http_on_a_public_address() {
    let options = DaemonOptions {
        listen: Some("0.0.0.0:0".into()),
        ..DaemonOptions::default()
    };
    assert_startup_fails(options, "refusing to serve plain HTTP");
    let options = DaemonOptions::default().arg("--require-tls");
    assert_startup_fails(options, "no TLS certificate is configured");
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let first = DaemonOptions::default().start();
    let options = DaemonOptions {
        data_dir: Some(first.data_dir.clone()),
        ..DaemonOptions::default()
    };
    assert_startup_fails(options, "already using the data directory");
}

#[test]
fn help_explains_every_option() {
    let output = std::process::Command::new(cairn_tests::cairnd_bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--listen",
        "--data-dir",
        "--config",
        "--cores",
        "--tls-cert",
        "--tls-key",
        "--require-tls",
        "--allow-plain-http",
        "--log-level",
        "--drain-timeout",
        "CAIRN_LISTEN",
    ] {
        assert!(
            help.contains(option),
            "--help does not mention {option}:\n{help}"
        );
    }
}
