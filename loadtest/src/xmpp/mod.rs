//! ejabberd (any XMPP server with WebSocket, SASL ANONYMOUS and MUC) as a
//! load target, for the side-by-side runs.

pub mod codec;
pub mod session;
pub mod stanza;
pub mod xml;

use crate::net::{self, SourceAddrs};
use crate::runner::Connected;
use crate::world::{ConvKind, World};
use anyhow::{bail, Context};
use codec::XmppCodec;
use session::Handshake;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Where the XMPP server is.
#[derive(Debug, Clone)]
pub struct XmppTarget {
    /// WebSocket URL, `ws://127.0.0.1:5280/ws`.
    pub url: String,
    /// The virtual host.
    pub domain: String,
    /// The MUC service's domain.
    pub muc: String,
    /// Use stream management acks to time sends.
    pub sm: bool,
}

/// Names every group's room `<prefix>-g<index>@<muc>` (before any device
/// connects).
pub fn name_rooms(world: &World, target: &XmppTarget, prefix: &str) {
    for (i, c) in world.convs.iter().enumerate() {
        if c.kind == ConvKind::Group {
            let _ =
                c.id.set(format!("{prefix}-g{i}@{}", target.muc).to_lowercase());
        }
    }
}

/// Logs device `me` in, then joins its rooms: first the rooms it creates
/// (member slot 0), then the others once their creators opened them.
pub async fn connect(
    target: &XmppTarget,
    world: &Arc<World>,
    me: usize,
    sources: SourceAddrs,
) -> anyhow::Result<Connected<XmppCodec>> {
    let mut ws = net::connect(
        &target.url,
        sources.for_connection(me),
        &[("sec-websocket-protocol", "xmpp".to_string())],
    )
    .await?;
    let mut codec = XmppCodec::new(me);
    let mut hs = Handshake::new(&mut ws, &mut codec);
    let jid = hs.login(&target.domain, "load", target.sm).await?;
    let bare = xml::bare(&jid).to_string();
    if let Some(old) = world.devices[me].jid.get() {
        if *old != bare {
            bail!("anonymous logins get a new JID: an XMPP device cannot reconnect");
        }
    }
    let _ = world.devices[me].jid.set(bare);
    let nick = &world.devices[me].user;
    let mut rooms: Vec<(usize, usize)> = world.devices[me]
        .convs
        .iter()
        .copied()
        .filter(|(c, _)| world.convs[*c].kind == ConvKind::Group)
        .collect();
    rooms.sort_by_key(|&(_, slot)| slot);
    for (c, slot) in rooms {
        let conv = &world.convs[c];
        if slot != 0 {
            wait_open(conv).await?;
        }
        hs.join(conv.id(), nick).await?;
        conv.open.store(true, Ordering::Release);
    }
    Ok(Connected {
        ws,
        codec,
        await_synced: false,
    })
}

async fn wait_open(conv: &crate::world::Conv) -> anyhow::Result<()> {
    let wait = async {
        while !conv.open.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .with_context(|| format!("room {} was never opened by its creator", conv.id()))
}
