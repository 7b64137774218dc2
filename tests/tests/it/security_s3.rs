//! Regression tests for S3-layer flaws, by raw requests against the real `cairnd`:
//! DeleteObjects acting on a bucket other than the one it was authorized for, XML bodies
//! bounded while they are parsed, and a full-object checksum on CompleteMultipartUpload that
//! was ignored.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cairn_tests::{
    read_response, roundtrip, signed_request_as, temp_dir, Daemon, DaemonOptions, RawResponse,
};

use crate::s3_errors::{send, KEY};
use crate::sdk::{pattern, OTHER_KEY_ID, OTHER_SECRET};
use crate::security_auth::{assert_error, truncated, xml_text};

const OTHER: (&str, &str) = (OTHER_KEY_ID, OTHER_SECRET);
const MIB: usize = 1 << 20;

/// A request signed by `key`.
fn send_as(d: &Daemon, key: (&str, &str), method: &str, target: &str, body: &[u8]) -> RawResponse {
    roundtrip(
        d.addr,
        &signed_request_as(key, d.addr, method, target, &[], body),
    )
}

fn content_md5(body: &[u8]) -> String {
    use md5::Digest;
    B64.encode(md5::Md5::digest(body))
}

fn crc32_b64(data: &[u8]) -> String {
    B64.encode(crc32fast::hash(data).to_be_bytes())
}

/// A DeleteObjects request for `objects`, with its Content-MD5.
fn delete_objects(d: &Daemon, bucket: &str, body: &[u8]) -> RawResponse {
    let md5 = content_md5(body);
    send(
        d,
        "POST",
        &format!("/{bucket}?delete"),
        &[("content-md5", &md5)],
        body,
    )
}

/// Starts a daemon that knows a second user (its own owner id) besides the harness's key.
fn daemon_with_two_users() -> (Daemon, tempfile::TempDir) {
    let dir = temp_dir();
    let config = dir.path().join("cairn.toml");
    std::fs::write(
        &config,
        format!(
            "[[auth.keys]]\naccess_key_id = \"{OTHER_KEY_ID}\"\n\
             secret_access_key = \"{OTHER_SECRET}\"\nowner_id = \"other-user\"\n"
        ),
    )
    .unwrap();
    let daemon = DaemonOptions::default()
        .arg("--config")
        .arg(config.display().to_string())
        .start();
    (daemon, dir)
}

/// Guards against DeleteObjects authorizing one bucket and deleting from another: ownership
/// was checked when the head arrived, the keys deleted by bucket *name* once the body had
/// been read, so user A could hold a request open, delete its empty bucket, let user B
/// create a bucket of the same name and then delete B's objects. `100 Continue` marks the
/// moment the daemon has authorized the request and is reading its body.
#[test]
fn delete_objects_cannot_reach_a_bucket_recreated_by_another_user() {
    let (d, _dir) = daemon_with_two_users();
    assert_eq!(send_as(&d, KEY, "PUT", "/race", b"").status, 200);

    let body = b"<Delete><Object><Key>victim</Key></Object></Delete>";
    let md5 = content_md5(body);
    let raw = signed_request_as(
        KEY,
        d.addr,
        "POST",
        "/race?delete",
        &[("content-md5", &md5), ("expect", "100-continue")],
        body,
    );
    let (head, sent_body) = raw.split_at(raw.len() - body.len());
    let mut held = d.connect();
    held.write_all(head).unwrap();
    let mut pending = Vec::new();
    let mut buf = [0u8; 1024];
    while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = held.read(&mut buf).unwrap();
        assert!(n > 0, "closed before 100 Continue");
        pending.extend_from_slice(&buf[..n]);
    }
    let continue_len = b"HTTP/1.1 100 Continue\r\n\r\n".len();
    assert!(
        pending.starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&pending)
    );
    pending.drain(..continue_len);
    let half = sent_body.len() / 2;
    held.write_all(&sent_body[..half]).unwrap();

    assert_eq!(send_as(&d, KEY, "DELETE", "/race", b"").status, 204);
    assert_eq!(send_as(&d, OTHER, "PUT", "/race", b"").status, 200);
    let put = send_as(&d, OTHER, "PUT", "/race/victim", b"B's object");
    assert_eq!(put.status, 200, "{}", put.body_text());

    held.write_all(&sent_body[half..]).unwrap();
    let answer = read_response(&mut held, &mut pending, false);
    let answer_text = answer.body_text();

    let got = send_as(&d, OTHER, "GET", "/race/victim", b"");
    assert_eq!(
        (got.status, got.body_text().as_str()),
        (200, "B's object"),
        "B's object is gone; A's DeleteObjects answered {}: {answer_text}",
        answer.status
    );
    assert!(
        !answer_text.contains("<Deleted><Key>victim</Key>"),
        "{answer_text}"
    );
    assert!(
        answer.status >= 400
            || (answer_text.contains("<Error><Key>victim</Key>")
                && answer_text.contains("<Code>NoSuchBucket</Code>")),
        "A's answer: {} {answer_text}",
        answer.status
    );
}

