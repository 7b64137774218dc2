//! The two phases around the secret lookup: [`parse_auth`] (which scheme, which key) and
//! [`verify`] (time, scope, signed headers, signature, payload mode), with S3's rules from
//! "Authenticating Requests (AWS Signature Version 4)":
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html>.

use crate::canonical;
use crate::checksum::{checksum_request, ChecksumRequest};
use crate::chunked::ChunkSigningContext;
use crate::header::{parse_authorization_v4, Credential, V4Authorization};
use crate::key::{SecretKey, SigningKeyCache};
use crate::payload::{PayloadHash, PayloadVerifier, SeedContext};
use crate::presigned::{has_v2_query_auth, has_v4_query_auth, parse_presigned, V4Presigned};
use crate::sigv2::{self, V2Authorization, V2Presigned};
use crate::time::{format_amz_date, format_scope_date, parse_amz_date, parse_rfc1123};
use crate::{AuthError, Policy, RequestParts};

/// How a request authenticates, borrowed from its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRequest<'a> {
    /// No `Authorization` header and no query authentication.
    Anonymous,
    /// `Authorization: AWS4-HMAC-SHA256 …`.
    V4Header(V4Authorization<'a>),
    /// `?X-Amz-Algorithm=AWS4-HMAC-SHA256&…`.
    V4Presigned(V4Presigned<'a>),
    /// `Authorization: AWS AKID:signature`.
    V2Header(V2Authorization<'a>),
    /// `?AWSAccessKeyId=…&Expires=…&Signature=…`.
    V2Presigned(V2Presigned<'a>),
}

impl AuthRequest<'_> {
    /// The access key to look the secret up by (`None` when anonymous).
    pub fn access_key_id(&self) -> Option<&str> {
        match self {
            AuthRequest::Anonymous => None,
            AuthRequest::V4Header(a) => Some(a.credential.access_key_id),
            AuthRequest::V4Presigned(p) => Some(p.credential().access_key_id),
            AuthRequest::V2Header(a) => Some(a.access_key_id),
            AuthRequest::V2Presigned(p) => Some(&p.access_key_id),
        }
    }
}

/// Which scheme authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// SigV4 in the `Authorization` header.
    V4Header,
    /// SigV4 presigned URL.
    V4Presigned,
    /// SigV2 in the `Authorization` header.
    V2Header,
    /// SigV2 presigned URL.
    V2Presigned,
}

/// A request whose head authenticated.
#[derive(Debug)]
pub struct Verified<'a> {
    /// The key that signed it.
    pub access_key_id: &'a str,
    /// The scheme.
    pub scheme: AuthScheme,
    /// What the body must still prove.
    pub payload: PayloadVerifier,
}

/// Phase 1: which scheme, which key. Fails on malformed or conflicting authentication.
pub fn parse_auth<'a>(parts: &RequestParts<'a>) -> Result<AuthRequest<'a>, AuthError> {
    let query_auth = has_v4_query_auth(parts.query) || has_v2_query_auth(parts.query);
    match (parts.header("authorization"), query_auth) {
        (Some(_), true) => Err(AuthError::MultipleAuthMechanisms),
        (Some(value), false) => {
            if value.starts_with("AWS4-HMAC-SHA256") {
                Ok(AuthRequest::V4Header(parse_authorization_v4(value)?))
            } else if value.starts_with("AWS ") {
                Ok(AuthRequest::V2Header(sigv2::parse_authorization_v2(value)?))
            } else {
                Err(AuthError::UnsupportedAuthorizationType)
            }
        }
        (None, true) if has_v4_query_auth(parts.query) => {
            Ok(AuthRequest::V4Presigned(parse_presigned(parts.query)?))
        }
        (None, true) => Ok(AuthRequest::V2Presigned(sigv2::parse_presigned_v2(
            parts.query,
        )?)),
        (None, false) => Ok(AuthRequest::Anonymous),
    }
}

