//! Virtual-hosted-style requests (`bucket.<domain>`) from aws-sdk-s3, with a resolver that
//! sends the configured domain to loopback, and the refusal of hosts the config does not list.

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns};
use cairn_tests::{
    roundtrip, signed_request, temp_dir, DaemonOptions, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY,
};

const DOMAIN: &str = "s3.cairn.test";

/// Resolves every name to 127.0.0.1.
#[derive(Debug, Clone)]
struct Loopback;

impl ResolveDns for Loopback {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> DnsFuture<'a> {
        DnsFuture::ready(Ok(vec![std::net::Ipv4Addr::LOCALHOST.into()]))
    }
}

#[tokio::test]
async fn virtual_hosted_style_through_the_sdk() {
    let dir = temp_dir();
    let config = dir.path().join("cairn.toml");
    std::fs::write(&config, format!("domains = [\"{DOMAIN}\"]\n")).unwrap();
    let daemon = DaemonOptions::default()
        .arg("--config")
        .arg(config.display().to_string())
        .start();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_with_resolver(Loopback);
    let client = Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(format!("http://{DOMAIN}:{}", daemon.addr.port()))
            .force_path_style(false)
            .credentials_provider(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "cairn-tests",
            ))
            .http_client(http)
            .build(),
    );
    client.create_bucket().bucket("vhost").send().await.unwrap();
    client
        .put_object()
        .bucket("vhost")
        .key("dir/key with space")
        .body(ByteStream::from_static(b"virtual"))
        .send()
        .await
        .unwrap();
    let got = client
        .get_object()
        .bucket("vhost")
        .key("dir/key with space")
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"virtual");
    let listed = client
        .list_objects_v2()
        .bucket("vhost")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.common_prefixes()[0].prefix(), Some("dir/"));
    client
        .copy_object()
        .bucket("vhost")
        .key("copy")
        .copy_source("vhost/dir/key%20with%20space")
        .send()
        .await
        .unwrap();
    let buckets = client.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets()[0].name(), Some("vhost"));

    // The same bucket by path style on the bare domain, and by IP.
    let by_path = roundtrip(
        daemon.addr,
        &signed_request(daemon.addr, "GET", "/vhost/copy", &[], b""),
    );
    assert_eq!(by_path.body, b"virtual");
    // A host the config does not publish is refused.
    let raw = format!(
        "GET /vhost/copy HTTP/1.1\r\nHost: somewhere.example.net:{}\r\n\r\n",
        daemon.addr.port()
    );
    let refused = roundtrip(daemon.addr, raw.as_bytes());
    assert_eq!(refused.status, 400, "{}", refused.body_text());
    assert!(refused.body_text().contains("<Code>InvalidRequest</Code>"));
}
