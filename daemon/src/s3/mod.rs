//! The S3 API: every request is routed to a typed endpoint, authenticated by cairn-sigv4
//! before its body is read, and answered from cairn-storage with AWS's XML and headers.

pub mod auth;
pub mod body;
pub mod error;
pub mod headers;
mod ops_bucket;
mod ops_list;
mod ops_multipart;
mod ops_object;
pub mod request_id;
pub mod router;
pub mod xml;

use std::rc::Rc;

use cairn_http::proto::RequestHead;
use cairn_http::server::{Body, Response};
use cairn_sigv4::{BodyMode, PayloadVerifier};
use cairn_storage::{BucketInfo, CoreStore};

use self::auth::{Authenticator, KeyPair};
use self::error::{S3Error, S3ErrorCode};
use self::router::{Endpoint, Query, RouterConfig};

/// One core's S3 service: its storage handle and authenticator.
#[derive(Debug)]
pub struct S3Service {
    pub store: CoreStore,
    pub auth: Authenticator,
    pub router: Rc<RouterConfig>,
}

/// One authenticated request, as the operations see it.
pub struct Call<'r, 'b> {
    pub head: &'r RequestHead,
    pub body: &'r mut Body<'b>,
    pub query: &'r Query<'r>,
    pub key: &'r KeyPair,
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
        Endpoint::PutObject { .. } | Endpoint::UploadPart { .. }
    )
}

impl S3Service {
    /// Authenticates and answers one routed request. `Err` answers carry no resource yet.
    pub async fn call(
        &self,
        head: &RequestHead,
        body: &mut Body<'_>,
        secure: bool,
        endpoint: Endpoint<'_>,
    ) -> Result<Response, S3Error> {
        let authenticated = self.auth.authenticate(head)?;
        if authenticated.payload.mode() == BodyMode::AwsChunkedUnsignedTrailer
            && !allows_unsigned_trailer(&endpoint)
        {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest).with_message(
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER is only allowed for PutObject and UploadPart.",
            ));
        }
        let query =
            Query::parse(head.query()).map_err(|_| S3Error::code(S3ErrorCode::InvalidURI))?;
        let mut call = Call {
            head,
            body,
            query: &query,
            key: authenticated.key,
            payload: Some(authenticated.payload),
            secure,
        };
        self.dispatch(&mut call, endpoint).await
    }

    async fn dispatch(
        &self,
        c: &mut Call<'_, '_>,
        endpoint: Endpoint<'_>,
    ) -> Result<Response, S3Error> {
        match endpoint {
            Endpoint::ListBuckets => self.list_buckets(c).await,
            Endpoint::CreateBucket { bucket } => self.create_bucket(c, &bucket).await,
            Endpoint::DeleteBucket { bucket } => self.delete_bucket(c, &bucket).await,
            Endpoint::HeadBucket { bucket } => self.head_bucket(c, &bucket),
            Endpoint::GetBucketLocation { bucket } => self.get_bucket_location(c, &bucket),
            Endpoint::GetBucketVersioning { bucket } => self.get_bucket_versioning(c, &bucket),
            Endpoint::GetBucketAcl { bucket } => self.get_acl(c, &bucket, None).await,
            Endpoint::GetObjectAcl { bucket, key } => self.get_acl(c, &bucket, Some(&key)).await,
            Endpoint::PutBucketAcl { bucket } => self.put_acl(c, &bucket, None).await,
            Endpoint::PutObjectAcl { bucket, key } => self.put_acl(c, &bucket, Some(&key)).await,
            Endpoint::GetObjectLockConfiguration { bucket } => {
                self.owned_bucket(c, &bucket)?;
                Err(S3Error::code(
                    S3ErrorCode::ObjectLockConfigurationNotFoundError,
                ))
            }
            Endpoint::ListObjects { bucket } => self.list_objects_v1(c, &bucket).await,
            Endpoint::ListObjectsV2 { bucket } => self.list_objects_v2(c, &bucket).await,
            Endpoint::ListObjectVersions { bucket } => self.list_object_versions(c, &bucket).await,
            Endpoint::ListMultipartUploads { bucket } => {
                self.list_multipart_uploads(c, &bucket).await
            }
            Endpoint::DeleteObjects { bucket } => self.delete_objects(c, &bucket).await,
            Endpoint::PutObject { bucket, key } => self.put_object(c, &bucket, &key).await,
            Endpoint::CopyObject { bucket, key } => self.copy_object(c, &bucket, &key).await,
            Endpoint::GetObject { bucket, key } => self.get_object(c, &bucket, &key, false).await,
            Endpoint::HeadObject { bucket, key } => self.get_object(c, &bucket, &key, true).await,
            Endpoint::DeleteObject { bucket, key } => self.delete_object(c, &bucket, &key).await,
            Endpoint::CreateMultipartUpload { bucket, key } => {
                self.create_multipart_upload(c, &bucket, &key).await
            }
            Endpoint::UploadPart {
                bucket,
                key,
                upload_id,
                part_number,
            } => {
                self.upload_part(c, &bucket, &key, &upload_id, part_number)
                    .await
            }
            Endpoint::UploadPartCopy {
                bucket,
                key,
                upload_id,
                part_number,
            } => {
                self.upload_part_copy(c, &bucket, &key, &upload_id, part_number)
                    .await
            }
            Endpoint::CompleteMultipartUpload {
                bucket,
                key,
                upload_id,
            } => {
                self.complete_multipart_upload(c, &bucket, &key, &upload_id)
                    .await
            }
            Endpoint::AbortMultipartUpload {
                bucket,
                key,
                upload_id,
            } => {
                self.abort_multipart_upload(c, &bucket, &key, &upload_id)
                    .await
            }
            Endpoint::ListParts {
                bucket,
                key,
                upload_id,
            } => self.list_parts(c, &bucket, &key, &upload_id).await,
        }
    }

    /// The bucket, if it exists and the caller owns it (`NoSuchBucket`, `AccessDenied`).
    pub(crate) fn owned_bucket(
        &self,
        c: &Call<'_, '_>,
        bucket: &str,
    ) -> Result<BucketInfo, S3Error> {
        let info = self.store.peek_bucket(bucket)?;
        if info.owner != c.key.owner_id {
            return Err(S3Error::code(S3ErrorCode::AccessDenied));
        }
        Ok(info)
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
    pub(crate) fn write_owner(w: &mut xml::XmlWriter, tag: &str, id: &str, display_name: &str) {
        w.open(tag)
            .elem("ID", id)
            .elem("DisplayName", display_name)
            .close(tag);
    }
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