/// Phase 3: checks everything the head can prove, with the secret the daemon looked up, and
/// returns how to verify the body. `now_unix_secs` is the server's clock.
///
/// `virtual_host_bucket` is the bucket the server's router took from the `Host` header for a
/// virtual-hosted-style request (`None` for path style); SigV2 puts it in its canonical
/// resource; ignored by SigV4. It must be the router's own answer, never one derived here
/// again from `Host`: a signature must cover the bucket the request is routed to.
pub fn verify<'a>(
    auth: &'a AuthRequest<'_>,
    parts: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    secret: &SecretKey,
    now_unix_secs: i64,
    policy: &Policy,
    cache: &mut SigningKeyCache,
) -> Result<Verified<'a>, AuthError> {
    match auth {
        AuthRequest::Anonymous => Err(AuthError::AnonymousAccessDenied),
        AuthRequest::V4Header(a) => {
            let payload = verify_v4_header(a, parts, secret, now_unix_secs, policy, cache)?;
            Ok(Verified {
                access_key_id: a.credential.access_key_id,
                scheme: AuthScheme::V4Header,
                payload,
            })
        }
        AuthRequest::V4Presigned(p) => {
            let payload = verify_v4_presigned(p, parts, secret, now_unix_secs, policy, cache)?;
            Ok(Verified {
                access_key_id: p.credential().access_key_id,
                scheme: AuthScheme::V4Presigned,
                payload,
            })
        }
        AuthRequest::V2Header(a) => {
            sigv2::verify_v2(a, parts, virtual_host_bucket, secret, now_unix_secs, policy)?;
            let payload = unsigned_payload(parts)?;
            Ok(Verified {
                access_key_id: a.access_key_id,
                scheme: AuthScheme::V2Header,
                payload,
            })
        }
        AuthRequest::V2Presigned(p) => {
            sigv2::verify_presigned_v2(p, parts, virtual_host_bucket, secret, now_unix_secs)?;
            let payload = unsigned_payload(parts)?;
            Ok(Verified {
                access_key_id: &p.access_key_id,
                scheme: AuthScheme::V2Presigned,
                payload,
            })
        }
    }
}

/// The body rules of a request without signature (anonymous access, when the daemon allows
/// it): a declared SHA-256 and the unsigned aws-chunked mode still verify; signed chunks
/// cannot.
pub fn anonymous_payload(parts: &RequestParts<'_>) -> Result<PayloadVerifier, AuthError> {
    let hash = match parts.header("x-amz-content-sha256") {
        Some(v) => PayloadHash::parse(v.trim())?,
        None => PayloadHash::Unsigned,
    };
    PayloadVerifier::new(parts, hash, checksum_request(parts)?, None)
}

fn unsigned_payload(parts: &RequestParts<'_>) -> Result<PayloadVerifier, AuthError> {
    PayloadVerifier::new(parts, PayloadHash::Unsigned, checksum_request(parts)?, None)
}

fn check_scope(
    credential: &Credential<'_>,
    policy: &Policy,
    presigned: bool,
) -> Result<(), AuthError> {
    if credential.service != "s3" {
        let why = format!(
            "Credential should be scoped to correct service: 's3'. (not '{}')",
            credential.service
        );
        return Err(if presigned {
            AuthError::query_error(format!(
                "Error parsing the X-Amz-Credential parameter; {why}"
            ))
        } else {
            AuthError::header_malformed(why)
        });
    }
    if !policy.regions.iter().any(|r| r == credential.region) {
        return Err(AuthError::WrongRegion {
            region: credential.region.to_owned(),
            expected: policy.regions.first().cloned().unwrap_or_default(),
            presigned,
        });
    }
    Ok(())
}

/// `host` and every `x-amz-*` header sent must be signed. Presigned URLs may carry the two
/// headers AWS's own signer leaves out of presigned signatures.
fn check_signed_headers(
    parts: &RequestParts<'_>,
    signed: &str,
    presigned: bool,
    also_required: Option<&str>,
) -> Result<(), AuthError> {
    let is_signed = |name: &str| signed.split(';').any(|s| s.eq_ignore_ascii_case(name));
    let mut missing = String::new();
    for required in ["host"].into_iter().chain(also_required) {
        if !is_signed(required) {
            missing.push_str(required);
        }
    }
    for (name, _) in parts.headers {
        let amz = name.len() > 6 && name[..6].eq_ignore_ascii_case("x-amz-");
        let exempt = presigned
            && (name.eq_ignore_ascii_case("x-amz-user-agent")
                || name.eq_ignore_ascii_case("x-amz-checksum-mode"));
        if amz && !exempt && !is_signed(name) {
            if !missing.is_empty() {
                missing.push(',');
            }
            missing.push_str(&name.to_ascii_lowercase());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AuthError::HeadersNotSigned { headers: missing })
    }
}

