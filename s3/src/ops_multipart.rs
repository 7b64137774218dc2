//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload and
//! AbortMultipartUpload (UploadPartCopy is with the copies; ListParts with the listings).

use cairn_http::server::Response;
use cairn_sigv4::ChecksumAlgorithm;
use cairn_storage::{BucketInfo, CompleteOptions, PartInfo, PartOptions, MAX_PART_NUMBER};

use crate::body::{read_all, MAX_XML_BODY};
use crate::checksum::{
    check_completion_checksum, composite_of, requested_algorithm, upload_algorithm, upload_marker,
    COMPOSITE,
};
use crate::error::{S3Error, S3ErrorCode};
use crate::headers::{content_md5, object_meta, quoted, url_encode, write_condition};
use crate::router::part_number;
use crate::upload::{check_upload_length, receive, stored};
use crate::xml::{parse_root, XmlLimits, XmlWriter};
use crate::{xml_response, Call, S3Service};

/// A CompleteMultipartUpload body: up to 10,000 `<Part>`s of at most 8 elements each
/// (itself, `PartNumber`, `ETag` and one `Checksum*` of each of five algorithms).
const COMPLETE_LIMITS: XmlLimits = XmlLimits::items(MAX_PART_NUMBER as usize, 8);

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
    let root = parse_root(body, "CompleteMultipartUpload", COMPLETE_LIMITS)?;
    let mut parts = Vec::new();
    for part in root.children_named("Part") {
        let number = part
            .child_text("PartNumber")
            .and_then(|n| part_number(n.trim()).ok())
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

impl S3Service {
    pub(crate) async fn create_multipart_upload(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
    ) -> Result<Response, S3Error> {
        let mut meta = object_meta(c.head)?;
        let algorithm = requested_algorithm(c)?;
        if let Some(a) = algorithm {
            meta.checksums = vec![upload_marker(a)];
        }
        let upload_id = self
            .store
            .create_multipart_upload(bucket, key, meta)
            .await?;
        let mut w = XmlWriter::new("InitiateMultipartUploadResult");
        w.elem("Bucket", &bucket.name)
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
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
        part_number: u16,
    ) -> Result<Response, S3Error> {
        check_upload_length(c)?;
        let options = PartOptions {
            content_md5: content_md5(c.head)?,
            ..PartOptions::default()
        };
        let writer = self
            .store
            .upload_part_with(bucket, key, upload_id, part_number, options)
            .await?;
        let info = receive(c, writer).await?;
        Ok(stored(&info))
    }

    pub(crate) async fn complete_multipart_upload(
        &self,
        c: &mut Call<'_, '_>,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
    ) -> Result<Response, S3Error> {
        let condition = write_condition(c.head)?;
        let mut payload = c.payload()?;
        // Its x-amz-checksum-* header is the whole object's, not the XML body's: checked
        // against the parts below.
        let object_checksum = payload.header_checksum();
        payload.ignore_header_checksum();
        let (body, _) = read_all(c.body, payload, MAX_XML_BODY).await?;
        let listed = parse_complete(&body)?;
        let composite = self
            .composite_checksum(bucket, key, upload_id, &listed)
            .await?;
        check_completion_checksum(
            c.header("x-amz-checksum-type"),
            object_checksum,
            composite.as_ref().map(|(a, v)| (*a, v.as_str())),
        )?;
        let checksum = composite.map(|(algorithm, value)| {
            (
                algorithm.s3_name().to_owned(),
                format!("{value}-{}", listed.len()),
            )
        });
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
            &format!("{scheme}://{host}/{}/{}", bucket.name, url_encode(key)),
        )
        .elem("Bucket", &bucket.name)
        .elem("Key", key)
        .elem("ETag", &quoted(&info.etag));
        if let Some((algorithm, value)) = &checksum {
            w.elem(&format!("Checksum{algorithm}"), value)
                .elem("ChecksumType", COMPOSITE);
        }
        Ok(xml_response(w.finish("CompleteMultipartUploadResult")))
    }

    /// S3's composite checksum of a completion, when the upload was created with an
    /// algorithm: the algorithm and the bare checksum of the listed parts' raw checksums
    /// (the object's is that value, then `-N`). Every listed part must carry that checksum,
    /// and a value the body repeats must match it (`InvalidPart`).
    async fn composite_checksum(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
        listed: &[ListedPart],
    ) -> Result<Option<(ChecksumAlgorithm, String)>, S3Error> {
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
        let mut values = Vec::with_capacity(listed.len());
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
            values.push(value);
        }
        Ok(Some((
            algorithm,
            composite_of(algorithm, values.into_iter())?,
        )))
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        bucket: &BucketInfo,
        key: &str,
        upload_id: &str,
    ) -> Result<Response, S3Error> {
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
    fn complete_bodies_are_bounded_while_parsed() {
        let part = "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>";
        let body = |n: usize| {
            format!(
                "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
                part.repeat(n)
            )
        };
        assert_eq!(
            parse_complete(body(10_000).as_bytes()).unwrap().len(),
            10_000
        );
        let err = parse_complete(body(10_001).as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
        // A part stuffed with elements cannot make the tree grow past the limit either.
        let stuffed = format!(
            "<CompleteMultipartUpload><Part>{}</Part></CompleteMultipartUpload>",
            "<X/>".repeat(100_000)
        );
        let err = parse_complete(stuffed.as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
    }
}
