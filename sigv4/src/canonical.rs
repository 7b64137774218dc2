//! The SigV4 canonical request and string to sign as S3 defines them ("Signature Calculations
//! for the Authorization Header": <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>).
//! S3 differs from other services: the path is URI-encoded once (never twice) and never
//! normalised (`//`, `.` and `..` stay as sent).

use std::borrow::Cow;

use ring::digest;

use crate::RequestParts;

/// `hex(sha256(""))`: the payload hash of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The algorithm name of SigV4 with HMAC-SHA256.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Which URI component is being encoded: the rules differ in `/` and `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// The path: `/` is kept, `+` is a literal plus.
    Path,
    /// A query name or value: `/` is encoded, `+` is a space (form encoding, as S3, Go's
    /// `url.ParseQuery` and the `aws-sigv4` crate read it).
    Query,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_encoded(out: &mut String, b: u8, component: Component) {
    if is_unreserved(b) || (b == b'/' && component == Component::Path) {
        out.push(b as char);
    } else {
        out.push('%');
        out.push(HEX_UPPER[usize::from(b >> 4)] as char);
        out.push(HEX_UPPER[usize::from(b & 15)] as char);
    }
}

/// Decodes what the client sent (`%XX`, and `+` in a query) and re-encodes it with AWS's rules:
/// unreserved `A-Za-z0-9-._~` kept, everything else `%XX` in upper case. A `%` not followed by
/// two hex digits is a literal `%`.
pub fn uri_encode_into(out: &mut String, raw: &str, component: Component) {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let decoded = if c == b'%' && i + 2 < b.len() {
            match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    i += 2;
                    (h << 4) | l
                }
                _ => c,
            }
        } else if c == b'+' && component == Component::Query {
            b' '
        } else {
            c
        };
        push_encoded(out, decoded, component);
        i += 1;
    }
}

/// Percent-decodes a query component (`+` is a space); invalid escapes stay literal.
pub fn query_decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Iterates `(raw name, raw value)` pairs of a query string; a pair without `=` has an empty
/// value, empty pairs (`a=1&&b=2`) are skipped.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// The canonical URI: the path as sent, decoded and encoded once; `/` when empty.
pub fn canonical_uri_into(out: &mut String, path: &str) {
    if path.is_empty() {
        out.push('/');
    } else {
        uri_encode_into(out, path, Component::Path);
    }
}

/// The canonical query string: every parameter (but `X-Amz-Signature` when `presigned`),
/// encoded with AWS's rules, sorted by encoded name then encoded value, joined with `&`.
pub fn canonical_query_into(out: &mut String, query: &str, presigned: bool) {
    let mut encoded = String::with_capacity(query.len() + 16);
    let mut pairs: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    for (name, value) in query_pairs(query) {
        if presigned && name == "X-Amz-Signature" {
            continue;
        }
        let n0 = encoded.len();
        uri_encode_into(&mut encoded, name, Component::Query);
        let n1 = encoded.len();
        uri_encode_into(&mut encoded, value, Component::Query);
        pairs.push((n0..n1, n1..encoded.len()));
    }
    pairs.sort_by(|a, b| {
        (&encoded[a.0.clone()], &encoded[a.1.clone()])
            .cmp(&(&encoded[b.0.clone()], &encoded[b.1.clone()]))
    });
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encoded[n.clone()]);
        out.push('=');
        out.push_str(&encoded[v.clone()]);
    }
}

/// One header value in canonical form: outer spaces and tabs trimmed, inner runs of spaces
/// folded to one.
pub fn canonical_header_value_into(out: &mut String, value: &str) {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let mut prev_space = false;
    for c in value.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
}

