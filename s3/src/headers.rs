//! Request and response headers of S3 objects: metadata, Content-MD5, conditions, ranges,
//! dates, ETags and the URL encoding of listings.

use cairn_http::proto::RequestHead;
use cairn_http::server::Response;
use cairn_storage::{ByteRange, ObjectInfo, ObjectMeta, WriteCondition, MAX_USER_METADATA};

use crate::error::{S3Error, S3ErrorCode};

/// The largest object a single PUT (or copy) may create: 5 GiB, as S3.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The value of header `name`, trimmed (`None` if absent or not UTF-8).
pub fn header<'h>(head: &'h RequestHead, name: &str) -> Option<&'h str> {
    head.header_str(name).map(str::trim)
}

/// `Content-Encoding` without the `aws-chunked` coding, which describes the transfer only.
fn stored_content_encoding(value: &str) -> Option<String> {
    let codings: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!codings.is_empty()).then(|| codings.join(","))
}

/// System and user metadata from a PUT, POST (multipart) or REPLACE copy.
pub fn object_meta(head: &RequestHead) -> Result<ObjectMeta, S3Error> {
    let text = |name: &str| header(head, name).map(str::to_owned);
    let mut meta = ObjectMeta {
        content_type: text("content-type"),
        content_encoding: header(head, "content-encoding").and_then(stored_content_encoding),
        content_disposition: text("content-disposition"),
        content_language: text("content-language"),
        cache_control: text("cache-control"),
        expires: text("expires"),
        checksums: Vec::new(),
        user: Vec::new(),
    };
    for (name, value) in head.headers() {
        if name.len() > 11 && name[..11].eq_ignore_ascii_case("x-amz-meta-") {
            let value = std::str::from_utf8(value).map_err(|_| {
                S3Error::code(S3ErrorCode::InvalidArgument)
                    .with_message(format!("The value of header {name} is not valid UTF-8."))
            })?;
            let key = name[11..].to_ascii_lowercase();
            // Repeated headers are joined, as S3 does.
            match meta.user.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(value.trim());
                }
                None => meta.user.push((key, value.trim().to_owned())),
            }
        }
    }
    if meta.user_size() > MAX_USER_METADATA {
        return Err(S3Error::code(S3ErrorCode::MetadataTooLarge)
            .with_field("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    Ok(meta)
}

/// The `Content-MD5` header, if sent (`InvalidDigest` when it is not base64 of 16 bytes).
pub fn content_md5(head: &RequestHead) -> Result<Option<[u8; 16]>, S3Error> {
    use base64::Engine;
    let Some(value) = header(head, "content-md5") else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| S3Error::code(S3ErrorCode::InvalidDigest))?;
    let digest: [u8; 16] = bytes
        .try_into()
        .map_err(|_| S3Error::code(S3ErrorCode::InvalidDigest))?;
    Ok(Some(digest))
}

/// The condition of a conditional write (`If-None-Match: *`, `If-Match: <etag>`).
pub fn write_condition(head: &RequestHead) -> Result<WriteCondition, S3Error> {
    match (header(head, "if-none-match"), header(head, "if-match")) {
        (Some(_), Some(_)) => Err(S3Error::code(S3ErrorCode::NotImplemented)
            .with_message("If-Match and If-None-Match together are not supported.")),
        (Some("*"), None) => Ok(WriteCondition::IfAbsent),
        (Some(_), None) => Err(S3Error::code(S3ErrorCode::NotImplemented)
            .with_message("If-None-Match on a write supports only the value *.")),
        (None, Some(etag)) => Ok(WriteCondition::IfMatch(etag.to_owned())),
        (None, None) => Ok(WriteCondition::Always),
    }
}

/// Unix seconds of an HTTP date (any of the three formats of RFC 9110).
pub fn parse_http_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// `Last-Modified` form of milliseconds since the epoch.
pub fn http_date(ms: u64) -> String {
    cairn_sigv4::time::format_rfc1123((ms / 1000) as i64)
}

/// XML form (`2009-10-12T17:50:30.000Z`) of milliseconds since the epoch.
pub fn iso8601_ms(ms: u64) -> String {
    let c = cairn_sigv4::time::Civil::from_unix((ms / 1000) as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        ms % 1000
    )
}

/// An ETag as S3 sends it: in double quotes.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == etag
    })
}

/// Why a condition stops a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionFailure {
    /// 304 (`If-None-Match` or `If-Modified-Since` on GET/HEAD).
    NotModified,
    /// 412 `PreconditionFailed`.
    Failed,
}

/// The four conditional headers, under some prefix (`if-` for reads, `x-amz-copy-source-if-`
/// for copy sources).
#[derive(Debug, Default)]
pub struct Conditions<'h> {
    if_match: Option<&'h str>,
    if_none_match: Option<&'h str>,
    if_modified_since: Option<u64>,
    if_unmodified_since: Option<u64>,
}

