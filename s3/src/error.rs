//! S3 error codes and their XML bodies, as AWS answers them
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).

use cairn_http::proto::ProtoError;
use cairn_http::server::{RequestError, Response};
use cairn_sigv4::{AuthError, AuthErrorCode};
use quick_xml::escape::escape;

use crate::router::RouteError;
use crate::xml::XmlError;

macro_rules! error_codes {
    ($($code:ident => $status:literal, $message:literal;)*) => {
        /// The S3 error codes Cairn answers with. Each maps to one status, code string and
        /// default message in one table, so a new code cannot be added without its status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum S3ErrorCode {
            $($code,)*
        }

        impl S3ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [S3ErrorCode] = &[$(S3ErrorCode::$code,)*];

            /// The code string of the XML `<Code>` element.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$code => stringify!($code),)*
                }
            }

            /// The HTTP status AWS answers this code with.
            pub fn status(self) -> u16 {
                match self {
                    $(S3ErrorCode::$code => $status,)*
                }
            }

            /// AWS's default message for the code.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$code => $message,)*
                }
            }
        }
    };
}

error_codes! {
    AccessDenied => 403, "Access Denied";
    AuthorizationHeaderMalformed => 400, "The authorization header is malformed.";
    AuthorizationQueryParametersError => 400, "Error parsing the X-Amz-Credential parameter.";
    BadDigest => 400, "The Content-MD5 or checksum value that you specified did not match what the server received.";
    BucketAlreadyExists => 409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.";
    BucketAlreadyOwnedByYou => 409, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => 409, "The bucket you tried to delete is not empty";
    EntityTooLarge => 400, "Your proposed upload exceeds the maximum allowed size";
    EntityTooSmall => 400, "Your proposed upload is smaller than the minimum allowed object size.";
    IncompleteBody => 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InsufficientStorage => 507, "The server does not have enough free disk space to store the object.";
    InternalError => 500, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => 403, "The AWS Access Key Id you provided does not exist in our records.";
    InvalidArgument => 400, "Invalid Argument";
    InvalidBucketName => 400, "The specified bucket is not valid.";
    InvalidDigest => 400, "The Content-MD5 you specified is not valid.";
    InvalidLocationConstraint => 400, "The specified location-constraint is not valid.";
    InvalidPart => 400, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.";
    InvalidPartOrder => 400, "The list of parts was not in ascending order. Parts must be ordered by part number.";
    InvalidRange => 416, "The requested range is not satisfiable";
    InvalidRequest => 400, "Invalid Request";
    InvalidToken => 400, "The provided token is malformed or otherwise invalid.";
    InvalidURI => 400, "Couldn't parse the specified URI.";
    InvalidPartNumber => 416, "The requested partnumber is not satisfiable";
    KeyTooLongError => 400, "Your key is too long";
    MalformedTrailerError => 400, "The request contained trailing data that was not well-formed or did not conform to our published schema.";
    MalformedACLError => 400, "The XML you provided was not well-formed or did not validate against our published schema.";
    MalformedXML => 400, "The XML you provided was not well-formed or did not validate against our published schema.";
    MaxMessageLengthExceeded => 400, "Your request was too big.";
    MetadataTooLarge => 400, "Your metadata headers exceed the maximum allowed metadata size.";
    MethodNotAllowed => 405, "The specified method is not allowed against this resource.";
    MissingContentLength => 411, "You must provide the Content-Length HTTP header.";
    NoSuchBucket => 404, "The specified bucket does not exist";
    NoSuchKey => 404, "The specified key does not exist.";
    NoSuchUpload => 404, "The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed.";
    NoSuchVersion => 404, "The specified version does not exist.";
    NotImplemented => 501, "A header you provided implies functionality that is not implemented";
    ObjectLockConfigurationNotFoundError => 404, "Object Lock configuration does not exist for this bucket";
    OperationAborted => 409, "A conflicting conditional operation is currently in progress against this resource. Try again.";
    PreconditionFailed => 412, "At least one of the pre-conditions you specified did not hold";
    RequestHeaderSectionTooLarge => 400, "Your request header section exceeds the maximum allowed size.";
    RequestTimeTooSkewed => 403, "The difference between the request time and the current time is too large.";
    RequestTimeout => 400, "Your socket connection to the server was not read from or written to within the timeout period.";
    ServiceUnavailable => 503, "Service is unable to handle request.";
    SignatureDoesNotMatch => 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    SlowDown => 503, "Please reduce your request rate.";
    XAmzContentSHA256Mismatch => 400, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

/// One S3 error answer.
#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    /// The bucket or object the request named (its path).
    pub resource: String,
    /// Overrides the code's status where the HTTP layer dictates it (431 for a head over the
    /// limit, for example).
    pub status: Option<u16>,
    /// Extra elements after `Message` (e.g. `StringToSign` for `SignatureDoesNotMatch`).
    pub extra: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, resource: impl Into<String>) -> Self {
        S3Error {
            code,
            message: code.default_message().to_owned(),
            resource: resource.into(),
            status: None,
            extra: Vec::new(),
        }
    }

    /// An error whose resource is filled in later (by the dispatcher, from the request path).
    pub fn code(code: S3ErrorCode) -> Self {
        S3Error::new(code, "")
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds an extra element to the XML body.
    pub fn with_field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// The HTTP status of the answer.
    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or(self.code.status())
    }

    /// The XML body.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
            self.code.as_str(),
            escape(self.message.as_str()),
        );
        for (name, value) in &self.extra {
            xml.push_str(&format!("<{name}>{}</{name}>", escape(value.as_str())));
        }
        xml.push_str(&format!(
            "<Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            escape(self.resource.as_str()),
            escape(request_id),
        ));
        xml
    }

    /// The whole response, with `x-amz-request-id`.
    pub fn into_response(self, request_id: &str) -> Response {
        let body = self.to_xml(request_id);
        Response::new(self.http_status())
            .header("Content-Type", "application/xml")
            .header("x-amz-request-id", request_id.to_owned())
            .body(body)
    }
}

