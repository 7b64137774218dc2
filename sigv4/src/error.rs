//! The one error type of this crate, with the S3 error code and HTTP status each variant answers
//! with (S3 API reference, "Error responses": <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).

use crate::checksum::ChecksumAlgorithm;

/// The most of a `StringToSign` or `CanonicalRequest` an error body echoes (their hex
/// `*Bytes` forms are made from that much only, 3 bytes each). A real client's canonical
/// request is a few hundred bytes to a few KiB, so it is echoed whole and its author can
/// compare it with their own; a hostile head cannot make the error body larger than about
/// 64 KiB of these fields.
pub const MAX_ECHOED_BYTES: usize = 8 * 1024;

/// The longest prefix of `s` that is at most [`MAX_ECHOED_BYTES`] and ends at a char boundary.
fn echoed(s: &str) -> &str {
    if s.len() <= MAX_ECHOED_BYTES {
        return s;
    }
    let mut end = MAX_ECHOED_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The S3 error codes this crate answers with (`<Code>` of the XML error body), each with the
/// HTTP status S3 sends it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthErrorCode {
    /// `AccessDenied`, 403.
    AccessDenied,
    /// `AuthorizationHeaderMalformed`, 400.
    AuthorizationHeaderMalformed,
    /// `AuthorizationQueryParametersError`, 400.
    AuthorizationQueryParametersError,
    /// `BadDigest`, 400.
    BadDigest,
    /// `IncompleteBody`, 400.
    IncompleteBody,
    /// `InvalidAccessKeyId`, 403.
    InvalidAccessKeyId,
    /// `InvalidArgument`, 400.
    InvalidArgument,
    /// `InvalidRequest`, 400.
    InvalidRequest,
    /// `InvalidToken`, 400.
    InvalidToken,
    /// `MalformedTrailerError`, 400.
    MalformedTrailerError,
    /// `RequestHeaderSectionTooLarge`, 400.
    RequestHeaderSectionTooLarge,
    /// `RequestTimeTooSkewed`, 403.
    RequestTimeTooSkewed,
    /// `SignatureDoesNotMatch`, 403.
    SignatureDoesNotMatch,
    /// `XAmzContentSHA256Mismatch`, 400.
    XAmzContentSHA256Mismatch,
}

impl AuthErrorCode {
    /// Every code, in the order declared.
    pub const ALL: [AuthErrorCode; 14] = [
        AuthErrorCode::AccessDenied,
        AuthErrorCode::AuthorizationHeaderMalformed,
        AuthErrorCode::AuthorizationQueryParametersError,
        AuthErrorCode::BadDigest,
        AuthErrorCode::IncompleteBody,
        AuthErrorCode::InvalidAccessKeyId,
        AuthErrorCode::InvalidArgument,
        AuthErrorCode::InvalidRequest,
        AuthErrorCode::InvalidToken,
        AuthErrorCode::MalformedTrailerError,
        AuthErrorCode::RequestHeaderSectionTooLarge,
        AuthErrorCode::RequestTimeTooSkewed,
        AuthErrorCode::SignatureDoesNotMatch,
        AuthErrorCode::XAmzContentSHA256Mismatch,
    ];

    /// The code as S3 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthErrorCode::AccessDenied => "AccessDenied",
            AuthErrorCode::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            AuthErrorCode::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            AuthErrorCode::BadDigest => "BadDigest",
            AuthErrorCode::IncompleteBody => "IncompleteBody",
            AuthErrorCode::InvalidAccessKeyId => "InvalidAccessKeyId",
            AuthErrorCode::InvalidArgument => "InvalidArgument",
            AuthErrorCode::InvalidRequest => "InvalidRequest",
            AuthErrorCode::InvalidToken => "InvalidToken",
            AuthErrorCode::MalformedTrailerError => "MalformedTrailerError",
            AuthErrorCode::RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            AuthErrorCode::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            AuthErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            AuthErrorCode::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status S3 answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            AuthErrorCode::AccessDenied
            | AuthErrorCode::InvalidAccessKeyId
            | AuthErrorCode::RequestTimeTooSkewed
            | AuthErrorCode::SignatureDoesNotMatch => 403,
            AuthErrorCode::AuthorizationHeaderMalformed
            | AuthErrorCode::AuthorizationQueryParametersError
            | AuthErrorCode::BadDigest
            | AuthErrorCode::IncompleteBody
            | AuthErrorCode::InvalidArgument
            | AuthErrorCode::InvalidRequest
            | AuthErrorCode::InvalidToken
            | AuthErrorCode::MalformedTrailerError
            | AuthErrorCode::RequestHeaderSectionTooLarge
            | AuthErrorCode::XAmzContentSHA256Mismatch => 400,
        }
    }
}

