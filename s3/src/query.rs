//! The query string of a request, decoded once: routing picks the operation from it and the
//! operation reads its parameters from the same [`Query`].
//!
//! Pure: no IO, no state.

use std::borrow::Cow;

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

/// A query parameter whose name or value does not decode (`InvalidURI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidQuery;

/// A parsed query: decoded names and values, in order.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// Parses `a=1&b&c=` (a name without `=` has an empty value).
    pub fn parse(query: &'a str) -> Result<Query<'a>, InvalidQuery> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = query_decode(name).ok_or(InvalidQuery)?;
            let value = query_decode(value).ok_or(InvalidQuery)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        let q = Query::parse("a=1&b&c=&d=x%2By+z&a=2&upload%49d=u").unwrap();
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some(""));
        assert_eq!(q.get("c"), Some(""));
        assert_eq!(q.get("d"), Some("x+y z"));
        assert_eq!(q.get("uploadId"), Some("u"));
        assert!(!q.has("e"));
        assert_eq!(Query::parse("a=%G0").unwrap_err(), InvalidQuery);
        assert_eq!(Query::parse("a=%ff").unwrap_err(), InvalidQuery);
    }

    #[test]
    fn paths_keep_plus() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b+c"));
        assert_eq!(percent_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}