fn verify_v4_header(
    auth: &V4Authorization<'_>,
    parts: &RequestParts<'_>,
    secret: &SecretKey,
    now: i64,
    policy: &Policy,
    cache: &mut SigningKeyCache,
) -> Result<PayloadVerifier, AuthError> {
    let credential = &auth.credential;
    check_scope(credential, policy, false)?;
    let (request_time, amz_date, date_header) = match parts.header("x-amz-date") {
        Some(v) => (
            parse_amz_date(v.trim()).ok_or(AuthError::MissingDate)?,
            v.trim().to_owned(),
            None,
        ),
        None => {
            let t = parts
                .header("date")
                .and_then(parse_rfc1123)
                .ok_or(AuthError::MissingDate)?;
            (t, format_amz_date(t), Some("date"))
        }
    };
    if format_scope_date(request_time) != credential.date {
        return Err(AuthError::header_malformed(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    if (now - request_time).abs() > policy.max_skew_secs {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time,
            server_time: now,
            max_skew_secs: policy.max_skew_secs,
        });
    }
    if parts.header("x-amz-security-token").is_some() {
        return Err(AuthError::InvalidToken);
    }
    check_signed_headers(parts, auth.signed_headers, false, date_header)?;
    let content_sha256 = parts
        .header("x-amz-content-sha256")
        .ok_or(AuthError::MissingContentSha256)?
        .trim();
    let hash = PayloadHash::parse(content_sha256)?;
    let checksums = checksum_request(parts)?;

    let canonical_request =
        canonical::canonical_request(parts, auth.signed_headers, content_sha256, false)?;
    let signed = SignedV4 {
        credential,
        amz_date,
        canonical_request,
        signature: auth.signature,
    };
    finish_v4(parts, signed, hash, checksums, secret, cache)
}

fn verify_v4_presigned(
    p: &V4Presigned<'_>,
    parts: &RequestParts<'_>,
    secret: &SecretKey,
    now: i64,
    policy: &Policy,
    cache: &mut SigningKeyCache,
) -> Result<PayloadVerifier, AuthError> {
    let credential = p.credential();
    check_scope(&credential, policy, true)?;
    let request_time = parse_amz_date(p.date).ok_or_else(|| {
        AuthError::query_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    })?;
    if format_scope_date(request_time) != credential.date {
        return Err(AuthError::query_error(
            "Error parsing the X-Amz-Credential parameter; Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    if request_time - now > policy.max_skew_secs {
        return Err(AuthError::RequestNotYetValid {
            request_time,
            server_time: now,
        });
    }
    if now > request_time + p.expires_secs {
        return Err(AuthError::RequestExpired {
            expires_at: request_time + p.expires_secs,
            server_time: now,
        });
    }
    if parts.header("x-amz-security-token").is_some() {
        return Err(AuthError::InvalidToken);
    }
    check_signed_headers(parts, p.signed_headers(), true, None)?;
    let content_sha256 = parts
        .header("x-amz-content-sha256")
        .map(str::trim)
        .unwrap_or(crate::payload::UNSIGNED_PAYLOAD);
    let hash = PayloadHash::parse(content_sha256)?;
    let checksums = checksum_request(parts)?;

    let canonical_request =
        canonical::canonical_request(parts, p.signed_headers(), content_sha256, true)?;
    let signed = SignedV4 {
        credential: &credential,
        amz_date: p.date.to_owned(),
        canonical_request,
        signature: p.signature,
    };
    finish_v4(parts, signed, hash, checksums, secret, cache)
}

/// What header and presigned SigV4 have in common once their own checks passed.
struct SignedV4<'r> {
    credential: &'r Credential<'r>,
    amz_date: String,
    canonical_request: String,
    signature: &'r str,
}

/// Signs the string to sign with the cached signing key, compares the result with the
/// request's signature in constant time, and returns the payload verifier (seeded with the
/// signature for aws-chunked bodies).
fn finish_v4(
    parts: &RequestParts<'_>,
    signed: SignedV4<'_>,
    hash: PayloadHash,
    checksums: ChecksumRequest,
    secret: &SecretKey,
    cache: &mut SigningKeyCache,
) -> Result<PayloadVerifier, AuthError> {
    let credential = signed.credential;
    let scope = credential.scope();
    let string_to_sign =
        canonical::string_to_sign(&signed.amz_date, &scope, &signed.canonical_request);
    let key = cache.get(
        credential.access_key_id,
        secret,
        credential.date,
        credential.region,
    );
    let computed = key.sign(string_to_sign.as_bytes());
    if !computed.matches_hex(signed.signature.as_bytes()) {
        return Err(AuthError::mismatch(
            string_to_sign,
            signed.canonical_request,
            signed.signature,
            credential.access_key_id,
        ));
    }
    let seed = hash.is_streaming().then(|| SeedContext {
        ctx: ChunkSigningContext {
            key,
            amz_date: signed.amz_date,
            scope,
        },
        seed: computed,
        access_key_id: credential.access_key_id.to_owned(),
    });
    PayloadVerifier::new(parts, hash, checksums, seed)
}
