//! Regression tests for authentication flaws, by raw requests against the real `cairnd`: the
//! `SignedHeaders` list must be lower-case, sorted and free of repeats; `SignatureDoesNotMatch`
//! bodies are bounded; SigV2 signs the bucket and the sub-resources the router acts on; an
//! absurd RFC 1123 day is refused, not a crash; and secrets never reach the log.

use crate::s3_errors::{send, KEY};
use cairn_sigv4::canonical::{self, uri_encode_into, Component, EMPTY_SHA256};
use cairn_sigv4::sign::{sign_v2, sign_v2_for_bucket, sign_v4_header, Credentials, SignPayload};
use cairn_sigv4::time::{format_amz_date, format_scope_date};
use cairn_sigv4::{RequestParts, SecretKey, SigningKey};
use cairn_tests::{
    roundtrip, signed_request_as, temp_dir, unix_now, Daemon, DaemonOptions, RawResponse,
    ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY,
};

/// The right key id with a secret that is not its own: a request that authenticates as the
/// test user but whose signature does not match.
const WRONG_SECRET: (&str, &str) = (ACCESS_KEY_ID, "not-the-secret-of-this-key-0000000000000");

/// Asserts an S3 XML error answer with `status` and `code`; returns the body.
#[track_caller]
pub(crate) fn assert_error(response: &RawResponse, status: u16, code: &str) -> String {
    let body = response.body_text();
    assert_eq!(
        response.status,
        status,
        "expected {status} {code}; got {} ({} bytes): {}",
        response.status,
        body.len(),
        truncated(&body)
    );
    assert!(
        body.contains(&format!("<Code>{code}</Code>")),
        "expected {code}, got {}",
        truncated(&body)
    );
    body
}

/// The first 2 KiB of a body, for failure messages.
pub(crate) fn truncated(text: &str) -> &str {
    let mut end = text.len().min(2048);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The text of the first `<tag>` element of an XML body.
pub(crate) fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    Some(&body[start..start + len])
}

/// A SigV4 header-auth request with an empty body and `SignedHeaders` exactly as given (any
/// order, case or repeats), signed by `key` over the canonical request that list names, built
/// by the same code the daemon's verifier uses. Adds `Host`, `x-amz-date` and
/// `x-amz-content-sha256`.
fn signed_with_list(
    (key_id, secret): (&str, &str),
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    signed_headers: &str,
) -> Vec<u8> {
    let now = unix_now();
    let amz_date = format_amz_date(now);
    let mut all: Vec<(&str, &str)> = vec![
        ("host", host),
        ("x-amz-date", &amz_date),
        ("x-amz-content-sha256", EMPTY_SHA256),
    ];
    all.extend_from_slice(headers);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &all,
    };
    let canonical_request =
        canonical::canonical_request(&parts, signed_headers, EMPTY_SHA256, false)
            .expect("a canonical request under the cap");
    let scope = canonical::scope(&format_scope_date(now), REGION, "s3");
    let string_to_sign = canonical::string_to_sign(&amz_date, &scope, &canonical_request);
    let signature = SigningKey::derive(
        &SecretKey::new(secret),
        &format_scope_date(now),
        REGION,
        "s3",
    )
    .sign(string_to_sign.as_bytes());
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in &all {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "authorization: AWS4-HMAC-SHA256 Credential={key_id}/{scope}, \
         SignedHeaders={signed_headers}, Signature={}\r\ncontent-length: 0\r\n\r\n",
        signature.hex_string()
    ));
    out.into_bytes()
}