/// Why a request (or its body) failed authentication or integrity checks.
///
/// Every variant maps to one S3 error code ([`AuthError::code`]) and, through it, one HTTP
/// status; the fields are what the XML error body needs. Large payloads are boxed so that
/// `Result<_, AuthError>` stays small on the per-chunk hot path. The enum is closed: callers
/// match it exhaustively, so a new variant is a compile error where it must be handled.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The `Authorization` header is not of the form AWS defines.
    #[error("The authorization header is malformed; {message}")]
    AuthorizationHeaderMalformed {
        /// What is wrong.
        message: String,
    },
    /// The credential scope names a region this server does not serve.
    #[error("{} the region '{region}' is wrong; expecting '{expected}'", if *.presigned { "Error parsing the X-Amz-Credential parameter;" } else { "The authorization header is malformed;" })]
    WrongRegion {
        /// The region the client signed for.
        region: String,
        /// The region this server expects (the first configured one).
        expected: String,
        /// Whether the credential came from a presigned URL (changes the S3 code).
        presigned: bool,
    },
    /// The `X-Amz-*` query parameters of a presigned URL are malformed.
    #[error("{message}")]
    AuthorizationQueryParametersError {
        /// What is wrong.
        message: String,
    },
    /// The access key id is not known (the daemon raises this after its key lookup).
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId {
        /// The key id the client sent.
        access_key_id: String,
    },
    /// The signature the client sent is not the one the server computed.
    #[error("The request signature we calculated does not match the signature you provided. Check your key and signing method.")]
    SignatureDoesNotMatch(Box<SignatureMismatch>),
    /// The request time is more than the allowed skew away from the server's clock.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed {
        /// The request's time (unix seconds).
        request_time: i64,
        /// The server's time (unix seconds).
        server_time: i64,
        /// The allowed skew in seconds.
        max_skew_secs: i64,
    },
    /// `verify` called for an anonymous request (the daemon answers `AccessDenied`).
    #[error("Access Denied")]
    AnonymousAccessDenied,
    /// A presigned URL past its expiry.
    #[error("Request has expired")]
    RequestExpired {
        /// When the URL expired (unix seconds).
        expires_at: i64,
        /// The server's time (unix seconds).
        server_time: i64,
    },
    /// A presigned URL dated further in the future than the allowed skew.
    #[error("Request is not valid yet")]
    RequestNotYetValid {
        /// The URL's `X-Amz-Date` (unix seconds).
        request_time: i64,
        /// The server's time (unix seconds).
        server_time: i64,
    },
    /// Neither a valid `x-amz-date` nor a valid `Date` header.
    #[error("AWS authentication requires a valid Date or x-amz-date header")]
    MissingDate,
    /// `host` or an `x-amz-*` header was sent but not signed.
    #[error("There were headers present in the request which were not signed")]
    HeadersNotSigned {
        /// The unsigned header names, `,`-separated (the XML `HeadersNotSigned` element).
        headers: String,
    },
    /// Header auth without `x-amz-content-sha256`.
    #[error("Missing required header for this request: x-amz-content-sha256")]
    MissingContentSha256,
    /// An `x-amz-content-sha256` value that is neither a hash nor a known mode.
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")]
    InvalidContentSha256,
    /// The body's SHA-256 is not the one announced in `x-amz-content-sha256`.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch {
        /// What the client announced (hex).
        client_computed: String,
        /// What the server computed (hex).
        s3_computed: String,
    },
    /// Both an `Authorization` header and query-string authentication.
    #[error("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")]
    MultipleAuthMechanisms,
    /// An `Authorization` scheme this server does not implement (e.g. SigV4a).
    #[error("Unsupported Authorization Type")]
    UnsupportedAuthorizationType,
    /// A security token (temporary credentials): Cairn issues none, so none is valid.
    #[error("The provided token is malformed or otherwise invalid.")]
    InvalidToken,
    /// A request-level rule of S3 broken (`InvalidRequest`), with AWS's message.
    #[error("{message}")]
    InvalidRequest {
        /// AWS's wording of the rule.
        message: String,
    },
    /// The `x-amz-checksum-*` value (header or trailer) is not valid base64 of the right size.
    #[error("Value for {} header is invalid.", .algorithm.header_name())]
    InvalidChecksum {
        /// Which checksum.
        algorithm: ChecksumAlgorithm,
    },
    /// The body does not have the checksum the client announced.
    #[error("The {} you specified did not match the calculated checksum.", .algorithm.s3_name())]
    BadDigest {
        /// Which checksum.
        algorithm: ChecksumAlgorithm,
    },
    /// The body ended before all announced bytes (or an announced trailer) arrived.
    #[error(
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )]
    IncompleteBody,
    /// More decoded bytes than `x-amz-decoded-content-length` announced.
    #[error("The decoded content is longer than x-amz-decoded-content-length ({expected} bytes).")]
    DecodedLengthExceeded {
        /// The announced decoded length.
        expected: u64,
    },
    /// The aws-chunked framing is broken.
    #[error("Malformed aws-chunked encoding: {reason}")]
    MalformedChunkedEncoding {
        /// What is wrong.
        reason: &'static str,
    },
    /// A chunk metadata line longer than [`crate::chunked::MAX_CHUNK_META_BYTES`].
    #[error("An aws-chunked chunk metadata line exceeds {limit} bytes.")]
    ChunkMetaTooLong {
        /// The limit.
        limit: usize,
    },
    /// A trailer section longer than [`crate::chunked::MAX_TRAILER_BYTES`].
    #[error("The aws-chunked trailer exceeds {limit} bytes.")]
    TrailerTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A canonical request longer than [`crate::canonical::MAX_CANONICAL_REQUEST_BYTES`]
    /// (S3's code for a head too large to handle).
    #[error("Your request header section exceeds the maximum allowed size: its canonical request is longer than {limit} bytes.")]
    CanonicalRequestTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A trailer that does not follow the schema (unknown, unannounced or ill-formed lines).
    #[error("The request contained trailing data that was not well-formed or did not conform to our published schema.")]
    MalformedTrailer,
}

