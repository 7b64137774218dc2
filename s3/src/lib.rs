//! The S3 API of Cairn: every request is routed to a typed [`Endpoint`](endpoint::Endpoint),
//! authenticated by cairn-sigv4 before its body is read, decided once by
//! [`authorize`](authorize::authorize), and answered from cairn-storage with AWS's XML and
//! headers.
//!
//! Pure parts (no IO, fuzzed): [`router`], [`query`], [`xml`]'s reader, [`headers`]' and
//! [`copy`]'s header parsers. The rest runs on a core's glommio executor.
#![forbid(unsafe_code)]

pub mod auth;
pub mod authorize;
pub mod body;
pub mod checksum;
pub mod copy;
pub mod endpoint;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
mod ops_bucket;
mod ops_list;
mod ops_multipart;
mod ops_object;
pub mod query;
mod region;
pub mod request_id;
pub mod router;
mod upload;
pub mod xml;

use std::rc::Rc;

use cairn_http::proto::{Method, RequestHead};
use cairn_http::server::{Body, Request, Response, ResponseBody};
use cairn_sigv4::{BodyMode, PayloadVerifier};
use cairn_storage::{BucketInfo, CoreStore};

use self::auth::Authenticator;
use self::authorize::{authorize, Authorized, Identity};
use self::endpoint::{BucketOp, CopyOp, Endpoint, ObjectOp, ServiceOp};
use self::error::{S3Error, S3ErrorCode};
use self::query::Query;
use self::router::{route, RouteInput, Routed, RouterConfig};

/// One core's S3 service: its storage handle, authenticator and routing configuration.
#[derive(Debug)]
pub struct S3Service {
    pub store: CoreStore,
    pub auth: Authenticator,
    pub router: Rc<RouterConfig>,
}

/// One authenticated and authorized request, as the operations see it.
pub(crate) struct Call<'r, 'b> {
    pub head: &'r RequestHead,
    pub body: &'r mut Body<'b>,
    pub query: &'r Query<'r>,
    pub identity: Identity<'r>,
    payload: Option<PayloadVerifier>,
    pub secure: bool,
}

impl Call<'_, '_> {
    /// The body's verifier (once: the body can be read only once).
    pub fn payload(&mut self) -> Result<PayloadVerifier, S3Error> {
        self.payload
            .take()
            .ok_or_else(|| S3Error::code(S3ErrorCode::InternalError))
    }

    /// A header's value, trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        headers::header(self.head, name)
    }
}

/// Whether the endpoint may carry the unsigned-trailer body AWS allows only for uploads.
fn allows_unsigned_trailer(endpoint: &Endpoint<'_>) -> bool {
    matches!(
        endpoint,
        Endpoint::Object {
            op: ObjectOp::PutObject | ObjectOp::UploadPart { .. },
            ..
        }
    )
}

impl S3Service {
    /// Answers one S3 request, with `request_id` as its `x-amz-request-id`.
    pub async fn handle(&self, request: Request<'_>, request_id: String) -> Response {
        let Request {
            head,
            mut body,
            secure,
            ..
        } = request;
        let (operation, result) = self.answer(&head, &mut body, secure).await;
        let mut response = match result {
            Ok(response) => response.header("x-amz-request-id", request_id),
            Err(error) => error_answer(error, &head, operation, &request_id),
        };
        if head.method() == Method::Head {
            // A HEAD answer carries no body, only its length.
            if let ResponseBody::Full(b) = &response.body {
                let len = b.len() as u64;
                response = response.head_of(len);
            }
        }
        response
    }

    /// Routes, authenticates, authorizes and runs a request; the operation's name (empty
    /// when routing failed) goes with the result.
    async fn answer(
        &self,
        head: &RequestHead,
        body: &mut Body<'_>,
        secure: bool,
    ) -> (&'static str, Result<Response, S3Error>) {
        let Ok(query) = Query::parse(head.query()) else {
            return ("", Err(S3Error::code(S3ErrorCode::InvalidURI)));
        };
        let input = RouteInput {
            method: head.method(),
            path: head.path(),
            query: &query,
            host: head.header_str("host"),
            copy_source: head
                .header("x-amz-copy-source")
                .map(|v| std::str::from_utf8(v).unwrap_or("")),
        };
        match route(&input, &self.router) {
            Ok(routed) => {
                let operation = routed.endpoint.operation();
                (
                    operation,
                    self.call(head, body, secure, &query, routed).await,
                )
            }
            Err(e) => ("", Err(e.into())),
        }
    }

