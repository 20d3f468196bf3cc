//! Our WebSocket frames (`PROTOCOL.md`), for the device loop.

use crate::body::{self, Stamp};
use crate::device::{Codec, Inbound};
use crate::world::World;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;
use std::collections::HashMap;
use tokio_tungstenite::tungstenite::Message;

/// One device's protocol state: sends waiting for `sent`.
pub struct ChatCodec {
    me: usize,
    pending: HashMap<String, (usize, usize, u64)>,
}

/// The fields of any server frame this generator looks at.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    conv: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_msg_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(rename = "ref", borrow, default)]
    reference: Option<Cow<'a, str>>,
}

impl ChatCodec {
    /// The codec of device `me`.
    pub fn new(_world: &World, me: usize) -> Self {
        ChatCodec {
            me,
            pending: HashMap::new(),
        }
    }
}

impl Codec for ChatCodec {
    fn send(&mut self, world: &World, stamp: Stamp, slot: usize, body: String) -> Vec<Message> {
        let cid = format!("{}-{}-{}", stamp.conv, self.me, stamp.n);
        let frame = json!({
            "type": "send",
            "conv": world.convs[stamp.conv].id(),
            "client_msg_id": cid,
            "body": body,
        });
        self.pending.insert(cid, (stamp.conv, slot, stamp.t_us));
        vec![Message::text(frame.to_string())]
    }

    fn on_text(&mut self, world: &World, text: &str, _reply: &mut Vec<Message>) -> Vec<Inbound> {
        let Ok(f) = serde_json::from_str::<Frame<'_>>(text) else {
            return vec![Inbound::Error("unreadable frame".into())];
        };
        match f.kind.as_ref() {
            "sent" => f
                .client_msg_id
                .and_then(|c| self.pending.remove(c.as_ref()))
                .map(|(conv, slot, t_us)| Inbound::Acked { conv, slot, t_us })
                .into_iter()
                .collect(),
            "message" => {
                let Some(stamp) = f.body.as_deref().and_then(body::decode) else {
                    return Vec::new();
                };
                let routed_ok = world
                    .convs
                    .get(stamp.conv)
                    .is_some_and(|c| Some(c.id()) == f.conv.as_deref());
                vec![Inbound::Message {
                    seq: f.seq,
                    stamp,
                    routed_ok,
                }]
            }
            "synced" => vec![Inbound::Synced],
            "error" => {
                let code = f
                    .code
                    .map(Cow::into_owned)
                    .unwrap_or_else(|| "error".into());
                let refused = f
                    .reference
                    .as_deref()
                    .and_then(|r| self.pending.remove(r))
                    .is_some();
                vec![if refused {
                    Inbound::Refused(code)
                } else {
                    Inbound::Error(code)
                }]
            }
            _ => Vec::new(),
        }
    }

    fn unanswered(&self) -> usize {
        self.pending.len()
    }

    fn receipts(&mut self, world: &World, due: &[(usize, u64)]) -> Vec<Message> {
        due.iter()
            .map(|&(conv, seq)| {
                Message::text(
                    json!({"type": "delivered", "conv": world.convs[conv].id(), "seq": seq})
                        .to_string(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{pair_up, World};

    #[test]
    fn sends_are_acked_and_messages_read() {
        let mut w = World::new("t", 2);
        pair_up(&mut w, true);
        w.convs[0].id.set("d-1".into()).unwrap();
        let mut c = ChatCodec::new(&w, 0);
        let stamp = Stamp {
            conv: 0,
            sender: 0,
            n: 1,
            t_us: 5,
        };
        let frames = c.send(&w, stamp, 0, body::encode(stamp, 32));
        let sent: serde_json::Value = serde_json::from_str(frames[0].to_text().unwrap()).unwrap();
        assert_eq!(sent["conv"], "d-1");
        let cid = sent["client_msg_id"].as_str().unwrap().to_string();
        let mut reply = Vec::new();
        let ev = c.on_text(
            &w,
            &json!({"type":"sent","conv":"d-1","client_msg_id":cid,"msg_id":"m","ts":1})
                .to_string(),
            &mut reply,
        );
        assert!(matches!(
            ev[0],
            Inbound::Acked {
                conv: 0,
                slot: 0,
                t_us: 5
            }
        ));
        assert_eq!(c.unanswered(), 0);
        let msg = json!({"type":"message","conv":"d-1","seq":1,"sender":"t-0","body":body::encode(stamp, 32)});
        let ev = c.on_text(&w, &msg.to_string(), &mut reply);
        assert!(matches!(
            ev[0],
            Inbound::Message {
                seq: Some(1),
                routed_ok: true,
                ..
            }
        ));
        let wrong = json!({"type":"message","conv":"d-2","seq":1,"body":body::encode(stamp, 32)});
        let ev = c.on_text(&w, &wrong.to_string(), &mut reply);
        assert!(matches!(
            ev[0],
            Inbound::Message {
                routed_ok: false,
                ..
            }
        ));
    }
}
