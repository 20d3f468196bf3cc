//! A small tree of one XMPP stanza. Over WebSocket (RFC 7395) every frame
//! holds exactly one complete top-level element, so each frame is parsed
//! on its own into an [`Element`].

use anyhow::{bail, Context};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// An element: its local name (no prefix), attributes, text and children.
#[derive(Debug, Default, Clone)]
pub struct Element {
    /// Local name: `features` for `<stream:features>`.
    pub name: String,
    /// Attributes as written (keys keep their prefixes).
    pub attrs: Vec<(String, String)>,
    /// Text directly inside, unescaped.
    pub text: String,
    /// Child elements.
    pub children: Vec<Element>,
}

impl Element {
    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element with this local name at any depth below.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }
}

fn start(e: &BytesStart<'_>) -> anyhow::Result<Element> {
    let mut el = Element {
        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        ..Element::default()
    };
    for a in e.attributes() {
        let a = a?;
        el.attrs.push((
            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
            a.normalized_value(XmlVersion::Implicit1_0)?.into_owned(),
        ));
    }
    Ok(el)
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses one frame holding one element.
pub fn parse(frame: &str) -> anyhow::Result<Element> {
    let mut reader = Reader::from_str(frame);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().context("invalid XML")? {
            Event::Start(e) => stack.push(start(&e)?),
            Event::Empty(e) => {
                let el = start(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().context("unbalanced XML")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode()?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode()?);
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref()? {
                    Some(c) => Some(c),
                    None => named_entity(&r.decode()?),
                };
                if let (Some(top), Some(c)) = (stack.last_mut(), c) {
                    top.text.push(c);
                }
            }
            Event::Eof => bail!("no complete element in the frame"),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Escapes text for an attribute value or element content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The bare part of a JID (`user@host` of `user@host/resource`).
pub fn bare(jid: &str) -> &str {
    jid.split_once('/').map(|(b, _)| b).unwrap_or(jid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_are_read_into_a_tree() {
        let el = parse(
            "<message xmlns='jabber:client' from='a@h/r' type='chat'><body>x &amp; y&#33;</body></message>",
        )
        .unwrap();
        assert_eq!(el.name, "message");
        assert_eq!(el.attr("from"), Some("a@h/r"));
        assert_eq!(el.child("body").unwrap().text, "x & y!");
        let f = parse("<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms><mechanism>ANONYMOUS</mechanism></mechanisms></stream:features>").unwrap();
        assert_eq!(f.name, "features");
        assert_eq!(f.find("mechanism").unwrap().text, "ANONYMOUS");
        assert_eq!(parse("<r xmlns='urn:xmpp:sm:3'/>").unwrap().name, "r");
        assert_eq!(bare("a@h/r"), "a@h");
        assert_eq!(escape("<a'&>"), "&lt;a&apos;&amp;&gt;");
    }
}
