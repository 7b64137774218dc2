//! The SigV4 canonical request and string to sign as S3 defines them ("Signature Calculations
//! for the Authorization Header": <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>).
//! S3 differs from other services: the path is URI-encoded once (never twice) and never
//! normalised (`//`, `.` and `..` stay as sent).

use std::borrow::Cow;

use ring::digest;

use crate::{AuthError, RequestParts};

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

/// The longest canonical request [`canonical_request`] builds. With unique signed headers
/// (which [`crate::header::valid_signed_headers`] requires) a legitimate request's canonical
/// form is at most about 3× its path and query (each byte may become `%XX`) plus its head:
/// ~80 KiB with the daemon's default 16 KiB URI and 32 KiB head limits. Whatever the input,
/// the build stops as soon as this is exceeded, and never allocates past it.
pub const MAX_CANONICAL_REQUEST_BYTES: usize = 128 * 1024;

/// A `String` that never grows past `limit` bytes: a write that would is dropped and marks
/// it exceeded, and so is every write after it.
#[derive(Debug)]
struct CappedString {
    text: String,
    limit: usize,
    exceeded: bool,
}

impl CappedString {
    fn new(capacity: usize, limit: usize) -> CappedString {
        CappedString::from_string(String::with_capacity(capacity.min(limit)), limit)
    }

    fn from_string(text: String, limit: usize) -> CappedString {
        CappedString {
            text,
            limit,
            exceeded: false,
        }
    }

    fn push_str(&mut self, s: &str) {
        if self.exceeded {
            return;
        }
        let needed = self.text.len().saturating_add(s.len());
        if needed > self.limit {
            self.exceeded = true;
            return;
        }
        if needed > self.text.capacity() {
            // Grow geometrically, as `String` does, but never past the limit.
            let target = needed
                .max(self.text.capacity().saturating_mul(2))
                .min(self.limit);
            self.text.reserve_exact(target - self.text.len());
        }
        self.text.push_str(s);
    }

    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// How many more bytes fit.
    fn room(&self) -> usize {
        self.limit - self.text.len()
    }
}

/// Runs a capped writer over `out` without a cap: the `*_into` functions write into a plain
/// `String`.
fn unbounded(out: &mut String, write: impl FnOnce(&mut CappedString)) {
    let mut w = CappedString::from_string(std::mem::take(out), usize::MAX);
    write(&mut w);
    *out = w.text;
}

fn push_encoded(out: &mut CappedString, b: u8, component: Component) {
    if is_unreserved(b) || (b == b'/' && component == Component::Path) {
        out.push(char::from(b));
    } else {
        let escaped = [
            b'%',
            HEX_UPPER[usize::from(b >> 4)],
            HEX_UPPER[usize::from(b & 15)],
        ];
        out.push_str(std::str::from_utf8(&escaped).expect("% and hex digits are ASCII"));
    }
}

/// Decodes what the client sent (`%XX`, and `+` in a query) and re-encodes it with AWS's rules:
/// unreserved `A-Za-z0-9-._~` kept, everything else `%XX` in upper case. A `%` not followed by
/// two hex digits is a literal `%`.
pub fn uri_encode_into(out: &mut String, raw: &str, component: Component) {
    unbounded(out, |w| uri_encode_to(w, raw, component));
}

