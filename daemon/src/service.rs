//! The request handler every core runs: the health check, and the S3 API for everything else.

use cairn_http::proto::Method;
use cairn_http::server::{Handler, Request, RequestError, Response};
use cairn_s3::error::protocol_error_response;
use cairn_s3::request_id::RequestIds;
use cairn_s3::S3Service;

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

    /// Reports this core's keys' last uses to the key store.
    pub fn report_last_used(&self) {
        self.s3.auth.report_last_used();
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

impl Handler for CairnService {
    async fn handle(&self, request: Request<'_>) -> Response {
        let request_id = self.ids.next_id();
        let path = request.head.path();
        if path == HEALTH_PATH && matches!(request.head.method(), Method::Get | Method::Head) {
            return self.health(&request, request_id);
        }
        self.s3.handle(request, request_id).await
    }

    fn error_response(&self, error: &RequestError<'_>) -> Response {
        protocol_error_response(error, &self.ids.next_id())
    }
}