/// A SigV4 header-auth request by the test user with `host` as `Host` (a published domain
/// rather than the daemon's address).
fn signed_for_host(host: &str, method: &str, target: &str) -> Vec<u8> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = [("host", host), ("content-length", "0")];
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &headers,
    };
    let signed = sign_v4_header(
        &parts,
        &Credentials::new(KEY.0, KEY.1),
        REGION,
        unix_now(),
        SignPayload::Bytes(b""),
    );
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .chain(signed.headers)
    {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A SigV2 header-auth request by the test user: signed for `signed_target` (and the
/// virtual-host `bucket`, if any), sent as `sent_target` with `Host: sent_host`, so a test can
/// replay a signature on a request it was not made for.
fn sigv2_request(
    method: &str,
    signed_target: &str,
    bucket: Option<&str>,
    sent_target: &str,
    sent_host: &str,
    body: &[u8],
) -> Vec<u8> {
    let amz_date = format_amz_date(unix_now());
    let length = body.len().to_string();
    let headers = [
        ("host", sent_host),
        ("x-amz-date", amz_date.as_str()),
        ("content-length", length.as_str()),
    ];
    let (path, query) = signed_target.split_once('?').unwrap_or((signed_target, ""));
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &headers,
    };
    let authorization = sign_v2_for_bucket(&parts, bucket, &Credentials::new(KEY.0, KEY.1));
    let mut out = format!("{method} {sent_target} HTTP/1.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("authorization: {authorization}\r\n\r\n"));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Starts a daemon whose config file publishes `domains`.
fn daemon_with_domains(domains: &[&str]) -> (Daemon, tempfile::TempDir) {
    let dir = temp_dir();
    let config = dir.path().join("cairn.toml");
    let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
    std::fs::write(&config, format!("domains = [{}]\n", list.join(", "))).unwrap();
    let daemon = DaemonOptions::default()
        .arg("--config")
        .arg(config.display().to_string())
        .start();
    (daemon, dir)
}

/// Guards against a `SignedHeaders` list that repeats a name: each repeat copies the header's
/// value into the canonical request again, so a 1 KiB header named 100 times made a 100 KiB
/// canonical request (and an error body several times that) out of a small request. The
/// list is refused as malformed before any canonical request is built.
#[test]
fn signed_headers_with_repeats_are_malformed() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/repeats", &[], b"").status, 200);
    let meta: String = (0..1024u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let list = format!(
        "host;x-amz-content-sha256;x-amz-date{}",
        ";x-meta".repeat(100)
    );
    let host = d.addr.to_string();
    let raw = signed_with_list(
        WRONG_SECRET,
        &host,
        "GET",
        "/repeats?list-type=2",
        &[("x-meta", &meta)],
        &list,
    );
    let r = roundtrip(d.addr, &raw);
    let body = assert_error(&r, 400, "AuthorizationHeaderMalformed");
    assert!(
        !body.contains(&meta),
        "the error echoes the repeated header ({} bytes)",
        body.len()
    );
}

/// Guards against `SignedHeaders` lists that are out of order or not lower-case: AWS defines
/// the list as sorted lower-case names, and accepting other spellings lets one signature
/// stand for several lists. Each request here is validly signed over the list it names, so
/// only the list's form can refuse it.
#[test]
fn signed_headers_must_be_sorted_and_lower_case() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/order", &[], b"").status, 200);
    let host = d.addr.to_string();
    // The control: the canonical list, signed the same way, is accepted.
    let ok = signed_with_list(
        KEY,
        &host,
        "GET",
        "/order?list-type=2",
        &[],
        "host;x-amz-content-sha256;x-amz-date",
    );
    let r = roundtrip(d.addr, &ok);
    assert_eq!(r.status, 200, "{}", truncated(&r.body_text()));
    for list in [
        "x-amz-date;host;x-amz-content-sha256",
        "host;x-amz-date;x-amz-content-sha256",
        "Host;x-amz-content-sha256;x-amz-date",
        "host;X-Amz-Content-Sha256;x-amz-date",
    ] {
        let raw = signed_with_list(KEY, &host, "GET", "/order?list-type=2", &[], list);
        let r = roundtrip(d.addr, &raw);
        assert_eq!(
            (r.status, xml_text(&r.body_text(), "Code")),
            (400, Some("AuthorizationHeaderMalformed")),
            "SignedHeaders={list}: {}",
            truncated(&r.body_text())
        );
    }
}

/// Guards against a presigned URL whose `X-Amz-SignedHeaders` repeats a name (the query form
/// of the header-auth flaw above). The URL is validly signed over the list it names.
#[test]
fn presigned_signed_headers_with_repeats_are_refused() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/presign", &[], b"").status, 200);
    assert_eq!(send(&d, "PUT", "/presign/k", &[], b"data").status, 200);
    let host = d.addr.to_string();
    let now = unix_now();
    let amz_date = format_amz_date(now);
    let scope = canonical::scope(&format_scope_date(now), REGION, "s3");
    let mut query = String::from("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    uri_encode_into(
        &mut query,
        &format!("{ACCESS_KEY_ID}/{scope}"),
        Component::Query,
    );
    query.push_str(&format!(
        "&X-Amz-Date={amz_date}&X-Amz-Expires=300&X-Amz-SignedHeaders=host%3Bhost"
    ));
    let headers = [("host", host.as_str())];
    let parts = RequestParts {
        method: "GET",
        path: "/presign/k",
        query: &query,
        headers: &headers,
    };
    let canonical_request =
        canonical::canonical_request(&parts, "host;host", "UNSIGNED-PAYLOAD", true)
            .expect("a canonical request under the cap");
    let signature = SigningKey::derive(
        &SecretKey::new(SECRET_ACCESS_KEY),
        &format_scope_date(now),
        REGION,
        "s3",
    )
    .sign(canonical::string_to_sign(&amz_date, &scope, &canonical_request).as_bytes());
    let raw = format!(
        "GET /presign/k?{query}&X-Amz-Signature={} HTTP/1.1\r\nHost: {host}\r\n\r\n",
        signature.hex_string()
    );
    let r = roundtrip(d.addr, raw.as_bytes());
    assert_error(&r, 400, "AuthorizationQueryParametersError");
}

/// Guards against unbounded `SignatureDoesNotMatch` bodies: the answer echoed the canonical
/// request and then its bytes again in hex (three characters a byte), so a 25 KiB canonical
/// request made a ~100 KiB answer. The body stays under 48 KiB and still carries the
/// `StringToSign` and `CanonicalRequest` a client needs to debug its signer.
#[test]
fn signature_mismatch_bodies_are_bounded() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/bounded", &[], b"").status, 200);
    let names: Vec<String> = (0..20).map(|i| format!("x-amz-meta-field{i:02}")).collect();
    let values: Vec<String> = (0..20u32)
        .map(|i| {
            (0..1200u32)
                .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
                .collect()
        })
        .collect();
    let headers: Vec<(&str, &str)> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let raw = signed_request_as(WRONG_SECRET, d.addr, "PUT", "/bounded/k", &headers, b"x");
    let r = roundtrip(d.addr, &raw);
    let body = assert_error(&r, 403, "SignatureDoesNotMatch");
    assert!(
        body.len() < 48 * 1024,
        "SignatureDoesNotMatch body is {} bytes",
        body.len()
    );
    assert!(body.contains("<StringToSign>"), "{}", truncated(&body));
    assert!(body.contains("<CanonicalRequest>"), "{}", truncated(&body));
}

