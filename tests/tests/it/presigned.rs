//! Presigned URLs made by aws-sdk-s3, used by a plain HTTP client as a browser or curl would:
//! GET and PUT, response overrides, tampering and expiry.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use cairn_tests::{roundtrip, RawResponse};

use crate::sdk::S3;

/// Sends a presigned request with `body` over a fresh connection.
fn send(s3: &S3, request: &PresignedRequest, body: &[u8]) -> RawResponse {
    let uri = request.uri();
    let target = &uri[uri.find("://").map(|i| i + 3).unwrap()..];
    let target = &target[target.find('/').unwrap()..];
    send_target(s3, request.method(), target, request, body)
}

fn send_target(
    s3: &S3,
    method: &str,
    target: &str,
    request: &PresignedRequest,
    body: &[u8],
) -> RawResponse {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", s3.daemon.addr);
    for (name, value) in request.headers() {
        if !name.eq_ignore_ascii_case("host") {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    roundtrip(s3.daemon.addr, &bytes)
}

fn config(expires: Duration) -> PresigningConfig {
    PresigningConfig::expires_in(expires).unwrap()
}

#[tokio::test]
async fn presigned_put_then_get() {
    let s3 = S3::start();
    let bucket = s3.bucket("presigned").await;
    let put = s3
        .client
        .put_object()
        .bucket(&bucket)
        .key("shared/report v1.txt")
        .content_type("text/plain")
        .presigned(config(Duration::from_secs(300)))
        .await
        .unwrap();
    let response = send(&s3, &put, b"presigned body");
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert!(response.header("etag").is_some());

    let get = s3
        .client
        .get_object()
        .bucket(&bucket)
        .key("shared/report v1.txt")
        .response_content_disposition("attachment; filename=\"r.txt\"")
        .presigned(config(Duration::from_secs(300)))
        .await
        .unwrap();
    let response = send(&s3, &get, b"");
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert_eq!(response.body, b"presigned body");
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"r.txt\"")
    );

    // The same URL with one changed parameter: SignatureDoesNotMatch.
    let uri = get.uri();
    let path_start = uri.find("://").unwrap() + 3;
    let target = &uri[path_start + uri[path_start..].find('/').unwrap()..];
    let tampered = target.replace("filename", "filenamx");
    let response = send_target(&s3, "GET", &tampered, &get, b"");
    assert_eq!(response.status, 403);
    assert!(response
        .body_text()
        .contains("<Code>SignatureDoesNotMatch</Code>"));
    // Another key with the same signature.
    let other = target.replace("report%20v1", "report%20v2");
    let response = send_target(&s3, "GET", &other, &get, b"");
    assert_eq!(response.status, 403);
}

#[tokio::test]
async fn expired_presigned_urls_are_refused() {
    let s3 = S3::start();
    let bucket = s3.bucket("expired").await;
    s3.put(&bucket, "k", b"secret").await;
    // Signed an hour ago, valid for a minute.
    let signed_at = SystemTime::now() - Duration::from_secs(3600);
    let get = s3
        .client
        .get_object()
        .bucket(&bucket)
        .key("k")
        .presigned(
            PresigningConfig::builder()
                .start_time(signed_at)
                .expires_in(Duration::from_secs(60))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let response = send(&s3, &get, b"");
    assert_eq!(response.status, 403);
    let text = response.body_text();
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
    assert!(text.contains("expired"), "{text}");
}