fn uri_encode_to(out: &mut CappedString, raw: &str, component: Component) {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() && !out.exceeded {
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
    unbounded(out, |w| canonical_uri_to(w, path));
}

fn canonical_uri_to(out: &mut CappedString, path: &str) {
    if path.is_empty() {
        out.push('/');
    } else {
        uri_encode_to(out, path, Component::Path);
    }
}

/// The canonical query string: every parameter (but `X-Amz-Signature` when `presigned`),
/// encoded with AWS's rules, sorted by encoded name then encoded value, joined with `&`.
pub fn canonical_query_into(out: &mut String, query: &str, presigned: bool) {
    unbounded(out, |w| canonical_query_to(w, query, presigned));
}

fn canonical_query_to(out: &mut CappedString, query: &str, presigned: bool) {
    // The canonical query holds every encoded byte (and separators), so encodings that do not
    // fit in the room left cannot fit there either.
    let mut encoded = CappedString::new(query.len() + 16, out.room());
    let mut pairs: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    for (name, value) in query_pairs(query) {
        if presigned && name == "X-Amz-Signature" {
            continue;
        }
        let n0 = encoded.text.len();
        uri_encode_to(&mut encoded, name, Component::Query);
        let n1 = encoded.text.len();
        uri_encode_to(&mut encoded, value, Component::Query);
        if encoded.exceeded {
            out.exceeded = true;
            return;
        }
        pairs.push((n0..n1, n1..encoded.text.len()));
    }
    let encoded = encoded.text;
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
    unbounded(out, |w| canonical_header_value_to(w, value));
}

fn canonical_header_value_to(out: &mut CappedString, value: &str) {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    // Runs without a double space are written whole; only the extra spaces are dropped.
    let mut rest = value;
    while let Some(at) = rest.find("  ") {
        out.push_str(&rest[..=at]);
        rest = rest[at..].trim_start_matches(' ');
    }
    out.push_str(rest);
}

/// `name:value` of one signed header: every value sent under that name (any case), in order,
/// joined with `,`. A signed header that is absent has an empty value.
pub fn canonical_header_into(out: &mut String, parts: &RequestParts<'_>, name: &str) {
    unbounded(out, |w| canonical_header_to(w, parts, name));
}

fn canonical_header_to(out: &mut CappedString, parts: &RequestParts<'_>, name: &str) {
    for c in name.chars() {
        out.push(c.to_ascii_lowercase());
    }
    out.push(':');
    let mut first = true;
    for (n, v) in parts.headers {
        if out.exceeded {
            return;
        }
        if n.eq_ignore_ascii_case(name) {
            if !first {
                out.push(',');
            }
            canonical_header_value_to(out, v);
            first = false;
        }
    }
    out.push('\n');
}

/// The canonical request:
/// `method \n uri \n query \n headers \n \n signed-headers \n payload-hash`, or
/// [`AuthError::CanonicalRequestTooLarge`] as soon as it would exceed
/// [`MAX_CANONICAL_REQUEST_BYTES`].
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &str,
    payload_hash: &str,
    presigned: bool,
) -> Result<String, AuthError> {
    let built = build_canonical_request(
        parts,
        signed_headers,
        payload_hash,
        presigned,
        MAX_CANONICAL_REQUEST_BYTES,
    );
    if built.exceeded {
        Err(AuthError::CanonicalRequestTooLarge {
            limit: MAX_CANONICAL_REQUEST_BYTES,
        })
    } else {
        Ok(built.text)
    }
}

/// The canonical request without a bound, for the signer: it signs what its caller gives it
/// (a verifier refuses what is over [`MAX_CANONICAL_REQUEST_BYTES`]).
pub(crate) fn canonical_request_unbounded(
    parts: &RequestParts<'_>,
    signed_headers: &str,
    payload_hash: &str,
    presigned: bool,
) -> String {
    build_canonical_request(parts, signed_headers, payload_hash, presigned, usize::MAX).text
}

