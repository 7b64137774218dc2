//! Additional checksums, `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`: base64 of the
//! big-endian value, sent as a header or an aws-chunked trailer ("Checking object integrity":
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use crc::{Crc, Table, CRC_32_ISCSI, CRC_64_NVME};
use ring::digest;

use crate::{AuthError, RequestParts};

static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);
static CRC64NVME: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_NVME);

/// A checksum algorithm S3 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC), 4 bytes.
    Crc32,
    /// CRC-32C (Castagnoli), 4 bytes.
    Crc32c,
    /// CRC-64/NVME, 8 bytes.
    Crc64Nvme,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl ChecksumAlgorithm {
    /// All algorithms.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// `x-amz-checksum-crc32`, …
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name in `x-amz-sdk-checksum-algorithm` and in S3's messages: `CRC32`, …
    pub fn s3_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The algorithm of a header or trailer name (any case).
    pub fn from_header_name(name: &str) -> Option<ChecksumAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }

    /// The algorithm of an `x-amz-sdk-checksum-algorithm` value (any case).
    pub fn from_s3_name(name: &str) -> Option<ChecksumAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.s3_name().eq_ignore_ascii_case(name))
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }
}

/// A checksum value: the algorithm and its big-endian digest bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChecksumValue {
    algorithm: ChecksumAlgorithm,
    bytes: [u8; 32],
}

impl ChecksumValue {
    /// Parses the base64 form S3 uses; `InvalidChecksum` unless it is exactly one digest.
    pub fn parse(algorithm: ChecksumAlgorithm, base64: &str) -> Result<ChecksumValue, AuthError> {
        let invalid = || AuthError::InvalidChecksum { algorithm };
        let mut buf = [0u8; 48];
        let n = B64
            .decode_slice(base64.trim().as_bytes(), &mut buf)
            .map_err(|_| invalid())?;
        if n != algorithm.digest_len() {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        bytes[..n].copy_from_slice(&buf[..n]);
        Ok(ChecksumValue { algorithm, bytes })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The digest bytes (big-endian for CRCs).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }

    /// Base64, as S3 returns it in `x-amz-checksum-*`.
    pub fn to_base64(&self) -> String {
        B64.encode(self.as_bytes())
    }
}

impl std::fmt::Debug for ChecksumValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.s3_name(), self.to_base64())
    }
}

// One per request, kept inline: boxing the SHA contexts would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum HasherState {
    Crc32(crc32fast::Hasher),
    Crc32c(crc::Digest<'static, u32, Table<16>>),
    Crc64Nvme(crc::Digest<'static, u64, Table<16>>),
    Digest(digest::Context),
}

/// A streaming checksum: feed the (decoded) body as it arrives, beside MD5 and SHA-256.
pub struct ChecksumHasher {
    algorithm: ChecksumAlgorithm,
    state: HasherState,
}

impl std::fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChecksumHasher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl ChecksumHasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> ChecksumHasher {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => HasherState::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => HasherState::Crc32c(CRC32C.digest()),
            ChecksumAlgorithm::Crc64Nvme => HasherState::Crc64Nvme(CRC64NVME.digest()),
            ChecksumAlgorithm::Sha1 => {
                HasherState::Digest(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            ChecksumAlgorithm::Sha256 => HasherState::Digest(digest::Context::new(&digest::SHA256)),
        };
        ChecksumHasher { algorithm, state }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// Hashes more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            HasherState::Crc32(h) => h.update(data),
            HasherState::Crc32c(h) => h.update(data),
            HasherState::Crc64Nvme(h) => h.update(data),
            HasherState::Digest(h) => h.update(data),
        }
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> ChecksumValue {
        let mut bytes = [0u8; 32];
        match self.state {
            HasherState::Crc32(h) => bytes[..4].copy_from_slice(&h.finalize().to_be_bytes()),
            HasherState::Crc32c(h) => bytes[..4].copy_from_slice(&h.finalize().to_be_bytes()),
            HasherState::Crc64Nvme(h) => bytes[..8].copy_from_slice(&h.finalize().to_be_bytes()),
            HasherState::Digest(h) => {
                let d = h.finish();
                bytes[..d.as_ref().len()].copy_from_slice(d.as_ref());
            }
        }
        ChecksumValue {
            algorithm: self.algorithm,
            bytes,
        }
    }

    /// One-shot checksum of `data`.
    pub fn checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> ChecksumValue {
        let mut h = ChecksumHasher::new(algorithm);
        h.update(data);
        h.finish()
    }
}

/// What a request announces about additional checksums in its headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumRequest {
    /// An `x-amz-checksum-*` header's value, to verify against the body.
    pub header: Option<ChecksumValue>,
    /// The checksum announced in `x-amz-trailer`, to come after the aws-chunked body.
    pub trailer: Option<ChecksumAlgorithm>,
}

