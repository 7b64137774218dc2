//! Object operations: PutObject, GetObject/HeadObject, DeleteObject, DeleteObjects and
//! CopyObject.

use std::io;

use cairn_http::server::Response;
use cairn_storage::{ByteRange, ObjectInfo, PutOptions};
use futures_lite::StreamExt;

use crate::s3::body::{read_all, stream_into, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::headers::{
    checksum_headers, content_md5, http_date, iso8601_ms, object_headers, object_meta, parse_range,
    quoted, write_condition, ConditionFailure, Conditions, MAX_PUT_SIZE,
};
use crate::s3::router::percent_decode;
use crate::s3::xml::{parse_root, XmlWriter};
use crate::s3::{set_header, xml_response, Call, S3Service};

/// S3's largest DeleteObjects batch.
const MAX_DELETE_KEYS: usize = 1000;

/// The query parameters of a GET that override response headers.
const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "Content-Type"),
    ("response-content-language", "Content-Language"),
    ("response-expires", "Expires"),
    ("response-cache-control", "Cache-Control"),
    ("response-content-disposition", "Content-Disposition"),
    ("response-content-encoding", "Content-Encoding"),
];

/// Refuses a request without body framing, and a declared size over `max`.
pub(crate) fn check_upload_length(c: &Call<'_, '_>, max: u64) -> Result<(), S3Error> {
    // Without framing HTTP reads an empty body; S3 wants the length said.
    if c.header("content-length").is_none() && !c.body.is_chunked() {
        return Err(S3Error::code(S3ErrorCode::MissingContentLength));
    }
    let declared = match c.header("x-amz-decoded-content-length") {
        Some(v) => v.parse::<u64>().ok(),
        None => c.body.content_length(),
    };
    if declared.is_some_and(|n| n > max) {
        return Err(S3Error::code(S3ErrorCode::EntityTooLarge)
            .with_field("ProposedSize", declared.unwrap_or(0).to_string())
            .with_field("MaxSizeAllowed", max.to_string()));
    }
    Ok(())
}