/// The answer to a request the HTTP server refuses itself (a head over a limit, a timeout,
/// plain HTTP where TLS is required, a core at its connection limit), in S3's form.
pub fn protocol_error_response(error: &RequestError<'_>, request_id: &str) -> Response {
    let (code, resource) = match error {
        RequestError::Protocol(
            ProtoError::HeadTooLarge { .. } | ProtoError::TooManyHeaders { .. },
        ) => (S3ErrorCode::RequestHeaderSectionTooLarge, ""),
        RequestError::Protocol(ProtoError::UriTooLong { .. }) => (S3ErrorCode::InvalidURI, ""),
        RequestError::Protocol(_) => (S3ErrorCode::InvalidRequest, ""),
        RequestError::HeadTimeout => (S3ErrorCode::RequestTimeout, ""),
        RequestError::PlainHttpRefused(head) => (S3ErrorCode::AccessDenied, head.path()),
        RequestError::Overloaded => (S3ErrorCode::SlowDown, ""),
    };
    let mut err = S3Error::new(code, resource).with_status(error.status());
    match error {
        RequestError::Protocol(e) => {
            err = err.with_message(format!("Malformed HTTP request: {e}."))
        }
        RequestError::PlainHttpRefused(_) => {
            err = err.with_message("This server requires TLS: use https:// to connect.")
        }
        RequestError::HeadTimeout | RequestError::Overloaded => {}
    }
    err.into_response(request_id)
}

impl From<AuthErrorCode> for S3ErrorCode {
    fn from(code: AuthErrorCode) -> S3ErrorCode {
        match code {
            AuthErrorCode::AccessDenied => S3ErrorCode::AccessDenied,
            AuthErrorCode::AuthorizationHeaderMalformed => {
                S3ErrorCode::AuthorizationHeaderMalformed
            }
            AuthErrorCode::AuthorizationQueryParametersError => {
                S3ErrorCode::AuthorizationQueryParametersError
            }
            AuthErrorCode::BadDigest => S3ErrorCode::BadDigest,
            AuthErrorCode::IncompleteBody => S3ErrorCode::IncompleteBody,
            AuthErrorCode::InvalidAccessKeyId => S3ErrorCode::InvalidAccessKeyId,
            AuthErrorCode::InvalidArgument => S3ErrorCode::InvalidArgument,
            AuthErrorCode::InvalidRequest => S3ErrorCode::InvalidRequest,
            AuthErrorCode::InvalidToken => S3ErrorCode::InvalidToken,
            AuthErrorCode::MalformedTrailerError => S3ErrorCode::MalformedTrailerError,
            AuthErrorCode::RequestHeaderSectionTooLarge => {
                S3ErrorCode::RequestHeaderSectionTooLarge
            }
            AuthErrorCode::RequestTimeTooSkewed => S3ErrorCode::RequestTimeTooSkewed,
            AuthErrorCode::SignatureDoesNotMatch => S3ErrorCode::SignatureDoesNotMatch,
            AuthErrorCode::XAmzContentSHA256Mismatch => S3ErrorCode::XAmzContentSHA256Mismatch,
        }
    }
}