/// `name:value` of one signed header: every value sent under that name (any case), in order,
/// joined with `,`. A signed header that is absent has an empty value.
pub fn canonical_header_into(out: &mut String, parts: &RequestParts<'_>, name: &str) {
    for c in name.chars() {
        out.push(c.to_ascii_lowercase());
    }
    out.push(':');
    let mut first = true;
    for (n, v) in parts.headers {
        if n.eq_ignore_ascii_case(name) {
            if !first {
                out.push(',');
            }
            canonical_header_value_into(out, v);
            first = false;
        }
    }
    out.push('\n');
}

/// The canonical request:
/// `method \n uri \n query \n headers \n \n signed-headers \n payload-hash`.
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &str,
    payload_hash: &str,
    presigned: bool,
) -> String {
    let mut out = String::with_capacity(
        256 + parts.path.len() + parts.query.len() + signed_headers.len() * 4,
    );
    out.push_str(parts.method);
    out.push('\n');
    canonical_uri_into(&mut out, parts.path);
    out.push('\n');
    canonical_query_into(&mut out, parts.query, presigned);
    out.push('\n');
    for name in signed_headers.split(';') {
        canonical_header_into(&mut out, parts, name);
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// Lower-case hex of SHA-256, as bytes (no allocation).
pub fn sha256_hex_bytes(data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex::encode_to_slice(digest::digest(&digest::SHA256, data), &mut out)
        .expect("64 hex digits hold 32 bytes");
    out
}

/// Lower-case hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    String::from_utf8_lossy(&sha256_hex_bytes(data)).into_owned()
}

/// `AWS4-HMAC-SHA256 \n amz-date \n scope \n hex(sha256(canonical request))`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    let hash = sha256_hex_bytes(canonical_request.as_bytes());
    out.push_str(std::str::from_utf8(&hash).expect("hex is ASCII"));
    out
}

/// `date/region/service/aws4_request`.
pub fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(raw: &str, c: Component) -> String {
        let mut s = String::new();
        uri_encode_into(&mut s, raw, c);
        s
    }

    #[test]
    fn encodes_once_and_never_normalises() {
        assert_eq!(enc("/test$file.text", Component::Path), "/test%24file.text");
        assert_eq!(enc("/a%24b", Component::Path), "/a%24b");
        assert_eq!(enc("/a%2fb", Component::Path), "/a/b");
        assert_eq!(enc("//a/./b/../c", Component::Path), "//a/./b/../c");
        assert_eq!(enc("/a b+c", Component::Path), "/a%20b%2Bc");
        assert_eq!(enc("/%zz%4", Component::Path), "/%25zz%254");
        assert_eq!(enc("/é", Component::Path), "/%C3%A9");
        assert_eq!(enc("a+b/c", Component::Query), "a%20b%2Fc");
        assert_eq!(enc("~-._", Component::Query), "~-._");
        assert_eq!(enc("%", Component::Query), "%25");
        assert_eq!(enc("%7e", Component::Query), "~");
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        let mut s = String::new();
        canonical_query_into(&mut s, "prefix=J&max-keys=2", false);
        assert_eq!(s, "max-keys=2&prefix=J");
        s.clear();
        canonical_query_into(&mut s, "lifecycle", false);
        assert_eq!(s, "lifecycle=");
        s.clear();
        canonical_query_into(&mut s, "b=2&a=z&a=&&a=y&c=%2f", false);
        assert_eq!(s, "a=&a=y&a=z&b=2&c=%2F");
        s.clear();
        canonical_query_into(&mut s, "X-Amz-Signature=abc&x-id=GetObject", true);
        assert_eq!(s, "x-id=GetObject");
        assert_eq!(query_decode("a%2Fb+c%"), "a/b c%");
    }

    #[test]
    fn header_values_trimmed_folded_joined() {
        let headers = [
            ("X-Amz-Meta-A", "  one   two  "),
            ("x-amz-meta-a", "three"),
            ("Host", "h"),
        ];
        let parts = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
        };
        let mut s = String::new();
        canonical_header_into(&mut s, &parts, "x-amz-meta-a");
        assert_eq!(s, "x-amz-meta-a:one two,three\n");
    }
}
