//! Entry points for the fuzz targets in `fuzz/` and for the no-panic test that drives the same
//! functions with pseudo-random input where cargo-fuzz is not available. Each takes arbitrary
//! bytes, must never panic, and checks what it gets back for internal consistency.

use cairn_http::proto::Method;
use cairn_storage::ByteRange;

use crate::copy::{parse_copy_range, parse_copy_source};
use crate::endpoint::{CopyOp, Endpoint, ObjectOp, ServiceOp};
use crate::headers::parse_range;
use crate::ops_multipart::parse_complete;
use crate::query::Query;
use crate::router::{route, RouteInput, RouterConfig, MAX_PART_NUMBER};
use crate::xml::{parse, Element, XmlLimits, MAX_DEPTH};

const METHODS: [Method; 7] = [
    Method::Get,
    Method::Put,
    Method::Post,
    Method::Delete,
    Method::Head,
    Method::Options,
    Method::Other,
];

/// Splits `data` at its first `n - 1` newlines into `n` fields (missing ones empty).
fn fields(data: &[u8], n: usize) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut out: Vec<&str> = text.splitn(n, '\n').collect();
    out.resize(n, "");
    Some(out)
}

/// Routes a request made of `data`: byte 0 picks the method, byte 1 whether a Host and a copy
/// source are sent and whether virtual-host domains are configured; the rest is
/// `path \n query \n host \n copy-source`.
pub fn route_request(data: &[u8]) {
    let [method, flags, rest @ ..] = data else {
        return;
    };
    let Some(f) = fields(rest, 4) else {
        return;
    };
    let Ok(query) = Query::parse(f[1]) else {
        return;
    };
    let config = if flags & 4 != 0 {
        RouterConfig::new(["s3.example.com", "example.com", "S3.Other.Test"])
    } else {
        RouterConfig::default()
    };
    let input = RouteInput {
        method: METHODS[usize::from(*method) % METHODS.len()],
        path: f[0],
        query: &query,
        host: (flags & 1 != 0).then_some(f[2]),
        copy_source: (flags & 2 != 0).then_some(f[3]),
    };
    let Ok(routed) = route(&input, &config) else {
        return;
    };
    assert_eq!(route(&input, &config).ok(), Some(routed.clone()));
    assert!(!routed.endpoint.operation().is_empty());
    if routed.virtual_hosted {
        assert!(flags & 4 != 0, "virtual-hosted style without domains");
        let bucket = routed
            .virtual_host_bucket()
            .expect("a virtual-hosted bucket");
        assert!(!bucket.is_empty() && bucket == bucket.to_ascii_lowercase());
    }
    check_endpoint(&routed.endpoint);
}

fn check_part_number(n: u16) {
    assert!((1..=MAX_PART_NUMBER).contains(&n), "part number {n}");
}

fn check_endpoint(endpoint: &Endpoint<'_>) {
    match endpoint {
        Endpoint::Service(ServiceOp::ListBuckets) => {}
        Endpoint::Service(ServiceOp::CreateBucket { bucket }) | Endpoint::Bucket { bucket, .. } => {
            assert!(!bucket.is_empty())
        }
        Endpoint::Object { bucket, key, op } => {
            assert!(!bucket.is_empty() && !key.is_empty());
            match op {
                ObjectOp::GetObject { part_number } | ObjectOp::HeadObject { part_number } => {
                    part_number.map(check_part_number);
                }
                ObjectOp::UploadPart { part_number, .. } => check_part_number(*part_number),
                _ => {}
            }
        }
        Endpoint::Copy {
            bucket,
            key,
            source,
            op,
        } => {
            assert!(!bucket.is_empty() && !key.is_empty());
            assert!(!source.bucket.is_empty() && !source.key.is_empty());
            assert!(!source.bucket.contains('/'));
            if let CopyOp::UploadPartCopy { part_number, .. } = op {
                check_part_number(*part_number);
            }
        }
    }
}

fn check_tree(element: &Element, depth: usize, count: &mut usize) {
    assert!(depth <= MAX_DEPTH, "nested deeper than the limit");
    *count += 1;
    for child in &element.children {
        check_tree(child, depth + 1, count);
    }
}

/// Parses `data[1..]` as an XML request body under the limits byte 0 picks (a tiny one, or
/// those of CompleteMultipartUpload), then as a CompleteMultipartUpload.
pub fn xml_body(data: &[u8]) {
    let [pick, body @ ..] = data else {
        return;
    };
    let limits = match pick % 3 {
        0 => XmlLimits::items(2, 2),
        1 => XmlLimits::items(50, 4),
        _ => XmlLimits::items(usize::from(MAX_PART_NUMBER), 8),
    };
    if let Ok(root) = parse(body, limits) {
        assert!(root.children.len() <= limits.max_items);
        let mut count = 0;
        check_tree(&root, 1, &mut count);
        assert!(count <= limits.max_elements, "{count} elements");
    }
    if let Ok(parts) = parse_complete(body) {
        assert!(!parts.is_empty() && parts.len() <= usize::from(MAX_PART_NUMBER));
        for part in parts {
            check_part_number(part.number);
        }
    }
}

/// Parses `x-amz-copy-source \n x-amz-copy-source-range`.
pub fn copy_headers(data: &[u8]) {
    let Some(f) = fields(data, 2) else {
        return;
    };
    if let Ok(source) = parse_copy_source(f[0]) {
        assert!(!source.bucket.is_empty() && !source.key.is_empty());
        assert!(!source.bucket.contains('/'));
    }
    if let Ok(range) = parse_copy_range(f[1]) {
        assert!(matches!(range, ByteRange::FromTo(first, last) if first <= last));
    }
}

/// Parses a `Range` header (`data[8..]`) and resolves it in an object whose size is the first
/// eight bytes (little-endian).
pub fn range_header(data: &[u8]) {
    let Some((size, text)) = data.split_first_chunk::<8>() else {
        return;
    };
    let size = u64::from_le_bytes(*size);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Some(range) = parse_range(text) else {
        return;
    };
    if let Ok((start, end)) = range.resolve(size) {
        assert!(
            start < end && end <= size,
            "{range:?} in {size}: {start}..{end}"
        );
    }
}
