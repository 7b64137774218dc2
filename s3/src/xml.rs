//! XML in and out: request bodies parsed with quick-xml into a small element tree, bounded
//! while it is built (an operation's item count, elements in all, nesting depth), and
//! answers written with AWS's namespace, escaped by quick-xml.
//!
//! The reader is pure and knows nothing of S3's errors: the S3 layer answers
//! [`XmlError`] with `MalformedXML`, cairn-bench reads servers' answers with it.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;

/// The namespace of every S3 answer.
pub const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Deepest nesting accepted (S3's bodies nest three or four levels).
pub const MAX_DEPTH: usize = 16;

/// Bounds on the tree a document may build, checked as each element opens, so that a body of
/// a few MiB cannot build a million-node tree before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Most children of the root: the operation's items (DeleteObjects' 1,000 `<Object>`s,
    /// CompleteMultipartUpload's 10,000 `<Part>`s).
    pub max_items: usize,
    /// Most elements in all, the root included.
    pub max_elements: usize,
}

impl XmlLimits {
    /// `max_items` children of the root, each with at most `elements_per_item` elements
    /// (itself included), and a few more elements beside them.
    pub const fn items(max_items: usize, elements_per_item: usize) -> XmlLimits {
        XmlLimits {
            max_items,
            max_elements: 1 + max_items * elements_per_item + EXTRA_ELEMENTS,
        }
    }
}

/// Elements a document may have beside its items' (a `<Quiet>` flag, a configuration's
/// single settings).
const EXTRA_ELEMENTS: usize = 16;

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed XML, not UTF-8, a DTD, or nested deeper than [`MAX_DEPTH`].
    Malformed,
    /// More items or elements than the [`XmlLimits`] allow.
    TooManyElements,
}

/// An element of a document: local name (namespace prefix dropped), its text and children.
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

fn local_name(qname: &[u8]) -> Result<String, XmlError> {
    let local = match qname.iter().position(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    String::from_utf8(local.to_vec()).map_err(|_| XmlError::Malformed)
}

/// The tree being built, with its counts.
struct Builder {
    limits: XmlLimits,
    stack: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    items: usize,
}

impl Builder {
    /// Counts an element that opens at the current depth.
    fn count(&mut self) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(XmlError::Malformed);
        }
        self.elements += 1;
        if self.stack.len() == 1 {
            self.items += 1;
        }
        if self.elements > self.limits.max_elements || self.items > self.limits.max_items {
            return Err(XmlError::TooManyElements);
        }
        Ok(())
    }

    fn open(&mut self, name: String) -> Result<(), XmlError> {
        self.count()?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(XmlError::Malformed);
        }
        self.stack.push(Element {
            name,
            ..Element::default()
        });
        Ok(())
    }

    /// Attaches a finished element to its parent, or makes it the root.
    fn attach(&mut self, element: Element) {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
    }

    fn empty(&mut self, name: String) -> Result<(), XmlError> {
        self.count()?;
        self.attach(Element {
            name,
            ..Element::default()
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), XmlError> {
        let element = self.stack.pop().ok_or(XmlError::Malformed)?;
        self.attach(element);
        Ok(())
    }

    /// Text inside the current element; outside any, only white space is allowed.
    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(current) => current.text.push_str(text),
            None if text.trim().is_empty() => {}
            None => return Err(XmlError::Malformed),
        }
        Ok(())
    }
}

