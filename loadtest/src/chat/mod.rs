//! Our server as a load target: users log in through dev login, create
//! their conversations over HTTP, then connect WebSockets that speak
//! `PROTOCOL.md`.

pub mod codec;
pub mod http;

use crate::net::{self, SourceAddrs};
use crate::runner::Connected;
use crate::world::World;
use codec::ChatCodec;
use std::sync::Arc;

/// Where our server is: one node, or the gateways of a distributed cell.
#[derive(Debug, Clone)]
pub struct ChatTarget {
    /// Base HTTP URLs, `http://127.0.0.1:8080`; never empty.
    pub bases: Vec<String>,
}

impl ChatTarget {
    /// The URL setup requests go to (the first gateway).
    pub fn base(&self) -> &str {
        &self.bases[0]
    }

    /// The WebSocket URL of device `me`: devices are dealt over the
    /// gateways in turn, so neighbours (the two ends of a direct pair, the
    /// members of a group) sit on different gateways and their deliveries
    /// cross through the real-time engine.
    pub fn ws_url(&self, me: usize) -> String {
        let base = &self.bases[me % self.bases.len()];
        format!(
            "{}/v1/ws",
            base.replacen("http://", "ws://", 1).trim_end_matches('/')
        )
    }
}

/// Opens device `me`'s WebSocket with its token; readiness is `synced`.
pub async fn connect(
    target: &ChatTarget,
    world: &Arc<World>,
    me: usize,
    sources: SourceAddrs,
) -> anyhow::Result<Connected<ChatCodec>> {
    let token = world.devices[me]
        .token
        .get()
        .ok_or_else(|| anyhow::anyhow!("device {me} has no token"))?;
    let ws = net::connect(
        &target.ws_url(me),
        sources.for_connection(me),
        &[("authorization", format!("Bearer {token}"))],
    )
    .await?;
    Ok(Connected {
        ws,
        codec: ChatCodec::new(world, me),
        await_synced: true,
    })
}
