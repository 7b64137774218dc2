//! S3 error codes and their XML bodies, as AWS answers them
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).

use cairn_http::server::Response;
use quick_xml::escape::escape;

/// The S3 error codes Cairn answers with. Each maps to one status and code string in one
/// exhaustive match, so a new code cannot be added without its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3ErrorCode {
    AccessDenied,
    InternalError,
    InvalidArgument,
    InvalidRequest,
    InvalidURI,
    MethodNotAllowed,
    NotImplemented,
    RequestHeaderSectionTooLarge,
    RequestTimeout,
    SlowDown,
}

impl S3ErrorCode {
    /// The code string of the XML `<Code>` element.
    pub fn as_str(self) -> &'static str {
        match self {
            S3ErrorCode::AccessDenied => "AccessDenied",
            S3ErrorCode::InternalError => "InternalError",
            S3ErrorCode::InvalidArgument => "InvalidArgument",
            S3ErrorCode::InvalidRequest => "InvalidRequest",
            S3ErrorCode::InvalidURI => "InvalidURI",
            S3ErrorCode::MethodNotAllowed => "MethodNotAllowed",
            S3ErrorCode::NotImplemented => "NotImplemented",
            S3ErrorCode::RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            S3ErrorCode::RequestTimeout => "RequestTimeout",
            S3ErrorCode::SlowDown => "SlowDown",
        }
    }

    /// The HTTP status AWS answers this code with.
    pub fn status(self) -> u16 {
        match self {
            S3ErrorCode::AccessDenied => 403,
            S3ErrorCode::InternalError => 500,
            S3ErrorCode::InvalidArgument
            | S3ErrorCode::InvalidRequest
            | S3ErrorCode::InvalidURI
            | S3ErrorCode::RequestTimeout => 400,
            S3ErrorCode::MethodNotAllowed => 405,
            S3ErrorCode::NotImplemented => 501,
            S3ErrorCode::RequestHeaderSectionTooLarge => 400,
            S3ErrorCode::SlowDown => 503,
        }
    }

    /// AWS's default message for the code.
    pub fn default_message(self) -> &'static str {
        match self {
            S3ErrorCode::AccessDenied => "Access Denied",
            S3ErrorCode::InternalError => "We encountered an internal error. Please try again.",
            S3ErrorCode::InvalidArgument => "Invalid Argument",
            S3ErrorCode::InvalidRequest => "Invalid Request",
            S3ErrorCode::InvalidURI => "Couldn't parse the specified URI.",
            S3ErrorCode::MethodNotAllowed => "The specified method is not allowed against this resource.",
            S3ErrorCode::NotImplemented => "A header you provided implies functionality that is not implemented",
            S3ErrorCode::RequestHeaderSectionTooLarge => "Your request header section exceeds the maximum allowed size.",
            S3ErrorCode::RequestTimeout => {
                "Your socket connection to the server was not read from or written to within the timeout period."
            }
            S3ErrorCode::SlowDown => "Please reduce your request rate.",
        }
    }
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
}

impl S3Error {
    pub fn new(code: S3ErrorCode, resource: impl Into<String>) -> Self {
        S3Error {
            code,
            message: code.default_message().to_owned(),
            resource: resource.into(),
            status: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The XML body.
    pub fn to_xml(&self, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            self.code.as_str(),
            escape(self.message.as_str()),
            escape(self.resource.as_str()),
            escape(request_id),
        )
    }

    /// The whole response, with `x-amz-request-id`.
    pub fn into_response(self, request_id: &str) -> Response {
        let body = self.to_xml(request_id);
        Response::new(self.status.unwrap_or(self.code.status()))
            .header("Content-Type", "application/xml")
            .header("x-amz-request-id", request_id.to_owned())
            .body(body)
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
}