/// Parses a whole document into its root element, within `limits`.
pub fn parse(body: &[u8], limits: XmlLimits) -> Result<Element, XmlError> {
    use XmlError::Malformed;
    let text = std::str::from_utf8(body).map_err(|_| Malformed)?;
    let mut reader = Reader::from_str(text);
    let mut tree = Builder {
        limits,
        stack: Vec::new(),
        root: None,
        elements: 0,
        items: 0,
    };
    loop {
        match reader.read_event().map_err(|_| Malformed)? {
            Event::Start(e) => tree.open(local_name(e.name().as_ref())?)?,
            Event::Empty(e) => tree.empty(local_name(e.name().as_ref())?)?,
            Event::End(_) => tree.close()?,
            Event::Text(t) => tree.text(&t.decode().map_err(|_| Malformed)?)?,
            Event::CData(t) => {
                let raw = std::str::from_utf8(t.as_ref()).map_err(|_| Malformed)?;
                if tree.stack.is_empty() {
                    return Err(Malformed);
                }
                tree.text(raw)?;
            }
            Event::GeneralRef(r) => {
                if tree.stack.is_empty() {
                    return Err(Malformed);
                }
                match r.resolve_char_ref().map_err(|_| Malformed)? {
                    Some(c) => tree.text(c.encode_utf8(&mut [0; 4]))?,
                    None => {
                        let name = r.decode().map_err(|_| Malformed)?;
                        tree.text(resolve_predefined_entity(&name).ok_or(Malformed)?)?;
                    }
                }
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            // No DTDs: entity definitions are how XML bombs are built.
            Event::DocType(_) => return Err(Malformed),
            Event::Eof => break,
        }
    }
    if !tree.stack.is_empty() {
        return Err(Malformed);
    }
    tree.root.ok_or(Malformed)
}

/// Parses a document whose root must be `root`.
pub fn parse_root(body: &[u8], root: &str, limits: XmlLimits) -> Result<Element, XmlError> {
    let element = parse(body, limits)?;
    if element.name != root {
        return Err(XmlError::Malformed);
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

    const LIMITS: XmlLimits = XmlLimits::items(10, 4);

    #[test]
    fn parses_namespaced_bodies_with_entities_and_spaces() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Quiet>true</Quiet>
  <Object><Key> a&amp;b &lt;&#x263A;&#65; </Key><VersionId>null</VersionId></Object>
  <Object><Key><![CDATA[c<d]]></Key></Object>
  <Object><Key/></Object>
</Delete>"#;
        let root = parse_root(body, "Delete", LIMITS).unwrap();
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
            assert_eq!(parse(body, LIMITS), Err(XmlError::Malformed), "{body:?}");
        }
        assert_eq!(
            parse_root(b"<Other/>", "Delete", LIMITS),
            Err(XmlError::Malformed)
        );
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(parse(deep.as_bytes(), LIMITS), Err(XmlError::Malformed));
        for body in [&b"<a/>&amp;"[..], b"<![CDATA[x]]><a/>", b"&#65;<a/>"] {
            assert_eq!(parse(body, LIMITS), Err(XmlError::Malformed), "{body:?}");
        }
    }

    #[test]
    fn counts_items_and_elements_while_parsing() {
        let limits = XmlLimits::items(3, 2);
        let doc = |items: usize, inner: &str| {
            format!("<D><Q>1</Q>{}</D>", format!("<O>{inner}</O>").repeat(items))
        };
        // The root's children are the items (a flag like <Q> counts as one).
        assert!(parse(doc(2, "<K/>").as_bytes(), limits).is_ok());
        assert_eq!(
            parse(doc(3, "").as_bytes(), limits),
            Err(XmlError::TooManyElements)
        );
        // Elements inside items count too: 1 + 3*2 + 16 in all.
        let wide = format!("<D><O>{}</O></D>", "<K/>".repeat(22));
        assert_eq!(
            parse(wide.as_bytes(), limits),
            Err(XmlError::TooManyElements)
        );
        let fits = format!("<D><O>{}</O></D>", "<K/>".repeat(21));
        assert!(parse(fits.as_bytes(), limits).is_ok());
        // Refused at the first element past the limit, however long the rest of the body:
        // the rest is never read (it is not even well-formed here).
        let mut bomb = String::from("<D>");
        bomb.push_str(&"<O/>".repeat(4));
        bomb.push_str("<unclosed");
        assert_eq!(
            parse(bomb.as_bytes(), limits),
            Err(XmlError::TooManyElements)
        );
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
        let root = parse_root(xml.as_bytes(), "ListBucketResult", LIMITS).unwrap();
        assert_eq!(root.child_text("Key"), Some("a\rb\r\nc\nd\te"));
    }
}