impl From<AuthError> for S3Error {
    fn from(e: AuthError) -> S3Error {
        S3Error {
            code: e.code().into(),
            message: e.to_string(),
            resource: String::new(),
            status: Some(e.http_status()),
            extra: e.xml_fields(),
        }
    }
}

impl From<XmlError> for S3Error {
    /// AWS answers a body that is not the XML it expects, too many keys included, with
    /// `MalformedXML`.
    fn from(e: XmlError) -> S3Error {
        match e {
            XmlError::Malformed | XmlError::TooManyElements => {
                S3Error::code(S3ErrorCode::MalformedXML)
            }
        }
    }
}

impl From<RouteError> for S3Error {
    fn from(e: RouteError) -> S3Error {
        match e {
            RouteError::NotImplemented(what) => S3Error::code(S3ErrorCode::NotImplemented)
                .with_message(format!("The {what} sub-resource is not implemented.")),
            RouteError::MethodNotAllowed => S3Error::code(S3ErrorCode::MethodNotAllowed),
            RouteError::InvalidUri => S3Error::code(S3ErrorCode::InvalidURI),
            RouteError::InvalidArgument(message) => {
                S3Error::code(S3ErrorCode::InvalidArgument).with_message(message)
            }
            RouteError::UnknownHost => S3Error::code(S3ErrorCode::InvalidRequest)
                .with_message("The Host header names no endpoint of this server."),
        }
    }
}