/// What the XML body of a `SignatureDoesNotMatch` error carries.
#[derive(Debug)]
pub struct SignatureMismatch {
    /// The string to sign the server computed.
    pub string_to_sign: String,
    /// The canonical request the server computed (empty for chunk and trailer signatures and
    /// for SigV2, which have none).
    pub canonical_request: String,
    /// The signature the client sent.
    pub signature_provided: String,
    /// The access key id the request was signed with.
    pub access_key_id: String,
}

impl AuthError {
    /// The S3 error code this error answers with: the one table of the crate's errors.
    pub fn code(&self) -> AuthErrorCode {
        match self {
            AuthError::AuthorizationHeaderMalformed { .. }
            | AuthError::WrongRegion {
                presigned: false, ..
            } => AuthErrorCode::AuthorizationHeaderMalformed,
            AuthError::AuthorizationQueryParametersError { .. }
            | AuthError::WrongRegion {
                presigned: true, ..
            } => AuthErrorCode::AuthorizationQueryParametersError,
            AuthError::InvalidAccessKeyId { .. } => AuthErrorCode::InvalidAccessKeyId,
            AuthError::SignatureDoesNotMatch(_) => AuthErrorCode::SignatureDoesNotMatch,
            AuthError::RequestTimeTooSkewed { .. } => AuthErrorCode::RequestTimeTooSkewed,
            AuthError::AnonymousAccessDenied
            | AuthError::RequestExpired { .. }
            | AuthError::RequestNotYetValid { .. }
            | AuthError::MissingDate
            | AuthError::HeadersNotSigned { .. } => AuthErrorCode::AccessDenied,
            AuthError::MissingContentSha256
            | AuthError::InvalidRequest { .. }
            | AuthError::InvalidChecksum { .. }
            | AuthError::DecodedLengthExceeded { .. }
            | AuthError::MalformedChunkedEncoding { .. }
            | AuthError::ChunkMetaTooLong { .. } => AuthErrorCode::InvalidRequest,
            AuthError::InvalidContentSha256
            | AuthError::MultipleAuthMechanisms
            | AuthError::UnsupportedAuthorizationType => AuthErrorCode::InvalidArgument,
            AuthError::ContentSha256Mismatch { .. } => AuthErrorCode::XAmzContentSHA256Mismatch,
            AuthError::InvalidToken => AuthErrorCode::InvalidToken,
            AuthError::BadDigest { .. } => AuthErrorCode::BadDigest,
            AuthError::IncompleteBody => AuthErrorCode::IncompleteBody,
            AuthError::TrailerTooLarge { .. } | AuthError::MalformedTrailer => {
                AuthErrorCode::MalformedTrailerError
            }
            AuthError::CanonicalRequestTooLarge { .. } => {
                AuthErrorCode::RequestHeaderSectionTooLarge
            }
        }
    }

