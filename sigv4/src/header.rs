//! Parsing the SigV4 `Authorization` header and its credential scope into borrowed parts
//! ("Authenticating Requests: Using the Authorization Header":
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html>).

use crate::canonical::ALGORITHM;
use crate::AuthError;

/// The credential scope `AKID/YYYYMMDD/region/service/aws4_request`, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The scope date, `YYYYMMDD`.
    pub date: &'a str,
    /// The region signed for.
    pub region: &'a str,
    /// The service signed for (`s3` is the only one accepted).
    pub service: &'a str,
}

impl<'a> Credential<'a> {
    /// Parses `AKID/date/region/service/aws4_request`; the error is AWS's explanation.
    pub fn parse(s: &'a str) -> Result<Credential<'a>, String> {
        let mut it = s.rsplitn(5, '/');
        let (terminator, service, region, date, access_key_id) =
            match (it.next(), it.next(), it.next(), it.next(), it.next()) {
                (Some(t), Some(s), Some(r), Some(d), Some(k)) => (t, s, r, d, k),
                _ => {
                    return Err(
                        "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
                            .into(),
                    )
                }
            };
        if terminator != "aws4_request" {
            return Err(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
            ));
        }
        if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
            return Err(
                "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
                    .into(),
            );
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "Invalid credential date \"{date}\". This date is not the same as X-Amz-Date: \"YYYYMMDD\"."
            ));
        }
        Ok(Credential {
            access_key_id,
            date,
            region,
            service,
        })
    }

    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        crate::canonical::scope(self.date, self.region, self.service)
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4Authorization<'a> {
    /// The credential scope.
    pub credential: Credential<'a>,
    /// `;`-separated lower-case header names, as sent.
    pub signed_headers: &'a str,
    /// The signature as sent (64 lower-case hex digits when well-formed).
    pub signature: &'a str,
}

/// What [`valid_signed_headers`] requires, in the words of the error that refuses a list.
pub const SIGNED_HEADERS_RULE: &str =
    "SignedHeaders must be a ';'-separated list of lower-case header names, sorted and without repeats.";

/// Checks a `SignedHeaders` list as AWS requires it: non-empty, `;`-separated names, each a
/// non-empty run of lower-case token characters, in strictly increasing byte order (so sorted
/// and unique). A repeated name would make the canonical request write that header's values
/// once per repeat: a 32 KiB head could build a canonical request of ~128 MiB.
pub fn valid_signed_headers(list: &str) -> bool {
    let mut previous: Option<&str> = None;
    !list.is_empty()
        && list.split(';').all(|name| {
            let valid = !name.is_empty()
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
                })
                && previous.is_none_or(|p| p < name);
            previous = Some(name);
            valid
        })
}

/// Parses a SigV4 `Authorization` value. Tolerates what real SDKs send: one or more spaces
/// after the algorithm, `,` with or without spaces, components in any order.
pub fn parse_authorization_v4(value: &str) -> Result<V4Authorization<'_>, AuthError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with([' ', '\t']))
        .ok_or(AuthError::UnsupportedAuthorizationType)?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim_matches([' ', '\t']);
        let (name, value) = component.split_once('=').ok_or_else(|| {
            AuthError::header_malformed(format!(
                "the authorization component \"{component}\" is malformed."
            ))
        })?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(AuthError::header_malformed(format!(
                    "the authorization component \"{component}\" is malformed."
                )))
            }
        };
        if slot.replace(value).is_some() {
            return Err(AuthError::header_malformed(format!(
                "the authorization component \"{name}\" appears more than once."
            )));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(AuthError::header_malformed(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature.",
        ));
    };
    let credential = Credential::parse(credential).map_err(AuthError::header_malformed)?;
    if !valid_signed_headers(signed_headers) {
        return Err(AuthError::header_malformed(SIGNED_HEADERS_RULE));
    }
    Ok(V4Authorization {
        credential,
        signed_headers,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_headers_are_lower_case_sorted_and_unique() {
        for ok in [
            "host",
            "host;range;x-amz-date",
            "content-md5;host;x-amz-content-sha256;x-amz-date",
            "a;a-b;a0;ab",
        ] {
            assert!(valid_signed_headers(ok), "{ok}");
        }
        for bad in [
            "",
            ";",
            "host;;x-amz-date",
            "host;host",
            "host;x-amz-date;a;a",
            "host;x-amz-date;x-amz-date",
            "x-amz-date;host",
            "Host",
            "host;X-AMZ-DATE",
            "host;x-amz-date;",
            "ho st",
            "host;x:y",
        ] {
            assert!(!valid_signed_headers(bad), "{bad}");
        }
    }

    const SIG: &str = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";

    #[test]
    fn parses_spacing_variants() {
        let variants = [
            format!("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-date,Signature={SIG}"),
            format!("AWS4-HMAC-SHA256   Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request ,  SignedHeaders=host;range;x-amz-date ,Signature={SIG} "),
            format!("AWS4-HMAC-SHA256 Signature={SIG}, SignedHeaders=host;range;x-amz-date, Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"),
        ];
        for v in &variants {
            let a = parse_authorization_v4(v).unwrap();
            assert_eq!(a.credential.access_key_id, "AKIAIOSFODNN7EXAMPLE");
            assert_eq!(a.credential.date, "20130524");
            assert_eq!(a.credential.region, "us-east-1");
            assert_eq!(a.credential.service, "s3");
            assert_eq!(a.signed_headers, "host;range;x-amz-date");
            assert_eq!(a.signature, SIG);
            assert_eq!(a.credential.scope(), "20130524/us-east-1/s3/aws4_request");
        }
    }

    #[test]
    fn rejects_malformed() {
        let cred = "AKID/20130524/us-east-1/s3/aws4_request";
        let cases = [
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host"),
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=x, Signature=y"),
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;;x, Signature=x"),
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=, Signature=x"),
            format!("AWS4-HMAC-SHA256 Credential={cred}, Foo=bar, SignedHeaders=host, Signature=x"),
            "AWS4-HMAC-SHA256 Credential=AKID/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x".into(),
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=x".into(),
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/s3/aws4_request, SignedHeaders=host, Signature=x".into(),
            "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x".into(),
            "AWS4-HMAC-SHA256 garbage".into(),
        ];
        for c in &cases {
            let e = parse_authorization_v4(c).unwrap_err();
            assert_eq!(e.s3_code(), "AuthorizationHeaderMalformed", "{c}");
        }
        for list in [
            "host;x-amz-date;a;a",
            "a;host;host;x-amz-date",
            "Host;x-amz-date",
            "host;X-Amz-Date",
            "x-amz-date;host",
            "host;range;range",
            "host;",
            ";host",
            "host;x amz",
        ] {
            let v = format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={list}, Signature={SIG}"
            );
            let e = parse_authorization_v4(&v).unwrap_err();
            assert_eq!(e.s3_code(), "AuthorizationHeaderMalformed", "{list}");
            assert_eq!(
                e.to_string(),
                format!("The authorization header is malformed; {SIGNED_HEADERS_RULE}")
            );
        }
        for c in [
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256Credential=x",
            "Bearer x",
            "",
        ] {
            let e = parse_authorization_v4(c).unwrap_err();
            assert!(matches!(e, AuthError::UnsupportedAuthorizationType), "{c}");
        }
    }
}
