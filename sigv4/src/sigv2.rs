//! SigV2 header authentication, `Authorization: AWS AKID:base64(HMAC-SHA1(secret, StringToSign))`,
//! kept because the s3-benchmark load tool signs with it ("Signing and Authenticating REST
//! Requests": <https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html>).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::hmac;

use crate::canonical::query_decode;
use crate::key::SecretKey;
use crate::time::{parse_amz_date, parse_rfc1123};
use crate::{AuthError, Policy, RequestParts};

/// Query parameters that are part of the SigV2 canonical resource (S3's sub-resources and
/// the `response-*` overrides), sorted.
pub const SUB_RESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// A parsed `Authorization: AWS AKID:signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Authorization<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The base64 signature as sent.
    pub signature: &'a str,
}

/// Parses `AWS AKID:signature`.
pub fn parse_authorization_v2(value: &str) -> Result<V2Authorization<'_>, AuthError> {
    let rest = value
        .strip_prefix("AWS ")
        .ok_or(AuthError::UnsupportedAuthorizationType)?
        .trim();
    match rest.rsplit_once(':') {
        Some((access_key_id, signature)) if !access_key_id.is_empty() && !signature.is_empty() => {
            Ok(V2Authorization {
                access_key_id,
                signature,
            })
        }
        _ => Err(AuthError::header_malformed(
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
        )),
    }
}

/// The request time of a SigV2 request: `x-amz-date` (which empties the `Date` line of the
/// string to sign) or `Date`, in RFC 1123 or ISO 8601 basic form.
fn request_time(parts: &RequestParts<'_>) -> Option<i64> {
    let v = parts
        .header("x-amz-date")
        .or_else(|| parts.header("date"))?
        .trim();
    parse_rfc1123(v).or_else(|| parse_amz_date(v))
}

fn virtual_host_bucket<'a>(parts: &RequestParts<'a>, policy: &Policy) -> Option<&'a str> {
    let host = parts.header("host")?.trim();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    policy.virtual_host_domains.iter().find_map(|d| {
        host.strip_suffix(d.as_str())
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty())
    })
}

/// The SigV2 string to sign:
/// `method \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource`.
pub fn string_to_sign(parts: &RequestParts<'_>, bucket: Option<&str>) -> String {
    let mut out = String::with_capacity(256);
    let header = |name| parts.header(name).map(str::trim).unwrap_or("");
    out.push_str(parts.method);
    out.push('\n');
    out.push_str(header("content-md5"));
    out.push('\n');
    out.push_str(header("content-type"));
    out.push('\n');
    if parts.header("x-amz-date").is_none() {
        out.push_str(header("date"));
    }
    out.push('\n');

    let mut amz: Vec<(String, String)> = Vec::new();
    for (name, value) in parts.headers {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("x-amz-") {
            continue;
        }
        let value = value.trim_matches([' ', '\t']);
        match amz.iter_mut().find(|(n, _)| *n == lower) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(value);
            }
            None => amz.push((lower, value.to_owned())),
        }
    }
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, v) in &amz {
        out.push_str(n);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }

    if let Some(bucket) = bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    });
    let mut subs: Vec<(&str, Option<&str>)> = parts
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        })
        .filter(|(n, _)| SUB_RESOURCES.contains(n))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(&query_decode(v));
        }
    }
    out
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn signature(secret: &SecretKey, string_to_sign: &str) -> String {
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        secret.expose().as_bytes(),
    );
    B64.encode(hmac::sign(&key, string_to_sign.as_bytes()))
}

/// Verifies a SigV2 header signature and the request time.
pub fn verify_v2(
    auth: &V2Authorization<'_>,
    parts: &RequestParts<'_>,
    secret: &SecretKey,
    now: i64,
    policy: &Policy,
) -> Result<(), AuthError> {
    let t = request_time(parts).ok_or(AuthError::MissingDate)?;
    if (now - t).abs() > policy.max_skew_secs {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time: t,
            server_time: now,
            max_skew_secs: policy.max_skew_secs,
        });
    }
    if parts.header("x-amz-security-token").is_some() {
        return Err(AuthError::InvalidToken);
    }
    let sts = string_to_sign(parts, virtual_host_bucket(parts, policy));
    let computed = signature(secret, &sts);
    if !crate::key::constant_time_eq(computed.as_bytes(), auth.signature.as_bytes()) {
        return Err(AuthError::mismatch(
            sts,
            String::new(),
            auth.signature,
            auth.access_key_id,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a [(&'a str, &'a str)],
    ) -> RequestParts<'a> {
        RequestParts {
            method,
            path,
            query,
            headers,
        }
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn aws_documentation_examples() {
        // "Object GET" and "Object PUT" of the RESTAuthentication page (virtual-host style).
        let policy = Policy {
            virtual_host_domains: vec!["s3.us-west-1.amazonaws.com".into()],
            ..Policy::default()
        };
        let h = [
            ("Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"),
            ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
        ];
        let p = parts("GET", "/photos/puppy.jpg", "", &h);
        let sts = string_to_sign(&p, Some("awsexamplebucket1"));
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(virtual_host_bucket(&p, &policy), None);
        let h = [
            ("Content-Type", "image/jpeg"),
            ("Date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ("Host", "awsexamplebucket1.s3.us-west-1.amazonaws.com:9000"),
        ];
        let p = parts("PUT", "/photos/puppy.jpg", "", &h);
        assert_eq!(virtual_host_bucket(&p, &policy), Some("awsexamplebucket1"));
        assert_eq!(
            string_to_sign(&p, virtual_host_bucket(&p, &policy)),
            "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
    }

    #[test]
    fn amz_headers_and_sub_resources() {
        let h = [
            ("X-Amz-Date", "20060102T150405Z"),
            ("Date", "ignored"),
            ("x-amz-meta-b", " two "),
            ("X-Amz-Meta-A", "one"),
            ("x-amz-meta-b", "three"),
            ("Content-MD5", "abc=="),
        ];
        let p = parts("PUT", "/b/k", "uploadId=x%2By&partNumber=2&foo=bar&acl", &h);
        assert_eq!(
            string_to_sign(&p, None),
            "PUT\nabc==\n\n\nx-amz-date:20060102T150405Z\nx-amz-meta-a:one\nx-amz-meta-b:two,three\n/b/k?acl&partNumber=2&uploadId=x+y"
        );
        assert_eq!(request_time(&p), parse_amz_date("20060102T150405Z"));
    }

    #[test]
    fn verifies_and_rejects() {
        let secret = SecretKey::new(SECRET);
        let now = parse_amz_date("20060102T150405Z").unwrap();
        let h = [("x-amz-date", "20060102T150405Z"), ("Host", "localhost")];
        let p = parts("GET", "/bucket/key", "", &h);
        let sig = signature(&secret, &string_to_sign(&p, None));
        let header = format!("AWS AKID:{sig}");
        let a = parse_authorization_v2(&header).unwrap();
        assert_eq!(a.access_key_id, "AKID");
        verify_v2(&a, &p, &secret, now, &Policy::default()).unwrap();
        let e = verify_v2(&a, &p, &secret, now + 901, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "RequestTimeTooSkewed");
        let p2 = parts("GET", "/bucket/kez", "", &h);
        let e = verify_v2(&a, &p2, &secret, now, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
        let e = verify_v2(&a, &p, &SecretKey::new("other"), now, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
        assert!(parse_authorization_v2("AWS nocolon").is_err());
        assert!(parse_authorization_v2("AWS :sig").is_err());
    }
}