    /// The S3 error code as text (`<Code>` of the XML error body).
    pub fn s3_code(&self) -> &'static str {
        self.code().as_str()
    }

    /// The HTTP status S3 answers this error with (its code's).
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }

    /// The extra elements S3 puts in the XML error body beside `Code` and `Message`, in order:
    /// e.g. `StringToSign`/`CanonicalRequest` for `SignatureDoesNotMatch`, `RequestTime`/
    /// `ServerTime`/`MaxAllowedSkewMilliseconds` for `RequestTimeTooSkewed`, `Region` for the
    /// region error. Values are raw text (the daemon escapes them). `StringToSign` and
    /// `CanonicalRequest` are cut to their first [`MAX_ECHOED_BYTES`].
    pub fn xml_fields(&self) -> Vec<(&'static str, String)> {
        use crate::time::{format_amz_date, format_iso8601};
        match self {
            AuthError::SignatureDoesNotMatch(m) => {
                let string_to_sign = echoed(&m.string_to_sign);
                let mut f = vec![
                    ("AWSAccessKeyId", m.access_key_id.clone()),
                    ("StringToSign", string_to_sign.to_owned()),
                    ("SignatureProvided", m.signature_provided.clone()),
                    ("StringToSignBytes", hex_bytes(string_to_sign.as_bytes())),
                ];
                if !m.canonical_request.is_empty() {
                    let canonical_request = echoed(&m.canonical_request);
                    f.push(("CanonicalRequest", canonical_request.to_owned()));
                    f.push((
                        "CanonicalRequestBytes",
                        hex_bytes(canonical_request.as_bytes()),
                    ));
                }
                f
            }
            AuthError::RequestTimeTooSkewed {
                request_time,
                server_time,
                max_skew_secs,
            } => vec![
                ("RequestTime", format_amz_date(*request_time)),
                ("ServerTime", format_iso8601(*server_time)),
                (
                    "MaxAllowedSkewMilliseconds",
                    (max_skew_secs * 1000).to_string(),
                ),
            ],
            AuthError::RequestExpired {
                expires_at,
                server_time,
            } => vec![
                ("Expires", format_iso8601(*expires_at)),
                ("ServerTime", format_iso8601(*server_time)),
            ],
            AuthError::WrongRegion { expected, .. } => vec![("Region", expected.clone())],
            AuthError::InvalidAccessKeyId { access_key_id } => {
                vec![("AWSAccessKeyId", access_key_id.clone())]
            }
            AuthError::HeadersNotSigned { headers } => vec![("HeadersNotSigned", headers.clone())],
            AuthError::ContentSha256Mismatch {
                client_computed,
                s3_computed,
            } => vec![
                ("ClientComputedContentSHA256", client_computed.clone()),
                ("S3ComputedContentSHA256", s3_computed.clone()),
            ],
            AuthError::AuthorizationHeaderMalformed { .. }
            | AuthError::AuthorizationQueryParametersError { .. }
            | AuthError::AnonymousAccessDenied
            | AuthError::RequestNotYetValid { .. }
            | AuthError::MissingDate
            | AuthError::MissingContentSha256
            | AuthError::InvalidContentSha256
            | AuthError::MultipleAuthMechanisms
            | AuthError::UnsupportedAuthorizationType
            | AuthError::InvalidToken
            | AuthError::InvalidRequest { .. }
            | AuthError::InvalidChecksum { .. }
            | AuthError::BadDigest { .. }
            | AuthError::IncompleteBody
            | AuthError::DecodedLengthExceeded { .. }
            | AuthError::MalformedChunkedEncoding { .. }
            | AuthError::ChunkMetaTooLong { .. }
            | AuthError::TrailerTooLarge { .. }
            | AuthError::CanonicalRequestTooLarge { .. }
            | AuthError::MalformedTrailer => Vec::new(),
        }
    }

    pub(crate) fn header_malformed(message: impl Into<String>) -> Self {
        AuthError::AuthorizationHeaderMalformed {
            message: message.into(),
        }
    }

    pub(crate) fn query_error(message: impl Into<String>) -> Self {
        AuthError::AuthorizationQueryParametersError {
            message: message.into(),
        }
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        AuthError::InvalidRequest {
            message: message.into(),
        }
    }

    pub(crate) fn mismatch(
        string_to_sign: String,
        canonical_request: String,
        signature_provided: &str,
        access_key_id: &str,
    ) -> Self {
        AuthError::SignatureDoesNotMatch(Box::new(SignatureMismatch {
            string_to_sign,
            canonical_request,
            signature_provided: signature_provided.to_owned(),
            access_key_id: access_key_id.to_owned(),
        }))
    }
}

