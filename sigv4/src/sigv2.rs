//! SigV2: header authentication, `Authorization: AWS AKID:base64(HMAC-SHA1(secret, StringToSign))`,
//! kept because the s3-benchmark load tool signs with it, and query-string authentication
//! (`?AWSAccessKeyId=…&Expires=…&Signature=…`), the presigned URLs that botocore (boto3,
//! aws-cli v1 `s3 presign`) makes unless told to use SigV4 ("Signing and Authenticating REST
//! Requests": <https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html>).

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::hmac;

use crate::canonical::{query_decode, query_pairs};
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

/// The SigV2 string to sign of header authentication:
/// `method \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource`.
pub fn string_to_sign(parts: &RequestParts<'_>, bucket: Option<&str>) -> String {
    let date = match parts.header("x-amz-date") {
        Some(_) => "",
        None => parts.header("date").map(str::trim).unwrap_or(""),
    };
    string_to_sign_with(parts, bucket, date, false)
}

/// The SigV2 string to sign of query-string authentication: the `Expires` value in place of
/// the date, and `Content-MD5`, `Content-Type` and `x-amz-*` values taken from the query when
/// the request does not send them as headers (botocore's presigner moves them there).
pub fn presigned_string_to_sign(
    parts: &RequestParts<'_>,
    bucket: Option<&str>,
    expires: &str,
) -> String {
    string_to_sign_with(parts, bucket, expires, true)
}

fn string_to_sign_with(
    parts: &RequestParts<'_>,
    bucket: Option<&str>,
    date: &str,
    query_headers: bool,
) -> String {
    let mut out = String::with_capacity(256);
    let from_query = |name: &str| -> Option<Cow<'_, str>> {
        if !query_headers {
            return None;
        }
        query_pairs(parts.query)
            .find(|(n, _)| query_decode(n).eq_ignore_ascii_case(name))
            .map(|(_, v)| query_decode(v))
    };
    let header = |name: &str| -> Cow<'_, str> {
        match parts.header(name) {
            Some(v) => Cow::Borrowed(v.trim()),
            None => from_query(name).unwrap_or_default(),
        }
    };
    out.push_str(parts.method);
    out.push('\n');
    out.push_str(&header("content-md5"));
    out.push('\n');
    out.push_str(&header("content-type"));
    out.push('\n');
    out.push_str(date);
    out.push('\n');
    push_amz_headers(&mut out, parts, query_headers);
    push_canonical_resource(&mut out, parts, bucket);
    out
}

/// `CanonicalizedAmzHeaders`: every `x-amz-*` header, lower case, values of repeats joined
/// with `,`, sorted; with `query_headers`, those only in the query too.
fn push_amz_headers(out: &mut String, parts: &RequestParts<'_>, query_headers: bool) {
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
    if query_headers {
        for (name, value) in query_pairs(parts.query) {
            let lower = query_decode(name).to_ascii_lowercase();
            if lower.starts_with("x-amz-") && !amz.iter().any(|(n, _)| *n == lower) {
                amz.push((lower, query_decode(value).trim().to_owned()));
            }
        }
    }
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, v) in &amz {
        out.push_str(n);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
}

/// `CanonicalizedResource`: `/bucket` for a virtual-hosted request, the path, and the
/// sub-resources, sorted.
fn push_canonical_resource(out: &mut String, parts: &RequestParts<'_>, bucket: Option<&str>) {
    if let Some(bucket) = bucket {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    });
    // Sub-resources are picked by decoded name, as the server's router reads them: a name
    // sent encoded (`upload%49d`, `response-content-typ%65`) still acts, so it must be signed.
    let mut subs: Vec<(Cow<'_, str>, Option<&str>)> = parts
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (query_decode(n), Some(v)),
            None => (query_decode(p), None),
        })
        .filter(|(n, _)| SUB_RESOURCES.contains(&n.as_ref()))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(&query_decode(v));
        }
    }
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn signature(secret: &SecretKey, string_to_sign: &str) -> String {
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        secret.expose().as_bytes(),
    );
    B64.encode(hmac::sign(&key, string_to_sign.as_bytes()))
}

/// A parsed SigV2 presigned URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Presigned<'a> {
    /// `AWSAccessKeyId`, decoded.
    pub access_key_id: Cow<'a, str>,
    /// `Expires` as sent: unix seconds after which the URL is refused.
    pub expires: &'a str,
    /// `Signature`, decoded (base64).
    pub signature: Cow<'a, str>,
}

