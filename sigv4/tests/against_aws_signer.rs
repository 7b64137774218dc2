//! Property tests against AWS's own Rust signer (`aws-sigv4`, configured for S3: no path
//! normalisation, single percent-encoding, `x-amz-content-sha256`): random requests it signs
//! are accepted; the same requests with one signed byte changed are rejected with the right
//! code; its presigned URLs are accepted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use cairn_sigv4::canonical::Component;
use cairn_sigv4::{
    parse_auth, verify, AuthError, Policy, RequestParts, SecretKey, SigningKeyCache,
};
use proptest::prelude::*;

const AKID: &str = "AKIDEXAMPLE0123456789";
const SECRET: &str = "s3cr3t/With+Symbols=AndMore0123456789abc";
const HOST: &str = "bucket.s3.example.com:9000";

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    unsigned_payload: bool,
    time: i64,
}

/// What an SDK does to a key or query value: every byte but the unreserved ones (and `/` in a
/// path) as `%XX`. (Not `uri_encode_into`, which first decodes what it is given.)
fn encode(raw: &str, component: Component) -> String {
    let mut s = String::new();
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric()
            || b"-._~".contains(&b)
            || (b == b'/' && component == Component::Path)
        {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Characters of keys and query values: every reserved ASCII character, space, `%`, and
/// non-ASCII of 2, 3 and 4 UTF-8 bytes.
fn text(max: usize) -> impl Strategy<Value = String> {
    let chars = prop::sample::select(
        "aZ09-._~ !\"#$%&'()*+,/:;<=>?@[\\]^`{|}é€𝄞/"
            .chars()
            .collect::<Vec<_>>(),
    );
    prop::collection::vec(chars, 0..max).prop_map(|v| v.into_iter().collect())
}

fn lower_hex(s: &str) -> String {
    let mut out = String::new();
    let mut left = 0;
    for c in s.chars() {
        if c == '%' {
            left = 2;
            out.push(c);
        } else if left > 0 {
            left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn header_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(" aB3-_.:;,=/\"()  ".chars().collect::<Vec<_>>()),
        1..20,
    )
    .prop_map(|v| v.into_iter().collect::<String>())
    .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD"]),
        text(24),
        prop::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "x-id", "prefix", "Z", "list-type"]),
                text(8),
                any::<bool>(),
            ),
            0..5,
        ),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "x-amz-meta-a",
                    "X-Amz-Meta-B",
                    "x-amz-meta-a",
                    "content-type",
                    "range",
                    "x-amz-acl",
                ]),
                header_value(),
            ),
            0..5,
        ),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
        946_684_800i64..4_102_444_800,
        any::<bool>(),
    )
        .prop_map(
            |(method, key, query, headers, body, unsigned_payload, time, form_style)| {
                let path = format!("/bucket/{}", encode(&key, Component::Path));
                let query = query
                    .iter()
                    .map(|(n, v, with_eq)| {
                        if v.is_empty() && !with_eq {
                            n.to_string()
                        } else {
                            format!("{n}={}", encode(v, Component::Query))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                // Some clients send spaces as `+` and lower-case hex: the same parameters.
                let query = if form_style {
                    lower_hex(&query.replace("%20", "+"))
                } else {
                    query
                };
                let mut headers: Vec<(String, String)> = headers
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect();
                headers.insert(0, ("host".into(), HOST.into()));
                Req {
                    method: method.to_string(),
                    path,
                    query,
                    headers,
                    body,
                    unsigned_payload,
                    time,
                }
            },
        )
}

fn system_time(t: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t as u64)
}

/// Signs with aws-sigv4; returns the headers to send (original plus the signer's).
fn aws_sign_headers(r: &Req) -> Vec<(String, String)> {
    let identity = AwsCredentials::new(AKID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(system_time(r.time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = format!(
        "http://{HOST}{}{}{}",
        r.path,
        if r.query.is_empty() { "" } else { "?" },
        r.query
    );
    let body = if r.unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&r.body)
    };
    let signable = SignableRequest::new(
        &r.method,
        uri,
        r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (added, _) = instructions.into_parts();
    let mut headers = r.headers.clone();
    for h in added {
        headers.push((h.name().to_string(), h.value().to_string()));
    }
    headers
}

/// Presigns with aws-sigv4; returns the query string to send.
fn aws_presign_query(r: &Req, expires: u64) -> String {
    let identity = AwsCredentials::new(AKID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(system_time(r.time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = format!(
        "http://{HOST}{}{}{}",
        r.path,
        if r.query.is_empty() { "" } else { "?" },
        r.query
    );
    let signable = SignableRequest::new(
        &r.method,
        uri,
        r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut query = r.query.clone();
    for (name, value) in instructions.params() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encode(value, Component::Query));
    }
    query
}

/// Our verdict on a request: parse, verify, and run the body through the payload verifier.
fn check(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Result<(), AuthError> {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &headers,
    };
    let auth = parse_auth(&parts)?;
    let mut cache = SigningKeyCache::default();
    let v = verify(
        &auth,
        &parts,
        None,
        &SecretKey::new(SECRET),
        now,
        &Policy::default(),
        &mut cache,
    )?;
    let (data, _) = v.payload.verify_all(body)?;
    assert_eq!(data, body);
    Ok(())
}

fn set_header(headers: &mut [(String, String)], name: &str, f: impl Fn(&str) -> String) {
    let h = headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .unwrap();
    h.1 = f(&h.1);
}

fn code(r: Result<(), AuthError>) -> &'static str {
    r.map(|_| "OK").unwrap_or_else(|e| e.s3_code())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn header_auth_from_aws_signer_is_accepted(r in request(), skew in -900i64..=900) {
        let headers = aws_sign_headers(&r);
        let now = r.time + skew;
        prop_assert_eq!(code(check(&r.method, &r.path, &r.query, &headers, &r.body, now)), "OK");
    }

    #[test]
    fn one_changed_byte_is_rejected(r in request(), which in 0usize..9, at in any::<prop::sample::Index>()) {
        let mut headers = aws_sign_headers(&r);
        let (mut method, mut path, mut query, mut body) = (r.method.clone(), r.path.clone(), r.query.clone(), r.body.clone());
        let expected = match which {
            0 => {
                // An unreserved character inserted into the path changes the decoded key.
                let i = 1 + at.index(path.len());
                path.insert(i, 'Z');
                "SignatureDoesNotMatch"
            }
            1 => {
                query = if query.is_empty() { "extra=1".into() } else { format!("{query}x") };
                "SignatureDoesNotMatch"
            }
            2 => {
                set_header(&mut headers, "host", |v| format!("{v}0"));
                "SignatureDoesNotMatch"
            }
            3 => {
                set_header(&mut headers, "authorization", |v| {
                    let mut b = v.as_bytes().to_vec();
                    let i = b.len() - 1 - at.index(64);
                    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
                    String::from_utf8(b).unwrap()
                });
                "SignatureDoesNotMatch"
            }
            4 => {
                set_header(&mut headers, "x-amz-date", |v| {
                    let last = v.as_bytes()[14];
                    format!("{}{}Z", &v[..14], if last == b'0' { '1' } else { '0' })
                });
                "SignatureDoesNotMatch"
            }
            5 => {
                method = if method == "GET" { "PUT".into() } else { "GET".into() };
                "SignatureDoesNotMatch"
            }
            6 => {
                // A value of a signed x-amz-meta header, or the signed Range/Content-Type.
                match headers.iter_mut().find(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    n.starts_with("x-amz-meta") || n == "range" || n == "content-type" || n == "x-amz-acl"
                }) {
                    Some(h) => { h.1.push('!'); "SignatureDoesNotMatch" }
                    None => {
                        headers.push(("x-amz-meta-unsigned".into(), "1".into()));
                        "AccessDenied"
                    }
                }
            }
            7 => {
                // An x-amz-* header that was not signed.
                headers.push(("X-Amz-Meta-Sneaky".into(), "1".into()));
                "AccessDenied"
            }
            _ => {
                if r.unsigned_payload {
                    body.push(1);
                    "OK"
                } else {
                    if body.is_empty() { body.push(0) } else { let i = at.index(body.len()); body[i] ^= 1; }
                    "XAmzContentSHA256Mismatch"
                }
            }
        };
        prop_assert_eq!(code(check(&method, &path, &query, &headers, &body, r.time)), expected);
    }

    #[test]
    fn skew_and_region_are_enforced(r in request(), late in 901i64..100_000) {
        let headers = aws_sign_headers(&r);
        prop_assert_eq!(code(check(&r.method, &r.path, &r.query, &headers, &r.body, r.time + late)), "RequestTimeTooSkewed");
        prop_assert_eq!(code(check(&r.method, &r.path, &r.query, &headers, &r.body, r.time - late)), "RequestTimeTooSkewed");
        let mut other = headers.clone();
        set_header(&mut other, "authorization", |v| v.replace("/us-east-1/", "/eu-west-1/"));
        prop_assert_eq!(code(check(&r.method, &r.path, &r.query, &other, &r.body, r.time)), "AuthorizationHeaderMalformed");
    }

    #[test]
    fn presigned_from_aws_signer_is_accepted(r in request(), expires in 1u64..=604_800, at in 0.0f64..=1.0) {
        // Presigned URLs carry only host and x-amz-meta headers (what a browser would send).
        let mut r = r;
        r.headers.retain(|(n, _)| n == "host" || n.to_ascii_lowercase().starts_with("x-amz-meta"));
        let query = aws_presign_query(&r, expires);
        let now = r.time + (expires as f64 * at) as i64;
        prop_assert_eq!(code(check(&r.method, &r.path, &query, &r.headers, &[], now)), "OK");
        // Past expiry, or with one signed byte changed, it is refused.
        prop_assert_eq!(code(check(&r.method, &r.path, &query, &r.headers, &[], r.time + expires as i64 + 1)), "AccessDenied");
        let tampered = query.replacen("X-Amz-Date=", "a=1&X-Amz-Date=", 1);
        prop_assert_eq!(code(check(&r.method, &r.path, &tampered, &r.headers, &[], now)), "SignatureDoesNotMatch");
        let mut path = r.path.clone();
        path.push('Z');
        prop_assert_eq!(code(check(&r.method, &path, &query, &r.headers, &[], now)), "SignatureDoesNotMatch");
        // And both mechanisms at once is an error of its own.
        let mut both = r.headers.clone();
        both.push(("Authorization".into(), "AWS4-HMAC-SHA256 Credential=x".into()));
        prop_assert_eq!(code(check(&r.method, &r.path, &query, &both, &[], now)), "InvalidArgument");
    }
}