/// Guards against request XML whose size is checked only after the whole tree is built:
/// DeleteObjects past 1,000 keys, CompleteMultipartUpload past 10,000 parts, and a 4 MiB
/// DeleteObjects body of about 145,000 tiny objects are refused as `MalformedXML`, and the daemon
/// keeps serving. (These bounds held on the old code too, after parsing the whole body; the
/// test keeps them while the parser changes.)
#[test]
fn oversized_xml_bodies_are_malformed() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/xml", &[], b"").status, 200);

    let object = "<Object><Key>k</Key></Object>";
    let body = format!("<Delete>{}</Delete>", object.repeat(1001));
    assert_error(
        &delete_objects(&d, "xml", body.as_bytes()),
        400,
        "MalformedXML",
    );

    let created = send(&d, "POST", "/xml/mp?uploads", &[], b"");
    assert_eq!(created.status, 200);
    let created = created.body_text();
    let upload_id = xml_text(&created, "UploadId").expect("UploadId").to_owned();
    // Part numbers stay in 1..=10000 (the last repeats part 1): only the count is wrong.
    let etag = "\"0123456789abcdef0123456789abcdef\"";
    let mut complete = String::from("<CompleteMultipartUpload>");
    for i in 0..10_001u32 {
        complete.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
            i % 10_000 + 1
        ));
    }
    complete.push_str("</CompleteMultipartUpload>");
    let r = send(
        &d,
        "POST",
        &format!("/xml/mp?uploadId={upload_id}"),
        &[],
        complete.as_bytes(),
    );
    assert_error(&r, 400, "MalformedXML");

    // Just under the 4 MiB body limit.
    let room = 4 * MIB - 1024 - "<Delete></Delete>".len();
    let body = format!("<Delete>{}</Delete>", object.repeat(room / object.len()));
    assert!(body.len() < 4 * MIB && body.len() > 4 * MIB - 2048);
    assert_error(
        &delete_objects(&d, "xml", body.as_bytes()),
        400,
        "MalformedXML",
    );

    // Still serving: a small DeleteObjects works.
    assert_eq!(send(&d, "PUT", "/xml/k", &[], b"v").status, 200);
    let r = delete_objects(&d, "xml", b"<Delete><Object><Key>k</Key></Object></Delete>");
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert!(
        r.body_text().contains("<Deleted><Key>k</Key>"),
        "{}",
        r.body_text()
    );
    assert_eq!(send(&d, "GET", "/xml/k", &[], b"").status, 404);
}

/// A multipart upload of `key` in bucket `sums` with `create_headers`, its parts uploaded
/// with their CRC32 (when `with_crc`): the upload id and the CompleteMultipartUpload body
/// listing the parts.
fn upload_parts(
    d: &Daemon,
    key: &str,
    create_headers: &[(&str, &str)],
    parts: &[Vec<u8>],
    with_crc: bool,
) -> (String, String) {
    let created = send(
        d,
        "POST",
        &format!("/sums/{key}?uploads"),
        create_headers,
        b"",
    );
    assert_eq!(created.status, 200, "{}", created.body_text());
    let created = created.body_text();
    let id = xml_text(&created, "UploadId").expect("UploadId").to_owned();
    let mut complete = String::from("<CompleteMultipartUpload>");
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        let crc = crc32_b64(data);
        let headers: &[(&str, &str)] = if with_crc {
            &[("x-amz-checksum-crc32", crc.as_str())]
        } else {
            &[]
        };
        let r = send(
            d,
            "PUT",
            &format!("/sums/{key}?partNumber={n}&uploadId={id}"),
            headers,
            data,
        );
        assert_eq!(r.status, 200, "part {n}: {}", r.body_text());
        let etag = r.header("etag").expect("part ETag");
        complete.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>"
        ));
        if with_crc {
            complete.push_str(&format!("<ChecksumCRC32>{crc}</ChecksumCRC32>"));
        }
        complete.push_str("</Part>");
    }
    complete.push_str("</CompleteMultipartUpload>");
    (id, complete)
}