/// `bucket/key` of an `x-amz-copy-source` (URL-encoded, optional leading `/`, optional
/// `?versionId=null`).
pub(crate) fn parse_copy_source(value: &str) -> Result<(String, String), S3Error> {
    let invalid = || {
        S3Error::code(S3ErrorCode::InvalidArgument).with_message(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let (path, version) = match value.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (value, None),
    };
    if let Some(query) = version {
        match query.strip_prefix("versionId=") {
            Some("null") => {}
            _ => {
                return Err(S3Error::code(S3ErrorCode::InvalidArgument)
                    .with_message("Invalid version id specified"))
            }
        }
    }
    let decoded = percent_decode(path.strip_prefix('/').unwrap_or(path)).ok_or_else(invalid)?;
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok((bucket.to_owned(), key.to_owned()))
}

fn stream_body(
    body: cairn_storage::ObjectBody,
) -> impl futures_lite::Stream<Item = io::Result<bytes::Bytes>> {
    body.map(|r| r.map_err(io::Error::other))
}

impl S3Service {
    pub(crate) async fn put_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        check_upload_length(c, MAX_PUT_SIZE)?;
        let options = PutOptions {
            meta: object_meta(c.head)?,
            condition: write_condition(c.head)?,
            content_md5: content_md5(c.head)?,
            ..PutOptions::default()
        };
        let payload = c.payload()?;
        let mut writer = self.store.put_object(bucket, key, options).await?;
        match stream_into(c.body, payload, &mut writer, MAX_PUT_SIZE).await {
            Ok(summary) => {
                if let Some(sum) = summary.checksum {
                    writer.set_verified_checksum(sum.algorithm().s3_name(), sum.to_base64());
                }
            }
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        }
        let info = writer.commit().await?;
        let response = Response::new(200).header("ETag", quoted(&info.etag));
        Ok(checksum_headers(response, &info.meta.checksums))
    }

    /// GetObject, or HeadObject when `head_only`.
    pub(crate) async fn get_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
        head_only: bool,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        S3Service::check_version_id(c)?;
        let conditions = Conditions::read(c.head);
        let part_number = match c.query.get("partNumber") {
            None => None,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=10_000).contains(&n) => Some(n),
                _ => {
                    return Err(S3Error::code(S3ErrorCode::InvalidArgument).with_message(
                        "Part number must be an integer between 1 and 10000, inclusive.",
                    ))
                }
            },
        };
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
        bucket: &str,
        key: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        S3Service::check_version_id(c)?;
        self.store.delete_object(bucket, key).await?;
        Ok(Response::new(204))
    }

    pub(crate) async fn delete_objects(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
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
            let got = md5_digest(&body);
            if got != expected {
                return Err(S3Error::code(S3ErrorCode::BadDigest));
            }
        }
        let request = parse_root(&body, "Delete")?;
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

    pub(crate) async fn copy_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        let (src_bucket, src_key) =
            parse_copy_source(c.header("x-amz-copy-source").unwrap_or_default())?;
        self.owned_bucket(c, &src_bucket)?;
        let replace = match c.header("x-amz-metadata-directive") {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("COPY") => false,
            Some(d) if d.eq_ignore_ascii_case("REPLACE") => true,
            Some(_) => {
                return Err(S3Error::code(S3ErrorCode::InvalidArgument)
                    .with_message("Unknown metadata directive."))
            }
        };
        if !replace && src_bucket == bucket && src_key == key {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest).with_message(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let condition = write_condition(c.head)?;
        let new_meta = if replace {
            Some(object_meta(c.head)?)
        } else {
            None
        };
        let source = self.store.get_object(&src_bucket, &src_key, None).await?;
        check_copy_conditions(c, &source.info)?;
        if source.info.size > MAX_PUT_SIZE {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest).with_message(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT_SIZE}"
            )));
        }
        let meta = new_meta.unwrap_or_else(|| source.info.meta.clone());
        let info = self
            .copy_stream(
                source.body,
                self.store
                    .put_object(
                        bucket,
                        key,
                        PutOptions {
                            meta,
                            condition,
                            ..PutOptions::default()
                        },
                    )
                    .await?,
            )
            .await?;
        let mut w = XmlWriter::new("CopyObjectResult");
        w.elem("LastModified", &iso8601_ms(info.last_modified_ms))
            .elem("ETag", &quoted(&info.etag));
        Ok(xml_response(w.finish("CopyObjectResult")))
    }

    /// Streams a source body into a writer and commits it (aborting on any error).
    pub(crate) async fn copy_stream(
        &self,
        mut body: cairn_storage::ObjectBody,
        mut writer: cairn_storage::ObjectWriter,
    ) -> Result<ObjectInfo, S3Error> {
        while let Some(chunk) = body.next().await {
            let res = match chunk {
                Ok(chunk) => writer.write(&chunk).await,
                Err(e) => Err(e),
            };
            if let Err(e) = res {
                writer.abort().await;
                return Err(e.into());
            }
        }
        Ok(writer.commit().await?)
    }
}

/// `x-amz-copy-source-if-*`: every failure is a 412 for a copy.
pub(crate) fn check_copy_conditions(c: &Call<'_, '_>, source: &ObjectInfo) -> Result<(), S3Error> {
    Conditions::copy_source(c.head)
        .evaluate(source)
        .map_err(|_| S3Error::code(S3ErrorCode::PreconditionFailed))
}

/// The byte range of part `n` of an object (a single-PUT object is its own part 1).
fn part_range(info: &ObjectInfo, n: u32) -> Result<ByteRange, S3Error> {
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
    let index = n as usize - 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        assert_eq!(
            parse_copy_source("/b/a%20b/c%2Bd").unwrap(),
            ("b".to_owned(), "a b/c+d".to_owned())
        );
        assert_eq!(
            parse_copy_source("b/k?versionId=null").unwrap(),
            ("b".to_owned(), "k".to_owned())
        );
        assert!(parse_copy_source("b/k?versionId=abc").is_err());
        assert!(parse_copy_source("bucketonly").is_err());
        assert!(parse_copy_source("/b/").is_err());
        assert!(parse_copy_source("b/%zz").is_err());
    }
}
