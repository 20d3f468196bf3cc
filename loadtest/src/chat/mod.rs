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

/// Where our server is.
#[derive(Debug, Clone)]
pub struct ChatTarget {
    /// Base HTTP URL, `http://127.0.0.1:8080`.
    pub base: String,
}

impl ChatTarget {
    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!(
            "{}/v1/ws",
            self.base
                .replacen("http://", "ws://", 1)
                .trim_end_matches('/')
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
        &target.ws_url(),
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