/// Asserts the upload still exists with `count` parts (ListParts).
#[track_caller]
fn assert_upload_open(d: &Daemon, key: &str, id: &str, count: usize) {
    let r = send(d, "GET", &format!("/sums/{key}?uploadId={id}"), &[], b"");
    assert_eq!(r.status, 200, "ListParts: {}", r.body_text());
    assert_eq!(
        r.body_text().matches("<Part>").count(),
        count,
        "{}",
        r.body_text()
    );
}

/// Guards against CompleteMultipartUpload ignoring the whole object's checksum it is sent: a
/// wrong `x-amz-checksum-crc32`, a checksum on an upload created without an algorithm, or a
/// `FULL_OBJECT` type on a COMPOSITE upload each completed the upload anyway, so a client's
/// integrity check silently did nothing. A refused completion leaves the upload open.
#[test]
fn a_completion_checksum_is_verified() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/sums", &[], b"").status, 200);
    let parts = [pattern(5 * MIB, 21), pattern(300, 22)];
    let (id, complete) = upload_parts(
        &d,
        "composite",
        &[("x-amz-checksum-algorithm", "CRC32")],
        &parts,
        true,
    );
    let mut raw = Vec::new();
    for data in &parts {
        raw.extend_from_slice(&crc32fast::hash(data).to_be_bytes());
    }
    let crc = crc32fast::hash(&raw);
    // The header holds the checksum itself (4 bytes of CRC32 in base64); the object's
    // checksum is that value and `-N`.
    let header = B64.encode(crc.to_be_bytes());
    let composite = format!("{header}-2");
    let target = format!("/sums/composite?uploadId={id}");

    for (name, value) in [
        ("x-amz-checksum-crc32", "AAAAAA==".to_owned()),
        ("x-amz-checksum-crc32", B64.encode((crc ^ 1).to_be_bytes())),
        ("x-amz-checksum-type", "FULL_OBJECT".to_owned()),
    ] {
        let r = send(&d, "POST", &target, &[(name, &value)], complete.as_bytes());
        assert_eq!(
            (r.status, xml_text(&r.body_text(), "Code")),
            (400, Some("BadDigest")),
            "completion with {name}: {value}: {}",
            truncated(&r.body_text())
        );
        assert_upload_open(&d, "composite", &id, 2);
    }

    // A value that is not a CRC32 at all (the object's `value-N` form) is not a valid header.
    let r = send(
        &d,
        "POST",
        &target,
        &[("x-amz-checksum-crc32", &composite)],
        complete.as_bytes(),
    );
    assert_error(&r, 400, "InvalidRequest");
    assert_upload_open(&d, "composite", &id, 2);

    let r = send(
        &d,
        "POST",
        &target,
        &[("x-amz-checksum-crc32", &header)],
        complete.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        xml_text(&r.body_text(), "ChecksumCRC32"),
        Some(composite.as_str())
    );
    let got = send(&d, "GET", "/sums/composite", &[], b"");
    assert_eq!(got.status, 200);
    assert!(got.body == parts.concat(), "object differs");

    // An upload created without an algorithm has no checksum to compare.
    let plain = [pattern(1000, 23)];
    let (id, complete) = upload_parts(&d, "plain", &[], &plain, false);
    let target = format!("/sums/plain?uploadId={id}");
    let r = send(
        &d,
        "POST",
        &target,
        &[("x-amz-checksum-crc32", &crc32_b64(&plain[0]))],
        complete.as_bytes(),
    );
    assert_error(&r, 400, "InvalidRequest");
    assert_upload_open(&d, "plain", &id, 1);
    let r = send(&d, "POST", &target, &[], complete.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body_text());
}
