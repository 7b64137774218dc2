//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload and AbortMultipartUpload.

use cairn_http::server::Response;
use cairn_storage::{ByteRange, PartOptions, MAX_PART_NUMBER};

use crate::s3::body::{read_all, stream_into, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::headers::{
    checksum_headers, content_md5, iso8601_ms, object_meta, quoted, write_condition, MAX_PUT_SIZE,
};
use crate::s3::ops_object::{check_copy_conditions, check_upload_length, parse_copy_source};
use crate::s3::xml::{parse_root, XmlWriter};
use crate::s3::{xml_response, Call, S3Service};

/// The parts a CompleteMultipartUpload body lists, as `(part number, ETag)`.
pub(crate) fn parse_complete(body: &[u8]) -> Result<Vec<(u16, String)>, S3Error> {
    let malformed = || S3Error::code(S3ErrorCode::MalformedXML);
    let root = parse_root(body, "CompleteMultipartUpload")?;
    let mut parts = Vec::new();
    for part in root.children_named("Part") {
        let number = part
            .child_text("PartNumber")
            .and_then(|n| n.trim().parse::<u16>().ok())
            .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
            .ok_or_else(malformed)?;
        let etag = part.child_text("ETag").ok_or_else(malformed)?;
        parts.push((number, etag.trim().to_owned()));
    }
    if parts.is_empty() || parts.len() > usize::from(MAX_PART_NUMBER) {
        return Err(malformed());
    }
    Ok(parts)
}

/// `x-amz-copy-source-range: bytes=first-last`.
fn parse_copy_range(value: &str) -> Result<ByteRange, S3Error> {
    let invalid = || {
        S3Error::code(S3ErrorCode::InvalidArgument)
            .with_message("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
    };
    let (first, last) = value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    Ok(ByteRange::FromTo(first, last))
}

impl S3Service {
    pub(crate) async fn create_multipart_upload(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        let meta = object_meta(c.head)?;
        let upload_id = self
            .store
            .create_multipart_upload(bucket, key, meta)
            .await?;
        let mut w = XmlWriter::new("InitiateMultipartUploadResult");
        w.elem("Bucket", bucket)
            .elem("Key", key)
            .elem("UploadId", &upload_id);
        let mut response = xml_response(w.finish("InitiateMultipartUploadResult"));
        if let Some(algorithm) = c.header("x-amz-checksum-algorithm") {
            response = response.header("x-amz-checksum-algorithm", algorithm.to_owned());
        }
        Ok(response)
    }

    pub(crate) async fn upload_part(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        check_upload_length(c, MAX_PUT_SIZE)?;
        let options = PartOptions {
            content_md5: content_md5(c.head)?,
            ..PartOptions::default()
        };
        let payload = c.payload()?;
        let mut writer = self
            .store
            .upload_part_with(bucket, key, upload_id, part_number as u16, options)
            .await?;
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

    pub(crate) async fn upload_part_copy(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        let (src_bucket, src_key) =
            parse_copy_source(c.header("x-amz-copy-source").unwrap_or_default())?;
        self.owned_bucket(c, &src_bucket)?;
        let range = c
            .header("x-amz-copy-source-range")
            .map(parse_copy_range)
            .transpose()?;
        let source_info = self.store.head_object(&src_bucket, &src_key).await?;
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
        let source = self.store.get_object(&src_bucket, &src_key, range).await?;
        if source.info.etag != source_info.etag {
            // Replaced between the check and the read: the conditions held for another object.
            return Err(S3Error::code(S3ErrorCode::PreconditionFailed));
        }
        if source.range.1 - source.range.0 > MAX_PUT_SIZE {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest)
                .with_message("The specified copy range is larger than 5 GiB."));
        }
        let writer = self
            .store
            .upload_part_with(
                bucket,
                key,
                upload_id,
                part_number as u16,
                PartOptions::default(),
            )
            .await?;
        let info = self.copy_stream(source.body, writer).await?;
        let mut w = XmlWriter::new("CopyPartResult");
        w.elem("LastModified", &iso8601_ms(info.last_modified_ms))
            .elem("ETag", &quoted(&info.etag));
        Ok(xml_response(w.finish("CopyPartResult")))
    }

    pub(crate) async fn complete_multipart_upload(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        let condition = write_condition(c.head)?;
        let mut payload = c.payload()?;
        // Its x-amz-checksum-* header is the whole object's, not the XML body's.
        payload.ignore_header_checksum();
        let (body, _) = read_all(c.body, payload, MAX_XML_BODY).await?;
        let parts = parse_complete(&body)?;
        let info = self
            .store
            .complete_multipart_upload(bucket, key, upload_id, parts, condition)
            .await?;
        let scheme = if c.secure { "https" } else { "http" };
        let host = c.header("host").unwrap_or("localhost");
        let mut w = XmlWriter::new("CompleteMultipartUploadResult");
        w.elem(
            "Location",
            &format!(
                "{scheme}://{host}/{bucket}/{}",
                crate::s3::headers::url_encode(key)
            ),
        )
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("ETag", &quoted(&info.etag));
        Ok(xml_response(w.finish("CompleteMultipartUploadResult")))
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        self.store
            .abort_multipart_upload(bucket, key, upload_id)
            .await?;
        Ok(Response::new(204))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_bodies() {
        let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part>
            <Part><PartNumber>3</PartNumber><ETag>b</ETag><ChecksumCRC32>x</ChecksumCRC32></Part>
        </CompleteMultipartUpload>"#;
        assert_eq!(
            parse_complete(body).unwrap(),
            vec![(1, "\"a\"".to_owned()), (3, "b".to_owned())]
        );
        for bad in [
            &b"<CompleteMultipartUpload/>"[..],
            b"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<Other/>",
        ] {
            assert_eq!(parse_complete(bad).unwrap_err().code, S3ErrorCode::MalformedXML);
        }
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(
            parse_copy_range("bytes=0-9").unwrap(),
            ByteRange::FromTo(0, 9)
        );
        assert!(parse_copy_range("bytes=9-0").is_err());
        assert!(parse_copy_range("bytes=5-").is_err());
        assert!(parse_copy_range("0-5").is_err());
    }
}