/// Guards against SigV2 reading the virtual-host bucket differently from the router: SigV2
/// matched the configured domain case-sensitively, the router does not, so a signature for
/// path-style `/xxx/y` replayed with `Host: bbb.S3.EXAMPLE.com` was checked as `/xxx/y` but
/// served bucket `bbb`, key `xxx/y`. A SigV2 request really signed for `bbb` still works.
/// (Bucket names need three characters, hence `xxx` and `bbb`.)
#[test]
fn sigv2_signs_the_bucket_the_router_serves() {
    let (d, _dir) = daemon_with_domains(&["s3.example.com"]);
    let port = d.addr.port();
    for (target, body) in [
        ("/xxx", &b""[..]),
        ("/xxx/y", b"bucket xxx, key y"),
        ("/bbb", b""),
        ("/bbb/xxx/y", b"bucket bbb, key xxx/y"),
    ] {
        let r = send(&d, "PUT", target, &[], body);
        assert_eq!(r.status, 200, "{target}: {}", r.body_text());
    }
    let apex = format!("s3.example.com:{port}");
    let r = roundtrip(
        d.addr,
        &sigv2_request("GET", "/xxx/y", None, "/xxx/y", &apex, b""),
    );
    assert_eq!(r.status, 200, "{}", truncated(&r.body_text()));
    assert_eq!(r.body_text(), "bucket xxx, key y");

    let replay = roundtrip(
        d.addr,
        &sigv2_request(
            "GET",
            "/xxx/y",
            None,
            "/xxx/y",
            &format!("bbb.S3.EXAMPLE.com:{port}"),
            b"",
        ),
    );
    assert_eq!(
        (replay.status, xml_text(&replay.body_text(), "Code")),
        (403, Some("SignatureDoesNotMatch")),
        "the signature for /xxx/y served {:?}",
        truncated(&replay.body_text())
    );

    // Signed for bucket bbb, virtual-hosted: accepted.
    let r = roundtrip(
        d.addr,
        &sigv2_request(
            "GET",
            "/xxx/y",
            Some("bbb"),
            "/xxx/y",
            &format!("bbb.s3.example.com:{port}"),
            b"",
        ),
    );
    assert_eq!(r.status, 200, "{}", truncated(&r.body_text()));
    assert_eq!(r.body_text(), "bucket bbb, key xxx/y");
}

