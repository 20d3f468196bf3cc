//! XMPP stanzas for the device loop, with XEP-0198 stream management:
//! after each message the client asks `<r/>`, and the server's `<a h/>`
//! (stanzas it has handled) acknowledges every send up to `h` — the
//! closest XMPP has to our `sent`, though it means "handled", not
//! "durable".

use super::stanza;
use super::xml::{self, bare, Element};
use crate::body::{self, Stamp};
use crate::device::{Codec, Inbound};
use crate::world::{ConvKind, World};
use std::collections::VecDeque;
use tokio_tungstenite::tungstenite::Message;

/// One device's XMPP stream state.
pub struct XmppCodec {
    me: usize,
    /// Stream management is on: stanzas are counted both ways.
    pub sm: bool,
    inbound: u64,
    outbound: u64,
    pending: VecDeque<(u64, usize, usize, u64)>,
}

impl XmppCodec {
    /// The codec of device `me`, before stream management is enabled.
    pub fn new(me: usize) -> Self {
        XmppCodec {
            me,
            sm: false,
            inbound: 0,
            outbound: 0,
            pending: VecDeque::new(),
        }
    }

    /// Counts a stanza written by the handshake.
    pub fn sent_stanza(&mut self) {
        if self.sm {
            self.outbound += 1;
        }
    }

    /// Counts an inbound element if it is a stanza, and answers an ack
    /// request; returns the answer to write, if any.
    pub fn on_element(&mut self, el: &Element) -> Option<String> {
        match el.name.as_str() {
            "message" | "presence" | "iq" if self.sm => {
                self.inbound += 1;
                None
            }
            "r" => Some(stanza::sm_answer(self.inbound)),
            _ => None,
        }
    }

    fn acked_up_to(&mut self, h: u64, out: &mut Vec<Inbound>) {
        while let Some(&(no, conv, slot, t_us)) = self.pending.front() {
            if no > h {
                break;
            }
            self.pending.pop_front();
            out.push(Inbound::Acked { conv, slot, t_us });
        }
    }
}

/// The name of the first child of `<error>`: the condition.
fn condition(el: &Element) -> String {
    el.child("error")
        .and_then(|e| e.children.first())
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "error".into())
}

impl Codec for XmppCodec {
    fn send(&mut self, world: &World, stamp: Stamp, slot: usize, body: String) -> Vec<Message> {
        let conv = &world.convs[stamp.conv];
        let (to, kind) = match conv.kind {
            ConvKind::Group => (conv.id().to_string(), "groupchat"),
            ConvKind::Direct => {
                let peer = conv.members[1 - slot];
                let jid = world.devices[peer].jid.get().cloned().unwrap_or_default();
                (jid, "chat")
            }
        };
        let id = format!("{}-{}-{}", stamp.conv, self.me, stamp.n);
        let mut frames = vec![Message::text(stanza::message(&to, kind, &id, &body))];
        if self.sm {
            self.outbound += 1;
            self.pending
                .push_back((self.outbound, stamp.conv, slot, stamp.t_us));
            frames.push(Message::text(stanza::sm_request()));
        }
        frames
    }

    fn on_text(&mut self, world: &World, text: &str, reply: &mut Vec<Message>) -> Vec<Inbound> {
        let el = match xml::parse(text) {
            Ok(el) => el,
            Err(_) => return vec![Inbound::Error("xmpp: unreadable frame".into())],
        };
        if let Some(answer) = self.on_element(&el) {
            reply.push(Message::text(answer));
        }
        let mut out = Vec::new();
        match el.name.as_str() {
            "a" => {
                if let Some(h) = el.attr("h").and_then(|h| h.parse().ok()) {
                    self.acked_up_to(h, &mut out);
                }
            }
            "message" if el.attr("type") == Some("error") => {
                out.push(Inbound::Error(format!("xmpp: {}", condition(&el))));
            }
            "message" => {
                let Some(stamp) = el.child("body").and_then(|b| body::decode(&b.text)) else {
                    return out;
                };
                let from = bare(el.attr("from").unwrap_or(""));
                let routed_ok = world.convs.get(stamp.conv).is_some_and(|c| match c.kind {
                    ConvKind::Group => c.id() == from,
                    ConvKind::Direct => world
                        .devices
                        .get(stamp.sender)
                        .and_then(|d| d.jid.get())
                        .is_some_and(|j| j == from),
                });
                out.push(Inbound::Message {
                    seq: None,
                    stamp,
                    routed_ok,
                });
            }
            "iq" if matches!(el.attr("type"), Some("get") | Some("set")) => {
                reply.push(Message::text(stanza::iq_result(
                    el.attr("id").unwrap_or(""),
                    el.attr("from"),
                )));
                self.sent_stanza();
            }
            "presence" if el.attr("type") == Some("error") => {
                out.push(Inbound::Error(format!("xmpp presence: {}", condition(&el))));
            }
            "close" => out.push(Inbound::Error("xmpp: stream closed".into())),
            "error" => out.push(Inbound::Error(format!(
                "xmpp stream error: {}",
                el.children.first().map(|c| c.name.as_str()).unwrap_or("?")
            ))),
            _ => {}
        }
        out
    }

    fn receipts(&mut self, _world: &World, _due: &[(usize, u64)]) -> Vec<Message> {
        Vec::new()
    }

    fn acked_on_write(&self) -> bool {
        !self.sm
    }

    fn unanswered(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{pair_up, World};

    #[test]
    fn acks_cover_every_stanza_up_to_h_and_requests_are_answered() {
        let mut w = World::new("t", 2);
        pair_up(&mut w, false);
        w.devices[0].jid.set("a@h".into()).unwrap();
        w.devices[1].jid.set("b@h".into()).unwrap();
        let mut c = XmppCodec::new(0);
        c.sm = true;
        c.sent_stanza(); // the initial presence
        for n in 1..=2 {
            let st = Stamp {
                conv: 0,
                sender: 0,
                n,
                t_us: n,
            };
            let frames = c.send(&w, st, 0, body::encode(st, 40));
            assert!(frames[0].to_text().unwrap().contains("to='b@h'"));
        }
        let mut reply = Vec::new();
        let ev = c.on_text(&w, "<a xmlns='urn:xmpp:sm:3' h='2'/>", &mut reply);
        assert_eq!(ev.len(), 1);
        let ev = c.on_text(&w, "<a xmlns='urn:xmpp:sm:3' h='3'/>", &mut reply);
        assert!(matches!(ev[0], Inbound::Acked { t_us: 2, .. }));
        let st = Stamp {
            conv: 0,
            sender: 1,
            n: 1,
            t_us: 9,
        };
        let msg = format!(
            "<message xmlns='jabber:client' from='b@h/x' to='a@h/y' type='chat'><body>{}</body></message>",
            body::encode(st, 40)
        );
        let ev = c.on_text(&w, &msg, &mut reply);
        assert!(matches!(
            ev[0],
            Inbound::Message {
                routed_ok: true,
                ..
            }
        ));
        c.on_text(&w, "<r xmlns='urn:xmpp:sm:3'/>", &mut reply);
        assert_eq!(
            reply.last().unwrap().to_text().unwrap(),
            "<a xmlns='urn:xmpp:sm:3' h='1'/>"
        );
    }
}
