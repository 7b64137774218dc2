//! Routing: a request's method, host, path and query to a typed S3 [`Endpoint`], as S3 does
//! it (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html>): path
//! style (`/bucket/key`) and virtual-hosted style (`bucket.<domain>/key`), sub-resources
//! chosen by query parameters, other query parameters (`x-id` and friends) ignored.
//!
//! Pure: no IO, no state; tested as a table of request → endpoint.

use std::borrow::Cow;

use cairn_http::proto::Method;

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

/// Where virtual-hosted-style requests come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterConfig {
    /// The published endpoint domains (e.g. `s3.example.com`): `bucket.s3.example.com` is
    /// virtual-hosted style. When non-empty, a request whose host is neither one of these,
    /// a subdomain of one, an IP address nor `localhost` is refused.
    pub domains: Vec<String>,
}

/// An S3 operation with its decoded bucket and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<'a> {
    ListBuckets,
    CreateBucket {
        bucket: Cow<'a, str>,
    },
    DeleteBucket {
        bucket: Cow<'a, str>,
    },
    HeadBucket {
        bucket: Cow<'a, str>,
    },
    GetBucketLocation {
        bucket: Cow<'a, str>,
    },
    GetBucketVersioning {
        bucket: Cow<'a, str>,
    },
    GetBucketAcl {
        bucket: Cow<'a, str>,
    },
    PutBucketAcl {
        bucket: Cow<'a, str>,
    },
    GetObjectLockConfiguration {
        bucket: Cow<'a, str>,
    },
    ListObjects {
        bucket: Cow<'a, str>,
    },
    ListObjectsV2 {
        bucket: Cow<'a, str>,
    },
    ListObjectVersions {
        bucket: Cow<'a, str>,
    },
    ListMultipartUploads {
        bucket: Cow<'a, str>,
    },
    DeleteObjects {
        bucket: Cow<'a, str>,
    },
    PutObject {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    CopyObject {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    GetObject {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    HeadObject {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    DeleteObject {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    GetObjectAcl {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    PutObjectAcl {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    CreateMultipartUpload {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    UploadPart {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
        upload_id: Cow<'a, str>,
        part_number: u32,
    },
    UploadPartCopy {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
        upload_id: Cow<'a, str>,
        part_number: u32,
    },
    CompleteMultipartUpload {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
        upload_id: Cow<'a, str>,
    },
    AbortMultipartUpload {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
        upload_id: Cow<'a, str>,
    },
    ListParts {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
        upload_id: Cow<'a, str>,
    },
}

impl Endpoint<'_> {
    /// The S3 operation's name, as AWS's API reference spells it.
    pub fn operation(&self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::CreateBucket { .. } => "CreateBucket",
            Endpoint::DeleteBucket { .. } => "DeleteBucket",
            Endpoint::HeadBucket { .. } => "HeadBucket",
            Endpoint::GetBucketLocation { .. } => "GetBucketLocation",
            Endpoint::GetBucketVersioning { .. } => "GetBucketVersioning",
            Endpoint::GetBucketAcl { .. } => "GetBucketAcl",
            Endpoint::PutBucketAcl { .. } => "PutBucketAcl",
            Endpoint::GetObjectLockConfiguration { .. } => "GetObjectLockConfiguration",
            Endpoint::ListObjects { .. } => "ListObjects",
            Endpoint::ListObjectsV2 { .. } => "ListObjectsV2",
            Endpoint::ListObjectVersions { .. } => "ListObjectVersions",
            Endpoint::ListMultipartUploads { .. } => "ListMultipartUploads",
            Endpoint::DeleteObjects { .. } => "DeleteObjects",
            Endpoint::PutObject { .. } => "PutObject",
            Endpoint::CopyObject { .. } => "CopyObject",
            Endpoint::GetObject { .. } => "GetObject",
            Endpoint::HeadObject { .. } => "HeadObject",
            Endpoint::DeleteObject { .. } => "DeleteObject",
            Endpoint::GetObjectAcl { .. } => "GetObjectAcl",
            Endpoint::PutObjectAcl { .. } => "PutObjectAcl",
            Endpoint::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            Endpoint::UploadPart { .. } => "UploadPart",
            Endpoint::UploadPartCopy { .. } => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Endpoint::ListParts { .. } => "ListParts",
        }
    }
}

/// Why a request matches no endpoint. Each maps to one S3 error code in the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// A sub-resource or method combination S3 has and Cairn does not (`NotImplemented`).
    NotImplemented(&'static str),
    /// A method the resource does not allow (`MethodNotAllowed`).
    MethodNotAllowed,
    /// The path or a parameter does not decode (`InvalidURI`).
    InvalidUri,
    /// `partNumber` is not an integer from 1 to 10000 (`InvalidArgument`).
    InvalidPartNumber,
    /// The Host header names no configured endpoint (`InvalidRequest`).
    UnknownHost,
}

/// The parts of a request routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    pub method: Method,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query as sent, without `?`.
    pub query: &'a str,
    /// The Host header, if any (with or without a port).
    pub host: Option<&'a str>,
    /// Whether `x-amz-copy-source` is present.
    pub copy_source: bool,
}

/// Decodes `%XX` escapes (S3 paths keep `+` literal). `None` for a bad escape or non-UTF-8.
pub fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Decodes a query name or value (form style: `+` is a space).
fn query_decode(text: &str) -> Option<Cow<'_, str>> {
    if text.contains('+') {
        let spaced = text.replace('+', " ");
        return percent_decode(&spaced).map(|c| Cow::Owned(c.into_owned()));
    }
    percent_decode(text)
}

/// A parsed query: decoded names and values, in order.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// Parses `a=1&b&c=` (a name without `=` has an empty value).
    pub fn parse(query: &'a str) -> Result<Query<'a>, RouteError> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = query_decode(name).ok_or(RouteError::InvalidUri)?;
            let value = query_decode(value).ok_or(RouteError::InvalidUri)?;
            pairs.push((name, value));
        }
        Ok(Query { pairs })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
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

/// The bucket named by a virtual-hosted-style Host, `Ok(None)` for path style.
fn virtual_host_bucket(
    host: Option<&str>,
    config: &RouterConfig,
) -> Result<Option<String>, RouteError> {
    let Some(host) = host else { return Ok(None) };
    let name = host_name(host);
    if is_ip_or_localhost(&name) {
        return Ok(None);
    }
    for domain in &config.domains {
        let domain = domain.to_ascii_lowercase();
        if name == domain {
            return Ok(None);
        }
        if let Some(bucket) = name.strip_suffix(&domain).and_then(|b| b.strip_suffix('.')) {
            if !bucket.is_empty() {
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

fn part_number(query: &Query<'_>) -> Result<u32, RouteError> {
    let text = query
        .get("partNumber")
        .ok_or(RouteError::InvalidPartNumber)?;
    match text.parse::<u32>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(RouteError::InvalidPartNumber),
    }
}

fn unsupported(query: &Query<'_>) -> Option<&'static str> {
    UNSUPPORTED_SUBRESOURCES
        .iter()
        .copied()
        .find(|name| query.has(name))
}

/// Routes a request.
pub fn route<'a>(
    input: &RouteInput<'a>,
    config: &RouterConfig,
) -> Result<Endpoint<'a>, RouteError> {
    let query = Query::parse(input.query)?;
    let path = input.path.strip_prefix('/').unwrap_or(input.path);
    let (bucket, key): (Option<Cow<'a, str>>, Option<Cow<'a, str>>) =
        match virtual_host_bucket(input.host, config)? {
            Some(bucket) => {
                let key = (!path.is_empty())
                    .then(|| percent_decode(path).ok_or(RouteError::InvalidUri))
                    .transpose()?;
                (Some(Cow::Owned(bucket)), key)
            }
            None => {
                let (bucket, key) = path.split_once('/').map_or((path, ""), |(b, k)| (b, k));
                let bucket = (!bucket.is_empty())
                    .then(|| percent_decode(bucket).ok_or(RouteError::InvalidUri))
                    .transpose()?;
                let key = (!key.is_empty())
                    .then(|| percent_decode(key).ok_or(RouteError::InvalidUri))
                    .transpose()?;
                (bucket, key)
            }
        };
    let Some(bucket) = bucket else {
        return match input.method {
            Method::Get => Ok(Endpoint::ListBuckets),
            _ => Err(RouteError::MethodNotAllowed),
        };
    };
    match key {
        None => route_bucket(input, &query, bucket),
        Some(key) => route_object(input, &query, bucket, key),
    }
}

fn route_bucket<'a>(
    input: &RouteInput<'a>,
    query: &Query<'_>,
    bucket: Cow<'a, str>,
) -> Result<Endpoint<'a>, RouteError> {
    if let Some(name) = unsupported(query) {
        return Err(RouteError::NotImplemented(name));
    }
    Ok(match input.method {
        Method::Get if query.has("location") => Endpoint::GetBucketLocation { bucket },
        Method::Get if query.has("versioning") => Endpoint::GetBucketVersioning { bucket },
        Method::Get if query.has("versions") => Endpoint::ListObjectVersions { bucket },
        Method::Get if query.has("object-lock") => Endpoint::GetObjectLockConfiguration { bucket },
        Method::Get if query.has("acl") => Endpoint::GetBucketAcl { bucket },
        Method::Get if query.has("uploads") => Endpoint::ListMultipartUploads { bucket },
        Method::Get if query.get("list-type") == Some("2") => Endpoint::ListObjectsV2 { bucket },
        Method::Get => Endpoint::ListObjects { bucket },
        Method::Head => Endpoint::HeadBucket { bucket },
        Method::Put if query.has("versioning") => {
            return Err(RouteError::NotImplemented("versioning"))
        }
        Method::Put if query.has("acl") => Endpoint::PutBucketAcl { bucket },
        Method::Put if query.has("object-lock") => {
            return Err(RouteError::NotImplemented("object-lock"))
        }
        Method::Put => Endpoint::CreateBucket { bucket },
        Method::Delete => Endpoint::DeleteBucket { bucket },
        Method::Post if query.has("delete") => Endpoint::DeleteObjects { bucket },
        Method::Post => return Err(RouteError::NotImplemented("POST object")),
        Method::Options | Method::Other => return Err(RouteError::MethodNotAllowed),
    })
}

fn route_object<'a>(
    input: &RouteInput<'a>,
    query: &Query<'_>,
    bucket: Cow<'a, str>,
    key: Cow<'a, str>,
) -> Result<Endpoint<'a>, RouteError> {
    if let Some(name) = unsupported(query) {
        return Err(RouteError::NotImplemented(name));
    }
    let upload_id = query.get("uploadId").map(|id| Cow::Owned(id.to_owned()));
    Ok(match (input.method, upload_id) {
        (Method::Put, Some(upload_id)) => {
            let part_number = part_number(query)?;
            if input.copy_source {
                Endpoint::UploadPartCopy {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                }
            } else {
                Endpoint::UploadPart {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                }
            }
        }
        (Method::Put, None) if query.has("acl") => Endpoint::PutObjectAcl { bucket, key },
        (Method::Put, None) if input.copy_source => Endpoint::CopyObject { bucket, key },
        (Method::Put, None) => Endpoint::PutObject { bucket, key },
        (Method::Get, Some(upload_id)) => Endpoint::ListParts {
            bucket,
            key,
            upload_id,
        },
        (Method::Get, None) if query.has("acl") => Endpoint::GetObjectAcl { bucket, key },
        (Method::Get, None) => Endpoint::GetObject { bucket, key },
        (Method::Head, _) => Endpoint::HeadObject { bucket, key },
        (Method::Delete, Some(upload_id)) => Endpoint::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        },
        (Method::Delete, None) => Endpoint::DeleteObject { bucket, key },
        (Method::Post, None) if query.has("uploads") => {
            Endpoint::CreateMultipartUpload { bucket, key }
        }
        (Method::Post, Some(upload_id)) => Endpoint::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        },
        (Method::Post, None) => return Err(RouteError::NotImplemented("POST object")),
        (Method::Options | Method::Other, _) => return Err(RouteError::MethodNotAllowed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(method: Method, target: &'static str, host: &'static str) -> RouteInput<'static> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        RouteInput {
            method,
            path,
            query,
            host: Some(host),
            copy_source: false,
        }
    }

    fn b(s: &str) -> Cow<'_, str> {
        Cow::Borrowed(s)
    }

    fn o(s: &str) -> Cow<'static, str> {
        Cow::Owned(s.to_owned())
    }

    #[test]
    fn path_style_table() {
        let config = RouterConfig::default();
        let host = "127.0.0.1:9000";
        use Method::*;
        let table: Vec<(Method, &'static str, Result<Endpoint<'static>, RouteError>)> = vec![
            (Get, "/", Ok(Endpoint::ListBuckets)),
            (Put, "/", Err(RouteError::MethodNotAllowed)),
            (Put, "/bkt", Ok(Endpoint::CreateBucket { bucket: b("bkt") })),
            (
                Put,
                "/bkt/",
                Ok(Endpoint::CreateBucket { bucket: b("bkt") }),
            ),
            (
                Delete,
                "/bkt",
                Ok(Endpoint::DeleteBucket { bucket: b("bkt") }),
            ),
            (Head, "/bkt", Ok(Endpoint::HeadBucket { bucket: b("bkt") })),
            (
                Get,
                "/bkt?location",
                Ok(Endpoint::GetBucketLocation { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?versioning",
                Ok(Endpoint::GetBucketVersioning { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?versions&prefix=a",
                Ok(Endpoint::ListObjectVersions { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?object-lock",
                Ok(Endpoint::GetObjectLockConfiguration { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?acl",
                Ok(Endpoint::GetBucketAcl { bucket: b("bkt") }),
            ),
            (
                Put,
                "/bkt?acl",
                Ok(Endpoint::PutBucketAcl { bucket: b("bkt") }),
            ),
            (
                Put,
                "/bkt/k?acl",
                Ok(Endpoint::PutObjectAcl {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Get,
                "/bkt?uploads&prefix=x",
                Ok(Endpoint::ListMultipartUploads { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?list-type=2&encoding-type=url",
                Ok(Endpoint::ListObjectsV2 { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?prefix=a&delimiter=%2F&marker=m",
                Ok(Endpoint::ListObjects { bucket: b("bkt") }),
            ),
            (
                Get,
                "/bkt?x-id=ListObjects",
                Ok(Endpoint::ListObjects { bucket: b("bkt") }),
            ),
            (
                Post,
                "/bkt?delete",
                Ok(Endpoint::DeleteObjects { bucket: b("bkt") }),
            ),
            (Post, "/bkt", Err(RouteError::NotImplemented("POST object"))),
            (
                Get,
                "/bkt?policy",
                Err(RouteError::NotImplemented("policy")),
            ),
            (
                Get,
                "/bkt?lifecycle",
                Err(RouteError::NotImplemented("lifecycle")),
            ),
            (
                Put,
                "/bkt?versioning",
                Err(RouteError::NotImplemented("versioning")),
            ),
            (Options, "/bkt", Err(RouteError::MethodNotAllowed)),
            (
                Put,
                "/bkt/a/b.txt",
                Ok(Endpoint::PutObject {
                    bucket: b("bkt"),
                    key: b("a/b.txt"),
                }),
            ),
            (
                Put,
                "/bkt/a%20b%2Bc+d",
                Ok(Endpoint::PutObject {
                    bucket: b("bkt"),
                    key: o("a b+c+d"),
                }),
            ),
            (
                Get,
                "/bkt/%E2%82%AC",
                Ok(Endpoint::GetObject {
                    bucket: b("bkt"),
                    key: o("€"),
                }),
            ),
            (
                Get,
                "/bkt/k?x-id=GetObject&response-content-type=text%2Fplain",
                Ok(Endpoint::GetObject {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Get,
                "/bkt/k?partNumber=2",
                Ok(Endpoint::GetObject {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Head,
                "/bkt/k?versionId=null",
                Ok(Endpoint::HeadObject {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Delete,
                "/bkt/k",
                Ok(Endpoint::DeleteObject {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Get,
                "/bkt/k?acl",
                Ok(Endpoint::GetObjectAcl {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Get,
                "/bkt/k?tagging",
                Err(RouteError::NotImplemented("tagging")),
            ),
            (
                Post,
                "/bkt/k?uploads",
                Ok(Endpoint::CreateMultipartUpload {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                Put,
                "/bkt/k?partNumber=3&uploadId=abc",
                Ok(Endpoint::UploadPart {
                    bucket: b("bkt"),
                    key: b("k"),
                    upload_id: o("abc"),
                    part_number: 3,
                }),
            ),
            (
                Put,
                "/bkt/k?partNumber=0&uploadId=abc",
                Err(RouteError::InvalidPartNumber),
            ),
            (
                Put,
                "/bkt/k?partNumber=10001&uploadId=abc",
                Err(RouteError::InvalidPartNumber),
            ),
            (
                Put,
                "/bkt/k?uploadId=abc",
                Err(RouteError::InvalidPartNumber),
            ),
            (
                Post,
                "/bkt/k?uploadId=abc",
                Ok(Endpoint::CompleteMultipartUpload {
                    bucket: b("bkt"),
                    key: b("k"),
                    upload_id: o("abc"),
                }),
            ),
            (
                Delete,
                "/bkt/k?uploadId=abc",
                Ok(Endpoint::AbortMultipartUpload {
                    bucket: b("bkt"),
                    key: b("k"),
                    upload_id: o("abc"),
                }),
            ),
            (
                Get,
                "/bkt/k?uploadId=abc&max-parts=2",
                Ok(Endpoint::ListParts {
                    bucket: b("bkt"),
                    key: b("k"),
                    upload_id: o("abc"),
                }),
            ),
            (
                Post,
                "/bkt/k",
                Err(RouteError::NotImplemented("POST object")),
            ),
            (Get, "/bkt/bad%zz", Err(RouteError::InvalidUri)),
            (Get, "/bkt/bad%ff", Err(RouteError::InvalidUri)),
            (Get, "/bkt/k?a=%", Err(RouteError::InvalidUri)),
        ];
        for (method, target, expected) in table {
            assert_eq!(
                route(&input(method, target, host), &config),
                expected,
                "{method:?} {target}"
            );
        }
    }

    #[test]
    fn copy_source_selects_copy_operations() {
        let config = RouterConfig::default();
        let mut req = input(Method::Put, "/bkt/k", "localhost:9000");
        req.copy_source = true;
        assert_eq!(
            route(&req, &config),
            Ok(Endpoint::CopyObject {
                bucket: b("bkt"),
                key: b("k")
            })
        );
        let mut req = input(Method::Put, "/bkt/k?partNumber=1&uploadId=u", "localhost");
        req.copy_source = true;
        assert_eq!(
            route(&req, &config),
            Ok(Endpoint::UploadPartCopy {
                bucket: b("bkt"),
                key: b("k"),
                upload_id: o("u"),
                part_number: 1
            })
        );
    }

    #[test]
    fn virtual_hosted_style() {
        let config = RouterConfig {
            domains: vec!["s3.example.com".into()],
        };
        let cases: Vec<(
            &'static str,
            &'static str,
            Result<Endpoint<'static>, RouteError>,
        )> = vec![
            (
                "bkt.s3.example.com",
                "/k/x",
                Ok(Endpoint::GetObject {
                    bucket: o("bkt"),
                    key: b("k/x"),
                }),
            ),
            (
                "my.dotted.bkt.s3.example.com:9000",
                "/k",
                Ok(Endpoint::GetObject {
                    bucket: o("my.dotted.bkt"),
                    key: b("k"),
                }),
            ),
            (
                "BKT.S3.Example.COM",
                "/",
                Ok(Endpoint::ListObjects { bucket: o("bkt") }),
            ),
            (
                "s3.example.com",
                "/bkt/k",
                Ok(Endpoint::GetObject {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            ("s3.example.com", "/", Ok(Endpoint::ListBuckets)),
            (
                "127.0.0.1:9000",
                "/bkt/k",
                Ok(Endpoint::GetObject {
                    bucket: b("bkt"),
                    key: b("k"),
                }),
            ),
            (
                "[::1]:9000",
                "/bkt",
                Ok(Endpoint::ListObjects { bucket: b("bkt") }),
            ),
            ("evil.example.net", "/bkt/k", Err(RouteError::UnknownHost)),
            ("xs3.example.com", "/bkt/k", Err(RouteError::UnknownHost)),
        ];
        for (host, target, expected) in cases {
            assert_eq!(
                route(&input(Method::Get, target, host), &config),
                expected,
                "{host} {target}"
            );
        }
        // Without configured domains every host is path style.
        let open = RouterConfig::default();
        assert_eq!(
            route(&input(Method::Get, "/bkt/k", "anything.example.net"), &open),
            Ok(Endpoint::GetObject {
                bucket: b("bkt"),
                key: b("k")
            })
        );
    }

    #[test]
    fn query_parsing() {
        let q = Query::parse("a=1&b&c=&d=x%2By+z&a=2").unwrap();
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some(""));
        assert_eq!(q.get("c"), Some(""));
        assert_eq!(q.get("d"), Some("x+y z"));
        assert!(!q.has("e"));
        assert!(Query::parse("a=%G0").is_err());
    }
}
