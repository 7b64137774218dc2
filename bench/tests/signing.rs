//! The signer's output is accepted by `cairnd` in every payload signing mode (an end-to-end
//! test of cairn-sigv4's signer), path and virtual-host style, over HTTP and HTTPS; a wrong
//! secret is reported by its S3 error code; the binary's JSON and the A/B mode.

mod common;

use std::process::Command;

use cairn_bench::runner::BenchError;
use cairn_bench::stats::{Failure, Op};
use cairn_bench::{Addressing, Signing, Workload};
use cairn_tests::{temp_dir, Daemon, DaemonOptions, ACCESS_KEY_ID, SECRET_ACCESS_KEY};

use common::{exclusive, short, target, target_with_secret};

#[test]
fn every_signing_mode_writes_and_reads_back() {
    let _one = exclusive();
    let daemon = Daemon::start();
    for signing in Signing::ALL {
        let mut config = short(Workload::Get, &format!("s-{signing}"));
        config.signing = signing;
        // Several aws-chunked chunks per object, the last one short; sizes differ by key, so
        // bodies are hashed as they are sent (fixed sizes use the precomputed digests).
        config.chunk_size = 5000;
        config.size = cairn_bench::SizeSpec::Range(1, 40_000);
        let report = cairn_bench::run(config, target(&daemon)).unwrap();
        assert_eq!(report.total_errors, 0, "{signing}: {}", report.text());
        assert!(report.verified_bytes > 0 && report.mismatched_bytes == 0);
        assert_eq!(report.objects_prepared, 200, "{signing}: uploads accepted");
        let mut config = short(Workload::Multipart, &format!("s-mp-{signing}"));
        config.signing = signing;
        let report = cairn_bench::run(config, target(&daemon)).unwrap();
        assert_eq!(report.total_errors, 0, "{signing}: {}", report.text());
        assert!(report
            .ops
            .iter()
            .any(|o| o.op == Op::Multipart && o.ops > 0));
    }
}

#[test]
fn a_wrong_secret_is_reported_by_its_error_code() {
    let _one = exclusive();
    let daemon = Daemon::start();
    for signing in Signing::ALL {
        let mut config = short(Workload::Put, "s-wrong");
        config.signing = signing;
        config.create_bucket = false;
        config.cleanup = false;
        let wrong = target_with_secret(&daemon, "not-the-secret");
        let report = cairn_bench::run(config, wrong).unwrap();
        assert_eq!(report.total_ops, 0);
        assert!(report.total_errors > 0);
        assert_eq!(report.errors.len(), 1, "{signing}: {:?}", report.errors);
        assert_eq!(
            report.errors[0].error, "403 SignatureDoesNotMatch",
            "{signing}"
        );
    }
    // Setting the bucket up fails with the code too, instead of running.
    let config = short(Workload::Get, "s-wrong-setup");
    let err = cairn_bench::run(config, target_with_secret(&daemon, "nope")).unwrap_err();
    match err {
        BenchError::Setup(Failure::S3 { status, code }) => {
            assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn virtual_hosted_style_requests() {
    let _one = exclusive();
    let dir = temp_dir();
    let config_file = dir.path().join("cairn.toml");
    std::fs::write(&config_file, "domains = [\"localhost\"]\n").unwrap();
    let daemon = DaemonOptions::default()
        .arg("--config")
        .arg(config_file.display().to_string())
        .start();
    for signing in [Signing::Streaming, Signing::V2] {
        let mut t = target(&daemon);
        t.addressing = Addressing::VirtualHost;
        t.host = format!("localhost:{}", daemon.addr.port());
        t.hostname = "localhost".into();
        let mut config = short(Workload::Mixed, &format!("vhost-{signing}"));
        config.signing = signing;
        config.mix.list = 10;
        let report = cairn_bench::run(config, t).unwrap();
        assert_eq!(report.total_errors, 0, "{signing}: {}", report.text());
        assert!(report.verified_bytes > 0);
    }
}

#[test]
fn https_with_a_trusted_ca_file() {
    let _one = exclusive();
    let dir = temp_dir();
    let (cert, key, ca) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = params.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
    std::fs::write(&cert, server_cert.pem()).unwrap();
    std::fs::write(&key, server_key.serialize_pem()).unwrap();
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    let daemon = DaemonOptions::default()
        .arg("--tls-cert")
        .arg(cert.display().to_string())
        .arg("--tls-key")
        .arg(key.display().to_string())
        .start();

    let mut t = target(&daemon);
    t.tls = Some(cairn_bench::tls::client_config(Some(&ca), false).unwrap());
    for signing in [Signing::Unsigned, Signing::Trailer] {
        let mut config = short(Workload::Get, &format!("tls-{signing}"));
        config.signing = signing;
        let report = cairn_bench::run(config, t.clone()).unwrap();
        assert_eq!(report.total_errors, 0, "{}", report.text());
        assert!(report.verified_bytes > 0);
    }
    // Not trusting the CA: every connection fails, reported as errors, not a crash.
    let mut untrusted = target(&daemon);
    let other_ca = dir.path().join("other.pem");
    let other = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    std::fs::write(&other_ca, other.pem()).unwrap();
    untrusted.tls = Some(cairn_bench::tls::client_config(Some(&other_ca), false).unwrap());
    let err = cairn_bench::run(short(Workload::Put, "tls-untrusted"), untrusted).unwrap_err();
    assert!(matches!(err, BenchError::Setup(Failure::Io(_))), "{err}");
}

#[test]
fn the_binary_prints_json_and_compares_a_and_b() {
    let _one = exclusive();
    let a = Daemon::start();
    let b = Daemon::start();
    let output = Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .args(["put", "--endpoint"])
        .arg(format!("http://{}", a.addr))
        .args(["--ab-endpoint"])
        .arg(format!("http://{}", b.addr))
        .args([
            "--size",
            "8KiB",
            "-c",
            "4",
            "--cores",
            "2",
            "--duration",
            "700ms",
        ])
        .args([
            "--warmup", "200ms", "--rounds", "2", "--json", "--bucket", "bench-ab",
        ])
        .args(["--server-pid", &a.pid().to_string()])
        .args(["--ab-server-pid", &b.pid().to_string()])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for side in ["a", "b"] {
        let rounds = json[side].as_array().unwrap();
        assert_eq!(rounds.len(), 2);
        for r in rounds {
            assert_eq!(r["workload"], "put");
            assert_eq!(r["total_errors"], 0);
            assert!(r["total_ops"].as_u64().unwrap() > 0);
            assert_eq!(r["ops"][0]["op"], "put");
            assert!(r["ops"][0]["latency_us"]["p99"].as_u64().unwrap() > 0);
        }
    }
    assert!(json["median_a"]["ops_per_sec"].as_f64().unwrap() > 0.0);
    assert!(json["ratio_ops_per_sec"].as_f64().unwrap() > 0.0);
    assert!(json["a"][0]["cpu"]["server_secs"].as_f64().is_some());

    let hash = Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .args([
            "hash-limit",
            "--size",
            "1MiB",
            "--duration",
            "200ms",
            "--rounds",
            "1",
        ])
        .args(["--cores", "2", "--json"])
        .output()
        .unwrap();
    assert!(hash.status.success());
    let json: serde_json::Value = serde_json::from_slice(&hash.stdout).unwrap();
    let limits = json["limits"].as_array().unwrap();
    assert_eq!(limits[0]["hashes"], "sha256-md5");
    assert!(limits[0]["median_mib_per_sec"].as_f64().unwrap() > 1.0);

    let missing = Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .args(["get", "--endpoint", "http://127.0.0.1:9"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no credentials"));
}