/// Guards against nested published domains routing by list order: with `example.com` listed
/// before `s3.example.com`, the host `s3.example.com` was read as bucket `s3` of
/// `example.com`. The longest matching domain wins, for the router and for SigV2.
#[test]
fn the_longest_published_domain_wins() {
    let (d, _dir) = daemon_with_domains(&["example.com", "s3.example.com"]);
    let port = d.addr.port();
    assert_eq!(send(&d, "PUT", "/bkt", &[], b"").status, 200);
    assert_eq!(send(&d, "PUT", "/bkt/key", &[], b"nested").status, 200);

    let apex = format!("s3.example.com:{port}");
    let r = roundtrip(d.addr, &signed_for_host(&apex, "GET", "/bkt/key"));
    assert_eq!(r.status, 200, "path style on {apex}: {}", r.body_text());
    assert_eq!(r.body, b"nested");

    let virtual_host = format!("bkt.s3.example.com:{port}");
    let r = roundtrip(d.addr, &signed_for_host(&virtual_host, "GET", "/key"));
    assert_eq!(r.status, 200, "{virtual_host}: {}", r.body_text());
    assert_eq!(r.body, b"nested");

    let r = roundtrip(
        d.addr,
        &sigv2_request("GET", "/key", Some("bkt"), "/key", &virtual_host, b""),
    );
    assert_eq!(r.status, 200, "SigV2 on {virtual_host}: {}", r.body_text());
    assert_eq!(r.body, b"nested");
}

