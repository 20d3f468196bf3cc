//! Opening an XMPP session over WebSocket (RFC 7395): stream open, SASL
//! ANONYMOUS, resource binding, stream management, initial presence, and
//! joining multi-user chat rooms.

use super::codec::XmppCodec;
use super::stanza;
use super::xml::{self, Element};
use crate::net::Ws;
use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A stream during its handshake.
pub struct Handshake<'a> {
    ws: &'a mut Ws,
    codec: &'a mut XmppCodec,
}

const STEP_TIMEOUT: Duration = Duration::from_secs(30);

impl<'a> Handshake<'a> {
    /// Wraps a fresh WebSocket.
    pub fn new(ws: &'a mut Ws, codec: &'a mut XmppCodec) -> Self {
        Handshake { ws, codec }
    }

    async fn write(&mut self, frame: String) -> anyhow::Result<()> {
        self.ws.send(Message::text(frame)).await?;
        Ok(())
    }

    async fn stanza(&mut self, frame: String) -> anyhow::Result<()> {
        self.codec.sent_stanza();
        self.write(frame).await
    }

    /// The next element, answering ack requests on the way.
    async fn next(&mut self) -> anyhow::Result<Element> {
        loop {
            let frame = tokio::time::timeout(STEP_TIMEOUT, self.ws.next())
                .await
                .context("the server did not answer in time")?
                .context("connection closed")??;
            let Message::Text(text) = frame else {
                continue;
            };
            let el = xml::parse(text.as_str())?;
            if let Some(answer) = self.codec.on_element(&el) {
                self.write(answer).await?;
            }
            if el.name == "r" {
                continue;
            }
            return Ok(el);
        }
    }

    /// The next element named `name`, skipping others.
    async fn until(&mut self, name: &str) -> anyhow::Result<Element> {
        loop {
            let el = self.next().await?;
            if el.name == name {
                return Ok(el);
            }
            if el.name == "close" || el.name == "error" || el.name == "failure" {
                bail!("the server ended the handshake: {el:?}");
            }
        }
    }

    /// The iq answering `id`.
    async fn iq_result(&mut self, id: &str) -> anyhow::Result<Element> {
        loop {
            let el = self.until("iq").await?;
            if el.attr("id") == Some(id) {
                if el.attr("type") != Some("result") {
                    bail!("iq {id} refused: {el:?}");
                }
                return Ok(el);
            }
        }
    }

    /// Opens the stream and returns the server's features.
    async fn open(&mut self, domain: &str) -> anyhow::Result<Element> {
        self.write(stanza::open(domain)).await?;
        self.until("open").await?;
        self.until("features").await
    }

    /// Logs in anonymously and makes the session available; returns the
    /// full JID the server bound.
    pub async fn login(
        &mut self,
        domain: &str,
        resource: &str,
        sm: bool,
    ) -> anyhow::Result<String> {
        let features = self.open(domain).await?;
        let anonymous = features
            .find("mechanisms")
            .is_some_and(|m| m.children.iter().any(|c| c.text == "ANONYMOUS"));
        if !anonymous {
            bail!("the server offers no SASL ANONYMOUS (see loadtest/ejabberd/setup.sh)");
        }
        self.write(stanza::auth_anonymous()).await?;
        let answer = self.next().await?;
        if answer.name != "success" {
            bail!("SASL refused: {answer:?}");
        }
        let features = self.open(domain).await?;
        self.write(stanza::bind("bind", resource)).await?;
        let bound = self.iq_result("bind").await?;
        let jid = bound
            .find("jid")
            .map(|j| j.text.clone())
            .context("bind result without a JID")?;
        let session_required = features
            .child("session")
            .is_some_and(|s| s.child("optional").is_none());
        if session_required {
            self.write(stanza::session("sess")).await?;
            self.iq_result("sess").await?;
        }
        if sm && features.child("sm").is_some() {
            self.write(stanza::sm_enable()).await?;
            self.until("enabled").await?;
            self.codec.sm = true;
        }
        self.stanza(stanza::presence()).await?;
        Ok(jid)
    }

    /// Joins `room` as `nick`; as its creator, also accepts the default
    /// configuration so that others may enter.
    pub async fn join(&mut self, room: &str, nick: &str) -> anyhow::Result<()> {
        self.stanza(stanza::muc_join(room, nick)).await?;
        let me = format!("{room}/{nick}");
        loop {
            let el = self.until("presence").await?;
            if el.attr("type") == Some("error") {
                bail!("joining {room} refused: {el:?}");
            }
            if el.attr("from") != Some(me.as_str()) {
                continue;
            }
            let created = el
                .find("x")
                .is_some_and(|x| x.children.iter().any(|c| c.attr("code") == Some("201")));
            if created {
                self.stanza(stanza::muc_instant("cfg", room)).await?;
                self.iq_result("cfg").await?;
            }
            return Ok(());
        }
    }
}
