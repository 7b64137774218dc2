//! XML in and out: request bodies parsed with quick-xml into a small element tree (bodies are
//! bounded, so a tree is cheap), and answers written with AWS's namespace, escaped by
//! quick-xml.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::s3::error::{S3Error, S3ErrorCode};

/// The namespace of every S3 answer.
pub const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Deepest nesting accepted in a request body (S3's bodies nest three or four levels).
const MAX_DEPTH: usize = 16;

/// An element of a request body: local name (namespace prefix dropped), its text and children.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

fn malformed() -> S3Error {
    S3Error::code(S3ErrorCode::MalformedXML)
}

fn local_name(qname: &[u8]) -> Result<String, S3Error> {
    let local = match qname.iter().position(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    String::from_utf8(local.to_vec()).map_err(|_| malformed())
}

/// Parses a whole body into its root element (`MalformedXML` on any error).
pub fn parse(body: &[u8]) -> Result<Element, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|_| malformed())?;
        match event {
            Event::Start(e) => {
                if root.is_some() || stack.len() >= MAX_DEPTH {
                    return Err(malformed());
                }
                stack.push(Element {
                    name: local_name(e.name().as_ref())?,
                    ..Element::default()
                });
            }
            Event::Empty(e) => {
                let element = Element {
                    name: local_name(e.name().as_ref())?,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(malformed()),
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(malformed)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                let decoded = t.decode().map_err(|_| malformed())?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(malformed()),
                }
            }
            Event::CData(t) => {
                let current = stack.last_mut().ok_or_else(malformed)?;
                let raw = std::str::from_utf8(t.as_ref()).map_err(|_| malformed())?;
                current.text.push_str(raw);
            }
            Event::GeneralRef(r) => {
                let current = stack.last_mut().ok_or_else(malformed)?;
                if let Some(c) = r.resolve_char_ref().map_err(|_| malformed())? {
                    current.text.push(c);
                } else {
                    let name = r.decode().map_err(|_| malformed())?;
                    let value = resolve_predefined_entity(&name).ok_or_else(malformed)?;
                    current.text.push_str(value);
                }
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            // No DTDs: entity definitions are how XML bombs are built.
            Event::DocType(_) => return Err(malformed()),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed());
    }
    root.ok_or_else(malformed)
}

/// Parses a body whose root must be `root`.
pub fn parse_root(body: &[u8], root: &str) -> Result<Element, S3Error> {
    let element = parse(body)?;
    if element.name != root {
        return Err(malformed());
    }
    Ok(element)
}

/// Writes an answer: `<?xml …?><Root xmlns="…">…</Root>`.
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document whose root element is `root`, in the S3 namespace.
    pub fn new(root: &str) -> XmlWriter {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_NAMESPACE);
        out.push_str("\">");
        XmlWriter { out }
    }

    /// Opens a child element.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes a child element.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name>text</name>`, escaped.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        push_text(&mut self.out, text);
        self.close(name)
    }

    /// `<name>text</name>` when `text` is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.elem(name, text);
        }
        self
    }

    /// Raw markup (for pre-escaped fragments such as attributes).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// Ends the document.
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}

/// Appends element text: quick-xml's escapes, and carriage returns as `&#13;`, as S3 writes
/// them. A literal CR would reach the client as LF: XML parsers normalize line ends in text
/// (XML 1.0 §2.11), so a key such as `a\rb` would be listed as `a\nb` to every client that
/// lists without `encoding-type=url` (rclone with provider Other does).
fn push_text(out: &mut String, text: &str) {
    let escaped = escape(text);
    if !escaped.contains('\r') {
        out.push_str(&escaped);
        return;
    }
    for (i, piece) in escaped.split('\r').enumerate() {
        if i > 0 {
            out.push_str("&#13;");
        }
        out.push_str(piece);
    }
}

/// An empty answer document `<Root xmlns="…"/>`.
pub fn empty_document(root: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{S3_NAMESPACE}\"/>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_bodies_with_entities_and_spaces() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Quiet>true</Quiet>
  <Object><Key> a&amp;b &lt;&#x263A;&#65; </Key><VersionId>null</VersionId></Object>
  <Object><Key><![CDATA[c<d]]></Key></Object>
  <Object><Key/></Object>
</Delete>"#;
        let root = parse_root(body, "Delete").unwrap();
        assert_eq!(root.child_text("Quiet"), Some("true"));
        let keys: Vec<&str> = root
            .children_named("Object")
            .map(|o| o.child_text("Key").unwrap())
            .collect();
        assert_eq!(keys, [" a&b <\u{263A}A ", "c<d", ""]);
    }

    #[test]
    fn refuses_malformed_bodies() {
        for body in [
            &b""[..],
            b"<a>",
            b"<a></b>",
            b"<a/><b/>",
            b"text",
            b"<a>&unknown;</a>",
            b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            b"\xff\xfe",
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body:?}");
        }
        assert!(parse_root(b"<Other/>", "Delete").is_err());
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn writes_escaped_documents() {
        let mut w = XmlWriter::new("ListBucketResult");
        w.elem("Name", "b")
            .elem("Prefix", "<&>")
            .opt("Marker", None);
        let xml = w.finish("ListBucketResult");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>&lt;&amp;&gt;</Prefix></ListBucketResult>"
        );
    }

    #[test]
    fn carriage_returns_survive_a_round_trip() {
        let mut w = XmlWriter::new("ListBucketResult");
        w.elem("Key", "a\rb\r\nc\nd\te");
        let xml = w.finish("ListBucketResult");
        assert!(xml.contains("<Key>a&#13;b&#13;\nc\nd\te</Key>"), "{xml}");
        // Our own parser (like any conforming one) reads the key back unchanged.
        let root = parse_root(xml.as_bytes(), "ListBucketResult").unwrap();
        assert_eq!(root.child_text("Key"), Some("a\rb\r\nc\nd\te"));
    }
}
