//! Server-side copies: CopyObject and UploadPartCopy, with what they share — the
//! `x-amz-copy-source` and `x-amz-copy-source-range` headers (pure parsers, fuzzed), the
//! `x-amz-copy-source-if-*` conditions, and streaming a source body into a writer.

use std::borrow::Cow;

use cairn_http::server::Response;
use cairn_storage::{BucketInfo, ByteRange, ObjectInfo, ObjectWriter, PartOptions, PutOptions};
use futures_lite::StreamExt;

use crate::checksum::{upload_algorithm, PartChecksum};
use crate::endpoint::CopySource;
use crate::error::{S3Error, S3ErrorCode};
use crate::headers::{iso8601_ms, object_meta, quoted, write_condition, Conditions, MAX_PUT_SIZE};
use crate::query::percent_decode;
use crate::xml::XmlWriter;
use crate::{xml_response, Call, S3Service};

const COPY_SOURCE_MESSAGE: &str =
    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey";
const VERSION_ID_MESSAGE: &str = "Invalid version id specified";
const COPY_RANGE_MESSAGE: &str = "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy";

/// Parses `x-amz-copy-source`: `bucket/key`, URL-encoded, with an optional leading `/` and an
/// optional `?versionId=null` (Cairn's objects have only the `null` version). The error is
/// the message of S3's `InvalidArgument`.
pub fn parse_copy_source(value: &str) -> Result<CopySource<'_>, &'static str> {
    let (path, version) = match value.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (value, None),
    };
    if let Some(query) = version {
        if query.strip_prefix("versionId=") != Some("null") {
            return Err(VERSION_ID_MESSAGE);
        }
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = path.split_once('/').ok_or(COPY_SOURCE_MESSAGE)?;
    fn decode(part: &str) -> Result<Cow<'_, str>, &'static str> {
        match percent_decode(part) {
            Some(d) if !d.is_empty() => Ok(d),
            _ => Err(COPY_SOURCE_MESSAGE),
        }
    }
    let (bucket, key) = (decode(bucket)?, decode(key)?);
    // An encoded `/` in the bucket part would make `a%2Fb/c` name bucket `a`, key `b/c`
    // to one reader and bucket `a/b` to another; no valid bucket name has one.
    if bucket.contains('/') {
        return Err(COPY_SOURCE_MESSAGE);
    }
    Ok(CopySource { bucket, key })
}

/// Parses `x-amz-copy-source-range: bytes=first-last` (both required, `first <= last`). The
/// error is the message of S3's `InvalidArgument`.
pub fn parse_copy_range(value: &str) -> Result<ByteRange, &'static str> {
    let (first, last) = value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or(COPY_RANGE_MESSAGE)?;
    let number = |s: &str| -> Result<u64, &'static str> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(COPY_RANGE_MESSAGE);
        }
        s.parse().map_err(|_| COPY_RANGE_MESSAGE)
    };
    let (first, last) = (number(first)?, number(last)?);
    if first > last {
        return Err(COPY_RANGE_MESSAGE);
    }
    Ok(ByteRange::FromTo(first, last))
}

/// `x-amz-copy-source-if-*`: every failure is a 412 for a copy.
fn check_copy_conditions(c: &Call<'_, '_>, source: &ObjectInfo) -> Result<(), S3Error> {
    Conditions::copy_source(c.head)
        .evaluate(source)
        .map_err(|_| S3Error::code(S3ErrorCode::PreconditionFailed))
}

