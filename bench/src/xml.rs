//! The S3 XML the tool reads (error documents, listings, multipart answers) and the few
//! documents it writes. Trees are built by the S3 layer's own reader (`cairn_s3::xml`);
//! listings are read streaming, keeping only keys and paging fields.

use cairn_s3::xml::{parse, Element, XmlError, XmlLimits, MAX_DEPTH};
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;

/// The answers read as trees: an error, an upload's id, or a DeleteResult of up to 1,000
/// entries of a few elements each (with room to spare).
const ANSWER_LIMITS: XmlLimits = XmlLimits::items(10_000, 8);

/// The `<Code>` of an S3 error document.
pub fn error_code(body: &[u8]) -> Option<String> {
    let root = parse(body, ANSWER_LIMITS).ok()?;
    (root.name == "Error")
        .then(|| root.child_text("Code").map(str::to_owned))
        .flatten()
}

/// One page of ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub keys: Vec<String>,
    pub truncated: bool,
    pub next_token: Option<String>,
}

/// Where [`list_page`] is inside a `ListBucketResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListField {
    /// Text here is not kept.
    Other,
    Key,
    IsTruncated,
    NextContinuationToken,
}

/// Reads a `ListBucketResult` page, streaming: only the keys and the paging fields are kept
/// (a page of 1,000 keys has some 10,000 elements; a tree of them would cost the client more
/// than the listing costs the server).
pub fn list_page(body: &[u8]) -> Result<ListPage, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::Malformed)?;
    let mut reader = Reader::from_str(text);
    let mut page = ListPage::default();
    // Depth 1 is the root, 2 its children, 3 the children of `Contents`.
    let mut depth = 0usize;
    let mut in_contents = false;
    let mut field = ListField::Other;
    let mut value = String::new();
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|_| XmlError::Malformed)? {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                depth += 1;
                match depth {
                    1 if !seen_root && name == b"ListBucketResult" => seen_root = true,
                    1 => return Err(XmlError::Malformed),
                    2 if name == b"Contents" => in_contents = true,
                    2 if name == b"IsTruncated" => field = ListField::IsTruncated,
                    2 if name == b"NextContinuationToken" => {
                        field = ListField::NextContinuationToken
                    }
                    3 if in_contents && name == b"Key" => field = ListField::Key,
                    _ if depth > MAX_DEPTH => return Err(XmlError::Malformed),
                    _ => {}
                }
                value.clear();
            }
            Event::Empty(e) => {
                if depth == 0 {
                    if e.local_name().as_ref() != b"ListBucketResult" || seen_root {
                        return Err(XmlError::Malformed);
                    }
                    seen_root = true;
                } else if depth == 2 && in_contents && e.local_name().as_ref() == b"Key" {
                    page.keys.push(String::new());
                }
            }
            Event::End(_) => {
                if depth == 0 {
                    return Err(XmlError::Malformed);
                }
                match (depth, field) {
                    (3, ListField::Key) => page.keys.push(std::mem::take(&mut value)),
                    (2, ListField::IsTruncated) => page.truncated = value.trim() == "true",
                    (2, ListField::NextContinuationToken) => {
                        page.next_token = Some(std::mem::take(&mut value))
                    }
                    (2, ListField::Other) => in_contents = false,
                    _ => {}
                }
                if depth <= 3 {
                    field = ListField::Other;
                }
                depth -= 1;
            }
            Event::Text(t) if field != ListField::Other => {
                value.push_str(&t.decode().map_err(|_| XmlError::Malformed)?);
            }
            Event::CData(t) if field != ListField::Other => {
                value.push_str(std::str::from_utf8(t.as_ref()).map_err(|_| XmlError::Malformed)?);
            }
            Event::GeneralRef(r) => {
                let c = r.resolve_char_ref().map_err(|_| XmlError::Malformed)?;
                let name = r.decode().map_err(|_| XmlError::Malformed)?;
                let resolved = match c {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&name)
                        .ok_or(XmlError::Malformed)?
                        .to_owned(),
                };
                if field != ListField::Other {
                    value.push_str(&resolved);
                }
            }
            Event::Text(_) | Event::CData(_) => {}
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(XmlError::Malformed),
            Event::Eof => break,
        }
    }
    if depth != 0 || !seen_root {
        return Err(XmlError::Malformed);
    }
    Ok(page)
}

