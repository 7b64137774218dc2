//! The request handler every core runs: the health check, and S3 (for now, a well-formed
//! `NotImplemented` for every S3 request).

use cairn_http::proto::{Method, ProtoError};
use cairn_http::server::{Handler, Request, RequestError, Response, ResponseBody};

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::request_id::RequestIds;
use crate::s3::router::{route, RouteError, RouteInput};
use crate::s3::S3Service;

/// The health endpoint. No bucket name can start with `_`, so it never shadows a bucket.
pub const HEALTH_PATH: &str = "/_cairn/health";
const HEALTH_OK: &str = "{\"status\":\"ok\"}\n";
const HEALTH_DRAINING: &str = "{\"status\":\"draining\"}\n";

#[derive(Debug)]
pub struct CairnService {
    ids: RequestIds,
    s3: S3Service,
}

impl CairnService {
    pub fn new(core: usize, s3: S3Service) -> Self {
        CairnService {
            ids: RequestIds::new(core),
            s3,
        }
    }

    fn health(&self, request: &Request<'_>, request_id: String) -> Response {
        let (status, body) = if request.draining {
            (503, HEALTH_DRAINING)
        } else {
            (200, HEALTH_OK)
        };
        let response = Response::new(status)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .header("x-amz-request-id", request_id);
        if request.head.method() == Method::Head {
            response.head_of(body.len() as u64)
        } else {
            response.body(body)
        }
    }
}

fn route_error(error: RouteError, path: &str) -> S3Error {
    match error {
        RouteError::NotImplemented(what) => S3Error::new(S3ErrorCode::NotImplemented, path)
            .with_message(format!("The {what} sub-resource is not implemented.")),
        RouteError::MethodNotAllowed => S3Error::new(S3ErrorCode::MethodNotAllowed, path),
        RouteError::InvalidUri => S3Error::new(S3ErrorCode::InvalidURI, path),
        RouteError::InvalidPartNumber => S3Error::new(S3ErrorCode::InvalidArgument, path)
            .with_message("Part number must be an integer between 1 and 10000, inclusive."),
        RouteError::UnknownHost => S3Error::new(S3ErrorCode::InvalidRequest, path)
            .with_message("The Host header names no endpoint of this server."),
    }
}

impl Handler for CairnService {
    async fn handle(&self, request: Request<'_>) -> Response {
        let request_id = self.ids.next_id();
        let path = request.head.path();
        if path == HEALTH_PATH && matches!(request.head.method(), Method::Get | Method::Head) {
            return self.health(&request, request_id);
        }
        let Request {
            head,
            mut body,
            secure,
            ..
        } = request;
        let is_head = head.method() == Method::Head;
        let input = RouteInput {
            method: head.method(),
            path: head.path(),
            query: head.query(),
            host: head.header_str("host"),
            copy_source: head.header("x-amz-copy-source").is_some(),
        };
        let mut operation = "";
        let result = match route(&input, &self.s3.router) {
            Ok(endpoint) => {
                operation = endpoint.operation();
                self.s3.call(&head, &mut body, secure, endpoint).await
            }
            Err(e) => Err(route_error(e, head.path())),
        };
        let mut response = match result {
            Ok(response) => response.header("x-amz-request-id", request_id),
            Err(mut error) => {
                if error.resource.is_empty() {
                    error.resource = head.path().to_owned();
                }
                tracing::debug!(
                    request_id,
                    operation,
                    path = head.path(),
                    code = error.code.as_str(),
                    "{}",
                    error.message
                );
                if error.code == S3ErrorCode::InternalError {
                    tracing::warn!(
                        request_id,
                        operation,
                        path = head.path(),
                        "internal error: {}",
                        error.message
                    );
                }
                error.into_response(&request_id)
            }
        };
        if is_head {
            // A HEAD answer carries no body, only its length.
            if let ResponseBody::Full(b) = &response.body {
                let len = b.len() as u64;
                response = response.head_of(len);
            }
        }
        response
    }
    fn error_response(&self, error: &RequestError<'_>) -> Response {
        let request_id = self.ids.next_id();
        let (code, resource) = match error {
            RequestError::Protocol(
                ProtoError::HeadTooLarge { .. } | ProtoError::TooManyHeaders { .. },
            ) => (S3ErrorCode::RequestHeaderSectionTooLarge, ""),
            RequestError::Protocol(ProtoError::UriTooLong { .. }) => (S3ErrorCode::InvalidURI, ""),
            RequestError::Protocol(_) => (S3ErrorCode::InvalidRequest, ""),
            RequestError::HeadTimeout => (S3ErrorCode::RequestTimeout, ""),
            RequestError::PlainHttpRefused(head) => (S3ErrorCode::AccessDenied, head.path()),
            RequestError::Overloaded => (S3ErrorCode::SlowDown, ""),
            _ => (S3ErrorCode::InternalError, ""),
        };
        let mut err = S3Error::new(code, resource).with_status(error.status());
        match error {
            RequestError::Protocol(e) => {
                err = err.with_message(format!("Malformed HTTP request: {e}."))
            }
            RequestError::PlainHttpRefused(_) => {
                err = err.with_message("This server requires TLS: use https:// to connect.")
            }
            _ => {}
        }
        err.into_response(&request_id)
    }
}
