//! Routing: a request's method, host, path and query to a typed S3 [`Endpoint`], as S3 does
//! it (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html>): path
//! style (`/bucket/key`) and virtual-hosted style (`bucket.<domain>/key`), sub-resources
//! chosen by query parameters, other query parameters (`x-id` and friends) ignored.
//!
//! Pure: no IO, no state; tested as a table of request → endpoint (`router_tests.rs`).

use std::borrow::Cow;

use cairn_http::proto::Method;

use crate::copy::parse_copy_source;
use crate::endpoint::{BucketOp, CopyOp, Endpoint, ObjectOp, ServiceOp};
use crate::query::{percent_decode, Query};

/// Query parameters that name a bucket or object sub-resource S3 has and Cairn does not
/// implement: a request carrying one gets `NotImplemented`, never a listing or a read.
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadata-table",
    "metrics",
    "notification",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "website",
];

/// S3's part numbers: 1 to 10,000 (the storage engine's limit too).
pub use cairn_storage::MAX_PART_NUMBER;

const PART_NUMBER_MESSAGE: &str = "Part number must be an integer between 1 and 10000, inclusive.";

/// Where virtual-hosted-style requests come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterConfig {
    /// The published endpoint domains, lower case, longest first (so that of nested domains
    /// such as `s3.example.com` and `example.com` the most specific one matches).
    domains: Vec<String>,
}

impl RouterConfig {
    /// `bucket.<domain>` is virtual-hosted style for each of `domains` (e.g.
    /// `s3.example.com`). When non-empty, a request whose host is neither one of these, a
    /// subdomain of one, an IP address nor `localhost` is refused.
    pub fn new(domains: impl IntoIterator<Item = impl AsRef<str>>) -> RouterConfig {
        let mut domains: Vec<String> = domains
            .into_iter()
            .map(|d| d.as_ref().trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        domains.dedup();
        RouterConfig { domains }
    }
}

/// Why a request matches no endpoint. Each maps to one S3 error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// A sub-resource or method combination S3 has and Cairn does not (`NotImplemented`).
    NotImplemented(&'static str),
    /// A method the resource does not allow (`MethodNotAllowed`).
    MethodNotAllowed,
    /// The path or a query parameter does not decode (`InvalidURI`).
    InvalidUri,
    /// A parameter or header routing reads is invalid (`InvalidArgument`, with this message):
    /// `partNumber`, `x-amz-copy-source`.
    InvalidArgument(&'static str),
    /// The Host header names no configured endpoint (`InvalidRequest`).
    UnknownHost,
}

/// The parts of a request routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a, 'q> {
    pub method: Method,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query, parsed once for routing and the operation (values the endpoint keeps are
    /// copied out of it).
    pub query: &'q Query<'q>,
    /// The Host header, if any (with or without a port).
    pub host: Option<&'a str>,
    /// The `x-amz-copy-source` header, if present (an invalid value as an empty one).
    pub copy_source: Option<&'a str>,
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed<'a> {
    pub endpoint: Endpoint<'a>,
    /// Whether the bucket came from the Host header (virtual-hosted style): SigV2 signs it in
    /// its canonical resource.
    pub virtual_hosted: bool,
}

impl<'a> Routed<'a> {
    /// The bucket the Host header named, for SigV2's canonical resource.
    pub fn virtual_host_bucket(&self) -> Option<&str> {
        if !self.virtual_hosted {
            return None;
        }
        match &self.endpoint {
            Endpoint::Service(ServiceOp::ListBuckets) => None,
            Endpoint::Service(ServiceOp::CreateBucket { bucket })
            | Endpoint::Bucket { bucket, .. }
            | Endpoint::Object { bucket, .. }
            | Endpoint::Copy { bucket, .. } => Some(bucket),
        }
    }
}

fn is_ip_or_localhost(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Splits `host[:port]` and returns the host in lower case.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.split_once(']').map_or(host, |(h, _)| h).to_owned() + "]"
    } else {
        host.rsplit_once(':')
            .map_or(host, |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            })
            .to_owned()
    };
    name.to_ascii_lowercase()
}

/// The bucket named by a virtual-hosted-style Host, `Ok(None)` for path style. The longest
/// configured domain that the host is or ends in decides.
pub fn virtual_host_bucket(
    host: Option<&str>,
    config: &RouterConfig,
) -> Result<Option<String>, RouteError> {
    let Some(host) = host else { return Ok(None) };
    let name = host_name(host);
    if is_ip_or_localhost(&name) {
        return Ok(None);
    }
    for domain in &config.domains {
        if name == *domain {
            return Ok(None);
        }
        if let Some(bucket) = name.strip_suffix(domain.as_str()) {
            if let Some(bucket) = bucket.strip_suffix('.').filter(|b| !b.is_empty()) {
                return Ok(Some(bucket.to_owned()));
            }
        }
    }
    if config.domains.is_empty() {
        Ok(None)
    } else {
        Err(RouteError::UnknownHost)
    }
}

/// A part number (`partNumber`): an integer from 1 to 10,000. The one place this rule lives.
pub fn part_number(text: &str) -> Result<u16, RouteError> {
    match text.parse::<u16>() {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n),
        _ => Err(RouteError::InvalidArgument(PART_NUMBER_MESSAGE)),
    }
}

fn optional_part_number(query: &Query<'_>) -> Result<Option<u16>, RouteError> {
    query.get("partNumber").map(part_number).transpose()
}

fn required_part_number(query: &Query<'_>) -> Result<u16, RouteError> {
    part_number(
        query
            .get("partNumber")
            .ok_or(RouteError::InvalidArgument(PART_NUMBER_MESSAGE))?,
    )
}

