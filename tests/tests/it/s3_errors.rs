//! Raw requests for each S3 error a client can provoke: the status, the XML `Code`,
//! `Message`, `Resource` and `RequestId`, and that a refused write leaves no trace (no object,
//! no blob file, no upload).

use std::path::Path;

use cairn_sigv4::sign::SignPayload;
use cairn_tests::{
    roundtrip, signed_head, signed_request, signed_request_as, unix_now, Daemon, DaemonOptions,
    RawResponse, ACCESS_KEY_ID, SECRET_ACCESS_KEY,
};

pub(crate) const KEY: (&str, &str) = (ACCESS_KEY_ID, SECRET_ACCESS_KEY);

/// Asserts an S3 XML error answer and returns its body.
#[track_caller]
pub(crate) fn assert_error(response: &RawResponse, status: u16, code: &str) -> String {
    let body = response.body_text();
    assert_eq!(response.status, status, "{code}: {body}");
    assert!(
        body.contains(&format!("<Code>{code}</Code>")),
        "expected {code}, got {body}"
    );
    assert!(body.contains("<Message>"), "{body}");
    assert!(body.contains("<RequestId>"), "{body}");
    let request_id = response
        .header("x-amz-request-id")
        .expect("x-amz-request-id");
    assert!(body.contains(&format!("<RequestId>{request_id}</RequestId>")));
    assert_eq!(response.header("content-type"), Some("application/xml"));
    body
}

pub(crate) fn send(
    d: &Daemon,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    roundtrip(
        d.addr,
        &signed_request(d.addr, method, target, headers, body),
    )
}

/// Number of blob files under the data directory.
pub(crate) fn blob_files(data_dir: &Path) -> usize {
    fn walk(dir: &Path) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .map(|e| {
                let path = e.path();
                if path.is_dir() {
                    walk(&path)
                } else {
                    1
                }
            })
            .sum()
    }
    walk(&data_dir.join("blobs"))
}

/// Asserts `bucket` holds exactly `keys` (ListObjectsV2) and no multipart uploads.
#[track_caller]
pub(crate) fn assert_bucket_holds(d: &Daemon, bucket: &str, keys: &[&str]) {
    let listing = send(d, "GET", &format!("/{bucket}?list-type=2"), &[], b"");
    assert_eq!(listing.status, 200);
    let text = listing.body_text();
    let listed: Vec<&str> = text
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .collect();
    assert_eq!(listed, keys, "{text}");
    let uploads = send(d, "GET", &format!("/{bucket}?uploads"), &[], b"");
    assert!(
        !uploads.body_text().contains("<Upload>"),
        "{}",
        uploads.body_text()
    );
}

pub(crate) fn big_body() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn authentication_failures() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/auth", &[], b"").status, 200);

    // Anonymous.
    let r = roundtrip(d.addr, b"GET /auth/k HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let body = assert_error(&r, 403, "AccessDenied");
    assert!(body.contains("<Resource>/auth/k</Resource>"), "{body}");

    // Unknown key, wrong secret.
    let r = roundtrip(
        d.addr,
        &signed_request_as(
            ("AKIDNOBODY0000000000", "whatever-secret"),
            d.addr,
            "GET",
            "/auth",
            &[],
            b"",
        ),
    );
    assert_error(&r, 403, "InvalidAccessKeyId");
    let r = roundtrip(
        d.addr,
        &signed_request_as(
            (ACCESS_KEY_ID, "the-wrong-secret-000"),
            d.addr,
            "PUT",
            "/auth/k",
            &[],
            b"data",
        ),
    );
    let body = assert_error(&r, 403, "SignatureDoesNotMatch");
    assert!(body.contains("<StringToSign>"), "{body}");

    // A signed request replayed an hour later.
    let (raw, _) = signed_head(
        KEY,
        d.addr,
        "GET",
        "/auth",
        &[("content-length", "0")],
        SignPayload::Bytes(b""),
        unix_now() - 3600,
    );
    assert_error(&roundtrip(d.addr, &raw), 403, "RequestTimeTooSkewed");

    // A credential scope for another region.
    let r = roundtrip(
        d.addr,
        format!(
            "GET /auth HTTP/1.1\r\nHost: {}\r\nx-amz-date: 20250101T000000Z\r\n\
             x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential={ACCESS_KEY_ID}/20250101/eu-west-9/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}\r\n\r\n",
            d.addr,
            "0".repeat(64)
        )
        .as_bytes(),
    );
    assert_error(&r, 400, "AuthorizationHeaderMalformed");

    // A presigned URL with a malformed credential.
    let r = roundtrip(
        d.addr,
        format!(
            "GET /auth/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=garbage\
             &X-Amz-Date=20250101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
             &X-Amz-Signature={} HTTP/1.1\r\nHost: {}\r\n\r\n",
            "0".repeat(64),
            d.addr
        )
        .as_bytes(),
    );
    assert_error(&r, 400, "AuthorizationQueryParametersError");

    // The body differs from the SHA-256 that was signed: nothing is stored.
    let (mut raw, _) = signed_head(
        KEY,
        d.addr,
        "PUT",
        "/auth/tampered",
        &[("content-length", "200000")],
        SignPayload::Bytes(&big_body()),
        unix_now(),
    );
    let mut tampered = big_body();
    tampered[100_000] ^= 1;
    raw.extend_from_slice(&tampered);
    assert_error(&roundtrip(d.addr, &raw), 400, "XAmzContentSHA256Mismatch");
    assert_bucket_holds(&d, "auth", &[]);
    assert_eq!(blob_files(&d.data_dir), 0);
}

