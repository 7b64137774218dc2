//! Additional checksums (`x-amz-checksum-*`) beyond what cairn-sigv4 verifies on a body:
//! the algorithm a multipart upload is created with, the composite checksum of its parts, the
//! checks of a completion's whole-object checksum headers, and the answer headers
//! ("Checking object integrity": <https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>).

use base64::Engine;
use cairn_http::server::Response;
use cairn_sigv4::{ChecksumAlgorithm, ChecksumHasher, ChecksumValue};
use cairn_storage::BodyChecksum;

use crate::error::{S3Error, S3ErrorCode};
use crate::Call;

/// The checksum type of a multipart upload created with an algorithm: the object's checksum
/// is the checksum of its parts' checksums, followed by `-N`.
pub const COMPOSITE: &str = "COMPOSITE";
/// The checksum type of a whole-object checksum (every single PUT's; multipart uploads of
/// that type are not supported yet).
pub const FULL_OBJECT: &str = "FULL_OBJECT";

/// The algorithm of `x-amz-checksum-algorithm` on CreateMultipartUpload, with its
/// `x-amz-checksum-type` (only `COMPOSITE` is supported).
pub(crate) fn requested_algorithm(c: &Call<'_, '_>) -> Result<Option<ChecksumAlgorithm>, S3Error> {
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
        Some(t) if t.eq_ignore_ascii_case(FULL_OBJECT) => {
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

/// The pair kept with an upload created with `algorithm`, until completion replaces it with
/// the composite value.
pub(crate) fn upload_marker(algorithm: ChecksumAlgorithm) -> (String, String) {
    (algorithm.s3_name().to_owned(), COMPOSITE.to_owned())
}

/// A part checksum computed while the storage engine writes a copied part.
#[derive(Debug)]
pub(crate) struct PartChecksum(ChecksumHasher);

impl PartChecksum {
    pub(crate) fn new(algorithm: ChecksumAlgorithm) -> PartChecksum {
        PartChecksum(ChecksumHasher::new(algorithm))
    }
}

impl BodyChecksum for PartChecksum {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self: Box<Self>) -> (String, String) {
        let value = self.0.finish();
        (value.algorithm().s3_name().to_owned(), value.to_base64())
    }
}

/// Computes S3's composite checksum: the checksum of the parts' raw checksums (given as
/// stored, base64), in the order listed. Returns the bare value; the object's is `value-N`.
pub(crate) fn composite_of<'v>(
    algorithm: ChecksumAlgorithm,
    part_values: impl Iterator<Item = &'v str>,
) -> Result<String, S3Error> {
    let mut hasher = ChecksumHasher::new(algorithm);
    for value in part_values {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| S3Error::code(S3ErrorCode::InternalError))?;
        hasher.update(&raw);
    }
    Ok(hasher.finish().to_base64())
}

fn type_mismatch(expected: Option<ChecksumAlgorithm>, actual: ChecksumAlgorithm) -> S3Error {
    let expected = expected.map_or("null".to_owned(), |a| a.s3_name().to_ascii_lowercase());
    S3Error::code(S3ErrorCode::InvalidRequest).with_message(format!(
        "Checksum Type mismatch occurred, expected checksum Type: {expected}, actual checksum Type: {}",
        actual.s3_name().to_ascii_lowercase()
    ))
}

/// Checks what a CompleteMultipartUpload says of the whole object — `x-amz-checksum-type`
/// and an `x-amz-checksum-<algorithm>` header — against the upload: verified or refused,
/// never ignored. `composite` is the upload's algorithm and the bare composite value of the
/// parts the request lists (`None` for an upload created without an algorithm).
pub(crate) fn check_completion_checksum(
    checksum_type: Option<&str>,
    header: Option<ChecksumValue>,
    composite: Option<(ChecksumAlgorithm, &str)>,
) -> Result<(), S3Error> {
    if let Some(t) = checksum_type {
        let wanted = if t.eq_ignore_ascii_case(COMPOSITE) {
            COMPOSITE
        } else if t.eq_ignore_ascii_case(FULL_OBJECT) {
            FULL_OBJECT
        } else {
            return Err(S3Error::code(S3ErrorCode::InvalidRequest)
                .with_message("Value for x-amz-checksum-type header is invalid."));
        };
        // Uploads are either composite or carry no checksum (full-object ones are refused
        // when created).
        let actual = if composite.is_some() {
            COMPOSITE
        } else {
            "null"
        };
        if wanted != actual {
            return Err(S3Error::code(S3ErrorCode::BadDigest).with_message(format!(
                "The upload was created using the {actual} checksum type. The complete request \
                 specified the {wanted} checksum type."
            )));
        }
    }
    let Some(header) = header else {
        return Ok(());
    };
    match composite {
        Some((algorithm, value)) if algorithm == header.algorithm() => {
            if header.to_base64() == value {
                Ok(())
            } else {
                Err(S3Error::code(S3ErrorCode::BadDigest).with_message(format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.s3_name().to_ascii_lowercase()
                )))
            }
        }
        Some((algorithm, _)) => Err(type_mismatch(Some(algorithm), header.algorithm())),
        None => Err(type_mismatch(None, header.algorithm())),
    }
}