/// The `UploadId` of an `InitiateMultipartUploadResult`.
pub fn upload_id(body: &[u8]) -> Option<String> {
    let root = parse(body, ANSWER_LIMITS).ok()?;
    (root.name == "InitiateMultipartUploadResult")
        .then(|| root.child_text("UploadId").map(str::to_owned))
        .flatten()
}

/// What a `CompleteMultipartUpload` or `DeleteObjects` answer with status 200 holds: S3 may
/// report an error inside a 200 (`<Error>` as the root, or per key in `<DeleteResult>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The root element is this.
    Ok(Element),
    /// An `<Error>` document with this code.
    Error(String),
}

/// Reads a 200 answer that may carry an error.
pub fn outcome(body: &[u8]) -> Result<Outcome, XmlError> {
    let root = parse(body, ANSWER_LIMITS)?;
    if root.name == "Error" {
        return Ok(Outcome::Error(
            root.child_text("Code").unwrap_or("").to_owned(),
        ));
    }
    Ok(Outcome::Ok(root))
}

/// `<CompleteMultipartUpload>` naming each part's number and ETag.
pub fn complete_multipart(etags: &[String]) -> String {
    let mut out = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        out.push_str("<Part><PartNumber>");
        out.push_str(&(i + 1).to_string());
        out.push_str("</PartNumber><ETag>");
        out.push_str(&escape(etag.as_str()));
        out.push_str("</ETag></Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// `<Delete>` of `keys`, quiet (only failures are answered).
pub fn delete_objects(keys: &[String]) -> String {
    let mut out = String::from("<Delete><Quiet>true</Quiet>");
    for key in keys {
        out.push_str("<Object><Key>");
        out.push_str(&escape(key.as_str()));
        out.push_str("</Key></Object>");
    }
    out.push_str("</Delete>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_errors_listings_and_uploads() {
        let err = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>"#;
        assert_eq!(error_code(err).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(error_code(b"<html/>"), None);
        assert_eq!(error_code(b"not xml"), None);

        let list = br#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
<NextContinuationToken>t&amp;1</NextContinuationToken>
<Contents><Key>a&lt;1</Key><Size>3</Size></Contents><Contents><Key>b</Key></Contents>
</ListBucketResult>"#;
        let page = list_page(list).unwrap();
        assert_eq!(page.keys, ["a<1", "b"]);
        let nested = br#"<ListBucketResult><Contents><Key><![CDATA[x&y]]></Key><Owner><ID>o</ID></Owner></Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><IsTruncated>false</IsTruncated></ListBucketResult>"#;
        let nested = list_page(nested).unwrap();
        assert_eq!(
            (nested.keys, nested.truncated, nested.next_token),
            (vec!["x&y".to_owned()], false, None)
        );
        for bad in [
            &b"<ListBucketResult>"[..],
            b"<Other/>",
            b"<ListBucketResult></ListBucketResult><x/>",
            b"</a>",
        ] {
            assert!(list_page(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            list_page(b"<ListBucketResult/>").unwrap(),
            ListPage::default()
        );
        assert!(page.truncated);
        assert_eq!(page.next_token.as_deref(), Some("t&1"));
        assert!(list_page(err).is_err());

        let init = br#"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(upload_id(init).as_deref(), Some("u-1"));
        assert_eq!(
            outcome(err).unwrap(),
            Outcome::Error("SignatureDoesNotMatch".into())
        );
    }

    #[test]
    fn written_documents_escape_and_parse_back() {
        let doc = delete_objects(&["a&b".into(), "<c>".into()]);
        let root = parse(doc.as_bytes(), ANSWER_LIMITS).unwrap();
        let keys: Vec<&str> = root
            .children_named("Object")
            .filter_map(|o| o.child_text("Key"))
            .collect();
        assert_eq!(keys, ["a&b", "<c>"]);
        let doc = complete_multipart(&["\"e1\"".into(), "\"e2\"".into()]);
        let root = parse(doc.as_bytes(), ANSWER_LIMITS).unwrap();
        assert_eq!(root.children_named("Part").count(), 2);
    }
}