#[test]
fn a_refused_upload_never_gets_100_continue() {
    use std::io::{Read, Write};
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/continue", &[], b"").status, 200);
    for key in [
        ("AKIDNOBODY0000000000", "whatever-secret"),
        (ACCESS_KEY_ID, "wrong-secret-000000"),
    ] {
        let (raw, _) = signed_head(
            key,
            d.addr,
            "PUT",
            "/continue/k",
            &[("content-length", "1048576"), ("expect", "100-continue")],
            SignPayload::Unsigned,
            unix_now(),
        );
        let mut stream = d.connect();
        stream.write_all(&raw).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed before an answer");
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    }
    // The right key gets 100 Continue and stores the object.
    let (raw, _) = signed_head(
        KEY,
        d.addr,
        "PUT",
        "/continue/k",
        &[("content-length", "5"), ("expect", "100-continue")],
        SignPayload::Unsigned,
        unix_now(),
    );
    let mut stream = d.connect();
    stream.write_all(&raw).unwrap();
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"));
    stream.write_all(b"hello").unwrap();
    let response = cairn_tests::read_response(&mut stream, &mut Vec::new(), false);
    assert_eq!(response.status, 200);
    assert_eq!(send(&d, "GET", "/continue/k", &[], b"").body, b"hello");
}

#[test]
fn buckets_and_keys_that_do_not_exist_or_are_not_allowed() {
    let d = DaemonOptions::default().start();
    assert_eq!(send(&d, "PUT", "/here", &[], b"").status, 200);
    let body = assert_error(
        &send(&d, "GET", "/nowhere?list-type=2", &[], b""),
        404,
        "NoSuchBucket",
    );
    assert!(
        body.contains("<BucketName>nowhere</BucketName>")
            || body.contains("<Resource>/nowhere</Resource>"),
        "{body}"
    );
    assert_error(
        &send(&d, "PUT", "/nowhere/k", &[], b"x"),
        404,
        "NoSuchBucket",
    );
    let body = assert_error(
        &send(&d, "GET", "/here/missing", &[], b""),
        404,
        "NoSuchKey",
    );
    assert!(
        body.contains("<Key>missing</Key>") || body.contains("<Resource>/here/missing</Resource>"),
        "{body}"
    );
    // HEAD answers the status without a body.
    let head = send(&d, "HEAD", "/here/missing", &[], b"");
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
    assert_error(
        &send(&d, "PUT", "/here", &[], b""),
        409,
        "BucketAlreadyOwnedByYou",
    );
    assert_error(
        &send(&d, "PUT", "/Bad_Name", &[], b""),
        400,
        "InvalidBucketName",
    );
    let long_key = format!("/here/{}", "k".repeat(1025));
    assert_error(
        &send(&d, "PUT", &long_key, &[], b"x"),
        400,
        "KeyTooLongError",
    );
    assert_error(&send(&d, "GET", "/here/%zz", &[], b""), 400, "InvalidURI");
    assert_error(
        &send(
            &d,
            "GET",
            "/here/k?uploadId=00000000000000000000000000000000",
            &[],
            b"",
        ),
        404,
        "NoSuchUpload",
    );
    assert_error(
        &send(&d, "GET", "/here?object-lock", &[], b""),
        404,
        "ObjectLockConfigurationNotFoundError",
    );
    assert_error(
        &send(&d, "GET", "/here?tagging", &[], b""),
        501,
        "NotImplemented",
    );
    assert_error(
        &send(&d, "GET", "/here?list-type=2&max-keys=-1", &[], b""),
        400,
        "InvalidArgument",
    );
    assert_error(
        &send(&d, "PUT", "/here/k?partNumber=1&uploadId=x", &[], b""),
        404,
        "NoSuchUpload",
    );
    assert_error(
        &send(&d, "PUT", "/here/k?partNumber=0&uploadId=x", &[], b""),
        400,
        "InvalidArgument",
    );
    // Bucket not empty.
    assert_eq!(send(&d, "PUT", "/here/k", &[], b"x").status, 200);
    assert_error(
        &send(&d, "DELETE", "/here", &[], b""),
        409,
        "BucketNotEmpty",
    );
    // A location constraint for another region; malformed configuration XML.
    let config = b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
    assert_error(
        &send(&d, "PUT", "/other", &[], config),
        400,
        "InvalidLocationConstraint",
    );
    assert_error(
        &send(&d, "PUT", "/other", &[], b"<CreateBucketConfiguration>"),
        400,
        "MalformedXML",
    );
    assert_eq!(send(&d, "HEAD", "/other", &[], b"").status, 404);
}