/// Parses the `AWSAccessKeyId`, `Expires` and `Signature` parameters of a SigV2 presigned URL.
pub fn parse_presigned_v2(query: &str) -> Result<V2Presigned<'_>, AuthError> {
    let (mut access_key_id, mut expires, mut signature) = (None, None, None);
    for (name, value) in query_pairs(query) {
        let slot = match name {
            "AWSAccessKeyId" => &mut access_key_id,
            "Expires" => &mut expires,
            "Signature" => &mut signature,
            "x-amz-security-token" => return Err(AuthError::InvalidToken),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(AuthError::query_error(format!(
                "Query-string authentication requires exactly one {name} parameter."
            )));
        }
    }
    let (Some(access_key_id), Some(expires), Some(signature)) = (access_key_id, expires, signature)
    else {
        return Err(AuthError::query_error(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) || expires.len() > 12 {
        return Err(AuthError::query_error(
            "Invalid date (should be seconds since epoch)",
        ));
    }
    let access_key_id = query_decode(access_key_id);
    // A `+` of base64 that a client left unencoded would decode to a space.
    let signature = match query_decode(signature) {
        Cow::Owned(s) => Cow::Owned(s.replace(' ', "+")),
        borrowed => borrowed,
    };
    if access_key_id.is_empty() || signature.is_empty() {
        return Err(AuthError::query_error(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    }
    Ok(V2Presigned {
        access_key_id,
        expires,
        signature,
    })
}

/// Verifies a SigV2 presigned URL: not expired, and signed by `secret`. `virtual_host_bucket`
/// is the bucket the server's router took from the `Host` header for a virtual-hosted-style
/// request (`None` for path style): SigV2 puts it in its canonical resource.
pub fn verify_presigned_v2(
    auth: &V2Presigned<'_>,
    parts: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    secret: &SecretKey,
    now: i64,
) -> Result<(), AuthError> {
    let expires_at: i64 = auth
        .expires
        .parse()
        .map_err(|_| AuthError::query_error("Invalid date (should be seconds since epoch)"))?;
    if now > expires_at {
        return Err(AuthError::RequestExpired {
            expires_at,
            server_time: now,
        });
    }
    if parts.header("x-amz-security-token").is_some() {
        return Err(AuthError::InvalidToken);
    }
    check_signature(
        parts,
        virtual_host_bucket,
        secret,
        &auth.signature,
        &auth.access_key_id,
        |p| presigned_string_to_sign(p, virtual_host_bucket, auth.expires),
    )
}

/// Compares a SigV2 signature with the one `secret` makes of `string_to_sign(parts)`. A
/// path-style request that names only a bucket (`/bucket`) also matches the signature of
/// `/bucket/`, the same resource: botocore signs bucket requests (ListObjects, …) with the
/// trailing slash S3's canonical resource has for a bucket, but sends the path without it.
fn check_signature(
    parts: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    secret: &SecretKey,
    provided: &str,
    access_key_id: &str,
    string_to_sign: impl Fn(&RequestParts<'_>) -> String,
) -> Result<(), AuthError> {
    let matches = |sts: &str| {
        crate::key::constant_time_eq(signature(secret, sts).as_bytes(), provided.as_bytes())
    };
    let sts = string_to_sign(parts);
    if matches(&sts) {
        return Ok(());
    }
    let bucket_only = parts
        .path
        .strip_prefix('/')
        .is_some_and(|name| !name.is_empty() && !name.contains('/'));
    if virtual_host_bucket.is_none() && bucket_only {
        let path = format!("{}/", parts.path);
        let with_slash = RequestParts {
            path: &path,
            ..*parts
        };
        if matches(&string_to_sign(&with_slash)) {
            return Ok(());
        }
    }
    Err(AuthError::mismatch(
        sts,
        String::new(),
        provided,
        access_key_id,
    ))
}

/// Verifies a SigV2 header signature and the request time. `virtual_host_bucket` is the bucket
/// the server's router took from the `Host` header for a virtual-hosted-style request (`None`
/// for path style): SigV2 puts it in its canonical resource.
pub fn verify_v2(
    auth: &V2Authorization<'_>,
    parts: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
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
    check_signature(
        parts,
        virtual_host_bucket,
        secret,
        auth.signature,
        auth.access_key_id,
        |p| string_to_sign(p, virtual_host_bucket),
    )
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
        // "Object GET" and "Object PUT" of the RESTAuthentication page (virtual-host style:
        // the bucket is the one the router took from Host).
        let secret = SecretKey::new(SECRET);
        let bucket = Some("awsexamplebucket1");
        let h = [
            ("Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"),
            ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
        ];
        let p = parts("GET", "/photos/puppy.jpg", "", &h);
        let sts = string_to_sign(&p, bucket);
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        let now = parse_rfc1123("Tue, 27 Mar 2007 19:36:42 GMT").unwrap();
        let a = V2Authorization {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            signature: &signature(&secret, &sts),
        };
        verify_v2(&a, &p, bucket, &secret, now, &Policy::default()).unwrap();
        let e = verify_v2(&a, &p, None, &secret, now, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
        let h = [
            ("Content-Type", "image/jpeg"),
            ("Date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ("Host", "awsexamplebucket1.s3.us-west-1.amazonaws.com:9000"),
        ];
        let p = parts("PUT", "/photos/puppy.jpg", "", &h);
        let sts = string_to_sign(&p, bucket);
        assert_eq!(
            sts,
            "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        let a = V2Authorization {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            signature: &signature(&secret, &sts),
        };
        let now = parse_rfc1123("Tue, 27 Mar 2007 21:15:45 GMT").unwrap();
        verify_v2(&a, &p, bucket, &secret, now, &Policy::default()).unwrap();
    }

    #[test]
    fn the_bucket_is_the_routers_not_the_host_headers() {
        // Signed path-style for bucket `x`, key `y`, then replayed with a Host whose case the
        // router folds: it routes to bucket `b`, key `x/y`, so `b` is in the canonical
        // resource and the signature (of `/x/y`) no longer matches.
        let secret = SecretKey::new(SECRET);
        let h = [
            ("Host", "B.S3.EXAMPLE.com"),
            ("x-amz-date", "20060102T150405Z"),
        ];
        let p = parts("GET", "/x/y", "", &h);
        let now = parse_amz_date("20060102T150405Z").unwrap();
        let authz = format!("AWS AKID:{}", signature(&secret, &string_to_sign(&p, None)));
        let a = parse_authorization_v2(&authz).unwrap();
        verify_v2(&a, &p, None, &secret, now, &Policy::default()).unwrap();
        let e = verify_v2(&a, &p, Some("b"), &secret, now, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
        let sig = signature(&secret, &string_to_sign(&p, Some("b")));
        let a = V2Authorization {
            access_key_id: "AKID",
            signature: &sig,
        };
        verify_v2(&a, &p, Some("b"), &secret, now, &Policy::default()).unwrap();

        // The same for a presigned URL.
        let sts = presigned_string_to_sign(&p, None, "1136214300");
        let q = format!(
            "AWSAccessKeyId=AKID&Expires=1136214300&Signature={}",
            signature(&secret, &sts)
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        let a = parse_presigned_v2(&q).unwrap();
        let p = parts("GET", "/x/y", &q, &h);
        verify_presigned_v2(&a, &p, None, &secret, now).unwrap();
        let e = verify_presigned_v2(&a, &p, Some("b"), &secret, now).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
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
    fn sub_resources_are_picked_by_decoded_name() {
        let h = [("Date", "Tue, 27 Mar 2007 19:36:42 +0000")];
        let sts = |query: &str| string_to_sign(&parts("GET", "/b/k", query, &h), None);
        let plain = sts("response-content-type=x");
        assert_eq!(sts("response-content-typ%65=x"), plain);
        assert_eq!(sts("response-content-typ%65=x&foo=bar"), plain);
        assert_ne!(plain, sts(""));
        assert_eq!(
            sts("upload%49d=u&partNumber=1"),
            sts("uploadId=u&partNumber=1")
        );
        assert!(sts("%61cl").ends_with("/b/k?acl"), "{}", sts("%61cl"));
    }

    #[test]
    fn presigned_urls_made_by_botocore() {
        // Made with botocore's HmacV1QueryAuth (an independent implementation), Expires fixed.
        let secret = SecretKey::new(SECRET);
        let expires = 1_175_139_620;
        let q = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=1No4mq5ETf02z8aet9voy6gui6E%3D&Expires=1175139620";
        let h = [("Host", "127.0.0.1:9000")];
        let p = parts("GET", "/awsexamplebucket1/photos/puppy.jpg", q, &h);
        let a = parse_presigned_v2(q).unwrap();
        assert_eq!(a.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(a.signature, "1No4mq5ETf02z8aet9voy6gui6E=");
        verify_presigned_v2(&a, &p, None, &secret, expires - 60).unwrap();
        verify_presigned_v2(&a, &p, None, &secret, expires).unwrap();
        let e = verify_presigned_v2(&a, &p, None, &secret, expires + 1).unwrap_err();
        assert!(matches!(e, AuthError::RequestExpired { .. }), "{e:?}");
        let other = parts("GET", "/awsexamplebucket1/photos/kitten.jpg", q, &h);
        let e = verify_presigned_v2(&a, &other, None, &secret, expires).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");

        // botocore moves Content-Type and x-amz-* headers into the query of a presigned URL.
        let q = "response-content-type=text/plain&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=yYwOl0Xm29GbO%2FTus5MdLrjRJW8%3D&content-type=image%2Fjpeg&x-amz-meta-a=1&Expires=1175139620";
        let a = parse_presigned_v2(q).unwrap();
        let p = parts("PUT", "/bkt/a%20b/%C3%BC", q, &h);
        assert_eq!(
            presigned_string_to_sign(&p, None, a.expires),
            "PUT\n\nimage/jpeg\n1175139620\nx-amz-meta-a:1\n/bkt/a%20b/%C3%BC?response-content-type=text/plain"
        );
        verify_presigned_v2(&a, &p, None, &secret, expires).unwrap();
        // The same values sent as headers sign the same; other values do not.
        let h = [("Content-Type", "image/jpeg"), ("x-amz-meta-a", "1")];
        let p = parts("PUT", "/bkt/a%20b/%C3%BC", q, &h);
        verify_presigned_v2(&a, &p, None, &secret, expires).unwrap();
        let h = [("Content-Type", "text/html")];
        let p = parts("PUT", "/bkt/a%20b/%C3%BC", q, &h);
        assert!(verify_presigned_v2(&a, &p, None, &secret, expires).is_err());
    }

    #[test]
    fn bucket_requests_signed_with_a_trailing_slash() {
        // botocore: GET /bkt?encoding-type=url&prefix=a%2Fb, signed as /bkt/.
        let secret = SecretKey::new(SECRET);
        let q = "encoding-type=url&prefix=a%2Fb&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=qXLZ4tS7L2sr73cJnUBtCVsqgrw%3D&Expires=1175139620";
        let a = parse_presigned_v2(q).unwrap();
        let h = [("Host", "127.0.0.1:9000")];
        for path in ["/bkt", "/bkt/"] {
            let p = parts("GET", path, q, &h);
            verify_presigned_v2(&a, &p, None, &secret, 1_175_139_000).unwrap();
        }
        // Only a bucket's own path: a signature of the key `key/` is not one of `key`, nor, in
        // virtual-host style (where `/x` names the key `x`), one of `x/` for `x`.
        let presign = |path: &str, host: &str, bucket: Option<&str>| {
            let h = [("Host", host)];
            let p = parts("GET", path, "", &h);
            let sig = signature(&secret, &presigned_string_to_sign(&p, bucket, "1175139620"));
            let sig = sig
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D");
            format!("AWSAccessKeyId=AK&Expires=1175139620&Signature={sig}")
        };
        let check = |path: &str, host: &str, query: &str, bucket: Option<&str>| {
            let h = [("Host", host)];
            let a = parse_presigned_v2(query).unwrap();
            verify_presigned_v2(
                &a,
                &parts("GET", path, query, &h),
                bucket,
                &secret,
                1_175_139_000,
            )
        };
        let q = presign("/bkt/key/", "127.0.0.1", None);
        check("/bkt/key/", "127.0.0.1", &q, None).unwrap();
        assert!(check("/bkt/key", "127.0.0.1", &q, None).is_err());
        let host = "bkt.s3.example.com";
        let q = presign("/x/", host, Some("bkt"));
        check("/x/", host, &q, Some("bkt")).unwrap();
        assert!(check("/x", host, &q, Some("bkt")).is_err());
    }

    #[test]
    fn presigned_parameters() {
        let ok = "AWSAccessKeyId=AK&Expires=100&Signature=a%2Bb";
        assert_eq!(parse_presigned_v2(ok).unwrap().signature, "a+b");
        assert_eq!(
            parse_presigned_v2("AWSAccessKeyId=AK&Expires=100&Signature=a+b")
                .unwrap()
                .signature,
            "a+b"
        );
        for bad in [
            "AWSAccessKeyId=AK&Signature=x",
            "AWSAccessKeyId=AK&Expires=&Signature=x",
            "AWSAccessKeyId=AK&Expires=-5&Signature=x",
            "AWSAccessKeyId=AK&Expires=soon&Signature=x",
            "AWSAccessKeyId=AK&Expires=1&Expires=2&Signature=x",
            "AWSAccessKeyId=&Expires=1&Signature=x",
        ] {
            let e = parse_presigned_v2(bad).unwrap_err();
            assert_eq!(e.s3_code(), "AuthorizationQueryParametersError", "{bad}");
        }
        let e =
            parse_presigned_v2("AWSAccessKeyId=AK&Expires=1&Signature=x&x-amz-security-token=t")
                .unwrap_err();
        assert_eq!(e.s3_code(), "InvalidToken");
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
        verify_v2(&a, &p, None, &secret, now, &Policy::default()).unwrap();
        let e = verify_v2(&a, &p, None, &secret, now + 901, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "RequestTimeTooSkewed");
        let p2 = parts("GET", "/bucket/kez", "", &h);
        let e = verify_v2(&a, &p2, None, &secret, now, &Policy::default()).unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
        let e = verify_v2(
            &a,
            &p,
            None,
            &SecretKey::new("other"),
            now,
            &Policy::default(),
        )
        .unwrap_err();
        assert_eq!(e.s3_code(), "SignatureDoesNotMatch");
        assert!(parse_authorization_v2("AWS nocolon").is_err());
        assert!(parse_authorization_v2("AWS :sig").is_err());
    }
}
