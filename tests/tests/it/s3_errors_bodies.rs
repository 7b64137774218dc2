//! Raw requests for the S3 errors of request bodies: aws-chunked bodies that fail
//! verification, malformed XML and bad multipart completions, bad ranges and conditions, and
//! a full disk; a refused write leaves no trace.

use cairn_sigv4::sign::{AwsChunkedEncoder, SignPayload};
use cairn_sigv4::ChecksumAlgorithm;
use cairn_tests::{roundtrip, signed_head, unix_now, Daemon, DaemonOptions, RawResponse};

use crate::s3_errors::{assert_bucket_holds, assert_error, big_body, blob_files, send, KEY};

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