/// Bytes as space-separated hex pairs, as S3 writes `StringToSignBytes`.
fn hex_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 3);
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_s3() {
        let e = AuthError::WrongRegion {
            region: "eu-west-1".into(),
            expected: "us-east-1".into(),
            presigned: false,
        };
        assert_eq!(e.s3_code(), "AuthorizationHeaderMalformed");
        assert_eq!(e.http_status(), 400);
        assert_eq!(
            e.to_string(),
            "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'"
        );
        let e = AuthError::BadDigest {
            algorithm: ChecksumAlgorithm::Crc32,
        };
        assert_eq!(e.s3_code(), "BadDigest");
        assert_eq!(
            e.to_string(),
            "The CRC32 you specified did not match the calculated checksum."
        );
        let e = AuthError::InvalidChecksum {
            algorithm: ChecksumAlgorithm::Crc32,
        };
        assert_eq!(
            e.to_string(),
            "Value for x-amz-checksum-crc32 header is invalid."
        );
        assert_eq!(AuthError::MissingContentSha256.s3_code(), "InvalidRequest");
        assert_eq!(
            AuthError::HeadersNotSigned {
                headers: "x-amz-acl".into()
            }
            .http_status(),
            403
        );
        assert_eq!(
            AuthError::MalformedTrailer.s3_code(),
            "MalformedTrailerError"
        );
        assert_eq!(
            AuthError::RequestExpired {
                expires_at: 0,
                server_time: 1
            }
            .s3_code(),
            "AccessDenied"
        );
    }

    #[test]
    fn codes_are_typed_and_spelled_as_s3_does() {
        // The text of every code is its variant's name, and no two codes share one.
        for (i, code) in AuthErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.as_str(), format!("{code:?}"));
            assert!(matches!(code.http_status(), 400 | 403), "{code:?}");
            for other in &AuthErrorCode::ALL[i + 1..] {
                assert_ne!(code.as_str(), other.as_str());
            }
        }
        let cases = [
            (
                AuthError::WrongRegion {
                    region: "x".into(),
                    expected: "y".into(),
                    presigned: true,
                },
                AuthErrorCode::AuthorizationQueryParametersError,
                400,
            ),
            (
                AuthError::HeadersNotSigned {
                    headers: "x-amz-acl".into(),
                },
                AuthErrorCode::AccessDenied,
                403,
            ),
            (
                AuthError::mismatch(String::new(), String::new(), "s", "AK"),
                AuthErrorCode::SignatureDoesNotMatch,
                403,
            ),
            (
                AuthError::ChunkMetaTooLong { limit: 1 },
                AuthErrorCode::InvalidRequest,
                400,
            ),
            (
                AuthError::TrailerTooLarge { limit: 1 },
                AuthErrorCode::MalformedTrailerError,
                400,
            ),
            (
                AuthError::UnsupportedAuthorizationType,
                AuthErrorCode::InvalidArgument,
                400,
            ),
            (
                AuthError::CanonicalRequestTooLarge { limit: 1 },
                AuthErrorCode::RequestHeaderSectionTooLarge,
                400,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.s3_code(), code.as_str());
            assert_eq!(e.http_status(), status, "{e:?}");
        }
    }

    #[test]
    fn xml_fields_carry_what_s3_sends() {
        let e = AuthError::RequestTimeTooSkewed {
            request_time: 1_369_353_600,
            server_time: 1_369_354_601,
            max_skew_secs: 900,
        };
        assert_eq!(
            e.xml_fields(),
            vec![
                ("RequestTime", "20130524T000000Z".to_string()),
                ("ServerTime", "2013-05-24T00:16:41Z".to_string()),
                ("MaxAllowedSkewMilliseconds", "900000".to_string()),
            ]
        );
        let e = AuthError::mismatch("AB".into(), "C".into(), "sig", "AKID");
        let f = e.xml_fields();
        assert!(f.contains(&("StringToSignBytes", "41 42".to_string())));
        assert!(f.contains(&("CanonicalRequest", "C".to_string())));
        assert!(f.contains(&("SignatureProvided", "sig".to_string())));
        let e = AuthError::WrongRegion {
            region: "x".into(),
            expected: "us-east-1".into(),
            presigned: true,
        };
        assert_eq!(e.s3_code(), "AuthorizationQueryParametersError");
        assert_eq!(e.xml_fields(), vec![("Region", "us-east-1".to_string())]);
        assert!(AuthError::IncompleteBody.xml_fields().is_empty());
    }

    #[test]
    fn echoed_strings_are_bounded() {
        let total = |f: &[(&str, String)]| f.iter().map(|(_, v)| v.len()).sum::<usize>();
        // A 100 KiB canonical request (multi-byte characters, cut at a char boundary).
        let canonical_request = format!("a{}", "é".repeat(50 * 1024));
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n20130524T000000Z\nscope\n{}",
            "0".repeat(64)
        );
        let e = AuthError::mismatch(
            string_to_sign.clone(),
            canonical_request.clone(),
            "sig",
            "AKID",
        );
        let f = e.xml_fields();
        assert!(total(&f) < 48 * 1024, "{}", total(&f));
        let field = |name: &str| f.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let echoed_request = field("CanonicalRequest");
        assert_eq!(echoed_request.len(), MAX_ECHOED_BYTES - 1);
        assert!(canonical_request.starts_with(&echoed_request));
        assert_eq!(
            field("CanonicalRequestBytes"),
            hex_bytes(echoed_request.as_bytes())
        );
        // A short string to sign is echoed whole.
        assert_eq!(field("StringToSign"), string_to_sign);
        // A long one (SigV2's holds the path and x-amz-* headers) is cut too.
        let e = AuthError::mismatch("x".repeat(100 * 1024), String::new(), "sig", "AKID");
        let f = e.xml_fields();
        assert!(total(&f) < 48 * 1024, "{}", total(&f));
        assert!(f.contains(&("StringToSign", "x".repeat(MAX_ECHOED_BYTES))));
        assert!(!f.iter().any(|(n, _)| *n == "CanonicalRequest"));
    }

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<AuthError>() <= 64);
    }
}
