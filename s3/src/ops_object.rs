//! Object operations: PutObject, GetObject/HeadObject, DeleteObject and DeleteObjects.

use std::io;

use cairn_http::server::Response;
use cairn_storage::{BucketInfo, ByteRange, ObjectInfo, PutOptions};
use futures_lite::StreamExt;

use crate::body::{read_all, MAX_XML_BODY};
use crate::checksum::checksum_headers;
use crate::error::{S3Error, S3ErrorCode};
use crate::headers::{
    content_md5, http_date, object_headers, object_meta, parse_range, quoted, write_condition,
    ConditionFailure, Conditions,
};
use crate::upload::{check_upload_length, receive, stored};
use crate::xml::{parse_root, XmlLimits, XmlWriter};
use crate::{set_header, xml_response, Call, S3Service};

/// S3's largest DeleteObjects batch.
const MAX_DELETE_KEYS: usize = 1000;

/// A DeleteObjects body: `<Quiet>` and up to 1,000 `<Object>`s of at most 6 elements each
/// (itself, `Key`, `VersionId`, `ETag`, `LastModifiedTime`, `Size`).
const DELETE_LIMITS: XmlLimits = XmlLimits::items(MAX_DELETE_KEYS + 1, 6);

/// The query parameters of a GET that override response headers.
const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "Content-Type"),
    ("response-content-language", "Content-Language"),
    ("response-expires", "Expires"),
    ("response-cache-control", "Cache-Control"),
    ("response-content-disposition", "Content-Disposition"),
    ("response-content-encoding", "Content-Encoding"),
];