impl<'h> Conditions<'h> {
    /// The conditions of a GET or HEAD.
    pub fn read(head: &'h RequestHead) -> Conditions<'h> {
        Conditions::with_prefix(head, "if-")
    }

    /// The `x-amz-copy-source-if-*` conditions of a copy.
    pub fn copy_source(head: &'h RequestHead) -> Conditions<'h> {
        Conditions::with_prefix(head, "x-amz-copy-source-if-")
    }

    fn with_prefix(head: &'h RequestHead, prefix: &str) -> Conditions<'h> {
        let get = |name: &str| header(head, &format!("{prefix}{name}"));
        Conditions {
            if_match: get("match"),
            if_none_match: get("none-match"),
            // An unparsable date is ignored, as RFC 9110 says.
            if_modified_since: get("modified-since").and_then(parse_http_date),
            if_unmodified_since: get("unmodified-since").and_then(parse_http_date),
        }
    }

    /// Evaluates the conditions in RFC 9110's order (which S3 follows): `If-Match`, else
    /// `If-Unmodified-Since`; then `If-None-Match`, else `If-Modified-Since`.
    pub fn evaluate(&self, info: &ObjectInfo) -> Result<(), ConditionFailure> {
        let modified = info.last_modified_ms / 1000;
        match self.if_match {
            Some(list) if !etag_matches(list, &info.etag) => return Err(ConditionFailure::Failed),
            Some(_) => {}
            None => {
                if self.if_unmodified_since.is_some_and(|t| modified > t) {
                    return Err(ConditionFailure::Failed);
                }
            }
        }
        match self.if_none_match {
            Some(list) if etag_matches(list, &info.etag) => Err(ConditionFailure::NotModified),
            Some(_) => Ok(()),
            None => {
                if self.if_modified_since.is_some_and(|t| modified <= t) {
                    Err(ConditionFailure::NotModified)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A `Range: bytes=…` header with one range. Anything else (several ranges, other units,
/// bad syntax) is ignored and the whole object is sent, as S3 does.
pub fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(ByteRange::Suffix(num(last)?)),
        (false, true) => Some(ByteRange::From(num(first)?)),
        (false, false) => {
            let (a, b) = (num(first)?, num(last)?);
            (a <= b).then_some(ByteRange::FromTo(a, b))
        }
        (true, true) => None,
    }
}

/// Adds an object's stored headers to a GET/HEAD answer.
pub fn object_headers(mut response: Response, info: &ObjectInfo) -> Response {
    response = response
        .header("ETag", quoted(&info.etag))
        .header("Last-Modified", http_date(info.last_modified_ms))
        .header("Accept-Ranges", "bytes")
        .header(
            "Content-Type",
            info.meta
                .content_type
                .clone()
                .unwrap_or_else(|| "binary/octet-stream".to_owned()),
        );
    let m = &info.meta;
    for (name, value) in [
        ("Content-Encoding", &m.content_encoding),
        ("Content-Disposition", &m.content_disposition),
        ("Content-Language", &m.content_language),
        ("Cache-Control", &m.cache_control),
        ("Expires", &m.expires),
    ] {
        if let Some(v) = value {
            response = response.header(name, v.clone());
        }
    }
    for (name, value) in &m.user {
        response = response.header(format!("x-amz-meta-{name}"), value.clone());
    }
    response
}

/// URL-encodes a listing value for `encoding-type=url`: unreserved bytes and `/` kept,
/// everything else `%XX` (so both form and plain URL decoders read it back).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(etag: &str, secs: u64) -> ObjectInfo {
        ObjectInfo {
            key: "k".into(),
            size: 10,
            etag: etag.into(),
            last_modified_ms: secs * 1000 + 250,
            parts: 0,
            part_lengths: Vec::new(),
            meta: ObjectMeta::default(),
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::FromTo(0, 9)));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(parse_range("bytes=9-0"), None);
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(parse_range("bytes=-"), None);
        assert_eq!(parse_range("bytes=+1-2"), None);
    }

    #[test]
    fn conditions_follow_rfc_order() {
        let i = info("abc", 1000);
        let c = |m: Option<&'static str>, n: Option<&'static str>, ms, us| Conditions {
            if_match: m,
            if_none_match: n,
            if_modified_since: ms,
            if_unmodified_since: us,
        };
        assert_eq!(c(Some("\"abc\""), None, None, None).evaluate(&i), Ok(()));
        assert_eq!(
            c(Some("\"x\""), None, None, None).evaluate(&i),
            Err(ConditionFailure::Failed)
        );
        // If-Match true wins over a failing If-Unmodified-Since.
        assert_eq!(c(Some("*"), None, None, Some(10)).evaluate(&i), Ok(()));
        assert_eq!(
            c(None, None, None, Some(10)).evaluate(&i),
            Err(ConditionFailure::Failed)
        );
        assert_eq!(
            c(None, Some("\"abc\""), None, None).evaluate(&i),
            Err(ConditionFailure::NotModified)
        );
        // If-None-Match false wins over If-Modified-Since.
        assert_eq!(
            c(None, Some("\"x\""), Some(5000), None).evaluate(&i),
            Ok(())
        );
        assert_eq!(
            c(None, None, Some(1000), None).evaluate(&i),
            Err(ConditionFailure::NotModified)
        );
        assert_eq!(c(None, None, Some(999), None).evaluate(&i), Ok(()));
    }

    #[test]
    fn dates_and_encoding() {
        assert_eq!(iso8601_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            http_date(1_700_000_000_999),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(
            parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"),
            Some(1_700_000_000)
        );
        assert_eq!(url_encode("a b+c/ü"), "a%20b%2Bc/%C3%BC");
        assert_eq!(stored_content_encoding("aws-chunked"), None);
        assert_eq!(
            stored_content_encoding("aws-chunked, gzip"),
            Some("gzip".to_owned())
        );
    }
}
