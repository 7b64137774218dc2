//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload and AbortMultipartUpload.

use base64::Engine;
use cairn_http::server::Response;
use cairn_sigv4::{ChecksumAlgorithm, ChecksumHasher};
use cairn_storage::{
    BodyChecksum, ByteRange, CompleteOptions, PartInfo, PartOptions, MAX_PART_NUMBER,
};

use crate::s3::body::{read_all, stream_into, MAX_XML_BODY};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::headers::{
    checksum_headers, content_md5, iso8601_ms, object_meta, quoted, write_condition, MAX_PUT_SIZE,
};
use crate::s3::ops_object::{check_copy_conditions, check_upload_length, parse_copy_source};
use crate::s3::xml::{parse_root, XmlWriter};
use crate::s3::{xml_response, Call, S3Service};

/// The checksum type of a multipart upload created with an algorithm: the object's checksum
/// is the checksum of its parts' checksums, followed by `-N`.
const COMPOSITE: &str = "COMPOSITE";

/// One `<Part>` of a CompleteMultipartUpload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedPart {
    pub number: u16,
    pub etag: String,
    /// A `<ChecksumXXX>` element: the algorithm and its base64 value.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// The parts a CompleteMultipartUpload body lists.
pub(crate) fn parse_complete(body: &[u8]) -> Result<Vec<ListedPart>, S3Error> {
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
        let checksum = ChecksumAlgorithm::ALL.into_iter().find_map(|a| {
            part.child_text(&format!("Checksum{}", a.s3_name()))
                .map(|v| (a, v.trim().to_owned()))
        });
        parts.push(ListedPart {
            number,
            etag: etag.trim().to_owned(),
            checksum,
        });
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

/// The algorithm of `x-amz-checksum-algorithm` on CreateMultipartUpload, with its
/// `x-amz-checksum-type` (only `COMPOSITE` is supported).
fn requested_algorithm(c: &Call<'_, '_>) -> Result<Option<ChecksumAlgorithm>, S3Error> {
    let algorithm = match c.header("x-amz-checksum-algorithm") {
        None => None,
        Some(name) => Some(ChecksumAlgorithm::from_s3_name(name).ok_or_else(|| {
            S3Error::code(S3ErrorCode::InvalidRequest).with_message(
                "Checksum algorithm provided is unsupported. Please try again with any of the \
                 valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        })?),
    };
    match c.header("x-amz-checksum-type") {
        None => Ok(algorithm),
        Some(t) if t.eq_ignore_ascii_case(COMPOSITE) && algorithm.is_some() => Ok(algorithm),
        Some(t) if t.eq_ignore_ascii_case("FULL_OBJECT") => {
            Err(S3Error::code(S3ErrorCode::NotImplemented).with_message(
                "Full-object checksums of multipart uploads are not supported; use COMPOSITE.",
            ))
        }
        Some(_) => Err(S3Error::code(S3ErrorCode::InvalidRequest)
            .with_message("The x-amz-checksum-type header requires a valid checksum algorithm.")),
    }
}

/// The algorithm an upload was created with, from its checksum pairs.
pub(crate) fn upload_algorithm(pairs: &[(String, String)]) -> Option<ChecksumAlgorithm> {
    pairs
        .iter()
        .find(|(_, v)| v == COMPOSITE)
        .and_then(|(a, _)| ChecksumAlgorithm::from_s3_name(a))
}

/// A part checksum computed while the storage engine writes a copied part.
#[derive(Debug)]
struct PartChecksum(ChecksumHasher);

impl BodyChecksum for PartChecksum {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self: Box<Self>) -> (String, String) {
        let value = self.0.finish();
        (value.algorithm().s3_name().to_owned(), value.to_base64())
    }
}

impl S3Service {
    pub(crate) async fn create_multipart_upload(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &str,
        key: &str,
    ) -> Result<Response, S3Error> {
        self.owned_bucket(c, bucket)?;
        let mut meta = object_meta(c.head)?;
        let algorithm = requested_algorithm(c)?;
        if let Some(a) = algorithm {
            // Kept with the upload until completion replaces it with the composite value.
            meta.checksums = vec![(a.s3_name().to_owned(), COMPOSITE.to_owned())];
        }
        let upload_id = self
            .store
            .create_multipart_upload(bucket, key, meta)
            .await?;
        let mut w = XmlWriter::new("InitiateMultipartUploadResult");
        w.elem("Bucket", bucket)
            .elem("Key", key)
            .elem("UploadId", &upload_id);
        let mut response = xml_response(w.finish("InitiateMultipartUploadResult"));
        if let Some(a) = algorithm {
            response = response
                .header("x-amz-checksum-algorithm", a.s3_name())
                .header("x-amz-checksum-type", COMPOSITE);
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
        // A part of an upload created with a checksum algorithm carries that checksum.
        let algorithm = upload_algorithm(
            &self
                .store
                .list_parts(bucket, key, upload_id, 0, 1)
                .await?
                .upload_checksums,
        );
        let options = PartOptions {
            checksum: algorithm.map(|a| Box::new(PartChecksum(ChecksumHasher::new(a))) as _),
            ..PartOptions::default()
        };
        let writer = self
            .store
            .upload_part_with(bucket, key, upload_id, part_number as u16, options)
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
        let listed = parse_complete(&body)?;
        let checksum = self
            .composite_checksum(bucket, key, upload_id, &listed)
            .await?;
        let parts = listed.into_iter().map(|p| (p.number, p.etag)).collect();
        let options = CompleteOptions {
            condition,
            checksums: Some(checksum.iter().cloned().collect()),
        };
        let info = self
            .store
            .complete_multipart_upload_with(bucket, key, upload_id, parts, options)
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
        if let Some((algorithm, value)) = &checksum {
            w.elem(&format!("Checksum{algorithm}"), value)
                .elem("ChecksumType", COMPOSITE);
        }
        Ok(xml_response(w.finish("CompleteMultipartUploadResult")))
    }

    /// S3's composite checksum of a completion, when the upload was created with an
    /// algorithm: the checksum of the listed parts' raw checksums, then `-N`. Every listed part
    /// must carry that checksum, and a value the body repeats must match it (`InvalidPart`).
    async fn composite_checksum(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: &[ListedPart],
    ) -> Result<Option<(String, String)>, S3Error> {
        let mut page = self
            .store
            .list_parts(bucket, key, upload_id, 0, 1000)
            .await?;
        let Some(algorithm) = upload_algorithm(&page.upload_checksums) else {
            return Ok(None);
        };
        let mut stored: Vec<PartInfo> = std::mem::take(&mut page.parts);
        while let Some(marker) = page.next_part_number_marker {
            page = self
                .store
                .list_parts(bucket, key, upload_id, marker, 1000)
                .await?;
            stored.append(&mut page.parts);
        }
        let mut hasher = ChecksumHasher::new(algorithm);
        for part in listed {
            let Ok(i) = stored.binary_search_by_key(&part.number, |p| p.part_number) else {
                return Err(S3Error::code(S3ErrorCode::InvalidPart));
            };
            let value = stored[i]
                .checksums
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(algorithm.s3_name()))
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    S3Error::code(S3ErrorCode::InvalidRequest).with_message(format!(
                        "The upload was created using a {} checksum. The complete request must \
                         include the checksum for each part. It was missing for part {} in the \
                         request.",
                        algorithm.s3_name().to_ascii_lowercase(),
                        part.number
                    ))
                })?;
            if let Some((a, v)) = &part.checksum {
                if *a != algorithm || v != value {
                    return Err(S3Error::code(S3ErrorCode::InvalidPart));
                }
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| S3Error::code(S3ErrorCode::InternalError))?;
            hasher.update(&raw);
        }
        let composite = format!("{}-{}", hasher.finish().to_base64(), listed.len());
        Ok(Some((algorithm.s3_name().to_owned(), composite)))
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
            vec![
                ListedPart {
                    number: 1,
                    etag: "\"a\"".to_owned(),
                    checksum: None
                },
                ListedPart {
                    number: 3,
                    etag: "b".to_owned(),
                    checksum: Some((ChecksumAlgorithm::Crc32, "x".to_owned()))
                }
            ]
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