impl S3Service {
    pub(crate) async fn put_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
    ) -> Result<Response, S3Error> {
        check_upload_length(c)?;
        let options = PutOptions {
            meta: object_meta(c.head)?,
            condition: write_condition(c.head)?,
            content_md5: content_md5(c.head)?,
            ..PutOptions::default()
        };
        let writer = self.store.put_object(bucket, key, options).await?;
        let info = receive(c, writer).await?;
        Ok(stored(&info))
    }

    /// GetObject, or HeadObject when `head_only`; `part_number` reads one part.
    pub(crate) async fn get_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
        part_number: Option<u16>,
        head_only: bool,
    ) -> Result<Response, S3Error> {
        S3Service::check_version_id(c)?;
        let conditions = Conditions::read(c.head);
        let mut range = c.header("range").and_then(parse_range);
        if part_number.is_some() && range.is_some() {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest)
                .with_message("Cannot specify both Range header and partNumber query parameter"));
        }
        let mut info: Option<ObjectInfo> = None;
        if let Some(n) = part_number {
            let i = self.store.head_object(bucket, key).await?;
            range = Some(part_range(&i, n)?);
            info = Some(i);
        }
        let (info, resolved, body) = if head_only {
            let i = match info {
                Some(i) => i,
                None => self.store.head_object(bucket, key).await?,
            };
            let resolved = match range {
                Some(r) => Some(r.resolve(i.size)?),
                None => None,
            };
            (i, resolved, None)
        } else {
            let got = self.store.get_object(bucket, key, range).await?;
            let resolved = range.map(|_| got.range);
            (got.info, resolved, Some(got.body))
        };
        if let Err(failure) = conditions.evaluate(&info) {
            return match failure {
                ConditionFailure::NotModified => Ok(Response::new(304)
                    .header("ETag", quoted(&info.etag))
                    .header("Last-Modified", http_date(info.last_modified_ms))),
                ConditionFailure::Failed => Err(S3Error::code(S3ErrorCode::PreconditionFailed)),
            };
        }
        let (status, length) = match resolved {
            Some((start, end)) => (206, end - start),
            None => (200, info.size),
        };
        let mut response = object_headers(Response::new(status), &info);
        if let Some((start, end)) = resolved {
            response = response.header(
                "Content-Range",
                format!("bytes {start}-{}/{}", end.saturating_sub(1), info.size),
            );
        }
        if part_number.is_some() && info.parts > 0 {
            response = response.header("x-amz-mp-parts-count", info.parts.to_string());
        }
        let whole = resolved.is_none() && part_number.is_none();
        if whole
            && c.header("x-amz-checksum-mode")
                .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
        {
            response = checksum_headers(response, &info.meta.checksums);
        }
        for (param, name) in RESPONSE_OVERRIDES {
            if let Some(value) = c.query.get(param) {
                response = set_header(response, name, value.to_owned());
            }
        }
        Ok(match body {
            Some(body) => response.stream(Some(length), stream_body(body)),
            None => response.head_of(length),
        })
    }

    pub(crate) async fn delete_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
    ) -> Result<Response, S3Error> {
        S3Service::check_version_id(c)?;
        self.store.delete_object(bucket, key).await?;
        Ok(Response::new(204))
    }

    /// DeleteObjects. Every delete names the bucket as it was when the request was
    /// authorized: a body that arrives slowly cannot delete from a bucket created under the
    /// same name meanwhile (each such key answers `NoSuchBucket`).
    pub(crate) async fn delete_objects(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
    ) -> Result<Response, S3Error> {
        let md5 = content_md5(c.head)?;
        let payload = c.payload()?;
        // Content-MD5, or an x-amz-checksum-* header or trailer (which the verifier checks).
        if md5.is_none()
            && payload.header_checksum().is_none()
            && c.header("x-amz-trailer").is_none()
        {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest).with_message(
                "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
            ));
        }
        let (body, _) = read_all(c.body, payload, MAX_XML_BODY).await?;
        if let Some(expected) = md5 {
            if md5_digest(&body) != expected {
                return Err(S3Error::code(S3ErrorCode::BadDigest));
            }
        }
        let request = parse_root(&body, "Delete", DELETE_LIMITS)?;
        let quiet = request
            .child_text("Quiet")
            .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
        let objects: Vec<_> = request.children_named("Object").collect();
        if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
            return Err(S3Error::code(S3ErrorCode::MalformedXML));
        }
        let mut w = XmlWriter::new("DeleteResult");
        for object in objects {
            let key = object
                .child_text("Key")
                .ok_or_else(|| S3Error::code(S3ErrorCode::MalformedXML))?;
            let version = object.child_text("VersionId");
            let result = match version {
                None | Some("null") => self
                    .store
                    .delete_object(bucket, key)
                    .await
                    .map_err(S3Error::from),
                Some(_) => Err(S3Error::code(S3ErrorCode::NoSuchVersion)),
            };
            match result {
                Ok(_) if quiet => {}
                Ok(_) => {
                    w.open("Deleted")
                        .elem("Key", key)
                        .opt("VersionId", version)
                        .close("Deleted");
                }
                Err(e) => {
                    w.open("Error")
                        .elem("Key", key)
                        .opt("VersionId", version)
                        .elem("Code", e.code.as_str())
                        .elem("Message", &e.message)
                        .close("Error");
                }
            }
        }
        Ok(xml_response(w.finish("DeleteResult")))
    }
}

fn stream_body(
    body: cairn_storage::ObjectBody,
) -> impl futures_lite::Stream<Item = io::Result<bytes::Bytes>> {
    body.map(|r| r.map_err(io::Error::other))
}

/// The byte range of part `n` of an object (a single-PUT object is its own part 1).
fn part_range(info: &ObjectInfo, n: u16) -> Result<ByteRange, S3Error> {
    let not_satisfiable = || S3Error::code(S3ErrorCode::InvalidPartNumber);
    if info.parts == 0 {
        return if n == 1 && info.size > 0 {
            Ok(ByteRange::FromTo(0, info.size - 1))
        } else if n == 1 {
            Err(S3Error::code(S3ErrorCode::InvalidRange))
        } else {
            Err(not_satisfiable())
        };
    }
    let index = usize::from(n) - 1;
    let len = *info.part_lengths.get(index).ok_or_else(not_satisfiable)?;
    let start: u64 = info.part_lengths[..index].iter().sum();
    if len == 0 {
        return Err(S3Error::code(S3ErrorCode::InvalidRange));
    }
    Ok(ByteRange::FromTo(start, start + len - 1))
}

fn md5_digest(data: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(data).into()
}
