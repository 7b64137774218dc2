//! What the body must prove after the head authenticated: the payload modes of
//! `x-amz-content-sha256` (hex SHA-256, `UNSIGNED-PAYLOAD`, the three aws-chunked modes) and
//! the additional checksum ("Authenticating Requests: Using the Authorization Header":
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html>).

use ring::digest;

use crate::canonical::EMPTY_SHA256;
use crate::checksum::{ChecksumHasher, ChecksumRequest, ChecksumValue};
use crate::chunked::{AwsChunkedConfig, AwsChunkedDecoder, ChunkSigningContext, Step};
use crate::key::Signature;
use crate::{AuthError, RequestParts};

/// `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Signed aws-chunked chunks.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// Signed aws-chunked chunks and a signed trailer.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// Unsigned aws-chunked chunks and an unsigned trailer.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// The payload mode a request announced in `x-amz-content-sha256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadHash {
    /// The body's SHA-256.
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    /// Parses an `x-amz-content-sha256` value (a hash in either hex case, or a mode name).
    pub fn parse(value: &str) -> Result<PayloadHash, AuthError> {
        Ok(match value {
            UNSIGNED_PAYLOAD => PayloadHash::Unsigned,
            STREAMING_SIGNED => PayloadHash::StreamingSigned,
            STREAMING_SIGNED_TRAILER => PayloadHash::StreamingSignedTrailer,
            STREAMING_UNSIGNED_TRAILER => PayloadHash::StreamingUnsignedTrailer,
            // SigV4a streaming (ECDSA) is not implemented.
            _ if value.starts_with("STREAMING-AWS4-ECDSA") => {
                return Err(AuthError::UnsupportedAuthorizationType)
            }
            _ => {
                let mut h = [0u8; 32];
                hex::decode_to_slice(value, &mut h).map_err(|_| AuthError::InvalidContentSha256)?;
                PayloadHash::Sha256(h)
            }
        })
    }

    /// Whether the body is aws-chunked.
    pub fn is_streaming(self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSigned
                | PayloadHash::StreamingSignedTrailer
                | PayloadHash::StreamingUnsignedTrailer
        )
    }
}

/// How the daemon must treat the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// Taken as is (`UNSIGNED-PAYLOAD`, presigned, SigV2, anonymous).
    Unsigned,
    /// Hashed as it streams; must match `x-amz-content-sha256` at the end.
    Sha256,
    /// aws-chunked with signed chunks (and a signed trailer when `trailer`).
    AwsChunkedSigned {
        /// Whether a signed trailer follows.
        trailer: bool,
    },
    /// aws-chunked with unsigned chunks and an unsigned trailer.
    AwsChunkedUnsignedTrailer,
}

// One per request, kept inline: the SHA-256 context is the common case.
#[allow(clippy::large_enum_variant)]
enum Kind {
    Unsigned,
    Sha256 {
        ctx: Option<digest::Context>,
        expected: [u8; 32],
    },
    AwsChunked(Box<AwsChunkedDecoder>),
}

/// Verifies a body as it streams: feed it every body byte (after HTTP `Content-Length` /
/// `Transfer-Encoding: chunked` framing is removed), write out the data ranges each
/// [`Step`] names, and call [`PayloadVerifier::finish`] at the end of the body. **Nothing may
/// be committed before `finish` returns `Ok`**: until then data is provisional (the SHA-256,
/// the last chunk signature, the trailer and the checksum are all checked at the end).
pub struct PayloadVerifier {
    kind: Kind,
    mode: BodyMode,
    header_checksum: Option<ChecksumValue>,
    checksum: Option<ChecksumHasher>,
    length: u64,
}

impl std::fmt::Debug for PayloadVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadVerifier")
            .field("mode", &self.mode)
            .field("header_checksum", &self.header_checksum)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// What a verified body amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadSummary {
    /// Payload (decoded) bytes.
    pub length: u64,
    /// The verified additional checksum (from a header or the trailer), if one was sent.
    pub checksum: Option<ChecksumValue>,
}

/// The chunk-signing material of a SigV4-signed request, when it has some.
pub(crate) struct SeedContext {
    pub ctx: ChunkSigningContext,
    pub seed: Signature,
    pub access_key_id: String,
}

