//! Parsing SigV4 query-string authentication, the `X-Amz-*` parameters of a presigned URL
//! ("Authenticating Requests: Using Query Parameters":
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>).

use std::borrow::Cow;

use crate::canonical::{query_decode, query_pairs, ALGORITHM};
use crate::header::{valid_signed_headers, Credential, SIGNED_HEADERS_RULE};
use crate::AuthError;

/// The longest validity S3 allows a presigned URL: 7 days.
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 604_800;

/// The raw (still percent-encoded) values of the `X-Amz-*` parameters of a presigned URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4PresignedRaw<'a> {
    /// `X-Amz-Credential`, encoded.
    pub credential: &'a str,
    /// `X-Amz-Date`.
    pub date: &'a str,
    /// `X-Amz-Expires`.
    pub expires: &'a str,
    /// `X-Amz-SignedHeaders`, encoded.
    pub signed_headers: &'a str,
    /// `X-Amz-Signature`.
    pub signature: &'a str,
}

/// A parsed presigned URL. Values that the client may percent-encode (`X-Amz-Credential` always
/// has its `/` encoded) are decoded, borrowing when nothing needed decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Presigned<'a> {
    credential_text: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    /// `X-Amz-Date` as sent, `YYYYMMDDTHHMMSSZ`.
    pub date: &'a str,
    /// `X-Amz-Expires`, 1..=604800 seconds.
    pub expires_secs: i64,
    /// `X-Amz-Signature` as sent.
    pub signature: &'a str,
}

impl V4Presigned<'_> {
    /// The credential scope.
    pub fn credential(&self) -> Credential<'_> {
        Credential::parse(&self.credential_text).expect("validated when parsed")
    }

    /// `X-Amz-SignedHeaders`, decoded.
    pub fn signed_headers(&self) -> &str {
        &self.signed_headers
    }
}

/// Whether the query carries SigV4 query authentication (any `X-Amz-Algorithm`,
/// `X-Amz-Credential` or `X-Amz-Signature` parameter).
pub fn has_v4_query_auth(query: &str) -> bool {
    query_pairs(query).any(|(n, _)| {
        matches!(
            n,
            "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature"
        )
    })
}

/// Whether the query carries SigV2 query authentication (`AWSAccessKeyId` and `Signature`).
pub fn has_v2_query_auth(query: &str) -> bool {
    query_pairs(query).any(|(n, _)| n == "AWSAccessKeyId")
        && query_pairs(query).any(|(n, _)| n == "Signature")
}

/// Parses the `X-Amz-*` parameters of a presigned URL. `X-Amz-Security-Token` is rejected with
/// `InvalidToken`: Cairn issues no temporary credentials, so no token can be valid, and
/// ignoring one would accept a request under rules its signer did not intend.
pub fn parse_presigned(query: &str) -> Result<V4Presigned<'_>, AuthError> {
    let (mut algorithm, mut credential, mut date, mut expires, mut signed_headers, mut signature) =
        (None, None, None, None, None, None);
    for (name, value) in query_pairs(query) {
        let slot = match name {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Signature" => &mut signature,
            "X-Amz-Security-Token" => return Err(AuthError::InvalidToken),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(AuthError::query_error(format!(
                "Query-string authentication requires exactly one {name} parameter."
            )));
        }
    }
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
    )
    else {
        return Err(AuthError::query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ));
    };
    if query_decode(algorithm) != ALGORITHM {
        return Err(AuthError::query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let credential_text = query_decode(credential);
    if let Err(why) = Credential::parse(&credential_text) {
        return Err(AuthError::query_error(format!(
            "Error parsing the X-Amz-Credential parameter; {why}"
        )));
    }
    let signed_headers = query_decode(signed_headers);
    if !valid_signed_headers(&signed_headers) {
        return Err(AuthError::query_error(format!(
            "Error parsing the X-Amz-SignedHeaders parameter; {SIGNED_HEADERS_RULE}"
        )));
    }
    let expires_secs = if !expires.is_empty()
        && expires.len() <= 10
        && expires.bytes().all(|b| b.is_ascii_digit())
    {
        expires.parse::<i64>().unwrap_or(i64::MAX)
    } else {
        return Err(AuthError::query_error("X-Amz-Expires should be a number"));
    };
    if expires_secs < 1 {
        return Err(AuthError::query_error("X-Amz-Expires must be non-negative"));
    }
    if expires_secs > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(AuthError::query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    Ok(V4Presigned {
        credential_text,
        signed_headers,
        date,
        expires_secs,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    #[test]
    fn parses_the_aws_example() {
        let p = parse_presigned(Q).unwrap();
        assert_eq!(p.credential().access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(p.credential().region, "us-east-1");
        assert_eq!(p.date, "20130524T000000Z");
        assert_eq!(p.expires_secs, 86400);
        assert_eq!(p.signed_headers(), "host");
        assert!(has_v4_query_auth(Q));
        assert!(!has_v4_query_auth("prefix=a&list-type=2"));
        assert!(has_v2_query_auth("AWSAccessKeyId=a&Expires=1&Signature=x"));
    }

    #[test]
    fn rejects_bad_parameters() {
        let with = |from: &str, to: &str| Q.replace(from, to);
        let cases = [
            with("X-Amz-Expires=86400", "X-Amz-Expires=604801"),
            with("X-Amz-Expires=86400", "X-Amz-Expires=0"),
            with("X-Amz-Expires=86400", "X-Amz-Expires=-1"),
            with("X-Amz-Expires=86400", "X-Amz-Expires=99999999999999"),
            with("X-Amz-Expires=86400&", ""),
            with("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            with("%2Faws4_request", "%2Faws5_request"),
            with("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders="),
            format!("{Q}&X-Amz-Date=20130524T000000Z"),
        ];
        for c in &cases {
            let e = parse_presigned(c).unwrap_err();
            assert_eq!(e.s3_code(), "AuthorizationQueryParametersError", "{c}");
        }
        for list in [
            "host%3Bhost",
            "x-amz-date%3Bhost",
            "Host",
            "host%3Bx-amz-date%3Ba%3Ba",
        ] {
            let e = parse_presigned(&with(
                "X-Amz-SignedHeaders=host",
                &format!("X-Amz-SignedHeaders={list}"),
            ))
            .unwrap_err();
            assert_eq!(e.s3_code(), "AuthorizationQueryParametersError", "{list}");
            assert_eq!(
                e.to_string(),
                format!("Error parsing the X-Amz-SignedHeaders parameter; {SIGNED_HEADERS_RULE}")
            );
        }
        let e = parse_presigned(&format!("{Q}&X-Amz-Security-Token=abc")).unwrap_err();
        assert_eq!(e.s3_code(), "InvalidToken");
    }
}