/// Adds stored `x-amz-checksum-*` headers, and `x-amz-checksum-type`: `COMPOSITE` for a
/// multipart object's checksum of part checksums (`value-N`), else `FULL_OBJECT`.
pub fn checksum_headers(mut response: Response, checksums: &[(String, String)]) -> Response {
    for (algorithm, value) in checksums {
        response = response.header(
            format!("x-amz-checksum-{}", algorithm.to_ascii_lowercase()),
            value.clone(),
        );
    }
    if let Some((_, value)) = checksums.first() {
        let kind = if value.contains('-') {
            COMPOSITE
        } else {
            FULL_OBJECT
        };
        response = response.header("x-amz-checksum-type", kind);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32(value: &str) -> ChecksumValue {
        ChecksumValue::parse(ChecksumAlgorithm::Crc32, value).unwrap()
    }

    #[test]
    fn composite_is_the_checksum_of_raw_part_checksums() {
        let parts = ["AAAAAA==", "/////w=="];
        let value = composite_of(ChecksumAlgorithm::Crc32, parts.into_iter()).unwrap();
        let mut raw = Vec::new();
        raw.extend_from_slice(&[0, 0, 0, 0]);
        raw.extend_from_slice(&[0xff; 4]);
        let expected = base64::engine::general_purpose::STANDARD
            .encode(crc32fast_reference(&raw).to_be_bytes());
        assert_eq!(value, expected);
    }

    /// CRC32 (IEEE) bit by bit, independent of the crates under test.
    fn crc32fast_reference(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn completion_checksums_are_verified_or_refused() {
        let composite = Some((ChecksumAlgorithm::Crc32, "AAAAAA=="));
        let code = |r: Result<(), S3Error>| r.map_err(|e| e.code);
        assert_eq!(code(check_completion_checksum(None, None, None)), Ok(()));
        assert_eq!(
            code(check_completion_checksum(None, None, composite)),
            Ok(())
        );
        assert_eq!(
            code(check_completion_checksum(
                None,
                Some(crc32("AAAAAA==")),
                composite
            )),
            Ok(())
        );
        assert_eq!(
            code(check_completion_checksum(
                Some("composite"),
                Some(crc32("AAAAAA==")),
                composite
            )),
            Ok(())
        );
        assert_eq!(
            code(check_completion_checksum(
                None,
                Some(crc32("AAAAAQ==")),
                composite
            )),
            Err(S3ErrorCode::BadDigest)
        );
        assert_eq!(
            code(check_completion_checksum(
                Some("FULL_OBJECT"),
                None,
                composite
            )),
            Err(S3ErrorCode::BadDigest)
        );
        assert_eq!(
            code(check_completion_checksum(Some("COMPOSITE"), None, None)),
            Err(S3ErrorCode::BadDigest)
        );
        assert_eq!(
            code(check_completion_checksum(Some("bogus"), None, composite)),
            Err(S3ErrorCode::InvalidRequest)
        );
        // A checksum the upload was not created with cannot be verified: refused.
        assert_eq!(
            code(check_completion_checksum(
                None,
                Some(crc32("AAAAAA==")),
                None
            )),
            Err(S3ErrorCode::InvalidRequest)
        );
        let crc32c = ChecksumValue::parse(ChecksumAlgorithm::Crc32c, "AAAAAA==").unwrap();
        assert_eq!(
            code(check_completion_checksum(None, Some(crc32c), composite)),
            Err(S3ErrorCode::InvalidRequest)
        );
    }
}