impl From<cairn_storage::Error> for S3Error {
    fn from(e: cairn_storage::Error) -> S3Error {
        use cairn_storage::Error as E;
        let code = match &e {
            E::NoSpace => S3ErrorCode::InsufficientStorage,
            E::Io(_) | E::Meta(_) | E::Corrupt(_) => S3ErrorCode::InternalError,
            E::Poisoned(_) | E::Unavailable => S3ErrorCode::ServiceUnavailable,
            E::NoSuchBucket => S3ErrorCode::NoSuchBucket,
            E::NoSuchKey => S3ErrorCode::NoSuchKey,
            E::NoSuchUpload => S3ErrorCode::NoSuchUpload,
            E::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
            E::BucketAlreadyExists => S3ErrorCode::BucketAlreadyExists,
            E::BucketAlreadyOwnedByYou => S3ErrorCode::BucketAlreadyOwnedByYou,
            E::InvalidBucketName(_) => S3ErrorCode::InvalidBucketName,
            E::OperationAborted => S3ErrorCode::OperationAborted,
            E::PreconditionFailed => S3ErrorCode::PreconditionFailed,
            E::InvalidPart => S3ErrorCode::InvalidPart,
            E::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            E::EntityTooSmall => S3ErrorCode::EntityTooSmall,
            E::KeyTooLong => S3ErrorCode::KeyTooLongError,
            E::MetadataTooLarge => S3ErrorCode::MetadataTooLarge,
            E::InvalidRange => S3ErrorCode::InvalidRange,
            E::BadDigest => S3ErrorCode::BadDigest,
            E::InvalidPartNumber | E::InvalidKey | E::InvalidArgument(_) => {
                S3ErrorCode::InvalidArgument
            }
        };
        let message = match &e {
            // Internal details go to the log, not to the client.
            E::Io(_) | E::Meta(_) | E::Corrupt(_) => {
                tracing::error!("storage error: {e}");
                code.default_message().to_owned()
            }
            E::Poisoned(_) => {
                tracing::error!("storage refuses writes: {e}");
                "The storage engine refuses writes after a durability failure; see the server log."
                    .to_owned()
            }
            E::InvalidBucketName(why) => format!("The specified bucket is not valid: {why}."),
            E::InvalidPartNumber => {
                "Part number must be an integer between 1 and 10000, inclusive.".to_owned()
            }
            E::InvalidArgument(why) => format!("Invalid argument: {why}."),
            _ => code.default_message().to_owned(),
        };
        S3Error::code(code).with_message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped_and_complete() {
        let err = S3Error::new(S3ErrorCode::NotImplemented, "/b/<k>&\"x\"");
        let xml = err.to_xml("0123456789ABCDEF");
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code>"
        ));
        assert!(xml.contains("<Resource>/b/&lt;k&gt;&amp;&quot;x&quot;</Resource>"));
        assert!(xml.ends_with("<RequestId>0123456789ABCDEF</RequestId></Error>"));
    }

    #[test]
    fn status_override() {
        let response = S3Error::new(S3ErrorCode::RequestHeaderSectionTooLarge, "/")
            .with_status(431)
            .into_response("ID");
        assert_eq!(response.status, 431);
        let response = S3Error::new(S3ErrorCode::SlowDown, "/").into_response("ID");
        assert_eq!(response.status, 503);
        assert!(response
            .headers
            .iter()
            .any(|(n, v)| n == "x-amz-request-id" && v == "ID"));
    }

    #[test]
    fn every_code_has_its_own_string_and_an_error_status() {
        let mut names: Vec<&str> = S3ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), S3ErrorCode::ALL.len());
        for &code in S3ErrorCode::ALL {
            assert!((300..600).contains(&code.status()), "{code:?}");
        }
    }

    #[test]
    fn sigv4_codes_keep_their_names_and_statuses() {
        use cairn_sigv4::{AuthError, ChecksumAlgorithm};
        let samples = [
            AuthError::AuthorizationHeaderMalformed {
                message: String::new(),
            },
            AuthError::WrongRegion {
                region: "a".into(),
                expected: "b".into(),
                presigned: true,
            },
            AuthError::InvalidAccessKeyId {
                access_key_id: "AK".into(),
            },
            AuthError::RequestTimeTooSkewed {
                request_time: 0,
                server_time: 0,
                max_skew_secs: 900,
            },
            AuthError::AnonymousAccessDenied,
            AuthError::MissingContentSha256,
            AuthError::InvalidContentSha256,
            AuthError::ContentSha256Mismatch {
                client_computed: String::new(),
                s3_computed: String::new(),
            },
            AuthError::InvalidToken,
            AuthError::BadDigest {
                algorithm: ChecksumAlgorithm::Crc32,
            },
            AuthError::IncompleteBody,
            AuthError::MalformedTrailer,
            AuthError::CanonicalRequestTooLarge { limit: 1 },
        ];
        for e in samples {
            let (code, status) = (e.s3_code(), e.http_status());
            let s3 = S3Error::from(e);
            assert_eq!(s3.code.as_str(), code);
            assert_eq!(s3.http_status(), status);
        }
    }

    #[test]
    fn storage_errors_map_to_distinct_statuses() {
        use cairn_storage::Error as E;
        assert_eq!(S3Error::from(E::NoSpace).http_status(), 507);
        assert_eq!(S3Error::from(E::NoSuchKey).http_status(), 404);
        assert_eq!(S3Error::from(E::InvalidRange).http_status(), 416);
        assert_eq!(S3Error::from(E::PreconditionFailed).http_status(), 412);
        assert_eq!(S3Error::from(E::Poisoned("x".into())).http_status(), 503);
        let io = S3Error::from(E::Io(std::io::Error::other("disk")));
        assert_eq!(io.http_status(), 500);
        assert!(!io.message.contains("disk"));
    }

    #[test]
    fn route_errors_map_to_their_codes() {
        let code = |e| S3Error::from(e).code;
        assert_eq!(
            code(RouteError::NotImplemented("x")),
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            code(RouteError::MethodNotAllowed),
            S3ErrorCode::MethodNotAllowed
        );
        assert_eq!(code(RouteError::InvalidUri), S3ErrorCode::InvalidURI);
        assert_eq!(code(RouteError::UnknownHost), S3ErrorCode::InvalidRequest);
        let e = S3Error::from(RouteError::InvalidArgument("why"));
        assert_eq!(
            (e.code, e.message.as_str()),
            (S3ErrorCode::InvalidArgument, "why")
        );
    }
}
