//! Raw requests for each S3 error a client can provoke: the status, the XML `Code`,
//! `Message`, `Resource` and `RequestId`, and that a refused write leaves no trace (no object,
//! no blob file, no upload).

use std::path::Path;

use cairn_sigv4::sign::{AwsChunkedEncoder, SignPayload};
use cairn_sigv4::ChecksumAlgorithm;
use cairn_tests::{
    roundtrip, signed_head, signed_request, signed_request_as, unix_now, Daemon, DaemonOptions,
    RawResponse, ACCESS_KEY_ID, SECRET_ACCESS_KEY,
};

const KEY: (&str, &str) = (ACCESS_KEY_ID, SECRET_ACCESS_KEY);

/// Asserts an S3 XML error answer and returns its body.
#[track_caller]
fn assert_error(response: &RawResponse, status: u16, code: &str) -> String {
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

fn send(
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
fn blob_files(data_dir: &Path) -> usize {
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
fn assert_bucket_holds(d: &Daemon, bucket: &str, keys: &[&str]) {
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

fn big_body() -> Vec<u8> {
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

/// The offset of the first `needle` in `haystack` (which must contain it).
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in the encoded body")
}

/// Adds a header that is not signed to a signed head.
fn with_unsigned_header(mut raw: Vec<u8>, name: &str, value: &str) -> Vec<u8> {
    assert!(raw.ends_with(b"\r\n\r\n"));
    raw.truncate(raw.len() - 2);
    raw.extend_from_slice(format!("{name}: {value}\r\n\r\n").as_bytes());
    raw
}

/// An aws-chunked PUT of `data` in 64 KiB chunks, signed, with a signed CRC32 trailer;
/// `mangle` edits the encoded body before it is sent (Content-Length, not signed, follows).
fn chunked_put(
    d: &Daemon,
    target: &str,
    data: &[u8],
    mangle: impl FnOnce(&mut Vec<u8>),
) -> RawResponse {
    let decoded = data.len().to_string();
    let headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];
    let (raw, signed) = signed_head(
        KEY,
        d.addr,
        "PUT",
        target,
        &headers,
        SignPayload::StreamingSignedTrailer,
        unix_now(),
    );
    let mut body = AwsChunkedEncoder::signed(
        signed.chunk_context,
        signed.signature,
        Some(ChecksumAlgorithm::Crc32),
    )
    .encode(data, 65_536);
    mangle(&mut body);
    let mut raw = with_unsigned_header(raw, "content-length", &body.len().to_string());
    raw.extend_from_slice(&body);
    roundtrip(d.addr, &raw)
}

#[test]
fn streaming_bodies_that_fail_verification_are_never_committed() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/stream", &[], b"").status, 200);
    let data = big_body();
    // The untouched upload works.
    assert_eq!(chunked_put(&d, "/stream/good", &data, |_| {}).status, 200);
    assert_eq!(send(&d, "GET", "/stream/good", &[], b"").body, data);
    // One flipped data byte in the second chunk: its signature no longer matches.
    let r = chunked_put(&d, "/stream/flipped", &data, |body| {
        let at = body.len() / 2;
        body[at] ^= 0x20;
    });
    assert_error(&r, 403, "SignatureDoesNotMatch");
    // A trailer whose checksum does not match the data.
    let r = chunked_put(&d, "/stream/badsum", &data, |body| {
        let at = find(body, b"x-amz-checksum-crc32:") + "x-amz-checksum-crc32:".len();
        body[at] = if body[at] == b'A' { b'B' } else { b'A' };
    });
    assert!(r.status == 400 || r.status == 403, "{}", r.body_text());
    assert!(
        r.body_text().contains("<Code>BadDigest</Code>")
            || r.body_text().contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.body_text()
    );
    // A trailer line that is not a header.
    let r = chunked_put(&d, "/stream/badtrailer", &data, |body| {
        let at = find(body, b"x-amz-checksum-crc32:");
        body[at + 20] = b' ';
    });
    assert!(r.status >= 400, "{}", r.body_text());
    // The announced trailer never comes.
    let r = chunked_put(&d, "/stream/notrailer", &data, |body| {
        let at = find(body, b"\r\n0;chunk-signature=") + 2;
        let end = at + find(&body[at..], b"\r\n") + 2;
        body.truncate(end);
        body.extend_from_slice(b"\r\n");
    });
    assert!(r.status >= 400, "{}", r.body_text());
    assert_bucket_holds(&d, "stream", &["good"]);
    assert_eq!(
        blob_files(&d.data_dir),
        1,
        "only the good upload keeps a blob"
    );

    // A trailer and a checksum header both: InvalidRequest.
    let length = "5";
    let (raw, _) = signed_head(
        KEY,
        d.addr,
        "PUT",
        "/stream/both",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", length),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
        ],
        SignPayload::StreamingUnsignedTrailer,
        unix_now(),
    );
    // Wrapped in HTTP chunked framing, as boto3 sends it.
    let mut raw = with_unsigned_header(raw, "transfer-encoding", "chunked");
    let inner = AwsChunkedEncoder::unsigned(Some(ChecksumAlgorithm::Crc32)).encode(b"hello", 5);
    raw.extend_from_slice(format!("{:x}\r\n", inner.len()).as_bytes());
    raw.extend_from_slice(&inner);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_error(&roundtrip(d.addr, &raw), 400, "InvalidRequest");
    // The unsigned trailer mode is only for uploads.
    let (raw, _) = signed_head(
        KEY,
        d.addr,
        "POST",
        "/stream?delete",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
        SignPayload::StreamingUnsignedTrailer,
        unix_now(),
    );
    let mut raw = with_unsigned_header(raw, "content-length", &inner.len().to_string());
    raw.extend_from_slice(&inner);
    assert_error(&roundtrip(d.addr, &raw), 400, "InvalidRequest");
    assert_bucket_holds(&d, "stream", &["good"]);
}

#[test]
fn malformed_xml_and_bad_multipart_completions() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/xml", &[], b"").status, 200);
    assert_eq!(send(&d, "PUT", "/xml/a", &[], b"x").status, 200);
    // DeleteObjects: malformed, without an integrity header, with a wrong one.
    let md5_of = |b: &[u8]| {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b))
    };
    let garbage = b"<Delete><Object><Key>a</Key>";
    assert_error(
        &send(
            &d,
            "POST",
            "/xml?delete",
            &[("content-md5", &md5_of(garbage))],
            garbage,
        ),
        400,
        "MalformedXML",
    );
    let good = b"<Delete><Object><Key>a</Key></Object></Delete>";
    assert_error(
        &send(&d, "POST", "/xml?delete", &[], good),
        400,
        "InvalidRequest",
    );
    assert_error(
        &send(
            &d,
            "POST",
            "/xml?delete",
            &[("content-md5", &md5_of(b"other"))],
            good,
        ),
        400,
        "BadDigest",
    );
    assert_bucket_holds(&d, "xml", &["a"]);

    // Multipart: a part too small, out of order, unknown, malformed XML.
    let created = send(&d, "POST", "/xml/mp?uploads", &[], b"");
    assert_eq!(created.status, 200);
    let text = created.body_text();
    let id = text
        .split("<UploadId>")
        .nth(1)
        .unwrap()
        .split("</UploadId>")
        .next()
        .unwrap()
        .to_owned();
    let mut etags = Vec::new();
    for n in 1..=2 {
        let r = send(
            &d,
            "PUT",
            &format!("/xml/mp?partNumber={n}&uploadId={id}"),
            &[],
            &big_body(),
        );
        assert_eq!(r.status, 200, "{}", r.body_text());
        etags.push(r.header("etag").unwrap().to_owned());
    }
    let complete = |parts: &[(u32, &str)]| -> Vec<u8> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        xml.into_bytes()
    };
    let target = format!("/xml/mp?uploadId={id}");
    assert_error(
        &send(
            &d,
            "POST",
            &target,
            &[],
            &complete(&[(1, &etags[0]), (2, &etags[1])]),
        ),
        400,
        "EntityTooSmall",
    );
    assert_error(
        &send(
            &d,
            "POST",
            &target,
            &[],
            &complete(&[(2, &etags[1]), (1, &etags[0])]),
        ),
        400,
        "InvalidPartOrder",
    );
    assert_error(
        &send(&d, "POST", &target, &[], &complete(&[(3, &etags[0])])),
        400,
        "InvalidPart",
    );
    assert_error(
        &send(&d, "POST", &target, &[], b"<CompleteMultipartUpload><Part>"),
        400,
        "MalformedXML",
    );
    assert_error(
        &send(&d, "POST", &target, &[], b"not xml at all"),
        400,
        "MalformedXML",
    );
    // None of that created the object; the upload is intact and can still be aborted.
    assert_bucket_holds_upload(&d, "xml", &id);
    assert_eq!(send(&d, "DELETE", &target, &[], b"").status, 204);
    assert_bucket_holds(&d, "xml", &["a"]);
    assert_eq!(blob_files(&d.data_dir), 0, "aborting frees the parts");
}