/// Guards against SigV2 choosing the sub-resources it signs by their name as sent while the
/// router decodes the name: `response-content-typ%65` and `upload%49d`/`partNumbe%72` were
/// left out of the signature but acted on, so any signed GET could be replayed with a
/// response override and any signed PUT as an UploadPart.
#[test]
fn sigv2_signs_sub_resources_by_decoded_name() {
    let d = Daemon::start();
    let host = d.addr.to_string();
    assert_eq!(send(&d, "PUT", "/subs", &[], b"").status, 200);
    let put = send(
        &d,
        "PUT",
        "/subs/k",
        &[("content-type", "text/plain")],
        b"plain",
    );
    assert_eq!(put.status, 200);

    let r = roundtrip(
        d.addr,
        &sigv2_request("GET", "/subs/k", None, "/subs/k", &host, b""),
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let replay = roundtrip(
        d.addr,
        &sigv2_request(
            "GET",
            "/subs/k",
            None,
            "/subs/k?response-content-typ%65=text/evil",
            &host,
            b"",
        ),
    );
    assert_eq!(
        (replay.status, xml_text(&replay.body_text(), "Code")),
        (403, Some("SignatureDoesNotMatch")),
        "replayed with an encoded override: Content-Type {:?}",
        replay.header("content-type")
    );

    let created = send(&d, "POST", "/subs/k?uploads", &[], b"");
    assert_eq!(created.status, 200);
    let created = created.body_text();
    let upload_id = xml_text(&created, "UploadId").expect("UploadId");
    let mut id = String::new();
    uri_encode_into(&mut id, upload_id, Component::Query);
    for target in [
        format!("/subs/k?upload%49d={id}&partNumbe%72=1"),
        format!("/subs/k?upload%49d={id}&partNumber=1"),
    ] {
        let replay = roundtrip(
            d.addr,
            &sigv2_request("PUT", "/subs/k", None, &target, &host, b"part!"),
        );
        assert_eq!(
            (replay.status, xml_text(&replay.body_text(), "Code")),
            (403, Some("SignatureDoesNotMatch")),
            "a signed PutObject replayed as {target}: ETag {:?}",
            replay.header("etag")
        );
    }
    let parts = send(&d, "GET", &format!("/subs/k?uploadId={id}"), &[], b"");
    assert_eq!(parts.status, 200, "{}", parts.body_text());
    assert!(
        !parts.body_text().contains("<Part>"),
        "{}",
        parts.body_text()
    );
}

/// Guards against an arithmetic overflow in the RFC 1123 parser: a day of 4294967320 wrapped
/// a `u32` (a panic in debug builds, which dropped the connection without an answer). The
/// date is invalid, so the request is refused as unauthenticated, for SigV2 and for SigV4
/// with `Date` instead of `x-amz-date`; the daemon keeps serving.
#[test]
fn an_overflowing_rfc1123_day_is_refused() {
    let d = Daemon::start();
    assert_eq!(send(&d, "PUT", "/dates", &[], b"").status, 200);
    let host = d.addr.to_string();
    let date = "Fri, 4294967320 May 2013 00:00:00 GMT";

    let headers = [("host", host.as_str()), ("date", date)];
    let parts = RequestParts {
        method: "GET",
        path: "/dates",
        query: "",
        headers: &headers,
    };
    let authorization = sign_v2(&parts, &Credentials::new(KEY.0, KEY.1));
    let raw = format!(
        "GET /dates HTTP/1.1\r\nHost: {host}\r\nDate: {date}\r\n\
         Authorization: {authorization}\r\n\r\n"
    );
    assert_error(&roundtrip(d.addr, raw.as_bytes()), 403, "AccessDenied");

    let raw = format!(
        "GET /dates HTTP/1.1\r\nHost: {host}\r\nDate: {date}\r\n\
         x-amz-content-sha256: {EMPTY_SHA256}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential={ACCESS_KEY_ID}/20130524/{REGION}/s3/aws4_request, \
         SignedHeaders=date;host;x-amz-content-sha256, Signature={}\r\n\r\n",
        "0".repeat(64)
    );
    assert_error(&roundtrip(d.addr, raw.as_bytes()), 403, "AccessDenied");

    assert_eq!(send(&d, "GET", "/dates?list-type=2", &[], b"").status, 200);
}

/// Guards against an upgraded data directory's plain-text default secret reaching the log
/// or staying on disk: earlier versions kept generated credentials in
/// `default-credentials.toml`; start-up imports them into the key store (sealed), removes the
/// file, and the key keeps working — also after a restart — without its secret in any log.
#[test]
fn the_default_secret_is_imported_and_never_reaches_the_log() {
    const KEY_ID: &str = "CAIRNOLDDEFAULT00001";
    const SECRET: &str = "old-default-secret-0000000000000000000001";
    let options = || {
        DaemonOptions::default()
            .env_remove("CAIRN_ACCESS_KEY_ID")
            .env_remove("CAIRN_SECRET_ACCESS_KEY")
    };
    let dir = temp_dir();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let path = data_dir.join("default-credentials.toml");
    std::fs::write(
        &path,
        format!("access_key_id = \"{KEY_ID}\"\nsecret_access_key = \"{SECRET}\"\n"),
    )
    .unwrap();
    let mut d = DaemonOptions {
        data_dir: Some(data_dir.clone()),
        ..options()
    }
    .start();
    assert!(!path.exists(), "default-credentials.toml was not removed");
    let put = roundtrip(
        d.addr,
        &signed_request_as((KEY_ID, SECRET), d.addr, "PUT", "/defaults", &[], b""),
    );
    assert_eq!(put.status, 200, "{}", put.body_text());
    d.signal(libc::SIGTERM);
    d.wait_for_log("cairnd stopped", std::time::Duration::from_secs(30));
    let log = d.logs();
    assert!(!log.contains(SECRET), "the secret is in the log:\n{log}");
    assert!(log.contains("default-credentials.toml"), "{log}");

    let again = DaemonOptions {
        data_dir: Some(data_dir),
        ..options()
    }
    .start();
    let get = roundtrip(
        again.addr,
        &signed_request_as((KEY_ID, SECRET), again.addr, "GET", "/defaults", &[], b""),
    );
    assert_eq!(get.status, 200, "{}", get.body_text());
    assert!(!again.logs().contains(SECRET));
}

/// Guards against a config error echoing a secret: the TOML error for a mistyped
/// `secret_access_key` quoted the value, and start-up errors go to the journal.
#[test]
fn a_bad_secret_in_the_config_is_not_echoed() {
    let dir = temp_dir();
    let config = dir.path().join("cairn.toml");
    std::fs::write(
        &config,
        "[[auth.keys]]\naccess_key_id = \"CAIRNCONFIGKEY000003\"\n\
         secret_access_key = 987654321987654321\n",
    )
    .unwrap();
    let (status, stderr) = DaemonOptions::default()
        .arg("--config")
        .arg(config.display().to_string())
        .run_expecting_failure();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("cairn.toml"), "{stderr}");
    assert!(
        !stderr.contains("987654321987654321"),
        "the secret is echoed:\n{stderr}"
    );
}