fn unsupported(query: &Query<'_>) -> Option<&'static str> {
    UNSUPPORTED_SUBRESOURCES
        .iter()
        .copied()
        .find(|name| query.has(name))
}

fn decode_path_part(part: &str) -> Result<Option<Cow<'_, str>>, RouteError> {
    (!part.is_empty())
        .then(|| percent_decode(part).ok_or(RouteError::InvalidUri))
        .transpose()
}

/// Routes a request.
pub fn route<'a>(
    input: &RouteInput<'a, '_>,
    config: &RouterConfig,
) -> Result<Routed<'a>, RouteError> {
    let path = input.path.strip_prefix('/').unwrap_or(input.path);
    let host_bucket = virtual_host_bucket(input.host, config)?;
    let virtual_hosted = host_bucket.is_some();
    let (bucket, key) = match host_bucket {
        Some(bucket) => (Some(Cow::Owned(bucket)), decode_path_part(path)?),
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            (decode_path_part(bucket)?, decode_path_part(key)?)
        }
    };
    let endpoint = match (bucket, key) {
        (None, _) => match input.method {
            Method::Get => Endpoint::Service(ServiceOp::ListBuckets),
            _ => return Err(RouteError::MethodNotAllowed),
        },
        (Some(bucket), None) => route_bucket(input, bucket)?,
        (Some(bucket), Some(key)) => route_object(input, bucket, key)?,
    };
    Ok(Routed {
        endpoint,
        virtual_hosted,
    })
}

fn route_bucket<'a>(
    input: &RouteInput<'a, '_>,
    bucket: Cow<'a, str>,
) -> Result<Endpoint<'a>, RouteError> {
    let query = input.query;
    if let Some(name) = unsupported(query) {
        return Err(RouteError::NotImplemented(name));
    }
    let op = match input.method {
        Method::Get if query.has("location") => BucketOp::GetBucketLocation,
        Method::Get if query.has("versioning") => BucketOp::GetBucketVersioning,
        Method::Get if query.has("versions") => BucketOp::ListObjectVersions,
        Method::Get if query.has("object-lock") => BucketOp::GetObjectLockConfiguration,
        Method::Get if query.has("acl") => BucketOp::GetBucketAcl,
        Method::Get if query.has("uploads") => BucketOp::ListMultipartUploads,
        Method::Get if query.get("list-type") == Some("2") => BucketOp::ListObjectsV2,
        Method::Get => BucketOp::ListObjects,
        Method::Head => BucketOp::HeadBucket,
        Method::Put if query.has("versioning") => {
            return Err(RouteError::NotImplemented("versioning"))
        }
        Method::Put if query.has("acl") => BucketOp::PutBucketAcl,
        Method::Put if query.has("object-lock") => {
            return Err(RouteError::NotImplemented("object-lock"))
        }
        Method::Put => return Ok(Endpoint::Service(ServiceOp::CreateBucket { bucket })),
        Method::Delete => BucketOp::DeleteBucket,
        Method::Post if query.has("delete") => BucketOp::DeleteObjects,
        Method::Post => return Err(RouteError::NotImplemented("POST object")),
        Method::Options | Method::Other => return Err(RouteError::MethodNotAllowed),
    };
    Ok(Endpoint::Bucket { bucket, op })
}

fn route_object<'a>(
    input: &RouteInput<'a, '_>,
    bucket: Cow<'a, str>,
    key: Cow<'a, str>,
) -> Result<Endpoint<'a>, RouteError> {
    let query = input.query;
    if let Some(name) = unsupported(query) {
        return Err(RouteError::NotImplemented(name));
    }
    let upload_id = query.get("uploadId").map(|id| Cow::Owned(id.to_owned()));
    if input.method == Method::Put && !query.has("acl") {
        if let Some(header) = input.copy_source {
            let source = parse_copy_source(header).map_err(RouteError::InvalidArgument)?;
            let op = match upload_id {
                Some(upload_id) => CopyOp::UploadPartCopy {
                    upload_id,
                    part_number: required_part_number(query)?,
                },
                None => CopyOp::CopyObject,
            };
            return Ok(Endpoint::Copy {
                bucket,
                key,
                source,
                op,
            });
        }
    }
    let op = match (input.method, upload_id) {
        (Method::Put, Some(upload_id)) => ObjectOp::UploadPart {
            upload_id,
            part_number: required_part_number(query)?,
        },
        (Method::Put, None) if query.has("acl") => ObjectOp::PutObjectAcl,
        (Method::Put, None) => ObjectOp::PutObject,
        (Method::Get, Some(upload_id)) => ObjectOp::ListParts { upload_id },
        (Method::Get, None) if query.has("acl") => ObjectOp::GetObjectAcl,
        (Method::Get, None) => ObjectOp::GetObject {
            part_number: optional_part_number(query)?,
        },
        (Method::Head, _) => ObjectOp::HeadObject {
            part_number: optional_part_number(query)?,
        },
        (Method::Delete, Some(upload_id)) => ObjectOp::AbortMultipartUpload { upload_id },
        (Method::Delete, None) => ObjectOp::DeleteObject,
        (Method::Post, None) if query.has("uploads") => ObjectOp::CreateMultipartUpload,
        (Method::Post, Some(upload_id)) => ObjectOp::CompleteMultipartUpload { upload_id },
        (Method::Post, None) => return Err(RouteError::NotImplemented("POST object")),
        (Method::Options | Method::Other, _) => return Err(RouteError::MethodNotAllowed),
    };
    Ok(Endpoint::Object { bucket, key, op })
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