fn build_canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &str,
    payload_hash: &str,
    presigned: bool,
    limit: usize,
) -> CappedString {
    let mut out = CappedString::new(
        256 + parts.path.len() + parts.query.len() + signed_headers.len() * 4,
        limit,
    );
    out.push_str(parts.method);
    out.push('\n');
    canonical_uri_to(&mut out, parts.path);
    out.push('\n');
    canonical_query_to(&mut out, parts.query, presigned);
    out.push('\n');
    for name in signed_headers.split(';') {
        if out.exceeded {
            return out;
        }
        canonical_header_to(&mut out, parts, name);
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
        let mut s = String::new();
        canonical_header_value_into(&mut s, "\t a  b   é    c\td  ");
        assert_eq!(s, "a b é c\td");
    }

    fn parts_with<'a>(
        path: &'a str,
        query: &'a str,
        headers: &'a [(&'a str, &'a str)],
    ) -> RequestParts<'a> {
        RequestParts {
            method: "GET",
            path,
            query,
            headers,
        }
    }

    #[test]
    fn canonical_request_stops_at_every_limit_and_never_allocates_past_it() {
        let headers = [
            ("Host", "example.com"),
            ("X-Amz-Meta-A", "  one  two "),
            ("x-amz-meta-a", "three"),
            ("x-amz-date", "20130524T000000Z"),
        ];
        let parts = parts_with("/b/a b/ü", "z=1&a=%2f&X-Amz-Signature=x", &headers);
        let signed = "host;x-amz-date;x-amz-meta-a";
        let full = canonical_request_unbounded(&parts, signed, EMPTY_SHA256, true);
        assert_eq!(
            canonical_request(&parts, signed, EMPTY_SHA256, true).unwrap(),
            full
        );
        for limit in 0..=full.len() + 1 {
            let built = build_canonical_request(&parts, signed, EMPTY_SHA256, true, limit);
            assert_eq!(built.exceeded, limit < full.len(), "limit {limit}");
            assert!(built.text.capacity() <= limit, "limit {limit}");
            if !built.exceeded {
                assert_eq!(built.text, full);
            }
        }
    }

    #[test]
    fn large_canonical_requests_are_refused() {
        let too_large = |r: Result<String, AuthError>| {
            matches!(
                r,
                Err(AuthError::CanonicalRequestTooLarge {
                    limit: MAX_CANONICAL_REQUEST_BYTES
                })
            )
        };
        // A repeated signed header (which the parsers refuse) is cut short, not amplified.
        let value = "v".repeat(30 * 1024);
        let headers = [("host", "h"), ("a", value.as_str())];
        let parts = parts_with("/b/k", "", &headers);
        let repeated = format!("{}host", "a;".repeat(4000));
        assert!(too_large(canonical_request(
            &parts,
            &repeated,
            EMPTY_SHA256,
            false
        )));
        let built = build_canonical_request(
            &parts,
            &repeated,
            EMPTY_SHA256,
            false,
            MAX_CANONICAL_REQUEST_BYTES,
        );
        assert!(built.text.capacity() <= MAX_CANONICAL_REQUEST_BYTES);
        // Unique signed headers, but more than the limit of them.
        let names: Vec<String> = (0..200).map(|i| format!("x-amz-meta-{i:03}")).collect();
        let kib = "v".repeat(1024);
        let mut headers: Vec<(&str, &str)> = vec![("host", "h")];
        headers.extend(names.iter().map(|n| (n.as_str(), kib.as_str())));
        let signed = format!("host;{}", names.join(";"));
        let parts = parts_with("/b/k", "", &headers);
        assert!(too_large(canonical_request(
            &parts,
            &signed,
            EMPTY_SHA256,
            false
        )));
        // A path or a query that encodes to more than the limit.
        let bangs = "!".repeat(50 * 1024);
        let path = format!("/b/{bangs}");
        let query = format!("a={bangs}");
        let headers = [("host", "h")];
        assert!(too_large(canonical_request(
            &parts_with(&path, "", &headers),
            "host",
            EMPTY_SHA256,
            false
        )));
        assert!(too_large(canonical_request(
            &parts_with("/b/k", &query, &headers),
            "host",
            EMPTY_SHA256,
            false
        )));
        // Just under the limit is built.
        let path = format!("/b/{}", "k".repeat(MAX_CANONICAL_REQUEST_BYTES - 200));
        let creq = canonical_request(
            &parts_with(&path, "", &headers),
            "host",
            EMPTY_SHA256,
            false,
        )
        .unwrap();
        assert!(creq.len() <= MAX_CANONICAL_REQUEST_BYTES);
        assert!(creq.len() > MAX_CANONICAL_REQUEST_BYTES - 200);
    }
}