#[track_caller]
fn assert_bucket_holds_upload(d: &Daemon, bucket: &str, id: &str) {
    let uploads = send(d, "GET", &format!("/{bucket}?uploads"), &[], b"");
    assert!(uploads.body_text().contains(id), "{}", uploads.body_text());
    let head = send(d, "HEAD", &format!("/{bucket}/mp"), &[], b"");
    assert_eq!(head.status, 404);
}

#[test]
fn reads_with_bad_ranges_and_conditions() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/reads", &[], b"").status, 200);
    let put = send(&d, "PUT", "/reads/k", &[], b"0123456789");
    let etag = put.header("etag").unwrap().to_owned();
    let body = assert_error(
        &send(&d, "GET", "/reads/k", &[("range", "bytes=10-20")], b""),
        416,
        "InvalidRange",
    );
    assert!(
        body.contains("<ActualObjectSize>10</ActualObjectSize>") || body.contains("InvalidRange")
    );
    assert_error(
        &send(&d, "GET", "/reads/k", &[("if-match", "\"nope\"")], b""),
        412,
        "PreconditionFailed",
    );
    let not_modified = send(&d, "GET", "/reads/k", &[("if-none-match", &etag)], b"");
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_error(
        &send(&d, "GET", "/reads/k?partNumber=2", &[], b""),
        416,
        "InvalidPartNumber",
    );
    assert_error(
        &send(
            &d,
            "GET",
            "/reads/k?partNumber=1",
            &[("range", "bytes=0-1")],
            b"",
        ),
        400,
        "InvalidRequest",
    );
    assert_error(
        &send(&d, "GET", "/reads/k?versionId=abc", &[], b""),
        400,
        "InvalidArgument",
    );
    assert_error(
        &send(&d, "OPTIONS", "/reads/k", &[], b""),
        405,
        "MethodNotAllowed",
    );
    assert_error(&send(&d, "PUT", "/", &[], b""), 405, "MethodNotAllowed");
}

