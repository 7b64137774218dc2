//! The aws-sdk-s3 fixture: a real `cairnd` and an SDK client pointed at it, over HTTP or
//! HTTPS (a CA made by the test), with the SDK's default checksum behaviour or with
//! checksums only where an operation requires them.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use cairn_tests::{temp_dir, Daemon, DaemonOptions, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

use crate::ca::TestCa;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Https,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksums {
    /// The SDK's default: a CRC32 on every upload (aws-chunked with a trailer), responses
    /// validated.
    Default,
    /// `when_required`: checksums only where an operation demands one.
    WhenRequired,
}

/// A running daemon and an SDK client for it.
pub struct S3 {
    pub daemon: Daemon,
    pub client: Client,
    endpoint: String,
    ca_pem: Option<String>,
    _tls_dir: Option<tempfile::TempDir>,
    _config_dir: Option<tempfile::TempDir>,
}

/// A second user, configured beside the harness's key (its own owner id).
pub const OTHER_KEY_ID: &str = "CAIRNOTHERUSER000002";
pub const OTHER_SECRET: &str = "other-user-secret-00000000000000000000002";

impl S3 {
    /// A daemon over plain HTTP and a client with the SDK's defaults.
    pub fn start() -> S3 {
        S3::start_with(
            Transport::Http,
            Checksums::Default,
            DaemonOptions::default(),
        )
    }

    pub fn start_with(transport: Transport, checksums: Checksums, options: DaemonOptions) -> S3 {
        let (options, ca_pem, tls_dir) = match transport {
            Transport::Http => (options, None, None),
            Transport::Https => {
                let dir = temp_dir();
                let ca = TestCa::new();
                let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
                ca.issue("cairn-sdk", &cert, &key);
                let options = options
                    .arg("--tls-cert")
                    .arg(cert.display().to_string())
                    .arg("--tls-key")
                    .arg(key.display().to_string());
                (options, Some(ca.pem()), Some(dir))
            }
        };
        let daemon = options.start();
        let scheme = match transport {
            Transport::Http => "http",
            Transport::Https => "https",
        };
        let endpoint = format!("{scheme}://{}", daemon.addr);
        let client = client(
            &endpoint,
            ca_pem.as_deref(),
            checksums,
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
        );
        S3 {
            daemon,
            client,
            endpoint,
            ca_pem,
            _tls_dir: tls_dir,
            _config_dir: None,
        }
    }

    /// A daemon (plain HTTP, default checksums) that knows a second user,
    /// [`OTHER_KEY_ID`], from its config file.
    pub fn start_with_two_users() -> S3 {
        let dir = temp_dir();
        let config = dir.path().join("cairn.toml");
        std::fs::write(
            &config,
            format!(
                "[[auth.keys]]\naccess_key_id = \"{OTHER_KEY_ID}\"\n\
                 secret_access_key = \"{OTHER_SECRET}\"\nowner_id = \"other-user\"\n\
                 display_name = \"other\"\n"
            ),
        )
        .unwrap();
        let options = DaemonOptions::default()
            .arg("--config")
            .arg(config.display().to_string());
        let mut s3 = S3::start_with(Transport::Http, Checksums::Default, options);
        s3._config_dir = Some(dir);
        s3
    }

    /// A client of the second user of [`S3::start_with_two_users`].
    pub fn other_user(&self) -> Client {
        self.client_as(Checksums::Default, OTHER_KEY_ID, OTHER_SECRET)
    }

    /// Another client of the same daemon, with other credentials or checksum behaviour.
    pub fn client_as(&self, checksums: Checksums, key_id: &str, secret: &str) -> Client {
        client(
            &self.endpoint,
            self.ca_pem.as_deref(),
            checksums,
            key_id,
            secret,
        )
    }

    /// Another client of the same daemon (the harness's key, default checksums) that signs
    /// for `region`.
    pub fn client_in(&self, region: &str) -> Client {
        client_in_region(
            &self.endpoint,
            self.ca_pem.as_deref(),
            Checksums::Default,
            (ACCESS_KEY_ID, SECRET_ACCESS_KEY),
            region,
        )
    }

    /// Creates a bucket and returns its name.
    pub async fn bucket(&self, name: &str) -> String {
        self.client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {name}: {}", describe(&e)));
        name.to_owned()
    }

    /// Puts `body` at `key` and returns the ETag.
    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {bucket}/{key}: {}", describe(&e)));
        out.e_tag().expect("ETag").to_owned()
    }

    /// The whole body of `key`.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {bucket}/{key}: {}", describe(&e)));
        out.body.collect().await.expect("read body").to_vec()
    }
}

/// An SDK client for `endpoint` (path-style, the test region).
pub fn client(
    endpoint: &str,
    ca_pem: Option<&str>,
    checksums: Checksums,
    key_id: &str,
    secret: &str,
) -> Client {
    client_in_region(endpoint, ca_pem, checksums, (key_id, secret), REGION)
}

/// An SDK client for `endpoint` (path-style) that signs for `region`.
pub fn client_in_region(
    endpoint: &str,
    ca_pem: Option<&str>,
    checksums: Checksums,
    (key_id, secret): (&str, &str),
    region: &str,
) -> Client {
    let mut trust = TrustStore::empty().with_native_roots(false);
    if let Some(pem) = ca_pem {
        trust = trust.with_pem_certificate(pem.as_bytes());
    }
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .expect("TLS context"),
        )
        .build_https();
    let (request, response) = match checksums {
        Checksums::Default => (
            RequestChecksumCalculation::WhenSupported,
            ResponseChecksumValidation::WhenSupported,
        ),
        Checksums::WhenRequired => (
            RequestChecksumCalculation::WhenRequired,
            ResponseChecksumValidation::WhenRequired,
        ),
    };
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(key_id, secret, None, None, "cairn-tests"))
        .http_client(http)
        .request_checksum_calculation(request)
        .response_checksum_validation(response)
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(120))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// An SDK error as "status code: message", for panics.
pub fn describe<E: ProvideErrorMetadata + std::fmt::Debug>(
    error: &SdkError<E, HttpResponse>,
) -> String {
    match error {
        SdkError::ServiceError(e) => format!(
            "{} {}: {}",
            e.raw().status().as_u16(),
            e.err().code().unwrap_or("?"),
            e.err().message().unwrap_or("")
        ),
        other => format!("{other:?}"),
    }
}

/// The HTTP status and S3 error code of a call that must fail with an S3 error.
pub fn s3_error<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> (u16, String) {
    match result {
        Ok(v) => panic!("expected an S3 error, got {v:?}"),
        Err(SdkError::ServiceError(e)) => (
            e.raw().status().as_u16(),
            e.err().code().unwrap_or("").to_owned(),
        ),
        Err(other) => panic!("expected an S3 error, got {other:?}"),
    }
}

/// Deterministic, incompressible test bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