/// Reads `x-amz-checksum-*`, `x-amz-trailer` and `x-amz-sdk-checksum-algorithm` with S3's rules:
/// at most one checksum, not both a header and a trailer, the SDK algorithm agreeing with it.
pub fn checksum_request(parts: &RequestParts<'_>) -> Result<ChecksumRequest, AuthError> {
    let mut req = ChecksumRequest::default();
    let mut sdk_algorithm = None;
    for (name, value) in parts.headers {
        if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
            if req.header.is_some() {
                return Err(AuthError::invalid_request(
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            req.header = Some(ChecksumValue::parse(algorithm, value)?);
        } else if name.eq_ignore_ascii_case("x-amz-trailer") {
            for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let algorithm = ChecksumAlgorithm::from_header_name(t).ok_or_else(|| {
                    AuthError::invalid_request(
                        "The value specified in the x-amz-trailer header is not supported",
                    )
                })?;
                if req.trailer.is_some() {
                    return Err(AuthError::invalid_request(
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                req.trailer = Some(algorithm);
            }
        } else if name.eq_ignore_ascii_case("x-amz-sdk-checksum-algorithm") {
            sdk_algorithm = Some(ChecksumAlgorithm::from_s3_name(value.trim()).ok_or_else(
                || {
                    AuthError::invalid_request(
                        "Value for x-amz-sdk-checksum-algorithm header is invalid.",
                    )
                },
            )?);
        }
    }
    if req.header.is_some() && req.trailer.is_some() {
        return Err(AuthError::invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    if let Some(sdk) = sdk_algorithm {
        let announced = req.header.map(|h| h.algorithm()).or(req.trailer);
        match announced {
            None => {
                return Err(AuthError::invalid_request(format!(
                    "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found. (algorithm {})",
                    sdk.s3_name()
                )))
            }
            Some(a) if a != sdk => {
                return Err(AuthError::invalid_request(
                    "Value for x-amz-sdk-checksum-algorithm header is invalid.",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_of_the_catalogue() {
        let check = |a, b64: &str| {
            assert_eq!(
                ChecksumHasher::checksum(a, b"123456789").to_base64(),
                b64,
                "{a:?}"
            )
        };
        // The catalogue check values 0xcbf43926, 0xe3069283, 0xae8b14860a799888.
        check(
            ChecksumAlgorithm::Crc32,
            &B64.encode(0xcbf4_3926u32.to_be_bytes()),
        );
        check(
            ChecksumAlgorithm::Crc32c,
            &B64.encode(0xe306_9283u32.to_be_bytes()),
        );
        check(
            ChecksumAlgorithm::Crc64Nvme,
            &B64.encode(0xae8b_1486_0a79_9888u64.to_be_bytes()),
        );
        check(ChecksumAlgorithm::Sha1, "98O8HYCOBHMq32eZZczDTKeuNEE=");
        // The AWS trailer example: 66560 bytes of 'a', CRC32C sOO8/Q==.
        assert_eq!(
            ChecksumHasher::checksum(ChecksumAlgorithm::Crc32c, &[b'a'; 66560]).to_base64(),
            "sOO8/Q=="
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for a in ChecksumAlgorithm::ALL {
            let mut h = ChecksumHasher::new(a);
            for part in data.chunks(777) {
                h.update(part);
            }
            assert_eq!(h.finish(), ChecksumHasher::checksum(a, &data));
        }
    }

    #[test]
    fn parse_rejects_wrong_sizes() {
        assert!(ChecksumValue::parse(ChecksumAlgorithm::Crc32, "sOO8/Q==").is_ok());
        for bad in ["", "sOO8", "sOO8/Q=", "AAAAAAAAAAA=", "!!!!!!!!"] {
            let e = ChecksumValue::parse(ChecksumAlgorithm::Crc32, bad).unwrap_err();
            assert_eq!(e.s3_code(), "InvalidRequest");
        }
    }

    fn req(headers: &[(&str, &str)]) -> Result<ChecksumRequest, AuthError> {
        checksum_request(&RequestParts {
            method: "PUT",
            path: "/b/k",
            query: "",
            headers,
        })
    }

    #[test]
    fn request_rules() {
        let ok = req(&[
            ("X-Amz-Checksum-Crc32", "AAAAAA=="),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ])
        .unwrap();
        assert_eq!(ok.header.unwrap().algorithm(), ChecksumAlgorithm::Crc32);
        let ok = req(&[("x-amz-trailer", "x-amz-checksum-crc64nvme")]).unwrap();
        assert_eq!(ok.trailer, Some(ChecksumAlgorithm::Crc64Nvme));
        for bad in [
            &[
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("x-amz-checksum-sha1", "x"),
            ][..],
            &[
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
            &[("x-amz-sdk-checksum-algorithm", "CRC32")],
            &[
                ("x-amz-sdk-checksum-algorithm", "MD5"),
                ("x-amz-checksum-crc32", "AAAAAA=="),
            ],
            &[
                ("x-amz-sdk-checksum-algorithm", "CRC32C"),
                ("x-amz-checksum-crc32", "AAAAAA=="),
            ],
            &[("x-amz-trailer", "x-amz-meta-foo")],
            &[("x-amz-checksum-crc32", "AAAA")],
        ] {
            assert_eq!(req(bad).unwrap_err().s3_code(), "InvalidRequest", "{bad:?}");
        }
    }
}