/// A small filesystem, mounted by the test, for the daemon's data directory.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size_mib: u64) -> Option<SmallFs> {
        let dir = cairn_tests::temp_dir();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(SmallFs { dir })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_answers_insufficient_storage_and_recovers() {
    let Some(fs) = SmallFs::mount(96) else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the disk-full path is not tested"
        );
        return;
    };
    let mut d = DaemonOptions {
        data_dir: Some(fs.dir.path().join("data")),
        ..DaemonOptions::default()
    }
    .start();
    assert_eq!(send(&d, "PUT", "/full", &[], b"").status, 200);
    let chunk: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut stored = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let r = send(&d, "PUT", &format!("/full/o{i:02}"), &[], &chunk);
        if r.status == 200 {
            stored.push(format!("o{i:02}"));
        } else {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("a 96 MiB filesystem fills up");
    assert_error(&refused, 507, "InsufficientStorage");
    assert!(!stored.is_empty());
    // What was acknowledged is still readable, the refused object does not exist.
    for key in &stored {
        assert_eq!(
            send(&d, "GET", &format!("/full/{key}"), &[], b"").body,
            chunk
        );
    }
    let next = format!("o{:02}", stored.len());
    assert_eq!(
        send(&d, "HEAD", &format!("/full/{next}"), &[], b"").status,
        404
    );
    // Space comes back: writes work again.
    for key in stored.iter().take(3) {
        assert_eq!(
            send(&d, "DELETE", &format!("/full/{key}"), &[], b"").status,
            204
        );
    }
    let again = send(&d, "PUT", "/full/after", &[], &chunk);
    assert_eq!(again.status, 200, "{}", again.body_text());
    assert_eq!(send(&d, "GET", "/full/after", &[], b"").body, chunk);
    d.signal(libc::SIGTERM);
    assert!(d.wait_exit(std::time::Duration::from_secs(30)).success());
}