/// Streams a source body into a writer and commits it (aborting on any error).
async fn copy_stream(
    mut body: cairn_storage::ObjectBody,
    mut writer: ObjectWriter,
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

/// `x-amz-metadata-directive`: whether the copy replaces the metadata.
fn replaces_metadata(c: &Call<'_, '_>) -> Result<bool, S3Error> {
    match c.header("x-amz-metadata-directive") {
        None => Ok(false),
        Some(d) if d.eq_ignore_ascii_case("COPY") => Ok(false),
        Some(d) if d.eq_ignore_ascii_case("REPLACE") => Ok(true),
        Some(_) => {
            Err(S3Error::code(S3ErrorCode::InvalidArgument)
                .with_message("Unknown metadata directive."))
        }
    }
}

/// A copy's answer: `<CopyObjectResult>` or `<CopyPartResult>`.
fn copy_result(root: &str, info: &ObjectInfo) -> Response {
    let mut w = XmlWriter::new(root);
    w.elem("LastModified", &iso8601_ms(info.last_modified_ms))
        .elem("ETag", &quoted(&info.etag));
    xml_response(w.finish(root))
}

impl S3Service {
    pub(crate) async fn copy_object(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
        source: &CopySource<'_, BucketInfo>,
    ) -> Result<Response, S3Error> {
        let replace = replaces_metadata(c)?;
        if !replace && source.bucket.name == bucket.name && source.key == key {
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
        let from = self
            .store
            .get_object(&source.bucket, &source.key, None)
            .await?;
        check_copy_conditions(c, &from.info)?;
        if from.info.size > MAX_PUT_SIZE {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest).with_message(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT_SIZE}"
            )));
        }
        let options = PutOptions {
            meta: new_meta.unwrap_or_else(|| from.info.meta.clone()),
            condition,
            ..PutOptions::default()
        };
        let writer = self.store.put_object(bucket, key, options).await?;
        let info = copy_stream(from.body, writer).await?;
        Ok(copy_result("CopyObjectResult", &info))
    }

    pub(crate) async fn upload_part_copy(
        &self,
        c: &mut Call<'_, '_>,
        (bucket, key): (&BucketInfo, &str),
        (upload_id, part_number): (&str, u16),
        source: &CopySource<'_, BucketInfo>,
    ) -> Result<Response, S3Error> {
        let range = c
            .header("x-amz-copy-source-range")
            .map(parse_copy_range)
            .transpose()
            .map_err(|m| S3Error::code(S3ErrorCode::InvalidArgument).with_message(m))?;
        let source_info = self.store.head_object(&source.bucket, &source.key).await?;
        check_copy_conditions(c, &source_info)?;
        if let Some(ByteRange::FromTo(_, last)) = range {
            if last >= source_info.size {
                return Err(
                    S3Error::code(S3ErrorCode::InvalidArgument).with_message(format!(
                        "Range specified is not valid for source object of size: {}",
                        source_info.size
                    )),
                );
            }
        }
        let from = self
            .store
            .get_object(&source.bucket, &source.key, range)
            .await?;
        if from.info.etag != source_info.etag {
            // Replaced between the check and the read: the conditions held for another object.
            return Err(S3Error::code(S3ErrorCode::PreconditionFailed));
        }
        if from.range.1 - from.range.0 > MAX_PUT_SIZE {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest)
                .with_message("The specified copy range is larger than 5 GiB."));
        }
        // A part of an upload created with a checksum algorithm carries that checksum.
        let algorithm = upload_algorithm(
            &self
                .store
                .list_parts(bucket, key, upload_id, 0, 1)
                .await?
                .upload_checksums,
        );
        let options = PartOptions {
            checksum: algorithm.map(|a| Box::new(PartChecksum::new(a)) as _),
            ..PartOptions::default()
        };
        let writer = self
            .store
            .upload_part_with(bucket, key, upload_id, part_number, options)
            .await?;
        let info = copy_stream(from.body, writer).await?;
        Ok(copy_result("CopyPartResult", &info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        let parsed = |v| parse_copy_source(v).map(|s| (s.bucket.into_owned(), s.key.into_owned()));
        assert_eq!(
            parsed("/b/a%20b/c%2Bd"),
            Ok(("b".to_owned(), "a b/c+d".to_owned()))
        );
        assert_eq!(
            parsed("b/k?versionId=null"),
            Ok(("b".to_owned(), "k".to_owned()))
        );
        assert_eq!(parsed("b/k?versionId=abc"), Err(VERSION_ID_MESSAGE));
        assert_eq!(parsed("b/k?other"), Err(VERSION_ID_MESSAGE));
        for bad in [
            "bucketonly",
            "/b/",
            "b/%zz",
            "/",
            "",
            "%2F/k",
            "a%2Fb/k",
            "b/%ff",
        ] {
            assert_eq!(parsed(bad), Err(COPY_SOURCE_MESSAGE), "{bad}");
        }
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9"), Ok(ByteRange::FromTo(0, 9)));
        assert_eq!(parse_copy_range(" bytes=5-5 "), Ok(ByteRange::FromTo(5, 5)));
        for bad in [
            "bytes=9-0",
            "bytes=5-",
            "bytes=-5",
            "0-5",
            "bytes=+1-2",
            "bytes=1-99999999999999999999999",
            "bytes=0-1,2-3",
        ] {
            assert_eq!(parse_copy_range(bad), Err(COPY_RANGE_MESSAGE), "{bad}");
        }
    }
}
