//! S3 request authentication, pure: SigV4 header and presigned-URL auth, the aws-chunked
//! streaming decoder with chunk and trailer signatures, additional checksums, and SigV2 header
//! auth ("Authenticating Requests (AWS Signature Version 4)":
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html>).
//!
//! No IO, no clock, no async: time and the secret are arguments. Authentication runs in
//! phases:
//!
//! 1. [`parse_auth`] reads the head into a borrowed [`AuthRequest`] and names the access key;
//! 2. the daemon looks the secret up (unknown key: [`AuthError::InvalidAccessKeyId`]);
//! 3. [`verify`] checks time, scope and signature and returns a [`Verified`] whose
//!    [`PayloadVerifier`] the body is fed through. Data is provisional until
//!    [`PayloadVerifier::finish`] succeeds: commit nothing before.
#![forbid(unsafe_code)]

pub mod canonical;
pub mod checksum;
pub mod chunked;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod key;
pub mod payload;
pub mod presigned;
pub mod sign;
pub mod sigv2;
pub mod time;
mod verify;

pub use checksum::{ChecksumAlgorithm, ChecksumHasher, ChecksumValue};
pub use chunked::{AwsChunkedDecoder, Step, MAX_CHUNK_META_BYTES, MAX_TRAILER_BYTES};
pub use error::{AuthError, AuthErrorCode, SignatureMismatch, MAX_ECHOED_BYTES};
pub use header::{Credential, V4Authorization};
pub use key::{SecretKey, Signature, SigningKey, SigningKeyCache};
pub use payload::{BodyMode, PayloadSummary, PayloadVerifier};
pub use presigned::V4Presigned;
pub use sigv2::V2Authorization;
pub use verify::{anonymous_payload, parse_auth, verify, AuthRequest, AuthScheme, Verified};

/// A request head as received, borrowed from the read buffer.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, e.g. `PUT`.
    pub method: &'a str,
    /// The raw path as sent, without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Headers as received: any case, repeats allowed.
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> RequestParts<'a> {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Server-side rules of verification.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Regions accepted in a credential scope; the first is named in `WrongRegion` errors.
    pub regions: Vec<String>,
    /// The allowed distance between request time and server time (S3: 15 minutes).
    pub max_skew_secs: i64,
}

/// S3's allowed clock skew: 15 minutes.
pub const DEFAULT_MAX_SKEW_SECS: i64 = 15 * 60;

impl Policy {
    /// A policy accepting `regions` with S3's 15-minute skew.
    pub fn new(regions: impl IntoIterator<Item = impl Into<String>>) -> Policy {
        Policy {
            regions: regions.into_iter().map(Into::into).collect(),
            max_skew_secs: DEFAULT_MAX_SKEW_SECS,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(["us-east-1"])
    }
}