impl PayloadVerifier {
    /// Builds the verifier for a request whose head has been authenticated.
    pub(crate) fn new(
        parts: &RequestParts<'_>,
        hash: PayloadHash,
        checksums: ChecksumRequest,
        seed: Option<SeedContext>,
    ) -> Result<PayloadVerifier, AuthError> {
        if checksums.trailer.is_some()
            && !matches!(
                hash,
                PayloadHash::StreamingSignedTrailer | PayloadHash::StreamingUnsignedTrailer
            )
        {
            return Err(AuthError::invalid_request(
                "x-amz-trailer is only allowed with the STREAMING-…-TRAILER payload modes.",
            ));
        }
        let decoded_length = match parts.header("x-amz-decoded-content-length") {
            Some(v) if hash.is_streaming() => Some(v.trim().parse::<u64>().map_err(|_| {
                AuthError::invalid_request("Invalid x-amz-decoded-content-length header.")
            })?),
            _ => None,
        };
        let (kind, mode) = match hash {
            PayloadHash::Unsigned => (Kind::Unsigned, BodyMode::Unsigned),
            PayloadHash::Sha256(expected) => (
                Kind::Sha256 {
                    ctx: None,
                    expected,
                },
                BodyMode::Sha256,
            ),
            PayloadHash::StreamingSigned | PayloadHash::StreamingSignedTrailer => {
                let Some(seed) = seed else {
                    return Err(AuthError::invalid_request(
                        "Signed aws-chunked payloads require a signed request.",
                    ));
                };
                let trailer = hash == PayloadHash::StreamingSignedTrailer;
                let decoder = AwsChunkedDecoder::new(AwsChunkedConfig {
                    signing: Some((seed.ctx, seed.seed)),
                    trailer_mode: trailer,
                    trailer: checksums.trailer,
                    decoded_length,
                    access_key_id: seed.access_key_id,
                });
                (
                    Kind::AwsChunked(Box::new(decoder)),
                    BodyMode::AwsChunkedSigned { trailer },
                )
            }
            PayloadHash::StreamingUnsignedTrailer => {
                let decoder = AwsChunkedDecoder::new(AwsChunkedConfig {
                    signing: None,
                    trailer_mode: true,
                    trailer: checksums.trailer,
                    decoded_length,
                    access_key_id: seed.map(|s| s.access_key_id).unwrap_or_default(),
                });
                (
                    Kind::AwsChunked(Box::new(decoder)),
                    BodyMode::AwsChunkedUnsignedTrailer,
                )
            }
        };
        let checksum = checksums
            .header
            .map(|h| h.algorithm())
            .or(checksums.trailer)
            .map(ChecksumHasher::new);
        Ok(PayloadVerifier {
            kind,
            mode,
            header_checksum: checksums.header,
            checksum,
            length: 0,
        })
    }

    /// How the body is framed and protected.
    pub fn mode(&self) -> BodyMode {
        self.mode
    }

    /// The `x-amz-checksum-*` header the body will be checked against.
    pub fn header_checksum(&self) -> Option<ChecksumValue> {
        self.header_checksum
    }

    /// Stops checking the `x-amz-checksum-*` header against the body: for operations where
    /// that header describes something else (CompleteMultipartUpload's full-object checksum).
    pub fn ignore_header_checksum(&mut self) {
        if self.header_checksum.take().is_some() {
            self.checksum = None;
        }
    }

    /// Consumes a prefix of `input` (see [`Step`]); call again with the rest.
    pub fn feed(&mut self, input: &[u8]) -> Result<Step, AuthError> {
        let step = match &mut self.kind {
            Kind::Unsigned => Step {
                consumed: input.len(),
                data: 0..input.len(),
            },
            Kind::Sha256 { ctx, .. } => {
                if !input.is_empty() {
                    ctx.get_or_insert_with(|| digest::Context::new(&digest::SHA256))
                        .update(input);
                }
                Step {
                    consumed: input.len(),
                    data: 0..input.len(),
                }
            }
            Kind::AwsChunked(d) => d.feed(input)?,
        };
        if let Some(h) = &mut self.checksum {
            h.update(&input[step.data.clone()]);
        }
        self.length += step.data.len() as u64;
        Ok(step)
    }

    /// Feeds all of `body` and finishes: for bodies held in memory (tests, small requests).
    pub fn verify_all(mut self, mut body: &[u8]) -> Result<(Vec<u8>, PayloadSummary), AuthError> {
        let mut out = Vec::with_capacity(body.len());
        while !body.is_empty() {
            let step = self.feed(body)?;
            out.extend_from_slice(&body[step.data.clone()]);
            body = &body[step.consumed..];
        }
        let summary = self.finish()?;
        Ok((out, summary))
    }

    /// Ends the body. `Ok` means every check passed and the data may be committed.
    pub fn finish(self) -> Result<PayloadSummary, AuthError> {
        let trailer = match self.kind {
            Kind::Unsigned => None,
            Kind::Sha256 { ctx, expected } => {
                let ok = match ctx {
                    // The empty body, special-cased: no hashing at all.
                    None => hex::encode(expected) == EMPTY_SHA256,
                    Some(ctx) => {
                        let got = ctx.finish();
                        if !crate::key::constant_time_eq(got.as_ref(), &expected) {
                            return Err(AuthError::ContentSha256Mismatch {
                                client_computed: hex::encode(expected),
                                s3_computed: hex::encode(got.as_ref()),
                            });
                        }
                        true
                    }
                };
                if !ok {
                    return Err(AuthError::ContentSha256Mismatch {
                        client_computed: hex::encode(expected),
                        s3_computed: EMPTY_SHA256.to_owned(),
                    });
                }
                None
            }
            Kind::AwsChunked(mut d) => d.finish()?.trailer_checksum,
        };
        let expected = self.header_checksum.or(trailer);
        let checksum = match (self.checksum, expected) {
            (Some(h), Some(expected)) => {
                let got = h.finish();
                if got != expected {
                    return Err(AuthError::BadDigest {
                        algorithm: expected.algorithm(),
                    });
                }
                Some(got)
            }
            _ => None,
        };
        Ok(PayloadSummary {
            length: self.length,
            checksum,
        })
    }
}