    /// Authenticates a routed request, decides its access, and runs it.
    pub async fn call(
        &self,
        head: &RequestHead,
        body: &mut Body<'_>,
        secure: bool,
        query: &Query<'_>,
        routed: Routed<'_>,
    ) -> Result<Response, S3Error> {
        let authenticated = self.auth.authenticate(head, routed.virtual_host_bucket())?;
        if authenticated.payload.mode() == BodyMode::AwsChunkedUnsignedTrailer
            && !allows_unsigned_trailer(&routed.endpoint)
        {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest).with_message(
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER is only allowed for PutObject and UploadPart.",
            ));
        }
        let auth::Authenticated { caller, payload } = authenticated;
        let identity = caller.identity();
        let endpoint = authorize(&identity, routed.endpoint, |name| {
            self.store.peek_bucket(name)
        })?;
        let mut call = Call {
            head,
            body,
            query,
            identity,
            payload: Some(payload),
            secure,
        };
        self.dispatch(&mut call, endpoint).await
    }

    async fn dispatch(
        &self,
        c: &mut Call<'_, '_>,
        endpoint: Authorized<'_>,
    ) -> Result<Response, S3Error> {
        match endpoint {
            Endpoint::Service(ServiceOp::ListBuckets) => self.list_buckets(c).await,
            Endpoint::Service(ServiceOp::CreateBucket { bucket }) => {
                self.create_bucket(c, &bucket).await
            }
            Endpoint::Bucket { bucket, op } => self.bucket_op(c, &bucket, op).await,
            Endpoint::Object { bucket, key, op } => self.object_op(c, &bucket, &key, op).await,
            Endpoint::Copy {
                bucket,
                key,
                source,
                op,
            } => match op {
                CopyOp::CopyObject => self.copy_object(c, &bucket, &key, &source).await,
                CopyOp::UploadPartCopy {
                    upload_id,
                    part_number,
                } => {
                    self.upload_part_copy(c, (&bucket, &key), (&upload_id, part_number), &source)
                        .await
                }
            },
        }
    }

    async fn bucket_op(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        op: BucketOp,
    ) -> Result<Response, S3Error> {
        match op {
            BucketOp::DeleteBucket => self.delete_bucket(bucket).await,
            BucketOp::HeadBucket => Ok(self.head_bucket(bucket)),
            BucketOp::GetBucketLocation => Ok(self.get_bucket_location(bucket)),
            BucketOp::GetBucketVersioning => Ok(ops_bucket::get_bucket_versioning()),
            BucketOp::GetBucketAcl => self.get_acl(c, bucket, None).await,
            BucketOp::PutBucketAcl => self.put_acl(c, bucket, None).await,
            BucketOp::GetObjectLockConfiguration => Err(S3Error::code(
                S3ErrorCode::ObjectLockConfigurationNotFoundError,
            )),
            BucketOp::ListObjects => self.list_objects_v1(c, bucket).await,
            BucketOp::ListObjectsV2 => self.list_objects_v2(c, bucket).await,
            BucketOp::ListObjectVersions => self.list_object_versions(c, bucket).await,
            BucketOp::ListMultipartUploads => self.list_multipart_uploads(c, bucket).await,
            BucketOp::DeleteObjects => self.delete_objects(c, bucket).await,
        }
    }

    async fn object_op(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
        op: ObjectOp<'_>,
    ) -> Result<Response, S3Error> {
        match op {
            ObjectOp::PutObject => self.put_object(c, bucket, key).await,
            ObjectOp::GetObject { part_number } => {
                self.get_object(c, bucket, key, part_number, false).await
            }
            ObjectOp::HeadObject { part_number } => {
                self.get_object(c, bucket, key, part_number, true).await
            }
            ObjectOp::DeleteObject => self.delete_object(c, bucket, key).await,
            ObjectOp::GetObjectAcl => self.get_acl(c, bucket, Some(key)).await,
            ObjectOp::PutObjectAcl => self.put_acl(c, bucket, Some(key)).await,
            ObjectOp::CreateMultipartUpload => self.create_multipart_upload(c, bucket, key).await,
            ObjectOp::UploadPart {
                upload_id,
                part_number,
            } => {
                self.upload_part(c, bucket, key, &upload_id, part_number)
                    .await
            }
            ObjectOp::CompleteMultipartUpload { upload_id } => {
                self.complete_multipart_upload(c, bucket, key, &upload_id)
                    .await
            }
            ObjectOp::AbortMultipartUpload { upload_id } => {
                self.abort_multipart_upload(bucket, key, &upload_id).await
            }
            ObjectOp::ListParts { upload_id } => self.list_parts(c, bucket, key, &upload_id).await,
        }
    }

    /// Rejects a `versionId` other than `null` (Cairn's buckets are unversioned: every object
    /// is its own `null` version).
    pub(crate) fn check_version_id(c: &Call<'_, '_>) -> Result<(), S3Error> {
        match c.query.get("versionId") {
            None | Some("null") => Ok(()),
            Some(_) => Err(S3Error::code(S3ErrorCode::InvalidArgument)
                .with_message("Invalid version id specified")),
        }
    }

    /// The owner element of listings and ACLs.
    pub(crate) fn write_owner(w: &mut xml::XmlWriter, tag: &str, identity: &Identity<'_>) {
        w.open(tag)
            .elem("ID", identity.user_id)
            .elem("DisplayName", identity.display_name)
            .close(tag);
    }
}

/// The answer to a failed request: S3's XML error, logged at debug (an internal error at
/// warn), with the request's path as its resource unless the error named one.
fn error_answer(
    mut error: S3Error,
    head: &RequestHead,
    operation: &str,
    request_id: &str,
) -> Response {
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
    error.into_response(request_id)
}

/// A 200 answer with an XML body.
pub fn xml_response(body: String) -> Response {
    Response::new(200)
        .header("Content-Type", "application/xml")
        .body(body)
}

/// Replaces (or adds) a header of a response.
pub fn set_header(mut response: Response, name: &'static str, value: String) -> Response {
    response
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    response.header(name, value)
}