#[test]
fn refused_uploads_leave_no_trace() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/clean", &[], b"").status, 200);
    let body = big_body();

    // Content-MD5: wrong, and not an MD5 at all.
    assert_error(
        &send(
            &d,
            "PUT",
            "/clean/md5",
            &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
            &body,
        ),
        400,
        "BadDigest",
    );
    assert_error(
        &send(
            &d,
            "PUT",
            "/clean/md5",
            &[("content-md5", "not-base64!")],
            &body,
        ),
        400,
        "InvalidDigest",
    );
    // A checksum header that does not match, and one that is malformed.
    assert_error(
        &send(
            &d,
            "PUT",
            "/clean/crc",
            &[("x-amz-checksum-crc32", "AAAAAA==")],
            &body,
        ),
        400,
        "BadDigest",
    );
    assert_error(
        &send(
            &d,
            "PUT",
            "/clean/crc",
            &[("x-amz-checksum-crc32", "%%%")],
            &body,
        ),
        400,
        "InvalidRequest",
    );
    // Over S3's 2 KiB of user metadata.
    let big_meta = "m".repeat(2100);
    assert_error(
        &send(
            &d,
            "PUT",
            "/clean/meta",
            &[("x-amz-meta-big", &big_meta)],
            &body,
        ),
        400,
        "MetadataTooLarge",
    );
    // A conditional write that does not hold.
    assert_eq!(send(&d, "PUT", "/clean/kept", &[], b"original").status, 200);
    assert_error(
        &send(&d, "PUT", "/clean/kept", &[("if-none-match", "*")], &body),
        412,
        "PreconditionFailed",
    );
    assert_error(
        &send(
            &d,
            "PUT",
            "/clean/kept",
            &[("if-match", "\"00000000000000000000000000000000\"")],
            &body,
        ),
        412,
        "PreconditionFailed",
    );
    // No length and no chunked framing.
    let (raw, _) = signed_head(
        KEY,
        d.addr,
        "PUT",
        "/clean/nolength",
        &[],
        SignPayload::Unsigned,
        unix_now(),
    );
    assert_error(&roundtrip(d.addr, &raw), 411, "MissingContentLength");
    // Over 5 GiB: refused from the head, before any byte is read.
    let (raw, _) = signed_head(
        KEY,
        d.addr,
        "PUT",
        "/clean/huge",
        &[("content-length", "5368709121"), ("expect", "100-continue")],
        SignPayload::Unsigned,
        unix_now(),
    );
    let huge = roundtrip(d.addr, &raw);
    assert_ne!(huge.status, 100);
    assert_error(&huge, 400, "EntityTooLarge");

    assert_bucket_holds(&d, "clean", &["kept"]);
    assert_eq!(send(&d, "GET", "/clean/kept", &[], b"").body, b"original");
    assert_eq!(blob_files(&d.data_dir), 0, "refused bodies left blob files");
}
